package target

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"sync"

	"github.com/dosguard/dosguard/ban"
)

// DryRun returns t reading through and recording writes instead of making
// them: Add plans the entry as if the recorded writes were made, Remove
// records, List and Plan show the target as the recorded writes would
// leave it. A nil logger discards logs.
func DryRun(t Planner, logger *slog.Logger) Target {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &dryRun{t: t, log: logger}
}

type dryRun struct {
	t   Planner
	log *slog.Logger

	mu sync.Mutex
	ov Overlay
}

var _ Planner = (*dryRun)(nil)

func (d *dryRun) ID() string           { return d.t.ID() }
func (d *dryRun) Capacity(v6 bool) int { return d.t.Capacity(v6) }

// Check never probes writes: a dry run makes none.
func (d *dryRun) Check(ctx context.Context, _ bool) error { return d.t.Check(ctx, false) }

func (d *dryRun) overlay() Overlay {
	d.mu.Lock()
	defer d.mu.Unlock()
	return Overlay{Added: slices.Clone(d.ov.Added), Removed: slices.Clone(d.ov.Removed)}
}

func (d *dryRun) Plan(ctx context.Context, p netip.Prefix, pretend Overlay) (ban.Entry, error) {
	ov := d.overlay()
	ov.Added = append(ov.Added, pretend.Added...)
	ov.Removed = append(ov.Removed, pretend.Removed...)
	return d.t.Plan(ctx, p, ov)
}

func (d *dryRun) Add(ctx context.Context, p netip.Prefix) (ban.Entry, error) {
	e, err := d.t.Plan(ctx, p, d.overlay())
	if err != nil || e.Foreign {
		return e, err
	}
	h := ban.Held{Target: d.ID(), Rule: e.Rule, Prefix: p}
	d.mu.Lock()
	d.ov.Added = append(d.ov.Added, h)
	d.ov.Removed = slices.DeleteFunc(d.ov.Removed, func(r ban.Held) bool { return r == h })
	d.mu.Unlock()
	d.log.Info("dry run: would create deny entry", "target", h.Target, "rule", h.Rule, "prefix", p)
	return e, nil
}

func (d *dryRun) Remove(_ context.Context, p netip.Prefix, rule int) error {
	h := ban.Held{Target: d.ID(), Rule: rule, Prefix: p}
	d.mu.Lock()
	d.ov.Added = slices.DeleteFunc(d.ov.Added, func(a ban.Held) bool { return a == h })
	d.ov.Removed = append(d.ov.Removed, h)
	d.mu.Unlock()
	d.log.Info("dry run: would delete deny entry", "target", h.Target, "rule", rule, "prefix", p)
	return nil
}

func (d *dryRun) List(ctx context.Context) ([]ban.Held, error) {
	held, err := d.t.List(ctx)
	if err != nil {
		return nil, err
	}
	ov := d.overlay()
	held = slices.DeleteFunc(held, func(h ban.Held) bool { return slices.Contains(ov.Removed, h) })
	for _, a := range ov.Added {
		if !slices.Contains(held, a) {
			held = append(held, a)
		}
	}
	return held, nil
}
