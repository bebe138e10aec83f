package detector

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"net/netip"
	"time"

	"github.com/dosguard/dosguard/internal/prefetch"
)

// Defaults and limits for Config.
const (
	// DefaultMaxKeys is the number of tracked addresses when
	// Config.MaxKeys is zero: about 77 MB of state when full with the
	// default 12 buckets (see Memory in the package doc).
	DefaultMaxKeys = 1_000_000
	// DefaultBuckets is the ring size of a sliding window when
	// Config.Buckets is zero.
	DefaultBuckets = 12
	// MaxBuckets bounds Config.Buckets.
	MaxBuckets = 1024
	// MaxWindow bounds Config.Window.
	MaxWindow = 24 * time.Hour
	// MaxMaxKeys bounds Config.MaxKeys.
	MaxMaxKeys = 1 << 30
	// MaxDistinctThreshold bounds Config.Threshold when Config.Distinct is
	// set: a key keeps up to Threshold-1 value hashes, so the threshold
	// bounds its memory.
	MaxDistinctThreshold = 1 << 16
)

// evictionSample is how many consecutive slots an eviction looks at.
const evictionSample = 8

// Distinct value sets: a new set has minSlots slots; at most maxFree empty
// sets of that size are kept for reuse by new keys.
const (
	minSlots = 4
	maxFree  = 64
)

// emptyTick marks a free slot of a distinct value set; no record time maps
// to it.
const emptyTick = math.MinInt64

// Record times outside [minNano, maxNano] (years 1900 to 2200) are bogus and
// ignored; the bound keeps tick arithmetic far from int64 overflow.
var (
	minNano = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	maxNano = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
)

// Config is one detection rule: at least Threshold requests (or distinct
// values, with Distinct) from one address within Window.
type Config struct {
	// Window is the length of the window, 0 < Window <= MaxWindow.
	Window time.Duration
	// Threshold is the windowed count at which an address fires,
	// 1 <= Threshold <= math.MaxInt32, and at most MaxDistinctThreshold
	// with Distinct.
	Threshold int
	// MaxKeys bounds the number of tracked addresses, quiet ones included;
	// zero means DefaultMaxKeys.
	MaxKeys int
	// Buckets is the number of buckets a sliding window is cut into, each
	// Window/Buckets wide (rounded up to a nanosecond); zero means
	// DefaultBuckets. More buckets make the count tighter and each key
	// bigger by 4 bytes a bucket. A tumbling window is one bucket: Buckets
	// must be 0 or 1 with Tumbling, and Config reports 1.
	Buckets int
	// Tumbling selects tumbling windows (Esper's win:time_batch): batches
	// of length Window starting at multiples of Window since the Unix
	// epoch, counted apart. The default is a sliding window (win:time).
	Tumbling bool
	// Distinct counts distinct values per address instead of requests:
	// the caller passes each record's value as a 64-bit hash to
	// ObserveDistinctAt (see HashBytes).
	Distinct bool
	// Seed seeds the choice of eviction candidates. Any value works; the
	// same seed and input give the same evictions.
	Seed uint64
	// Quiet, if set, says whether an address the Detector fired for is
	// still quiet (the guard's quiet table: pending decision, ban,
	// cool-down, back-off). The Detector asks it whenever such an address
	// records again, or is a candidate for eviction or sweeping; once it
	// answers false the address's counts start from zero. Without it, an
	// address stays quiet until Release.
	Quiet Quieter
}

// Quieter answers whether an address is quiet. It must not call back into
// the Detector.
type Quieter interface {
	Quiet(a netip.Addr) bool
}

// Validate reports every invalid field of c, naming the field and its value.
// Zero MaxKeys and Buckets are valid: they mean the defaults.
func (c Config) Validate() error {
	var errs []error
	if c.Window <= 0 || c.Window > MaxWindow {
		errs = append(errs, fmt.Errorf("detector: Window %v: must be in (0, %v]", c.Window, MaxWindow))
	}
	if c.Threshold < 1 || c.Threshold > math.MaxInt32 {
		errs = append(errs, fmt.Errorf("detector: Threshold %d: must be in [1, %d]", c.Threshold, math.MaxInt32))
	} else if c.Distinct && c.Threshold > MaxDistinctThreshold {
		errs = append(errs, fmt.Errorf("detector: Threshold %d: must be in [1, %d] with Distinct", c.Threshold, MaxDistinctThreshold))
	}
	if c.MaxKeys < 0 || c.MaxKeys > MaxMaxKeys {
		errs = append(errs, fmt.Errorf("detector: MaxKeys %d: must be in [0, %d]", c.MaxKeys, MaxMaxKeys))
	}
	if c.Buckets < 0 || c.Buckets > MaxBuckets {
		errs = append(errs, fmt.Errorf("detector: Buckets %d: must be in [0, %d]", c.Buckets, MaxBuckets))
	} else if c.Tumbling && c.Buckets > 1 {
		errs = append(errs, fmt.Errorf("detector: Buckets %d: must be 0 or 1 with Tumbling (a batch is one bucket)", c.Buckets))
	}
	return errors.Join(errs...)
}

// HashBytes hashes a field value for ObserveDistinctAt. The caller owns the
// seed (maphash.MakeSeed, once per rule or process), so an attacker cannot
// choose values that collide. It does not allocate.
func HashBytes(seed maphash.Seed, b []byte) uint64 {
	return maphash.Bytes(seed, b)
}

// Hit reports an address whose windowed count reached the threshold.
type Hit struct {
	// Addr is the address; IPv4-mapped addresses are reported as IPv4.
	Addr netip.Addr
	// Count is the windowed count when it fired: the threshold.
	Count int
	// Window is the configured window.
	Window time.Duration
	// First is, for a sliding window, the start of the oldest bucket
	// holding a counted record (with Distinct, the bucket a counted value
	// was last seen in): no later than the first counted record, at most
	// one bucket width before it. For a tumbling window it is the start of
	// the batch that reached the threshold.
	First time.Time
	// Last is the newest record time seen for the address. For a tumbling
	// window fired by a late record of the previous batch, it lies in the
	// batch after First's.
	Last time.Time
}

// Stats are the Detector's counters. Tracked and Quiet are current sizes,
// the rest are totals since New.
type Stats struct {
	Tracked int64 // addresses in the table, quiet ones included
	Quiet   int64 // addresses that fired and wait for Release
	Fired   int64 // Hits returned
	Late    int64 // records older than their address's ring, ignored
	Evicted int64 // addresses dropped to make room for a new one
	Dropped int64 // new addresses not tracked because the table was full of quiet ones
	Invalid int64 // records ignored for a zero Addr or a time outside 1900..2200
}

// entry is the fixed-size part of one address's state. The ring counters live
// in Detector.counts at the same index, so the whole table holds no pointers
// and the garbage collector never scans it.
type entry struct {
	key   key    // the address
	last  int64  // newest record time seen, Unix nanoseconds
	sum   uint32 // total of the ring's counters
	quiet bool   // fired; quiet while Config.Quiet says so (or until Release)
}

// dval is one slot of a distinct value set.
type dval struct {
	// h is the value's hash with bit 0 cleared; in a tumbling window, bit
	// 0 set means the value was also seen in the batch before tick.
	h uint64
	// tick is the bucket (batch) the value was last seen in, emptyTick
	// for a free slot.
	tick int64
}

// dset is the distinct value set of one address, 16 bytes. Most addresses
// send one value in a window (one path, one user agent), so a set holding
// at most one value is that value, and tick is emptyTick while it holds
// none. From the second live value on, its values are in a table of
// Detector.tables: tick is inTable and h the table's number.
type dset dval

// inTable marks a dset whose values are in a table; no record time maps to
// it.
const inTable = emptyTick + 1

// noValues is an empty dset.
var noValues = dset{tick: emptyTick}

// dtable holds the values of a dset with more than one: an open-addressing
// table with linear probing, indexed by the hash. Values whose bucket has
// left the ring are stale: no longer counted, purged when the table fills.
type dtable struct {
	slots []dval // power-of-two length
	n     int    // occupied slots, live and stale
}

// Detector is the state of one rule: it counts requests (or distinct
// values) per address over a sliding or tumbling window of record time and
// reports, once, each address that reaches the threshold. The package doc
// describes its windows, late records and memory bound.
//
// A Detector is not safe for concurrent use; the caller serialises calls.
type Detector struct {
	cfg     Config
	width   int64 // bucket width, ns
	ring    int   // counters per address: Buckets+1
	index   index
	entries []entry
	counts  counters // the entries' rings of bucket counters
	sets    []dset   // with Distinct: entry i's values
	tables  []dtable // with Distinct: the sets' tables, by number
	unused  []uint32 // with Distinct: numbers of tables no set uses
	free    [][]dval // with Distinct: empty slot arrays of minSlots for reuse
	scratch []dval   // with Distinct: live values while a table is rebuilt
	maxSet  int      // with Distinct: the largest table, in slots
	rng     uint64
	tick    tickCache
	stats   Stats
	share   *sharing // with Share: counts to sync, the other instances' counts
}

// New validates cfg, fills in its defaults and returns an empty Detector.
func New(cfg Config) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	switch {
	case cfg.Tumbling:
		cfg.Buckets = 1
	case cfg.Buckets == 0:
		cfg.Buckets = DefaultBuckets
	}
	n := int64(cfg.Buckets)
	d := &Detector{
		cfg:    cfg,
		width:  (int64(cfg.Window) + n - 1) / n,
		ring:   cfg.Buckets + 1,
		index:  newIndex(),
		counts: counters{ring: cfg.Buckets + 1},
		rng:    cfg.Seed,
		tick:   tickCache{start: math.MinInt64}, // matches no time in 1900..2200
	}
	if cfg.Distinct {
		// A set holds fewer than Threshold live values per batch or
		// window: 2*(Threshold-1) at most over a tumbling ring's two
		// batches. With the one being added, they fill at most 3/4 of the
		// largest table.
		live := cfg.Threshold - 1
		if cfg.Tumbling {
			live *= 2
		}
		d.maxSet = max(minSlots, nextPow2((4*(live+1)+2)/3))
	}
	return d, nil
}

// Config returns the configuration in use, defaults filled in.
func (d *Detector) Config() Config { return d.cfg }

// ObserveAt counts one request from a at record time t. It returns a Hit, and
// true, exactly once: when the windowed count of a reaches the threshold.
// From then on a is quiet and ObserveAt returns false for it until Release.
// Records too old for a's ring, records with a zero a or an absurd t, and new
// addresses that find the table full of quiet ones are not counted (see
// Stats). On a Distinct Detector, ObserveAt(t, a) is
// ObserveDistinctAt(t, a, 0).
//
// ObserveAt does not allocate for a tracked address; a new address may grow
// the table.
func (d *Detector) ObserveAt(t time.Time, a netip.Addr) (Hit, bool) {
	return d.ObserveDistinctAt(t, a, 0)
}

// ObserveDistinctAt counts the value whose hash is h in a record from a at
// record time t, and fires like ObserveAt when the number of distinct values
// of a in the window reaches the threshold. A value already counted in the
// window (the same batch, for a tumbling window) adds nothing. On a Detector
// without Distinct, h is ignored and the request is counted.
//
// ObserveDistinctAt does not allocate for a tracked address whose set has
// room; a set grows by doubling, up to the bound given under Memory in the
// package doc.
func (d *Detector) ObserveDistinctAt(t time.Time, a netip.Addr, h uint64) (Hit, bool) {
	var hit Hit
	fired := d.Observe(t, a, h, &hit)
	return hit, fired
}

// Observe is ObserveDistinctAt (ObserveAt for v = 0) for a caller that
// counts many records: it writes the Hit to *hit only when a fires, and
// returns whether it did, so the records that do not fire, nearly all of
// them, cost no copying of a Hit.
func (d *Detector) Observe(t time.Time, a netip.Addr, v uint64, hit *Hit) bool {
	i, tick, fired := d.observe(t, a, v)
	if fired {
		*hit = d.hit(i, tick, a)
	}
	return fired
}

// observe counts one record, of value v, from a at t and reports whether
// a fired, with its entry and the record's bucket for hit.
func (d *Detector) observe(t time.Time, a netip.Addr, v uint64) (i uint32, tick int64, fired bool) {
	ns, ok := unixNano(t)
	if !ok || !a.IsValid() {
		d.stats.Invalid++
		return 0, 0, false
	}
	k := keyOf(a)
	h := d.index.hash(k)
	i, found := d.index.find(k, h, d.entries)
	if !found {
		if i, ok = d.insert(k, h, ns); !ok {
			d.stats.Dropped++
			return 0, 0, false
		}
	}
	e := &d.entries[i]
	if e.quiet {
		if d.stillQuiet(i) {
			return 0, 0, false
		}
		d.rearm(i) // quiet no more: count from zero
	}
	tick, slot := d.tickOf(ns)
	start := tick * d.width // tick's first ns: comparing with it spares a division
	switch {
	case e.last < start: // tick is after the head bucket: move the ring
		// The head bucket is at most tick-ring, so every bucket has left
		// the window, exactly when e.last is before the start of bucket
		// tick-ring+1. Comparing spares a division in the common case of
		// a client back after a whole window.
		if e.last < start-int64(d.ring-1)*d.width {
			d.counts.zero(i)
			e.sum = 0
		} else {
			head := floorDiv(e.last, d.width)
			// Empty the buckets head+1 .. tick, whose slots run up to slot.
			b := slot - int(tick-head) + 1
			if b < 0 {
				b += d.ring
			}
			e.sum -= d.counts.drop(i, b, int(tick-head))
		}
		e.last = ns
	case e.last-start >= int64(d.ring)*d.width: // older than the ring
		d.stats.Late++
		return 0, 0, false
	case ns > e.last:
		e.last = ns
	}
	if d.cfg.Distinct {
		if !d.addValue(i, tick, slot, v) {
			return 0, 0, false // a repeat: the count did not grow
		}
	} else {
		d.counts.inc(i, slot)
		e.sum++
	}
	n := e.sum
	if d.cfg.Tumbling {
		n = d.counts.get(i, slot)
	}
	n += d.shared(k, tick) // the other instances' count, with Share
	if int64(n) < int64(d.cfg.Threshold) {
		return 0, 0, false
	}
	e.quiet = true
	e.sum = n // frozen for CountAt
	d.stats.Quiet++
	d.stats.Fired++
	if d.cfg.Distinct {
		d.freeSet(i)
	}
	return i, tick, true
}

// hit is the Hit of entry i, which fired at a record from a in bucket tick.
func (d *Detector) hit(i uint32, tick int64, a netip.Addr) Hit {
	e := &d.entries[i]
	first := tick
	if !d.cfg.Tumbling {
		head := floorDiv(e.last, d.width)
		first = head
		for b := head - int64(d.ring-1); b <= head; b++ {
			if d.counts.get(i, d.slot(b)) != 0 {
				first = b
				break
			}
		}
	}
	return Hit{
		Addr:   a.Unmap().WithZone(""),
		Count:  int(e.sum),
		Window: d.cfg.Window,
		First:  time.Unix(0, first*d.width).UTC(),
		Last:   time.Unix(0, e.last).UTC(),
	}
}

// addValue records value h of entry i in bucket tick, whose ring slot is
// slot and which lies in the entry's ring (already moved forward to it),
// and updates the entry's ring counters. It reports whether the count of tick's window grew.
//
// Sliding: r[b] counts the live values last seen in bucket b, so the ring's
// sum is the number of distinct values in the window and a bucket leaving
// the ring takes its values with it. Tumbling: r[b] counts the distinct
// values seen in batch b; a value seen in both batches counts in both.
func (d *Detector) addValue(i uint32, tick int64, slot int, h uint64) bool {
	e := &d.entries[i]
	s := &d.sets[i]
	oldest := floorDiv(e.last, d.width) - int64(d.ring-1) // oldest bucket in the ring
	h &^= 1
	var v *dval
	switch {
	case s.tick == inTable:
	case s.h&^1 == h && s.tick != emptyTick:
		v = (*dval)(s)
	case s.tick < oldest: // none, or another value gone stale: h alone
		*s = dset{h: h, tick: tick}
		d.counts.inc(i, slot)
		e.sum++
		return true
	default: // a second live value: the set moves to a table
		n := d.newTable()
		t := &d.tables[n]
		j, _ := probe(t.slots, s.h&^1)
		t.slots[j], t.n = dval(*s), 1
		*s = dset{h: uint64(n), tick: inTable}
	}
	if v == nil {
		t := &d.tables[s.h]
		j, found := probe(t.slots, h)
		if !found {
			if 4*(t.n+1) > 3*len(t.slots) {
				d.rebuild(t, oldest)
				j, _ = probe(t.slots, h)
			}
			t.slots[j] = dval{h: h, tick: tick}
			t.n++
			d.counts.inc(i, slot)
			e.sum++
			return true
		}
		v = &t.slots[j]
	}
	switch {
	case v.tick < oldest: // stale: counts as new
		v.h, v.tick = h, tick
	case d.cfg.Tumbling && tick == v.tick:
		return false
	case d.cfg.Tumbling && tick < v.tick: // the previous batch
		if v.h&1 != 0 {
			return false
		}
		v.h |= 1
	case d.cfg.Tumbling: // the next batch: v.tick is tick-1
		v.h, v.tick = h|1, tick
	case tick <= v.tick:
		return false
	default: // seen again later: moves to a newer bucket
		d.counts.dec(i, d.slot(v.tick))
		d.counts.inc(i, slot)
		v.tick = tick
		return false
	}
	d.counts.inc(i, slot)
	e.sum++
	return true
}

// probe finds h in slots, or else the free slot where it belongs.
func probe(slots []dval, h uint64) (int, bool) {
	mask := uint64(len(slots) - 1)
	j := (h >> 1) & mask
	for {
		v := &slots[j]
		if v.tick == emptyTick {
			return int(j), false
		}
		if v.h&^1 == h {
			return int(j), true
		}
		j = (j + 1) & mask
	}
}

// rebuild drops the stale values of table s, those last seen before bucket
// oldest, and doubles its slots while that leaves them more than half full
// for one more value, up to maxSet slots.
func (d *Detector) rebuild(s *dtable, oldest int64) {
	d.scratch = d.scratch[:0]
	for _, v := range s.slots {
		if v.tick >= oldest {
			d.scratch = append(d.scratch, v)
		}
	}
	size := len(s.slots)
	for 2*(len(d.scratch)+1) > size && size < d.maxSet {
		size *= 2
	}
	if size != len(s.slots) {
		d.freeSlots(s.slots)
		s.slots = make([]dval, size)
	}
	for j := range s.slots {
		s.slots[j] = dval{tick: emptyTick}
	}
	for _, v := range d.scratch {
		j, _ := probe(s.slots, v.h&^1)
		s.slots[j] = v
	}
	s.n = len(d.scratch)
}

// newSlots returns an empty table of minSlots, reused if one is free.
func (d *Detector) newSlots() []dval {
	var slots []dval
	if n := len(d.free); n > 0 {
		slots = d.free[n-1]
		d.free[n-1] = nil
		d.free = d.free[:n-1]
	} else {
		slots = make([]dval, minSlots)
	}
	for j := range slots {
		slots[j] = dval{tick: emptyTick}
	}
	return slots
}

// freeSlots keeps slots for reuse if it has minSlots and the pool has room.
func (d *Detector) freeSlots(slots []dval) {
	if len(slots) == minSlots && len(d.free) < maxFree {
		d.free = append(d.free, slots)
	}
}

// newTable returns the number of an empty table of minSlots.
func (d *Detector) newTable() uint32 {
	if n := len(d.unused); n > 0 {
		t := d.unused[n-1]
		d.unused = d.unused[:n-1]
		d.tables[t] = dtable{slots: d.newSlots()}
		return t
	}
	d.tables = append(d.tables, dtable{slots: d.newSlots()})
	return uint32(len(d.tables) - 1)
}

// freeSet empties the set of entry i, keeping its table for reuse.
func (d *Detector) freeSet(i uint32) {
	s := &d.sets[i]
	if s.tick == inTable {
		t := &d.tables[s.h]
		d.freeSlots(t.slots)
		*t = dtable{}
		d.unused = append(d.unused, uint32(s.h))
	}
	*s = noValues
}

// CountAt reports the windowed count of a that ObserveAt(t, a) would add to:
// the records (or distinct values) of a in its ring, less those t would move
// out of it; for a tumbling window, the count of t's batch. It is zero for
// an untracked address and does not change the Detector. For a quiet address
// it is the count frozen when it fired.
func (d *Detector) CountAt(t time.Time, a netip.Addr) int {
	ns, ok := unixNano(t)
	if !ok || !a.IsValid() {
		return 0
	}
	i, found := d.lookup(a)
	if !found {
		return 0
	}
	e := &d.entries[i]
	if e.quiet {
		return int(e.sum)
	}
	tick := floorDiv(ns, d.width)
	if d.cfg.Tumbling {
		if head := floorDiv(e.last, d.width); tick > head || tick < head-1 {
			return 0
		}
		return int(d.counts.get(i, d.slot(tick)))
	}
	return int(d.countAt(i, tick))
}

// Quiet reports whether a has fired and is still quiet: until Release, or
// while Config.Quiet says so.
func (d *Detector) Quiet(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	i, found := d.lookup(a)
	return found && d.entries[i].quiet && d.stillQuiet(i)
}

// stillQuiet asks Config.Quiet whether fired entry i is still quiet.
func (d *Detector) stillQuiet(i uint32) bool {
	if d.cfg.Quiet == nil {
		return true
	}
	return d.cfg.Quiet.Quiet(d.entries[i].key.addr())
}

// rearm makes fired entry i count again from zero, as a new address.
func (d *Detector) rearm(i uint32) {
	e := &d.entries[i]
	e.quiet = false
	e.sum = 0
	d.stats.Quiet--
	d.counts.zero(i)
	if d.cfg.Distinct {
		d.freeSet(i)
	}
}

// Release forgets a: its counts are dropped, so it must reach the threshold
// again to fire, and a quiet a becomes observable again. The caller calls it
// when a's block ends or fails. It reports whether a was quiet.
func (d *Detector) Release(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	i, found := d.lookup(a)
	if !found {
		return false
	}
	quiet := d.entries[i].quiet
	d.remove(i)
	return quiet
}

// SweepAt drops every address, quiet ones excepted (see Quiet), whose ring lies wholly
// before the window ending at t: for a sliding window those whose CountAt(t)
// is zero, for a tumbling one those with no record in t's batch or the one
// before. The caller calls it periodically with the newest record time it
// has seen; it costs one pass over the table. It returns how many addresses
// it dropped.
func (d *Detector) SweepAt(t time.Time) int {
	ns, ok := unixNano(t)
	if !ok {
		return 0
	}
	oldest := floorDiv(ns, d.width) - int64(d.ring-1) // oldest bucket counted at t
	dropped := 0
	// Walk backwards: remove moves the last entry, already kept, into i.
	for i := len(d.entries) - 1; i >= 0; i-- {
		e := &d.entries[i]
		if (!e.quiet || !d.stillQuiet(uint32(i))) && floorDiv(e.last, d.width) < oldest {
			d.remove(uint32(i))
			dropped++
		}
	}
	return dropped
}

// Stats returns the counters.
func (d *Detector) Stats() Stats {
	s := d.stats
	s.Tracked = int64(len(d.entries))
	return s
}

// countAt is the count of entry i in its ring as seen by a record in bucket
// tick: the windowed count of a sliding window, the eviction weight of
// every window.
func (d *Detector) countAt(i uint32, tick int64) uint32 {
	e := &d.entries[i]
	switch {
	case e.last >= tick*d.width: // tick <= head
		return e.sum
	case e.last < (tick-int64(d.ring)+1)*d.width: // tick-head >= ring
		return 0
	}
	head := floorDiv(e.last, d.width)
	sum := e.sum
	for b := head + 1; b <= tick; b++ {
		sum -= d.counts.get(i, d.slot(b))
	}
	return sum
}

// insert adds key k, hashed to h, first seen at ns, evicting an entry if
// the table is full. It reports false if nothing could be evicted.
func (d *Detector) insert(k key, h uint64, ns int64) (uint32, bool) {
	if len(d.entries) >= d.cfg.MaxKeys && !d.evict(floorDiv(ns, d.width)) {
		return 0, false
	}
	i := uint32(len(d.entries))
	d.entries = append(d.entries, entry{key: k, last: ns})
	d.counts.push()
	if d.cfg.Distinct {
		d.sets = append(d.sets, noValues)
	}
	d.index.add(h, i)
	return i, true
}

// lookup finds the entry of a.
func (d *Detector) lookup(a netip.Addr) (uint32, bool) {
	k := keyOf(a)
	return d.index.find(k, d.index.hash(k), d.entries)
}

// evict removes the lightest non-quiet entry among evictionSample
// consecutive ones from a random start, judged at bucket tick.
func (d *Detector) evict(tick int64) bool {
	n := uint64(len(d.entries))
	if n == 0 {
		return false
	}
	i := uint32(d.random(n))
	victim, found := uint32(0), false
	var vCount uint32
	var vLast int64
	for j := uint64(0); j < evictionSample && j < n; j, i = j+1, i+1 {
		if uint64(i) == n {
			i = 0
		}
		e := &d.entries[i]
		var c uint32 // a fired entry no longer quiet weighs nothing: it restarts from zero
		if e.quiet {
			if d.stillQuiet(i) {
				continue
			}
		} else {
			c = d.countAt(i, tick)
		}
		if !found || c < vCount || c == vCount && e.last < vLast {
			victim, vCount, vLast, found = i, c, e.last, true
		}
	}
	if !found {
		return false
	}
	d.remove(victim)
	d.stats.Evicted++
	return true
}

// remove deletes entry i, moving the last entry into its place.
func (d *Detector) remove(i uint32) {
	if d.entries[i].quiet {
		d.stats.Quiet--
	}
	k := d.entries[i].key
	d.index.del(k, d.index.hash(k), d.entries)
	last := uint32(len(d.entries) - 1)
	if d.cfg.Distinct {
		d.freeSet(i)
		d.sets[i] = d.sets[last] // its table, if any, goes with it
		d.sets = d.sets[:last]
	}
	d.counts.pop(i, last)
	if i != last {
		d.entries[i] = d.entries[last]
		k := d.entries[i].key
		d.index.set(k, d.index.hash(k), i, d.entries)
	}
	d.entries = d.entries[:last]
}

// slot is the ring position of bucket b.
func (d *Detector) slot(b int64) int {
	s := int(b % int64(d.ring))
	if s < 0 {
		s += d.ring
	}
	return s
}

// tickCache is the bucket of the last record time observed: records come
// mostly in time order, so most find their bucket here without the two
// divisions of floorDiv and slot.
type tickCache struct {
	start int64 // the bucket's first ns
	tick  int64
	slot  int
}

// tickOf returns the bucket of ns, a time in 1900..2200, and its slot in a
// ring.
func (d *Detector) tickOf(ns int64) (int64, int) {
	c := &d.tick
	if uint64(ns-c.start) < uint64(d.width) {
		return c.tick, c.slot
	}
	tick := floorDiv(ns, d.width)
	*c = tickCache{start: tick * d.width, tick: tick, slot: d.slot(tick)}
	return c.tick, c.slot
}

// random returns a number in [0, n) from a splitmix64 stream.
func (d *Detector) random(n uint64) uint64 {
	d.rng += 0x9e3779b97f4a7c15
	z := d.rng
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	return z % n
}

// unixNano returns t in Unix nanoseconds if it lies in 1900..2200.
func unixNano(t time.Time) (int64, bool) {
	if s := t.Unix(); s < minNano/1e9 || s > maxNano/1e9 {
		return 0, false
	}
	return t.UnixNano(), true
}

// floorDiv is x/w rounded towards minus infinity, for w > 0.
func floorDiv(x, w int64) int64 {
	q := x / w
	if x%w < 0 {
		q--
	}
	return q
}

// nextPow2 is the smallest power of two >= n, for 1 <= n <= 1<<30.
func nextPow2(n int) int {
	p := 1
	for p < n {
		p *= 2
	}
	return p
}

// PrefetchMin is the largest table Prefetch leaves alone: 4,096 addresses
// hold about 300 KB, a third of a level 2 cache. Measured with
// BenchmarkFlushClientsCold, which evicts the caches before each chunk as
// Fluent Bit's own work between flushes does (BENCHMARKS.md): when the
// table has only left the level 2 cache, prefetching cost 20 % at 1,000
// clients, nothing at 5,000 and saved 5 % at 12,000; when it has left the
// level 3 cache too (a busy Fluent Bit), it saved 8 % at 1,000, 35 % at
// 5,000 and 40 % at 12,000.
const PrefetchMin = 4096

// Prefetch starts loading the state of the addresses, those tracked, into
// the CPU cache for the ObserveAt calls that follow, and changes nothing. A
// caller about to observe a run of addresses prefetches them first. An
// observation's cost, once the table has outgrown the cache, is mostly
// cache misses: the address's index slot, then its entry and its ring of
// counters. Prefetch asks for all the index slots at once, then reads them
// and asks for all the entries and rings at once, without waiting for them:
// the misses of a run overlap instead of following one another.
//
// A table of at most PrefetchMin addresses stays in the CPU cache while it
// is used: Prefetch then does nothing.
func (d *Detector) Prefetch(addrs []netip.Addr) {
	if len(d.entries) <= PrefetchMin {
		return
	}
	var hs [32]uint64
	for len(addrs) > 0 {
		n := min(len(addrs), len(hs))
		for j, a := range addrs[:n] {
			hs[j] = d.index.hash(keyOf(a))
			prefetch.At(&d.index.slots[d.index.home(hs[j])])
		}
		for _, h := range hs[:n] {
			if i, ok := d.index.guess(h); ok && int(i) < len(d.entries) {
				prefetch.At(&d.entries[i])
				d.counts.prefetch(i)
			}
		}
		addrs = addrs[n:]
	}
}
