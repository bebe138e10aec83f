// Package guard is one dosguard instance: what one Fluent Bit [OUTPUT]
// section (or one CLI replay) runs.
//
// The model has two halves joined by a bounded queue. Flush, on Fluent Bit's
// thread, decodes a chunk, extracts and validates the client address of each
// record, and counts it in the detector; it never calls AWS and never waits.
// When an address trips the rule, its Hit goes into the queue. The worker,
// a goroutine started by Start, takes hits off the queue and acts on them:
// it writes the deny entries through acl, decides the outcome (blocked,
// detected, failed to block), logs it and hands it to a second goroutine that
// publishes to SNS, so a slow SNS never holds up blocking. The worker also
// expires bans on the wall clock at each tick and sends "unblocked".
//
// Every decision ends as exactly one of blocked, detected, failed to block or
// unblocked, and each is logged and notified. An address stays quiet in the
// detector while its ban (or detect cool-down, or failure back-off) lasts.
package guard

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dosguard/dosguard/acl"
	"github.com/dosguard/dosguard/chunk"
	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/detector"
	"github.com/dosguard/dosguard/notify"
)

// Deps are what a Guard needs from outside: the AWS clients (nil when not
// used) and, for tests and replays, the clock and the expiry tick.
type Deps struct {
	// EC2 writes the deny entries; nil with Action detect, or in dry-run
	// without Network ACL ids.
	EC2 acl.EC2API
	// SNS publishes notifications; nil when there is no topic.
	SNS notify.SNSAPI
	// Now is the wall clock; nil means time.Now.
	Now func() time.Time
	// Tick drives expiry and sweeps; each value is the current wall time.
	// nil means Start makes a one-second ticker.
	Tick <-chan time.Time
	// NotifyTick paces the notifier (batch interval, rate limit, drain);
	// nil means Start makes a one-second ticker. The notifier's own clock
	// is the real one: pacing SNS is about real seconds.
	NotifyTick <-chan time.Time
	// OnDecision, if set, is called by the worker after each decision is
	// logged and queued for SNS (the CLI prints it; tests observe it).
	OnDecision func(notify.Decision)
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

// Guard is one dosguard instance. Flush is safe for concurrent use (Fluent
// Bit's workers N); Start and Close are called once each.
type Guard struct {
	cfg        conf.Config
	log        *slog.Logger
	now        func() time.Time
	tick       <-chan time.Time
	notifyTick <-chan time.Time
	onDec      func(notify.Decision)
	enf        *enforcement // nil: no NACL calls (detect only, or dry-run without ACL ids)
	notifier   *notify.Notifier
	exempt     *detector.Exemptions

	mu     sync.Mutex // guards the rules' detectors, scratch, newest, closed and sends on hits
	rules  []*rule
	keys   []*detector.KeyExtractor
	seed   maphash.Seed
	on     []bool     // per flush: rules whose target matches the tag
	scr    []keyState // per record: the address of each key extractor
	newest time.Time
	closed bool
	hits   chan job

	notes    chan notify.Decision
	held     map[netip.Addr]struct{} // worker-owned: addresses quiet because they are banned
	quiet    map[quietKey]time.Time  // worker-owned: detect cool-downs, failure back-offs
	swept    time.Time               // newest record time at the last sweep
	reported detector.Stats          // detector stats at the last eviction report
	reportAt time.Time               // wall time of the last eviction report
	stats    counters
	runCtx   context.Context
	cancel   context.CancelFunc
	started  bool
	workerWG sync.WaitGroup
	notifyWG sync.WaitGroup
	stopTick func()
}

// rule is a compiled rule with its own per-address state.
type rule struct {
	conf.Rule
	cond *detector.Cond
	det  *detector.Detector
	key  int // index into Guard.keys
}

// job is a hit waiting for the worker.
type job struct {
	rule *rule
	hit  detector.Hit
}

// keyState caches one key extractor's result for the current record.
type keyState struct {
	done bool
	ok   bool
	addr netip.Addr
}

type counters struct {
	records, malformed, groups, noKey, invalid, exempt, hits, queueFull,
	blocked, detected, failed, unblocked, notifyErr atomic.Int64
}

// quietKey is one rule's address kept quiet without a ban.
type quietKey struct {
	rule *rule
	addr netip.Addr
}

// New builds a Guard from a validated config. It starts nothing; call Start.
func New(cfg conf.Config, deps Deps, logger *slog.Logger) (*Guard, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	g := &Guard{
		cfg: cfg, log: logger, now: deps.Now, tick: deps.Tick, onDec: deps.OnDecision,
		hits:  make(chan job, cfg.QueueSize),
		seed:  maphash.MakeSeed(),
		notes: make(chan notify.Decision, 1024),
		held:  map[netip.Addr]struct{}{},
		quiet: map[quietKey]time.Time{},
	}
	if g.now == nil {
		g.now = time.Now
	}
	if err := g.compileRules(); err != nil {
		return nil, err
	}
	var err error
	g.exempt, err = detector.NewExemptions(detector.ExemptionsConfig{Allowlist: cfg.Allowlist, BlockPrivate: cfg.BlockPrivate})
	if err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	if cfg.Blocks() && len(cfg.ACLIDs) > 0 {
		if deps.EC2 == nil {
			return nil, errors.New("guard: Network ACL ids are set but there is no EC2 client")
		}
		if g.enf, err = newEnforcement(cfg, deps.EC2, g.now, logger); err != nil {
			return nil, err
		}
	}
	g.notifyTick = deps.NotifyTick
	g.notifier, err = notify.New(notify.Config{
		TopicARN: cfg.TopicARN, Subject: cfg.Subject, CallTimeout: cfg.AWSTimeout,
	}, deps.SNS, logger)
	if err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	return g, nil
}

// Start reconciles the bans with the Network ACLs (loading State_File and,
// with Startup_Check, verifying that each ACL exists and may be written),
// then starts the worker and the notifier goroutines. An error means the
// instance must not run; its text is one line for Fluent Bit's log.
func (g *Guard) Start(ctx context.Context) error {
	if g.started {
		return nil
	}
	if g.enf != nil {
		if err := g.startEnforcer(ctx, g.now().UTC().Truncate(time.Second)); err != nil {
			return err
		}
	}
	g.started = true
	g.runCtx, g.cancel = context.WithCancel(context.Background())
	var stops []func()
	ticker := func(c <-chan time.Time) <-chan time.Time {
		if c != nil {
			return c
		}
		t := time.NewTicker(time.Second)
		stops = append(stops, t.Stop)
		return t.C
	}
	tick, ntick := ticker(g.tick), ticker(g.notifyTick)
	g.stopTick = func() {
		for _, s := range stops {
			s()
		}
	}
	g.workerWG.Add(1)
	go g.work(tick)
	g.notifyWG.Add(1)
	go g.publish(ntick)
	return nil
}

// FlushStats describes one flushed chunk.
type FlushStats struct {
	Records, Malformed, Hits int
}

// Flush counts the records of one Fluent Bit chunk. Records without their own
// time are counted at the wall clock's now. It never blocks on AWS.
func (g *Guard) Flush(data []byte, tag string) FlushStats {
	return g.FlushAt(g.now(), data, tag)
}

// FlushAt is Flush with the arrival time given. data is not retained. Each
// record is decoded once, whatever the number of rules; each key field is
// extracted at most once per record.
func (g *Guard) FlushAt(now time.Time, data []byte, tag string) FlushStats {
	var (
		fs                              FlushStats
		noKey, invalid, exempt, dropped int64
	)
	r := chunk.NewReader(data)
	g.mu.Lock()
	anyOn := false
	for i, ru := range g.rules {
		g.on[i] = detector.MatchTarget(ru.Target, tag)
		anyOn = anyOn || g.on[i]
	}
	for {
		ev, ok := r.Next()
		if !ok {
			break
		}
		fs.Records++
		if !anyOn {
			continue
		}
		for k := range g.scr {
			g.scr[k].done = false
		}
		t := now
		if ev.HasTime {
			t = ev.Time
		}
		if t.After(g.newest) {
			g.newest = t
		}
		for i, ru := range g.rules {
			if !g.on[i] || !ru.cond.Eval(ev.Body) {
				continue
			}
			ks := &g.scr[ru.key]
			if !ks.done {
				addr, err := g.keys[ru.key].Extract(ev.Body)
				*ks = keyState{done: true}
				switch {
				case errors.Is(err, detector.ErrMissing):
					noKey++
				case err != nil:
					invalid++
				default:
					if _, ex := g.exempt.Exempt(addr); ex {
						exempt++
					} else {
						ks.ok, ks.addr = true, addr
					}
				}
			}
			if !ks.ok {
				continue
			}
			var hit detector.Hit
			var fired bool
			if ru.Distinct != nil {
				v, ok := chunk.Lookup(ev.Body, ru.Distinct)
				if !ok {
					continue
				}
				hit, fired = ru.det.ObserveDistinctAt(t, ks.addr, maphash.Bytes(g.seed, v.Raw))
			} else {
				hit, fired = ru.det.ObserveAt(t, ks.addr)
			}
			if !fired {
				continue
			}
			fs.Hits++
			if g.closed {
				dropped++
				continue
			}
			select {
			case g.hits <- job{rule: ru, hit: hit}:
			default:
				// The worker is behind: re-arm the address so it can trip
				// again once the queue has room, and report the drop.
				ru.det.Release(ks.addr)
				dropped++
			}
		}
	}
	g.mu.Unlock()
	st := r.Stats()
	fs.Malformed = st.Malformed
	g.stats.records.Add(int64(fs.Records))
	g.stats.malformed.Add(int64(st.Malformed))
	g.stats.groups.Add(int64(st.Groups))
	g.stats.noKey.Add(noKey)
	g.stats.invalid.Add(invalid)
	g.stats.exempt.Add(exempt)
	g.stats.hits.Add(int64(fs.Hits))
	if dropped > 0 {
		g.stats.queueFull.Add(dropped)
		g.log.Warn("decision queue full: hits dropped, the addresses can trip again", "dropped", dropped, "queue_size", g.cfg.QueueSize)
	}
	return fs
}

// compileRules builds each rule's detector, with the condition conf compiled
// (an uncompiled one is refused, never compiled here), sharing one key
// extractor between rules that read the same key.
func (g *Guard) compileRules() error {
	seen := map[string]int{}
	for _, cr := range g.cfg.Rules {
		if cr.Cond == nil && cr.Where != "" {
			return fmt.Errorf("guard: rule %s: where %q is not compiled: build rules with conf", cr.Name, cr.Where)
		}
		det, err := detector.New(detector.Config{
			Window: cr.Window, Threshold: cr.Threshold, MaxKeys: g.cfg.MaxTrackedKeys,
			Tumbling: cr.WindowType == detector.Tumbling, Distinct: cr.Distinct != nil,
		})
		if err != nil {
			return fmt.Errorf("guard: rule %s: %w", cr.Name, err)
		}
		ks := detector.KeySpec{Field: cr.ResolvedKey(), Fallback: g.cfg.KeyFallback, Trusted: g.cfg.TrustedProxies}
		id := ks.Field.String()
		k, ok := seen[id]
		if !ok {
			x, err := detector.NewKeyExtractor(ks)
			if err != nil {
				return fmt.Errorf("guard: rule %s: %w", cr.Name, err)
			}
			k = len(g.keys)
			g.keys = append(g.keys, x)
			seen[id] = k
		}
		g.rules = append(g.rules, &rule{Rule: cr, cond: cr.Cond, det: det, key: k})
	}
	if len(g.rules) == 0 {
		return errors.New("guard: no rules")
	}
	g.on = make([]bool, len(g.rules))
	g.scr = make([]keyState, len(g.keys))
	return nil
}

// detectorStats sums the rules' detector stats; called with mu held.
func (g *Guard) detectorStats() detector.Stats {
	var sum detector.Stats
	for _, ru := range g.rules {
		s := ru.det.Stats()
		sum.Tracked += s.Tracked
		sum.Evicted += s.Evicted
		sum.Dropped += s.Dropped
		sum.Late += s.Late
	}
	return sum
}

// release re-arms addr in rule only, or in every blocking rule when only is
// nil (a ban ended).
func (g *Guard) release(addr netip.Addr, only *rule) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if only != nil {
		only.det.Release(addr)
		return
	}
	for _, ru := range g.rules {
		if ru.Action == conf.ActionBlock {
			ru.det.Release(addr)
		}
	}
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
	g.mu.Lock()
	d := g.detectorStats()
	g.mu.Unlock()
	st.Evicted, st.Late = d.Evicted, d.Late
	return st
}

// Close stops taking hits, lets the worker finish the queued ones and the
// notifier publish what is pending, and returns when both are done or ctx
// ends (then in-flight AWS calls are cancelled and reported as failed).
// Active bans stay in the Network ACLs.
func (g *Guard) Close(ctx context.Context) error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true
	close(g.hits)
	g.mu.Unlock()
	if !g.started {
		return nil
	}
	done := make(chan struct{})
	go func() {
		g.workerWG.Wait()
		close(g.notes)
		g.notifyWG.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		g.cancel()
		<-done
		err = fmt.Errorf("guard: exit: pending actions cut short: %w", ctx.Err())
	}
	g.cancel()
	g.stopTick()
	st := g.Stats()
	g.log.Info("stopped", "records", st.Records, "blocked", st.Blocked, "detected", st.Detected,
		"failed", st.Failed, "unblocked", st.Unblocked, "invalid", st.Invalid, "no_key", st.NoKey,
		"exempt", st.Exempt, "malformed", st.Malformed, "queue_full", st.QueueFull,
		"evicted", st.Evicted, "late", st.Late, "active_bans", g.activeCount())
	return err
}

func (g *Guard) activeCount() int {
	if g.enf == nil {
		return 0
	}
	return len(g.enf.Bans())
}
