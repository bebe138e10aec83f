// Package enforce carries out the policy's decisions against the targets
// and remembers them in a store: the Enforcer is the ban lifecycle of one
// dosguard instance. Block, Expire, Reconcile, Unblock and Flush each end
// in typed events (ban.Event) for the guard to log and notify.
//
// The model: a ban is a prefix denied in every target, with its entry in
// each. The targets are the truth; the store only remembers. Start loads
// the store and reconciles it with the targets; Reconcile, called every
// Reconcile_Interval, repairs drift the same way (policy.Reconcile): an
// entry removed by hand is forgotten, a missing entry of a live ban written
// again, an unknown entry of the managed range adopted.
//
// Time is an argument of every method; the clock given in Config is read
// only to date a write's success. The Enforcer starts no goroutines.
// Start, Block, Expire, Reconcile, Unblock and Flush must be called one at
// a time (the guard's worker does); they hold no lock while calling a
// target. Bans and Covering may be called from any goroutine at any time.
package enforce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/policy"
	"github.com/dosguard/dosguard/store"
	"github.com/dosguard/dosguard/target"
)

// ErrUnavailable matches the error of Start or Reconcile when a target did
// not answer in time, was throttled or answered 5xx: worth retrying, unlike
// a misconfiguration (target not found, access denied).
var ErrUnavailable = errors.New("enforce: target unavailable")

// Config configures an Enforcer.
type Config struct {
	// Policy decides; zero fields take the defaults.
	Policy policy.Config
	// DryRun wraps every target in target.DryRun and the store in
	// store.ReadOnly, and paces nothing: every decision is made and
	// reported, nothing is written.
	DryRun bool
	// Now dates the success of a write (a ban's expiry counts from it);
	// nil dates it at the method's now. A time before a method's now
	// counts as now.
	Now func() time.Time
}

// Enforcer is the ban lifecycle over targets and a store. Create it with New.
type Enforcer struct {
	cfg     policy.Config
	targets []target.Target
	shared  map[string]target.Shared // by id: the targets shared with other writers
	batch   bool                     // between Stage and Commit
	dirty   bool                     // a save was put off to Commit
	before  map[netip.Prefix]offence // history of the prefixes begun in the batch, as it was
	full    map[ban.Held]error       // targets (and family, as a /0) found full in the batch
	store   store.Store
	log     *slog.Logger
	clock   func() time.Time
	wait    func(ctx context.Context, d time.Duration) error
	limits  *policy.Limits

	mu   sync.Mutex // guards bans, for Bans and Covering
	bans map[netip.Prefix]ban.Ban

	history map[netip.Prefix]ban.Offence
	retryAt map[netip.Prefix]time.Time // after a failed unblock
	unseen  []ban.Held                 // written, not read back since

	elsewhere []netip.Prefix // shared store: bans ended by another instance, for EndedElsewhere
}

// offence is an offence history entry as it was, or its absence.
type offence struct {
	o   ban.Offence
	had bool
}

// New returns an Enforcer of targets remembering in st (nil: in memory).
// It reads and calls nothing: Start does. A nil logger discards logs.
func New(cfg Config, targets []target.Target, st store.Store, logger *slog.Logger) (*Enforcer, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	pc := cfg.Policy.WithDefaults()
	if err := pc.Validate(); err != nil {
		return nil, err
	}
	if len(targets) == 0 {
		return nil, errors.New("enforce: no target")
	}
	if st == nil {
		st = &store.Memory{}
	}
	targets = slices.Clone(targets)
	shared := make(map[string]target.Shared)
	for _, t := range targets {
		if s, ok := t.(target.Shared); ok {
			shared[t.ID()] = s
		}
	}
	if cfg.DryRun {
		for i, t := range targets {
			p, ok := t.(target.Planner)
			if !ok {
				return nil, fmt.Errorf("enforce: target %s cannot plan a dry run", t.ID())
			}
			targets[i] = target.DryRun(p, logger)
		}
		st = store.ReadOnly(st)
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return time.Time{} }
	}
	return &Enforcer{
		cfg: pc, targets: targets, shared: shared, store: st, log: logger, clock: cfg.Now, wait: target.Sleep,
		limits:  pc.NewLimits(cfg.DryRun),
		bans:    make(map[netip.Prefix]ban.Ban),
		history: make(map[netip.Prefix]ban.Offence),
		retryAt: make(map[netip.Prefix]time.Time),
	}, nil
}

// Targets returns the ids of the targets, in order.
func (e *Enforcer) Targets() []string {
	ids := make([]string, len(e.targets))
	for i, t := range e.targets {
		ids[i] = t.ID()
	}
	return ids
}

// Bans returns a copy of the current bans, ordered by prefix.
func (e *Enforcer) Bans() []ban.Ban {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]ban.Ban, 0, len(e.bans))
	for _, b := range e.bans {
		out = append(out, b.Clone())
	}
	slices.SortFunc(out, func(a, b ban.Ban) int { return ban.ComparePrefix(a.Prefix, b.Prefix) })
	return out
}

// Covering returns the ban denying a, its own or an aggregate's.
func (e *Enforcer) Covering(a netip.Addr) (ban.Ban, bool) {
	a = a.Unmap()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, b := range e.bans {
		if b.Prefix.Contains(a) {
			return b.Clone(), true
		}
	}
	return ban.Ban{}, false
}

func (e *Enforcer) put(b ban.Ban) {
	e.mu.Lock()
	e.bans[b.Prefix] = b.Clone()
	e.mu.Unlock()
}

func (e *Enforcer) drop(p netip.Prefix) {
	e.mu.Lock()
	delete(e.bans, p)
	e.mu.Unlock()
	delete(e.retryAt, p)
}

// written is when a write that began at now succeeded: the clock's time,
// at the second, but never before now.
func (e *Enforcer) written(now time.Time) time.Time {
	t := e.clock().UTC().Truncate(time.Second)
	if t.Before(now) {
		return now
	}
	return t
}

// paced waits for n write tokens; the tokens are given back on failure.
func (e *Enforcer) paced(ctx context.Context, now time.Time, n int) error {
	d, cancel, ok := e.limits.ReserveWrites(now, n)
	if !ok {
		return fmt.Errorf("enforce: %d writes at once exceed MutateBurst %d", n, e.cfg.MutateBurst)
	}
	if err := e.wait(ctx, d); err != nil {
		cancel()
		return err
	}
	return nil
}

// failed is the event of a failure to block p with err.
func failed(p netip.Prefix, err error) ban.Event {
	ev := ban.Ban{Prefix: p}.Event(ban.Failed, ban.Refused)
	ev.Reason, ev.Transient = target.Code(err), target.Transient(err)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		ev.Reason, ev.Transient = "timeout", true
	case errors.Is(err, context.Canceled):
		ev.Reason = "canceled"
	}
	return ev
}

// unavailable marks err as ErrUnavailable when it is transient.
func unavailable(err error) error {
	if err == nil || !target.Transient(err) {
		return err
	}
	return &unavailableError{err}
}

type unavailableError struct{ err error }

func (u *unavailableError) Error() string   { return u.err.Error() }
func (u *unavailableError) Unwrap() []error { return []error{u.err, ErrUnavailable} }
