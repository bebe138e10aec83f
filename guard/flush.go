package guard

import (
	"errors"
	"fmt"
	"hash/maphash"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/dosguard/dosguard/chunk"
	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/detector"
	"github.com/dosguard/dosguard/quiet"
)

// flushState is what Fluent Bit's threads share, under mu: the rules'
// detectors, the per-record scratch, and the sending side of the queue.
type flushState struct {
	mu         sync.Mutex
	rules      []*rule
	keys       []*detector.KeyExtractor
	exempt     *detector.Exemptions
	addrs      []*detector.AddrCache // per key extractor: its results by the key fields' bytes
	quiet      *quiet.Table
	seed       maphash.Seed
	on         []bool       // per flush: rules whose target matches the tag
	scr        []keyState   // per record: the address of each key extractor
	batch      []count      // counts read from the chunk, not yet made
	batchAddrs []netip.Addr // one rule's addresses in the batch, for Prefetch
	newest     time.Time    // newest record time seen, for sweeps
	closed     bool
	hits       chan job
}

// rule is a compiled rule with its own per-address state.
type rule struct {
	conf.Rule
	index int // in the quiet table
	det   *detector.Detector
	key   int // index into flushState.keys
}

// job is a hit waiting for the worker, or a barrier: a channel the worker
// closes when it reaches it, after every job queued before it.
type job struct {
	rule    *rule
	hit     detector.Hit
	barrier chan struct{}
}

// keyState caches one key extractor's result for the current record.
type keyState struct {
	done bool
	ok   bool
	addr netip.Addr
}

// count is one record to count in one rule's detector: 64 bytes, holding
// nothing of the chunk.
type count struct {
	rule *rule
	t    time.Time
	addr netip.Addr
	v    uint64 // a Distinct rule's value, hashed
}

// batchSize is how many counts are read from a chunk before they are made,
// once a rule tracks more than detector.PrefetchMin addresses. Reading a
// batch first lets the detectors fetch the state of its addresses from
// memory all at once (Detector.Prefetch) instead of one cache miss after
// another: with tens of thousands of clients, those misses are most of a
// count's cost. Smaller tables stay in the cache, and their counts are made
// record by record.
const batchSize = 32

// compileRules takes each rule with the condition conf compiled (an
// uncompiled one is refused, never compiled here) and shares one key
// extractor between rules that read the same key. The detectors are made in
// flushState.init, once the quiet table exists.
func compileRules(cfg conf.Config) ([]*rule, []*detector.KeyExtractor, error) {
	var (
		rules []*rule
		keys  detector.KeyExtractors
	)
	for _, cr := range cfg.Rules {
		if cr.Cond == nil && cr.Where != "" {
			return nil, nil, fmt.Errorf("guard: rule %s: where %q is not compiled: build rules with conf", cr.Name, cr.Where)
		}
		k, err := keys.Add(detector.KeySpec{Field: cr.ResolvedKey(), Fallback: cfg.KeyFallback, Trusted: cfg.TrustedProxies})
		if err != nil {
			return nil, nil, fmt.Errorf("guard: rule %s: %w", cr.Name, err)
		}
		rules = append(rules, &rule{Rule: cr, index: len(rules), key: k})
	}
	if len(rules) == 0 {
		return nil, nil, errors.New("guard: no rules")
	}
	return rules, keys.List(), nil
}

// init makes the detectors, each asking q whether an address it fired for
// is still quiet, and the exemptions, scratch and queue.
func (f *flushState) init(cfg conf.Config, q *quiet.Table) error {
	f.quiet = q
	for _, ru := range f.rules {
		det, err := detector.New(detector.Config{
			Window: ru.Window, Threshold: ru.Threshold, MaxKeys: cfg.MaxTrackedKeys,
			Tumbling: ru.WindowType == detector.Tumbling, Distinct: ru.Distinct != nil,
			Quiet: q.For(ru.index),
		})
		if err != nil {
			return fmt.Errorf("guard: rule %s: %w", ru.Name, err)
		}
		ru.det = det
	}
	var err error
	f.exempt, err = detector.NewExemptions(detector.ExemptionsConfig{Allowlist: cfg.Allowlist, BlockPrivate: cfg.BlockPrivate})
	if err != nil {
		return fmt.Errorf("guard: %w", err)
	}
	f.seed = maphash.MakeSeed()
	f.on = make([]bool, len(f.rules))
	for _, k := range f.keys {
		f.addrs = append(f.addrs, detector.NewAddrCache(k, f.exempt))
	}
	f.scr = make([]keyState, len(f.keys))
	f.batch = make([]count, 0, batchSize+len(f.rules)) // room for one more record's counts
	f.batchAddrs = make([]netip.Addr, 0, cap(f.batch))
	f.hits = make(chan job, cfg.QueueSize)
	return nil
}

// FlushStats describes one flushed chunk.
type FlushStats struct {
	Records, Malformed, Hits int
}

// flushCounts are one flush's counters, added to the guard's once.
type flushCounts struct {
	noKey, invalid, exempt, dropped int64
}

// Flush counts the records of one Fluent Bit chunk. Records without their own
// time are counted at the clock's now. It never blocks on AWS.
func (g *Guard) Flush(data []byte, tag string) FlushStats {
	return g.FlushAt(g.now(), data, tag)
}

// FlushAt is Flush with the arrival time given. data is not retained. Each
// record is decoded once, whatever the number of rules; each key field is
// extracted at most once per record.
func (g *Guard) FlushAt(now time.Time, data []byte, tag string) FlushStats {
	var (
		fs FlushStats
		c  flushCounts
	)
	f := &g.flush
	r := chunk.NewReader(data)
	f.mu.Lock()
	anyOn := false
	limit := 1 // counts made record by record while every table fits the CPU cache
	for i, ru := range f.rules {
		f.on[i] = detector.MatchTarget(ru.Target, tag)
		anyOn = anyOn || f.on[i]
		if ru.det.Stats().Tracked > detector.PrefetchMin {
			limit = batchSize
		}
	}
	var ev chunk.Event
	for r.Read(&ev) {
		fs.Records++
		if !anyOn {
			continue
		}
		t := now
		if ev.HasTime {
			t = ev.Time
		}
		f.record(t, ev.Body, &c)
		if len(f.batch) >= limit {
			fs.Hits += f.count(&c)
		}
	}
	fs.Hits += f.count(&c)
	f.mu.Unlock()
	st := r.Stats()
	fs.Malformed = st.Malformed
	s := &g.stats
	s.records.Add(int64(fs.Records))
	s.malformed.Add(int64(st.Malformed))
	s.groups.Add(int64(st.Groups))
	s.noKey.Add(c.noKey)
	s.invalid.Add(c.invalid)
	s.exempt.Add(c.exempt)
	s.hits.Add(int64(fs.Hits))
	if c.dropped > 0 {
		s.queueFull.Add(c.dropped)
		g.log.Warn("decision queue full: hits dropped, the addresses can trip again", "dropped", c.dropped, "queue_size", g.cfg.QueueSize)
	}
	return fs
}

// record reads one record at time t and adds to the batch a count for
// every rule it matches; called with mu held. Reading is pure: the rules'
// state changes only in count.
func (f *flushState) record(t time.Time, body []byte, c *flushCounts) {
	for k := range f.scr {
		f.scr[k].done = false
	}
	if t.After(f.newest) {
		f.newest = t
	}
	for i, ru := range f.rules {
		if !f.on[i] || !ru.Cond.Eval(body) {
			continue
		}
		addr, ok := f.address(ru.key, body, c)
		if !ok {
			continue
		}
		var v uint64 // the Distinct value's hash
		if ru.Distinct != nil {
			dv, ok := chunk.Lookup(body, ru.Distinct)
			if !ok {
				continue
			}
			v = maphash.Bytes(f.seed, dv.Raw)
		}
		// Filled in place: a count built whole and then copied is
		// written as 8-byte stores and read back as 16-byte loads, which
		// the CPU cannot forward, so each record waited for its own stores.
		f.batch = append(f.batch, count{})
		n := &f.batch[len(f.batch)-1]
		n.rule, n.t, n.addr, n.v = ru, t, addr, v
	}
}

// count makes the batch's counts, in the order they were read, empties the
// batch and returns the number of hits; called with mu held.
func (f *flushState) count(c *flushCounts) (hits int) {
	for _, ru := range f.rules {
		if len(f.batch) < 2 {
			break // nothing to overlap
		}
		f.batchAddrs = f.batchAddrs[:0]
		for i := range f.batch {
			if f.batch[i].rule == ru {
				f.batchAddrs = append(f.batchAddrs, f.batch[i].addr)
			}
		}
		ru.det.Prefetch(f.batchAddrs)
	}
	var hit detector.Hit // written only when an address fires
	for i := range f.batch {
		n := &f.batch[i]
		ru := n.rule
		if !ru.det.Observe(n.t, n.addr, n.v, &hit) {
			continue
		}
		hits++
		f.send(ru, hit, c)
	}
	f.batch = f.batch[:0]
	return hits
}

// address extracts and checks the address of key extractor k, once per
// record, through its cache: a client seen before costs a hash and a
// compare. ok is false for a record not to count.
func (f *flushState) address(k int, body []byte, c *flushCounts) (addr netip.Addr, ok bool) {
	ks := &f.scr[k]
	if ks.done {
		return ks.addr, ks.ok
	}
	addr, v := f.addrs[k].Resolve(body)
	switch v {
	case detector.Missing:
		c.noKey++
	case detector.Invalid:
		c.invalid++
	case detector.Exempted:
		c.exempt++
	default:
		ok = true
	}
	*ks = keyState{done: true, ok: ok, addr: addr}
	return addr, ok
}

// send marks the hit's address pending for its rule and queues the hit. When
// the queue is full (the worker is behind) or closed, the address is let go
// at once so it can trip again, and the drop is counted.
func (f *flushState) send(ru *rule, hit detector.Hit, c *flushCounts) {
	if !f.closed {
		f.quiet.Trip(ru.index, hit.Addr)
		select {
		case f.hits <- job{rule: ru, hit: hit}:
			return
		default:
		}
	}
	f.quiet.Clear(ru.index, hit.Addr)
	c.dropped++
}

// sweep drops the addresses whose windows lie wholly before the newest
// record time, at most once a minute of record time, and returns the summed
// detector stats.
func (f *flushState) sweep(last *time.Time) detector.Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.newest.Sub(*last) >= time.Minute {
		for _, ru := range f.rules {
			ru.det.SweepAt(f.newest)
		}
		*last = f.newest
	}
	return f.sumLocked()
}

func (f *flushState) detectorStats() detector.Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sumLocked()
}

func (f *flushState) sumLocked() detector.Stats {
	var sum detector.Stats
	for _, ru := range f.rules {
		sumStats(&sum, ru.det.Stats())
	}
	return sum
}

// close stops taking hits; it reports false if already closed.
func (f *flushState) close() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.closed = true
	close(f.hits)
	return true
}

// barrier queues a barrier after every hit queued so far and returns the
// channel the worker closes when it reaches it; nil after close. It waits
// for room in the queue without holding mu, so the worker is never kept
// from the detectors.
func (f *flushState) barrier() chan struct{} {
	b := make(chan struct{})
	for {
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			return nil
		}
		select {
		case f.hits <- job{barrier: b}:
			f.mu.Unlock()
			return b
		default:
		}
		f.mu.Unlock()
		runtime.Gosched()
	}
}
