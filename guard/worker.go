package guard

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"time"

	"github.com/dosguard/dosguard/acl"
	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/detector"
	"github.com/dosguard/dosguard/notify"
)

// unblockRetry is how long the worker waits before trying a failed unblock again.
const unblockRetry = 30 * time.Second

// work is the worker goroutine: it acts on hits and expires bans at each tick.
func (g *Guard) work(tick <-chan time.Time) {
	defer g.workerWG.Done()
	for {
		select {
		case h, ok := <-g.hits:
			if !ok {
				return
			}
			g.decide(g.runCtx, h)
		case now := <-tick:
			g.ExpireAt(g.runCtx, now)
		}
	}
}

// decide acts on one hit and emits the decision.
func (g *Guard) decide(ctx context.Context, h detector.Hit) {
	now := g.now().UTC().Truncate(time.Second)
	d := g.decision(h, now)
	b := &ban{hit: h}
	switch {
	case g.cfg.Action == conf.ActionDetect:
		d.Status = notify.StatusDetected
		b.kind = banDetected
		b.until = now.Add(g.detectCooldown())
		d.ExpiresAt = b.until
		d.ACLIDs = nil
	case g.blocker == nil: // dry-run without Network ACLs: decide only
		d.Status = notify.StatusBlocked
		b.kind = banBlocked
	default:
		res, err := g.blocker.Block(ctx, hostPrefix(h.Addr))
		if err != nil {
			d.Status = notify.StatusFailed
			d.Reason = reason(ctx, err)
			b.kind = banFailed
			// Back off for one window, so a full NACL or a broken role is not
			// retried for every record.
			b.until = now.Add(g.cfg.Window)
			g.log.Error("block failed", "host", d.Host, "error", err)
			break
		}
		d.Status = notify.StatusBlocked
		b.kind = banBlocked
		for _, e := range res.Entries {
			d.RuleNumbers = append(d.RuleNumbers, e.RuleNumber)
		}
		b.rules = d.RuleNumbers
		if res.Existing {
			b.kind = banAdopted
			d.Reason = "already denied"
		}
	}
	if b.kind == banBlocked || b.kind == banAdopted {
		if g.cfg.BlockDuration > 0 {
			b.until = now.Add(g.cfg.BlockDuration)
			d.ExpiresAt = b.until
		}
	}
	g.active[h.Addr] = b
	g.emit(d)
}

func (g *Guard) detectCooldown() time.Duration {
	if g.cfg.BlockDuration > 0 {
		return g.cfg.BlockDuration
	}
	return g.cfg.Window
}

// ExpireAt ends every ban whose time is up at now: blocked entries are
// deleted and reported as unblocked; detect cool-downs and failure back-offs
// end silently. Addresses whose ban ended can trip the rule again. The worker
// calls it at each tick; it is exported for replays and tests that drive the
// worker's clock themselves, and must not run concurrently with the worker.
func (g *Guard) ExpireAt(ctx context.Context, now time.Time) {
	for addr, b := range g.active {
		if b.until.IsZero() || now.Before(b.until) {
			continue
		}
		if b.kind == banBlocked {
			if !g.unblock(ctx, addr, b, now.UTC().Truncate(time.Second)) {
				continue
			}
		}
		delete(g.active, addr)
		g.mu.Lock()
		g.det.Release(addr)
		g.mu.Unlock()
	}
	g.mu.Lock()
	if g.newest.Sub(g.swept) >= g.cfg.Window {
		g.det.SweepAt(g.newest)
		g.swept = g.newest
	}
	g.mu.Unlock()
}

// unblock deletes the entries of an expired ban; false means try again later.
func (g *Guard) unblock(ctx context.Context, addr netip.Addr, b *ban, now time.Time) bool {
	d := g.decision(b.hit, now)
	d.Status = notify.StatusUnblocked
	d.Reason = "expired"
	d.RuleNumbers = b.rules
	if g.blocker != nil {
		res, err := g.blocker.Unblock(ctx, hostPrefix(addr))
		if err != nil {
			b.retries++
			b.until = now.Add(unblockRetry)
			g.log.Error("unblock failed, will retry", "host", d.Host, "attempt", b.retries, "error", err)
			return false
		}
		d.RuleNumbers = nil
		for _, e := range res.Entries {
			d.RuleNumbers = append(d.RuleNumbers, e.RuleNumber)
		}
	}
	g.emit(d)
	return true
}

func (g *Guard) decision(h detector.Hit, now time.Time) notify.Decision {
	return notify.Decision{
		Rule: g.cfg.RuleName, Host: h.Addr.String(), Requests: h.Count, Window: g.cfg.Window,
		ACLIDs: g.cfg.ACLIDs, ProcessedAt: now, Time: h.Last, DryRun: g.cfg.DryRun,
	}
}

// emit counts, logs and publishes one decision.
func (g *Guard) emit(d notify.Decision) {
	level := slog.LevelInfo
	switch d.Status {
	case notify.StatusBlocked:
		g.stats.blocked.Add(1)
		level = slog.LevelWarn
	case notify.StatusDetected:
		g.stats.detected.Add(1)
		level = slog.LevelWarn
	case notify.StatusFailed:
		g.stats.failed.Add(1)
		level = slog.LevelError
	case notify.StatusUnblocked:
		g.stats.unblocked.Add(1)
	}
	attrs := []slog.Attr{
		slog.String("rule", d.Rule), slog.Int("requests", d.Requests),
		slog.Duration("window", d.Window),
	}
	if len(d.ACLIDs) > 0 {
		attrs = append(attrs, slog.Any("acl_ids", d.ACLIDs), slog.Any("rule_numbers", d.RuleNumbers))
	}
	if d.Reason != "" {
		attrs = append(attrs, slog.String("reason", d.Reason))
	}
	if !d.ExpiresAt.IsZero() {
		attrs = append(attrs, slog.Time("expires_at", d.ExpiresAt))
	}
	if d.DryRun {
		attrs = append(attrs, slog.Bool("dry_run", true))
	}
	g.log.LogAttrs(context.Background(), level, string(d.Status)+" "+d.Host, attrs...)
	if g.onDec != nil {
		g.onDec(d)
	}
	if !g.notifier.Enabled() {
		return
	}
	select {
	case g.notes <- d:
	default:
		g.stats.notifyErr.Add(1)
		g.log.Error("notification queue full: not published", "status", string(d.Status), "host", d.Host)
	}
}

// publish is the notifier goroutine; SNS retries happen here, never in the
// worker.
func (g *Guard) publish() {
	defer g.notifyWG.Done()
	for d := range g.notes {
		if err := g.notifier.Notify(g.runCtx, d); err != nil {
			g.stats.notifyErr.Add(1)
			g.log.Error("notification failed", "status", string(d.Status), "host", d.Host, "error", err)
		}
	}
}

func hostPrefix(a netip.Addr) netip.Prefix {
	return netip.PrefixFrom(a, a.BitLen())
}

// reason is the short operator-facing cause of a failed block.
func reason(ctx context.Context, err error) string {
	if ctx.Err() != nil {
		return "shutdown: " + err.Error()
	}
	var ae *acl.Error
	if errors.As(err, &ae) && ae.Reason != "" {
		return ae.Reason
	}
	return err.Error()
}
