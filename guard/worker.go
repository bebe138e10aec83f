package guard

import (
	"context"
	"errors"
	"github.com/dosguard/dosguard/ban"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/dosguard/dosguard/acl"
	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/detector"
	"github.com/dosguard/dosguard/notify"
)

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

// decide acts on one hit and emits the decisions it leads to.
func (g *Guard) decide(ctx context.Context, j job) {
	ru, h := j.rule, j.hit
	now := g.now().UTC().Truncate(time.Second)
	if ru.Action == conf.ActionDetect {
		d := g.decision(ru, h, now)
		until := now.Add(cooldown(ru))
		g.quiet[quietKey{ru, h.Addr}] = until
		d.Status, d.ExpiresAt, d.ACLIDs = ban.Detected, until, nil
		g.emit(d)
		return
	}
	if _, ok := g.held[h.Addr]; ok || g.manager != nil && g.manager.Covers(h.Addr) {
		// Already banned (after another rule, by an aggregate, or before a
		// restart): the rule stays quiet for the address until the ban ends.
		g.held[h.Addr] = struct{}{}
		g.log.Debug("already blocked", "host", h.Addr, "rule", ru.Name)
		return
	}
	if g.manager == nil {
		// Dry-run without Network ACLs: decide only; the address stays
		// quiet for the ban's length as if it had been blocked.
		d := g.decision(ru, h, now)
		d.Status = ban.Blocked
		if ru.BlockDuration > 0 {
			d.ExpiresAt = now.Add(ru.BlockDuration)
			g.quiet[quietKey{ru, h.Addr}] = d.ExpiresAt
		}
		g.emit(d)
		return
	}
	for _, e := range g.manager.BlockFor(ctx, h.Addr, now, ru.BlockDuration) {
		g.emitEvent(ru, h, e)
		switch {
		case e.Prefix.Contains(h.Addr) && e.Status == acl.StatusBlocked:
			g.held[h.Addr] = struct{}{}
		case e.Prefix.Contains(h.Addr) && e.Status == acl.StatusFailed:
			// Back off for one window, so a full NACL or a broken role is
			// not retried for every record.
			g.quiet[quietKey{ru, h.Addr}] = now.Add(ru.Window)
		case e.Status == acl.StatusUnblocked && !strings.HasPrefix(e.Reason, aggregatedInto):
			g.releaseIn(e.Prefix) // evicted
		}
	}
}

// aggregatedInto starts the reason of a member replaced by an aggregate: it
// stays banned, through the aggregate.
const aggregatedInto = "aggregated into"

// cooldown is how long a detect rule stays quiet for an address.
func cooldown(ru *rule) time.Duration {
	if ru.BlockDuration > 0 {
		return ru.BlockDuration
	}
	return ru.Window
}

// ExpireAt ends every ban whose time is up at now: its entries are deleted
// and reported as unblocked; detect cool-downs and failure back-offs end
// silently. Addresses whose ban ended can trip the rules again. The worker
// calls it at each tick; it is exported for replays and tests that drive
// the worker's clock themselves, and must not run concurrently with the
// worker.
func (g *Guard) ExpireAt(ctx context.Context, now time.Time) {
	if g.manager != nil {
		for _, e := range g.manager.ExpireAt(ctx, now.UTC().Truncate(time.Second)) {
			g.emitEvent(nil, detector.Hit{}, e)
			if e.Status == acl.StatusUnblocked {
				g.releaseIn(e.Prefix)
			}
		}
	}
	for k, until := range g.quiet {
		if now.Before(until) {
			continue
		}
		delete(g.quiet, k)
		g.release(k.addr, k.rule)
	}
	g.mu.Lock()
	if g.newest.Sub(g.swept) >= time.Minute {
		for _, ru := range g.rules {
			ru.det.SweepAt(g.newest)
		}
		g.swept = g.newest
	}
	st := g.detectorStats()
	g.mu.Unlock()
	g.reportEvictions(now, st)
}

// evictionReportEvery rate-limits the log line about evictions.
const evictionReportEvery = time.Minute

// reportEvictions logs, at most once a minute, how many tracked addresses
// were evicted or dropped to keep memory bounded since the last report.
func (g *Guard) reportEvictions(now time.Time, st detector.Stats) {
	ev, dr := st.Evicted-g.reported.Evicted, st.Dropped-g.reported.Dropped
	if ev+dr == 0 || now.Sub(g.reportAt) < evictionReportEvery {
		return
	}
	g.log.Warn("tracking table full: addresses evicted to keep memory bounded",
		"evicted", ev, "dropped", dr, "tracked", st.Tracked, "max_tracked_keys", g.cfg.MaxTrackedKeys)
	g.reported, g.reportAt = st, now
}

// releaseIn re-arms every held address inside p (one address, or all the
// members of an aggregate).
func (g *Guard) releaseIn(p netip.Prefix) {
	for a := range g.held {
		if p.Contains(a) {
			delete(g.held, a)
			g.release(a, nil)
		}
	}
}

// emitEvent turns one acl event into a decision. ru and h are the rule and
// hit that caused it, nil for expiries and start-up reconciliation.
func (g *Guard) emitEvent(ru *rule, h detector.Hit, e acl.Event) {
	d := notify.Decision{
		Host: hostString(e.Prefix), Status: ban.Status(e.Status), Reason: e.Reason,
		ExpiresAt: e.ExpiresAt, ProcessedAt: g.now().UTC().Truncate(time.Second), DryRun: g.cfg.DryRun,
	}
	for _, en := range e.Entries {
		d.ACLIDs = append(d.ACLIDs, en.ACLID)
		d.RuleNumbers = append(d.RuleNumbers, en.RuleNumber)
	}
	if len(d.ACLIDs) == 0 {
		d.ACLIDs = g.cfg.ACLIDs
	}
	switch {
	case ru != nil:
		d.Rule, d.Window, d.Time = ru.Name, ru.Window, h.Last
		if e.Prefix.Contains(h.Addr) && e.Status != acl.StatusUnblocked {
			d.Requests = h.Count
		}
	case len(g.rules) == 1:
		d.Rule, d.Window = g.rules[0].Name, g.rules[0].Window
	default:
		d.Rule = "dosguard"
	}
	g.emit(d)
}

// hostString is an address for a single-address prefix, else the CIDR.
func hostString(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// ManagerConfig maps the configuration to the ban manager's: what the
// plugin and the CLI's acl commands both use.
func ManagerConfig(c conf.Config) acl.ManagerConfig {
	mc := acl.ManagerConfig{
		Blocker: acl.Config{
			ACLIDs: c.ACLIDs, RuleMin: c.RuleMin, RuleMax: c.RuleMax,
			DryRun: c.DryRun, CallTimeout: c.AWSTimeout,
		},
		EntryLimit:         c.NACLEntryLimit,
		OnFull:             c.OnFull,
		AggregateAfter:     c.AggregateAfter,
		AggregatePrefixV4:  c.AggregatePrefixV4,
		AggregatePrefixV6:  c.AggregatePrefixV6,
		BlockDuration:      c.BlockDuration,
		EscalationWindow:   c.EscalationWindow,
		EscalationFactor:   c.EscalationFactor,
		BlockDurationMax:   c.BlockDurationMax,
		MaxBlocksPerMinute: c.MaxBlocksPerMinute,
		StateFile:          c.StateFile,
	}
	for _, r := range c.Rules {
		mc.BlockDurationMax = max(mc.BlockDurationMax, r.BlockDuration)
	}
	if mc.AggregateAfter > 0 {
		// The same exemptions as the detector's: an aggregate never covers
		// an allowlisted, private or special address.
		if ex, err := detector.NewExemptions(detector.ExemptionsConfig{Allowlist: c.Allowlist, BlockPrivate: c.BlockPrivate}); err == nil {
			mc.Guardrail = ex
		}
	}
	return mc
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
	case ban.Blocked:
		g.stats.blocked.Add(1)
		level = slog.LevelWarn
	case ban.Detected:
		g.stats.detected.Add(1)
		level = slog.LevelWarn
	case ban.Failed:
		g.stats.failed.Add(1)
		level = slog.LevelError
	case ban.Unblocked:
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
	g.notes.push(d)
	if g.onDec != nil {
		g.onDec(d)
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
