package guard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/dosguard/dosguard/acl"
	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/detector"
	"github.com/dosguard/dosguard/enforce"
	"github.com/dosguard/dosguard/policy"
	"github.com/dosguard/dosguard/quiet"
	"github.com/dosguard/dosguard/store"
	"github.com/dosguard/dosguard/target"
	"github.com/dosguard/dosguard/wafipset"
)

// Glue between the guard and the enforce package: the config mapping, the
// start that survives an unavailable EC2, the periodic reconcile, and what
// each event means for the address that caused it.

// Backoffs of the worker: the retry of a start EC2 did not answer, and the
// quiet time of an address whose block failed transiently.
const (
	startRetryMin     = time.Second
	startRetryMax     = time.Minute
	transientRetryMin = 2 * time.Second
	maxPendingHits    = 1024 // hits kept while the targets are unavailable
	maxTransient      = 1024 // addresses whose transient failures are counted
)

// EnforceConfig maps the configuration to the NACL targets' and the
// enforcer's: what the plugin and the CLI's acl commands both use.
func EnforceConfig(c conf.Config) (acl.Config, enforce.Config) {
	ac := acl.Config{
		ACLIDs: c.ACLIDs, RuleMin: c.RuleMin, RuleMax: c.RuleMax,
		EntryLimit: c.NACLEntryLimit, CallTimeout: c.AWSTimeout,
	}
	pc := policy.Config{
		OnFull:             c.OnFull,
		AggregateAfter:     c.AggregateAfter,
		AggregatePrefixV4:  c.AggregatePrefixV4,
		AggregatePrefixV6:  c.AggregatePrefixV6,
		BlockDuration:      c.AdoptDuration(),
		EscalationWindow:   c.EscalationWindow,
		EscalationFactor:   c.EscalationFactor,
		BlockDurationMax:   c.BlockDurationMax,
		MaxBlocksPerMinute: c.MaxBlocksPerMinute,
	}
	for _, r := range c.Rules {
		pc.BlockDurationMax = max(pc.BlockDurationMax, r.BlockDuration)
	}
	if pc.AggregateAfter > 0 {
		// The same exemptions as the detector's: an aggregate never covers
		// an allowlisted, private or special address.
		if ex, err := detector.NewExemptions(detector.ExemptionsConfig{Allowlist: c.Allowlist, BlockPrivate: c.BlockPrivate}); err == nil {
			pc.Guardrail = ex
		}
	}
	return ac, enforce.Config{Policy: pc, DryRun: c.DryRun}
}

// NewEnforcer builds the enforcer of c over its network ACLs (d.EC2), its
// WAF IP sets (d.WAF) and State_File (in memory if none), reading the
// clock now (nil: time.Now). noAdopt leaves unknown entries alone (the
// CLI).
func NewEnforcer(c conf.Config, d Deps, now func() time.Time, noAdopt bool, logger *slog.Logger) (*enforce.Enforcer, error) {
	return NewEnforcerIn(c, d, now, noAdopt, nil, logger)
}

// NewEnforcerIn is NewEnforcer remembering in st (the shared bans on
// Redis); nil means the State_File, or memory.
func NewEnforcerIn(c conf.Config, d Deps, now func() time.Time, noAdopt bool, st store.Store, logger *slog.Logger) (*enforce.Enforcer, error) {
	ac, ec := EnforceConfig(c)
	ec.Policy.NoAdopt, ec.Now = noAdopt, now
	var targets []target.Target
	if len(c.ACLIDs) > 0 {
		if d.EC2 == nil {
			return nil, errors.New("guard: Network ACL ids are set but there is no EC2 client")
		}
		nacls, err := acl.New(ac, d.EC2, logger)
		if err != nil {
			return nil, err
		}
		for _, n := range nacls {
			targets = append(targets, n)
		}
	}
	if len(c.WAFIPSetARNs) > 0 {
		if d.WAF == nil {
			return nil, errors.New("guard: WAF IP set ARNs are set but there is no WAF client")
		}
		sets, err := wafipset.New(WAFConfig(c), d.WAF, logger)
		if err != nil {
			return nil, err
		}
		for _, s := range sets {
			targets = append(targets, s)
		}
	}
	switch {
	case st != nil:
	case c.StateFile != "":
		st = store.File{Path: c.StateFile}
	default:
		st = &store.Memory{}
	}
	return enforce.New(ec, targets, st, logger)
}

// enforcement is the worker's side of the enforcer: whether it has
// started, the hits kept until it does, the next reconcile, and the
// transient failures per address. Owned by the worker after Start.
type enforcement struct {
	*enforce.Enforcer
	check     bool
	interval  time.Duration // Reconcile_Interval; 0 = off
	started   bool
	retryAt   time.Time // next start attempt
	retryWait time.Duration
	pending   []job
	reconcile time.Time // next reconcile
	transient map[netip.Addr]int
	batches   bool     // IP sets are written: hits are decided in batches
	staged    []staged // the blocks of the batch being decided, nil if none
}

// startEnforcer starts the enforcer at now. A target unavailable (timeout,
// throttling, 5xx) is not fatal: one warning, and the worker retries.
func (g *Guard) startEnforcer(ctx context.Context, now time.Time) error {
	en := g.enf
	events, err := en.Start(ctx, now, en.check)
	switch {
	case errors.Is(err, enforce.ErrUnavailable):
		en.retryWait = startRetryMin
		en.retryAt = now.Add(en.retryWait)
		g.log.Warn("blocking targets (network ACLs, IP sets) unavailable at start; starting anyway, blocks are kept until they answer", "error", err.Error())
		return nil
	case err != nil:
		return err
	}
	g.enforcerStarted(now, events)
	return nil
}

// enforcerStarted records a successful start of the enforcer at now.
func (g *Guard) enforcerStarted(now time.Time, events []ban.Event) {
	en := g.enf
	en.started = true
	en.reconcile = now.Add(en.interval)
	for _, e := range events {
		g.follow(e)
		g.emitEvent(nil, detector.Hit{}, e)
	}
}

// tickEnforcer is the enforcer's part of a worker tick: retry the start,
// apply the hits kept meanwhile, expire bans, reconcile when due.
func (g *Guard) tickEnforcer(ctx context.Context, now time.Time) {
	en := g.enf
	if !en.started {
		if now.Before(en.retryAt) {
			return
		}
		events, err := en.Start(ctx, now, en.check)
		if err != nil {
			en.retryWait = min(2*en.retryWait, startRetryMax)
			en.retryAt = now.Add(en.retryWait)
			g.log.Warn("network ACLs still unavailable", "retry_at", en.retryAt, "error", err.Error())
			return
		}
		g.log.Info("network ACLs available: blocking", "kept_hits", len(en.pending))
		g.enforcerStarted(now, events)
		pending := en.pending
		en.pending = nil
		g.decideAll(ctx, pending)
	}
	for _, e := range en.Expire(ctx, now) {
		g.follow(e)
		g.emitEvent(nil, detector.Hit{}, e)
	}
	if en.interval <= 0 || now.Before(en.reconcile) {
		return
	}
	en.reconcile = now.Add(en.interval)
	events, err := en.Reconcile(ctx, now)
	if err != nil {
		g.log.Warn("reconcile with the network ACLs failed; next round will retry", "error", err.Error())
	}
	for _, e := range events {
		g.follow(e)
		g.emitEvent(nil, detector.Hit{}, e)
	}
}

// keep holds j until the enforcer starts; beyond maxPendingHits the hit is
// dropped and its address let go, to trip again later.
func (g *Guard) keep(j job) {
	en := g.enf
	if len(en.pending) >= maxPendingHits {
		g.stats.queueFull.Add(1)
		g.quiet.Clear(j.rule.index, j.hit.Addr)
		return
	}
	en.pending = append(en.pending, j)
}

// block bans the hit's address and updates the quiet table before it
// emits the events, so that whoever sees a decision sees the table it
// left: a ban quiets its prefix for every blocking rule (follow); a
// failure backs the rule off for the address (a Window for a definite
// refusal, seconds with backoff for a transient one); otherwise the
// address leaves Pending.
func (g *Guard) block(ctx context.Context, ru *rule, h detector.Hit, now time.Time) {
	en := g.enf
	events := en.Block(ctx, h.Addr, now, ru.BlockDuration)
	if en.staged != nil { // settled when the batch is written
		en.staged = append(en.staged, staged{ru: ru, hit: h, now: now, events: events})
		return
	}
	g.settle(ctx, ru, h, now, events)
}

// settle updates the quiet table for the events of a block of h, then
// emits them (see block).
func (g *Guard) settle(ctx context.Context, ru *rule, h detector.Hit, now time.Time, events []ban.Event) {
	en := g.enf
	var failed *ban.Event
	for i, e := range events {
		g.follow(e)
		if e.Status == ban.Failed && e.Prefix.Contains(h.Addr) {
			failed = &events[i]
		}
	}
	if failed != nil {
		g.releaseBlock(ctx, h.Addr) // another instance may try
	}
	switch {
	case failed == nil:
		delete(en.transient, h.Addr)
		g.quiet.Clear(ru.index, h.Addr)
	case failed.Transient:
		if len(en.transient) >= maxTransient {
			clear(en.transient) // bounded: a long outage restarts the backoffs
		}
		n := en.transient[h.Addr]
		en.transient[h.Addr] = n + 1
		wait := min(transientRetryMin<<min(n, 10), ru.Window)
		g.quiet.Hold(ru.index, h.Addr, quiet.Backoff, now.Add(wait))
	default:
		// A definite refusal (full NACL, rate limit, broken role) is not
		// retried for every record: back off for one window.
		g.quiet.Hold(ru.index, h.Addr, quiet.Backoff, now.Add(ru.Window))
	}
	for _, e := range events {
		g.emitEvent(ru, h, e)
	}
}

// follow updates the quiet table for a ban event, before the event is
// emitted: a new ban quiets its prefix, an ended one lets it go (a member
// folded into an aggregate stays quiet through the aggregate's ban,
// reported before it).
func (g *Guard) follow(e ban.Event) {
	switch e.Status {
	case ban.Blocked:
		g.quiet.Ban(e.Prefix, e.ExpiresAt)
	case ban.Unblocked:
		g.quiet.Unban(e.Prefix)
	}
}

// WAFConfig maps the configuration to the IP sets'.
func WAFConfig(c conf.Config) wafipset.Config {
	return wafipset.Config{ARNs: c.WAFIPSetARNs, EntryLimit: c.WAFEntryLimit, CallTimeout: c.AWSTimeout}
}

// newEnforcement wraps the enforcer for the worker.
func newEnforcement(c conf.Config, d Deps, now func() time.Time, st store.Store, logger *slog.Logger) (*enforcement, error) {
	e, err := NewEnforcerIn(c, d, now, false, st, logger)
	if err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	return &enforcement{
		Enforcer: e, check: c.StartupCheck && !c.DryRun, interval: c.ReconcileInterval,
		transient: make(map[netip.Addr]int), batches: len(c.WAFIPSetARNs) > 0 && !c.DryRun,
	}, nil
}
