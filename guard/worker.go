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
		case j, ok := <-g.hits:
			if !ok {
				return
			}
			g.decide(g.runCtx, j)
		case now := <-tick:
			g.ExpireAt(g.runCtx, now)
		}
	}
}

// decide acts on one hit and emits the decision.
func (g *Guard) decide(ctx context.Context, j job) {
	ru, h := j.rule, j.hit
	now := g.now().UTC().Truncate(time.Second)
	d := g.decision(ru, h, now)
	if ru.Action == conf.ActionDetect {
		until := now.Add(cooldown(ru))
		g.quiet[quietKey{ru, h.Addr}] = until
		d.Status, d.ExpiresAt, d.ACLIDs = notify.StatusDetected, until, nil
		g.emit(d)
		return
	}
	if b, ok := g.active[h.Addr]; ok {
		// Already blocked by another rule: this rule stays quiet for the
		// address until that ban ends.
		g.log.Debug("already blocked", "host", d.Host, "rule", ru.Name, "by", b.rule.Name)
		return
	}
	b := &ban{rule: ru, hit: h}
	d.Status = notify.StatusBlocked
	if g.blocker != nil {
		res, err := g.blocker.Block(ctx, hostPrefix(h.Addr))
		if err != nil {
			d.Status = notify.StatusFailed
			d.Reason = reason(ctx, err)
			// Back off for one window, so a full NACL or a broken role is not
			// retried for every record.
			g.quiet[quietKey{ru, h.Addr}] = now.Add(ru.Window)
			g.log.Error("block failed", "host", d.Host, "rule", ru.Name, "error", err)
			g.emit(d)
			return
		}
		for _, e := range res.Entries {
			d.RuleNumbers = append(d.RuleNumbers, e.RuleNumber)
		}
		b.numbers = d.RuleNumbers
		if res.Existing {
			b.adopted = true
			d.Reason = "already denied"
		}
	}
	if ru.BlockDuration > 0 {
		b.until = now.Add(ru.BlockDuration)
		d.ExpiresAt = b.until
	}
	g.active[h.Addr] = b
	g.emit(d)
}

// cooldown is how long a detect rule stays quiet for an address.
func cooldown(ru *rule) time.Duration {
	if ru.BlockDuration > 0 {
		return ru.BlockDuration
	}
	return ru.Window
}

// ExpireAt ends every ban whose time is up at now: blocked entries are
// deleted and reported as unblocked; detect cool-downs and failure back-offs
// end silently. Addresses whose ban ended can trip the rules again. The
// worker calls it at each tick; it is exported for replays and tests that
// drive the worker's clock themselves, and must not run concurrently with
// the worker.
func (g *Guard) ExpireAt(ctx context.Context, now time.Time) {
	for addr, b := range g.active {
		if b.until.IsZero() || now.Before(b.until) {
			continue
		}
		if !b.adopted && !g.unblock(ctx, addr, b, now.UTC().Truncate(time.Second)) {
			continue
		}
		delete(g.active, addr)
		g.release(addr, nil)
	}
	for k, until := range g.quiet {
		if now.Before(until) {
			continue
		}
		delete(g.quiet, k)
		g.release(k.addr, k.rule)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.newest.Sub(g.swept) >= time.Minute {
		for _, ru := range g.rules {
			ru.det.SweepAt(g.newest)
		}
		g.swept = g.newest
	}
}

// unblock deletes the entries of an expired ban; false means try again later.
func (g *Guard) unblock(ctx context.Context, addr netip.Addr, b *ban, now time.Time) bool {
	d := g.decision(b.rule, b.hit, now)
	d.Status = notify.StatusUnblocked
	d.Reason = "expired"
	d.RuleNumbers = b.numbers
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

func (g *Guard) decision(ru *rule, h detector.Hit, now time.Time) notify.Decision {
	return notify.Decision{
		Rule: ru.Name, Host: h.Addr.String(), Requests: h.Count, Window: ru.Window,
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
