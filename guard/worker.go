package guard

import (
	"context"
	"github.com/dosguard/dosguard/ban"
	"log/slog"
	"net/netip"
	"time"

	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/detector"
	"github.com/dosguard/dosguard/notify"
	"github.com/dosguard/dosguard/quiet"
	"github.com/dosguard/dosguard/wafipset"
)

// workerState is the worker goroutine's own.
type workerState struct {
	swept    time.Time      // newest record time at the last sweep
	reported detector.Stats // detector stats at the last eviction report
	reportAt time.Time      // clock time of the last eviction report
}

// clock is the instance's clock at whole seconds, in UTC: the time of every
// decision, expiry and ban length.
func (g *Guard) clock() time.Time {
	return g.now().UTC().Truncate(time.Second)
}

// runWorker is the worker goroutine: it acts on hits in queue order and
// expires bans at each tick.
func (g *Guard) runWorker(tick <-chan time.Time) {
	defer g.running.workerWG.Done()
	ctx := g.running.ctx
	for {
		select {
		case j, ok := <-g.flush.hits:
			if !ok {
				return
			}
			if j.barrier != nil {
				close(j.barrier)
				continue
			}
			jobs, barrier, closed := g.drain(j)
			g.decideAll(ctx, jobs)
			if barrier != nil {
				close(barrier)
			}
			if closed {
				return
			}
		case <-tick:
			g.expire(ctx, g.clock())
		}
	}
}

// startBans starts the enforcer, if any, at start-up (see startEnforcer).
func (g *Guard) startBans(ctx context.Context) error {
	if g.enf == nil {
		return nil
	}
	return g.startEnforcer(ctx, g.clock())
}

// decide acts on one hit, emits the decisions it leads to and moves the
// address out of Pending in the quiet table.
func (g *Guard) decide(ctx context.Context, j job) {
	ru, h := j.rule, j.hit
	g.obs.hits[ru.index].Add(1)
	now := g.clock()
	host := netip.PrefixFrom(h.Addr, h.Addr.BitLen())
	switch {
	case ru.Action == conf.ActionDetect:
		if !g.claimDetect(ctx, ru, h.Addr, now) {
			return // reported by another instance
		}
		d := g.decision(ru, h, now)
		until := now.Add(cooldown(ru))
		g.quiet.Hold(ru.index, h.Addr, quiet.Cooldown, until)
		d.Status, d.ExpiresAt, d.ACLIDs, d.IPSets = ban.Detected, until, nil, nil
		g.emit(d)
		return
	case g.enf == nil:
		// Dry-run without Network ACLs: decide only; the address stays
		// quiet for the ban's length as if it had been blocked.
		if !g.claimDryRun(ctx, ru, h.Addr, now) {
			return // decided by another instance
		}
		d := g.decision(ru, h, now)
		d.Status = ban.Blocked
		if ru.BlockDuration > 0 {
			d.ExpiresAt = now.Add(ru.BlockDuration)
		}
		g.quiet.BanUntil(host, d.ExpiresAt)
		g.quiet.Clear(ru.index, h.Addr)
		g.emit(d)
		return
	}
	if !g.enf.started {
		g.keep(j) // EC2 did not answer at start: applied once it does
		return
	}
	if b, ok := g.enf.Covering(h.Addr); ok {
		// Already banned (after another rule, by an aggregate, or before a
		// restart): quiet for every blocking rule until the ban ends.
		g.quiet.Ban(b.Prefix, b.ExpiresAt)
		g.quiet.Clear(ru.index, h.Addr)
		g.log.Debug("already blocked", "host", h.Addr, "rule", ru.Name)
		return
	}
	if !g.claimBlock(ctx, ru, h.Addr, now) {
		return // blocked by another instance
	}
	g.block(ctx, ru, h, now)
}

// cooldown is how long a detect rule stays quiet for an address.
func cooldown(ru *rule) time.Duration {
	if ru.BlockDuration > 0 {
		return ru.BlockDuration
	}
	return ru.Window
}

// expire ends every ban whose time is up at now (its entries are deleted
// and reported as unblocked), lets cool-downs and back-offs lapse, and
// sweeps the detectors. Only the worker calls it.
func (g *Guard) expire(ctx context.Context, now time.Time) {
	g.mergeShared()
	if g.enf != nil {
		g.tickEnforcer(ctx, now)
		for _, p := range g.enf.EndedElsewhere() {
			g.quiet.Unban(p)
		}
	}
	g.quiet.Lapse(now)
	st := g.flush.sweep(&g.work.swept)
	g.reportEvictions(now, st)
}

// evictionReportEvery rate-limits the log line about evictions.
const evictionReportEvery = time.Minute

// reportEvictions logs, at most once a minute, how many tracked addresses
// were evicted or dropped to keep memory bounded since the last report.
func (g *Guard) reportEvictions(now time.Time, st detector.Stats) {
	w := &g.work
	ev, dr := st.Evicted-w.reported.Evicted, st.Dropped-w.reported.Dropped
	if ev+dr == 0 || now.Sub(w.reportAt) < evictionReportEvery {
		return
	}
	g.log.Warn("tracking table full: addresses evicted to keep memory bounded",
		"evicted", ev, "dropped", dr, "tracked", st.Tracked, "max_tracked_keys", g.cfg.MaxTrackedKeys)
	w.reported, w.reportAt = st, now
}

// emitEvent turns one acl event into a decision. ru and h are the rule and
// hit that caused it, nil for expiries and start-up reconciliation.
func (g *Guard) emitEvent(ru *rule, h detector.Hit, e ban.Event) {
	d := notify.Decision{
		Host: hostString(e.Prefix), Status: e.Status, Reason: e.Text(),
		ExpiresAt: e.ExpiresAt, ProcessedAt: g.clock(), DryRun: g.cfg.DryRun,
	}
	for _, en := range e.Entries {
		if wafipset.IsTarget(en.Target) {
			d.IPSets = append(d.IPSets, en.Target)
			continue
		}
		d.ACLIDs = append(d.ACLIDs, en.Target)
		d.RuleNumbers = append(d.RuleNumbers, en.Rule)
	}
	if len(e.Entries) == 0 {
		d.ACLIDs, d.IPSets = g.cfg.ACLIDs, g.cfg.WAFIPSetARNs
	}
	switch {
	case ru != nil:
		d.Rule, d.Window, d.Time = ru.Name, ru.Window, h.Last
		if e.Prefix.Contains(h.Addr) && e.Status != ban.Unblocked {
			d.Requests = h.Count
		}
	case len(g.flush.rules) == 1:
		d.Rule, d.Window = g.flush.rules[0].Name, g.flush.rules[0].Window
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

func (g *Guard) decision(ru *rule, h detector.Hit, now time.Time) notify.Decision {
	return notify.Decision{
		Rule: ru.Name, Host: h.Addr.String(), Requests: h.Count, Window: ru.Window,
		ACLIDs: g.cfg.ACLIDs, IPSets: g.cfg.WAFIPSetARNs, ProcessedAt: now, Time: h.Last, DryRun: g.cfg.DryRun,
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
	g.obs.decided(d.Rule, d.Status)
	attrs := []slog.Attr{
		slog.String("rule", d.Rule), slog.Int("requests", d.Requests),
		slog.Duration("window", d.Window),
	}
	if len(d.ACLIDs) > 0 {
		attrs = append(attrs, slog.Any("acl_ids", d.ACLIDs), slog.Any("rule_numbers", d.RuleNumbers))
	}
	if len(d.IPSets) > 0 {
		attrs = append(attrs, slog.Any("ip_sets", d.IPSets))
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
