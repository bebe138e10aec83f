// Package guard is one dosguard instance: what one Fluent Bit [OUTPUT]
// section (or one CLI replay) runs.
//
// The model has two halves joined by a bounded queue. Flush, on Fluent Bit's
// threads, decodes a chunk, extracts and validates the client address of
// each record, and counts it in the rules' detectors; it never calls AWS and
// never waits. When an address trips a rule, the flush marks it pending in
// the quiet table and queues its Hit. The worker, a goroutine started by
// Start, takes hits off the queue and acts on them through the enforcer
// (package enforce: the deny entries), decides the outcome (blocked, detected, failed to
// block), logs it and hands it to the notifier goroutine, so a slow SNS
// never holds up blocking. At each tick the worker expires bans and sends
// "unblocked".
//
// One table (package quiet) answers whether an address is quiet for a rule,
// why and until when: the detectors ask it, the worker alone updates it.
// One clock (Deps.Now) dates everything the guard, its worker and its
// notifier do; ticks only wake the worker up.
//
// Every decision ends as exactly one of blocked, detected, failed to block or
// unblocked, and each is logged and notified.
package guard

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dosguard/dosguard/acl"
	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/detector"
	"github.com/dosguard/dosguard/notify"
	"github.com/dosguard/dosguard/quiet"
	"github.com/dosguard/dosguard/shared"
	"github.com/dosguard/dosguard/wafipset"
)

// Deps are what a Guard needs from outside: the AWS clients (nil when not
// used) and, for tests and replays, the clock and the ticks.
type Deps struct {
	// EC2 writes the deny entries; nil with Action detect, or in dry-run
	// without Network ACL ids.
	EC2 acl.EC2API
	// WAF gives the WAFv2 client of a region, for the IP sets
	// (WAF_IP_Set_ARN); nil when there is none.
	WAF func(region string) wafipset.WAFAPI
	// SNS publishes notifications; nil when there is no topic.
	SNS notify.SNSAPI
	// Now is the one clock of the instance: decisions, expiry, ban lengths,
	// records without a time of their own. nil means time.Now.
	Now func() time.Time
	// Tick wakes the worker up for expiry and sweeps; the value sent is
	// ignored (the worker reads Now). nil means Start makes a one-second
	// ticker.
	Tick <-chan time.Time
	// NotifyTick wakes the notifier up to publish what has become due (a
	// group after Notify_Interval, a message the rate limit held back, the
	// drain at Close); the value sent is ignored (the notifier reads Now).
	// nil means Start makes a one-second ticker.
	NotifyTick <-chan time.Time
	// OnDecision, if set, is called by the worker after each decision is
	// logged and queued for SNS (the CLI prints it; tests observe it).
	OnDecision func(notify.Decision)
	// SyncTick starts a sync round with Redis (Redis_URL); the value sent
	// is ignored. nil means a ticker of Sync_Interval.
	SyncTick <-chan time.Time
	// RedisIAM authenticates to ElastiCache with IAM tokens
	// (Redis_IAM_Auth); nil uses the URL's password, if any.
	RedisIAM *shared.IAMToken
}

// Stats counts what the guard has seen and done.
type Stats struct {
	Records   int64 // log records read
	Malformed int64 // events that could not be decoded
	Groups    int64 // group markers skipped
	NoKey     int64 // records without the key field
	Invalid   int64 // key values that are not a single IP address
	Exempt    int64 // records of allowlisted or private addresses
	Hits      int64 // addresses that tripped the rule
	QueueFull int64 // hits dropped because the queue was full
	Evicted   int64 // tracked addresses evicted to keep memory bounded
	Late      int64 // records too old for their address's window, skipped
	Blocked   int64
	Detected  int64
	Failed    int64
	Unblocked int64
	NotifyErr int64 // notifications that could not be published
}

type counters struct {
	records, malformed, groups, noKey, invalid, exempt, hits, queueFull,
	blocked, detected, failed, unblocked, notifyErr atomic.Int64
}

// Guard is one dosguard instance. Flush is safe for concurrent use (Fluent
// Bit's workers N); Start and Close are called once each.
type Guard struct {
	cfg   conf.Config
	log   *slog.Logger
	now   func() time.Time
	onDec func(notify.Decision)
	quiet *quiet.Table
	enf   *enforcement // nil: no NACL calls (detect only, or dry-run without ACL ids)
	notes *notes       // the notification path: queue and publisher
	stats counters
	obs   observed // per-rule counters for metrics (metrics.go)

	flush   flushState   // Fluent Bit's threads, under flush.mu
	shared  *sharedState // Redis_URL: global counts and shared bans; nil without
	work    workerState  // the worker goroutine's alone
	running lifecycle
}

// lifecycle is what Start and Close share.
type lifecycle struct {
	tick     <-chan time.Time
	ctx      context.Context
	cancel   context.CancelFunc
	started  bool
	workerWG sync.WaitGroup
	stopTick func()
}

// New builds a Guard from a validated config. It starts nothing; call Start.
func New(cfg conf.Config, deps Deps, logger *slog.Logger) (*Guard, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	g := &Guard{cfg: cfg, log: logger, now: deps.Now, onDec: deps.OnDecision}
	if g.now == nil {
		g.now = time.Now
	}
	g.running.tick = deps.Tick
	var err error
	if g.flush.rules, g.flush.keys, err = compileRules(cfg); err != nil {
		return nil, err
	}
	blocking := make([]bool, len(g.flush.rules))
	for i, ru := range g.flush.rules {
		blocking[i] = ru.Action == conf.ActionBlock
	}
	g.quiet = quiet.New(blocking)
	g.obs = newObserved(g.flush.rules)
	if err := g.flush.init(cfg, g.quiet); err != nil {
		return nil, err
	}
	if err := g.initShared(deps); err != nil {
		return nil, err
	}
	if cfg.Blocks() && cfg.Targets() {
		if g.enf, err = newEnforcement(cfg, deps, g.now, g.sharedStore(), logger); err != nil {
			return nil, err
		}
	}
	g.notes, err = newNotes(cfg, deps, g.now, logger, &g.stats.notifyErr)
	if err != nil {
		return nil, err
	}
	return g, nil
}

// Start reconciles the bans with the Network ACLs (loading State_File and,
// with Startup_Check, verifying that each ACL exists and may be written),
// then starts the worker and the notifier goroutines. An error means the
// instance must not run; its text is one line for Fluent Bit's log.
func (g *Guard) Start(ctx context.Context) error {
	l := &g.running
	if l.started {
		return nil
	}
	if err := g.startBans(ctx); err != nil {
		return err
	}
	l.started = true
	l.ctx, l.cancel = context.WithCancel(context.Background())
	var stops []func()
	ticker := func(c <-chan time.Time) <-chan time.Time {
		if c != nil {
			return c
		}
		t := time.NewTicker(time.Second)
		stops = append(stops, t.Stop)
		return t.C
	}
	tick, ntick := ticker(l.tick), ticker(g.notes.tick)
	l.stopTick = func() {
		for _, s := range stops {
			s()
		}
	}
	l.workerWG.Add(1)
	go g.runWorker(tick)
	g.notes.start(l.ctx, ntick)
	g.startShared()
	return nil
}

// Stats returns a snapshot of the counters.
func (g *Guard) Stats() Stats {
	c := &g.stats
	st := Stats{
		Records: c.records.Load(), Malformed: c.malformed.Load(), Groups: c.groups.Load(),
		NoKey: c.noKey.Load(), Invalid: c.invalid.Load(), Exempt: c.exempt.Load(),
		Hits: c.hits.Load(), QueueFull: c.queueFull.Load(), Blocked: c.blocked.Load(),
		Detected: c.detected.Load(), Failed: c.failed.Load(), Unblocked: c.unblocked.Load(),
		NotifyErr: c.notifyErr.Load(),
	}
	d := g.flush.detectorStats()
	st.Evicted, st.Late = d.Evicted, d.Late
	return st
}

// Close stops taking hits, lets the worker finish the queued ones and the
// notifier publish what is pending, and returns when both are done or ctx
// ends (then in-flight AWS calls are cancelled and reported as failed).
// Active bans stay in the Network ACLs.
func (g *Guard) Close(ctx context.Context) error {
	if !g.flush.close() {
		return nil
	}
	defer g.closeShared()
	l := &g.running
	if !l.started {
		return nil
	}
	done := make(chan struct{})
	go func() {
		l.workerWG.Wait()
		g.notes.drain()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		l.cancel()
		<-done
		err = fmt.Errorf("guard: exit: pending actions cut short: %w", ctx.Err())
	}
	l.cancel()
	l.stopTick()
	st := g.Stats()
	g.log.Info("stopped", "records", st.Records, "blocked", st.Blocked, "detected", st.Detected,
		"failed", st.Failed, "unblocked", st.Unblocked, "invalid", st.Invalid, "no_key", st.NoKey,
		"exempt", st.Exempt, "malformed", st.Malformed, "queue_full", st.QueueFull,
		"evicted", st.Evicted, "late", st.Late, "active_bans", g.activeCount())
	return err
}

func (g *Guard) activeCount() int {
	if g.enf == nil {
		_, bans := g.quiet.Len()
		return bans
	}
	return len(g.enf.Bans())
}

// sumStats adds up detector stats.
func sumStats(sum *detector.Stats, s detector.Stats) {
	sum.Tracked += s.Tracked
	sum.Evicted += s.Evicted
	sum.Dropped += s.Dropped
	sum.Late += s.Late
}
