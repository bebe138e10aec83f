package detector

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"
)

// Defaults and limits for Config.
const (
	// DefaultMaxKeys is the number of tracked addresses when
	// Config.MaxKeys is zero: about 140 MB of state when full.
	DefaultMaxKeys = 1_000_000
	// DefaultBuckets is the ring size when Config.Buckets is zero.
	DefaultBuckets = 12
	// MaxBuckets bounds Config.Buckets.
	MaxBuckets = 1024
	// MaxWindow bounds Config.Window.
	MaxWindow = 24 * time.Hour
	// MaxMaxKeys bounds Config.MaxKeys.
	MaxMaxKeys = 1 << 30
)

// evictionSample is how many consecutive slots an eviction looks at.
const evictionSample = 8

// Record times outside [minNano, maxNano] (years 1900 to 2200) are bogus and
// ignored; the bound keeps tick arithmetic far from int64 overflow.
var (
	minNano = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	maxNano = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
)

// Config is one detection rule: at least Threshold requests from one address
// within Window.
type Config struct {
	// Window is the length of the sliding window, 0 < Window <= MaxWindow.
	Window time.Duration
	// Threshold is the windowed count at which an address fires,
	// 1 <= Threshold <= math.MaxInt32.
	Threshold int
	// MaxKeys bounds the number of tracked addresses, quiet ones included;
	// zero means DefaultMaxKeys.
	MaxKeys int
	// Buckets is the number of buckets the window is cut into, each
	// Window/Buckets wide (rounded up to a nanosecond); zero means
	// DefaultBuckets. More buckets make the count tighter and each key
	// bigger by 4 bytes a bucket.
	Buckets int
	// Seed seeds the choice of eviction candidates. Any value works; the
	// same seed and input give the same evictions.
	Seed uint64
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
	}
	if c.MaxKeys < 0 || c.MaxKeys > MaxMaxKeys {
		errs = append(errs, fmt.Errorf("detector: MaxKeys %d: must be in [0, %d]", c.MaxKeys, MaxMaxKeys))
	}
	if c.Buckets < 0 || c.Buckets > MaxBuckets {
		errs = append(errs, fmt.Errorf("detector: Buckets %d: must be in [0, %d]", c.Buckets, MaxBuckets))
	}
	return errors.Join(errs...)
}

// Hit reports an address whose windowed count reached the threshold.
type Hit struct {
	// Addr is the address; IPv4-mapped addresses are reported as IPv4.
	Addr netip.Addr
	// Count is the windowed count when it fired: the threshold.
	Count int
	// Window is the configured window.
	Window time.Duration
	// First is the start of the oldest bucket holding a counted record: no
	// later than the first counted record, at most one bucket width before
	// it.
	First time.Time
	// Last is the newest record time seen for the address.
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
	key   [16]byte // the address as 16 bytes; IPv4 in its mapped form
	last  int64    // newest record time seen, Unix nanoseconds
	sum   uint32   // total of the ring's counters
	quiet bool     // fired; waiting for Release
}

// Detector counts requests per address over a sliding window of record time
// and reports addresses that reach the threshold.
//
// # Counting
//
// Time is cut into buckets of width w = Window/Buckets, aligned on the Unix
// epoch. Each address keeps a ring of Buckets+1 counters driven by the newest
// record seen for it: when that record is at t, the ring holds the buckets
// from the one containing t-Window to the one containing t. Hence the bound:
// the count always includes every record of the address in (t-Window, t],
// and may include records in (t-Window-w, t-Window], never older. The
// detector never under-counts and over-counts by at most one bucket just
// before the window; with the default 12 buckets of a 60 s window, records
// up to 5 s older than the window may still count. (When Buckets does not
// divide Window in nanoseconds, w is rounded up and the window with it, by
// less than Buckets nanoseconds.)
//
// # Time
//
// Lateness is judged per address, against the newest record of that address:
// a record older than the newest but inside its ring is counted in its own
// bucket; a record older than the ring is ignored and counted in Stats.Late.
// A newer record moves the ring forward, however far: one record stamped in
// the future empties the address's ring and makes its following present-day
// records late. Because the judgement is per address, a replayed old log
// interleaved with live traffic is not late for the addresses it alone
// carries.
//
// # Memory
//
// At most MaxKeys addresses are tracked. An address costs a 32-byte entry,
// 4*(Buckets+1) bytes of counters and a 20-byte map slot, none holding a
// pointer for the garbage collector to scan: with 12 buckets, about 140 bytes
// once map load and slice growth are counted (BenchmarkBytesPerKey). SweepAt drops addresses whose
// ring lies wholly before the window. When the table is full, a new address
// evicts the lightest of 8 consecutive entries from a random position: lowest
// count in the window of the new record, then oldest newest-record; quiet
// entries are never evicted, and if all eight are quiet the new address is not
// tracked (Stats.Dropped). A heavy hitter hidden in a spray of one-off
// addresses keeps a count above theirs and survives.
//
// A Detector is not safe for concurrent use; the caller serialises calls.
type Detector struct {
	cfg     Config
	width   int64 // bucket width, ns
	ring    int   // counters per address: Buckets+1
	index   map[[16]byte]uint32
	entries []entry
	counts  []uint32 // ring counters; entry i owns counts[i*ring : (i+1)*ring]
	zeros   []uint32 // ring zero counters, appended for a new entry
	rng     uint64
	stats   Stats
}

// New validates cfg, fills in its defaults and returns an empty Detector.
func New(cfg Config) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	if cfg.Buckets == 0 {
		cfg.Buckets = DefaultBuckets
	}
	n := int64(cfg.Buckets)
	return &Detector{
		cfg:   cfg,
		width: (int64(cfg.Window) + n - 1) / n,
		ring:  cfg.Buckets + 1,
		index: make(map[[16]byte]uint32),
		zeros: make([]uint32, cfg.Buckets+1),
		rng:   cfg.Seed,
	}, nil
}

// Config returns the configuration in use, defaults filled in.
func (d *Detector) Config() Config { return d.cfg }

// ObserveAt counts one request from a at record time t. It returns a Hit, and
// true, exactly once: when the windowed count of a reaches the threshold.
// From then on a is quiet and ObserveAt returns false for it until Release.
// Records too old for a's ring, records with a zero a or an absurd t, and new
// addresses that find the table full of quiet ones are not counted (see
// Stats).
//
// ObserveAt does not allocate for a tracked address; a new address may grow
// the table.
func (d *Detector) ObserveAt(t time.Time, a netip.Addr) (Hit, bool) {
	ns, ok := unixNano(t)
	if !ok || !a.IsValid() {
		d.stats.Invalid++
		return Hit{}, false
	}
	k := a.As16()
	i, found := d.index[k]
	if !found {
		if i, ok = d.insert(k, ns); !ok {
			d.stats.Dropped++
			return Hit{}, false
		}
	}
	e := &d.entries[i]
	if e.quiet {
		return Hit{}, false
	}
	r := d.counts[int(i)*d.ring : int(i+1)*d.ring]
	tick := floorDiv(ns, d.width)
	head := floorDiv(e.last, d.width)
	switch {
	case tick > head:
		if tick-head >= int64(d.ring) {
			clear(r)
			e.sum = 0
		} else {
			for b := head + 1; b <= tick; b++ {
				s := d.slot(b)
				e.sum -= r[s]
				r[s] = 0
			}
		}
		e.last = ns
	case tick <= head-int64(d.ring): // older than the ring
		d.stats.Late++
		return Hit{}, false
	case ns > e.last:
		e.last = ns
	}
	r[d.slot(tick)]++
	e.sum++
	if int64(e.sum) < int64(d.cfg.Threshold) {
		return Hit{}, false
	}
	e.quiet = true
	d.stats.Quiet++
	d.stats.Fired++
	head = floorDiv(e.last, d.width)
	first := head
	for b := head - int64(d.ring-1); b <= head; b++ {
		if r[d.slot(b)] != 0 {
			first = b
			break
		}
	}
	return Hit{
		Addr:   a.Unmap().WithZone(""),
		Count:  int(e.sum),
		Window: d.cfg.Window,
		First:  time.Unix(0, first*d.width).UTC(),
		Last:   time.Unix(0, e.last).UTC(),
	}, true
}

// CountAt reports the windowed count of a that ObserveAt(t, a) would add to:
// the records of a in its ring, less those t would move out of it. It is
// zero for an untracked address and does not change the Detector. For a
// quiet address it is the count frozen when it fired.
func (d *Detector) CountAt(t time.Time, a netip.Addr) int {
	ns, ok := unixNano(t)
	if !ok || !a.IsValid() {
		return 0
	}
	i, found := d.index[a.As16()]
	if !found {
		return 0
	}
	if d.entries[i].quiet {
		return int(d.entries[i].sum)
	}
	return int(d.countAt(i, floorDiv(ns, d.width)))
}

// Quiet reports whether a has fired and waits for Release.
func (d *Detector) Quiet(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	i, found := d.index[a.As16()]
	return found && d.entries[i].quiet
}

// Release forgets a: its counts are dropped, so it must reach the threshold
// again to fire, and a quiet a becomes observable again. The caller calls it
// when a's block ends or fails. It reports whether a was quiet.
func (d *Detector) Release(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	i, found := d.index[a.As16()]
	if !found {
		return false
	}
	quiet := d.entries[i].quiet
	d.remove(i)
	return quiet
}

// SweepAt drops every address, quiet ones excepted, whose ring lies wholly
// before the window ending at t, that is whose CountAt(t) is zero. The
// caller calls it periodically with the newest record time it has seen; it
// costs one pass over the table. It returns how many addresses it dropped.
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
		if !e.quiet && floorDiv(e.last, d.width) < oldest {
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

// countAt is the count of entry i as seen by a record in bucket tick.
func (d *Detector) countAt(i uint32, tick int64) uint32 {
	e := &d.entries[i]
	head := floorDiv(e.last, d.width)
	if tick <= head {
		return e.sum
	}
	if tick-head >= int64(d.ring) {
		return 0
	}
	r := d.counts[int(i)*d.ring : int(i+1)*d.ring]
	sum := e.sum
	for b := head + 1; b <= tick; b++ {
		sum -= r[d.slot(b)]
	}
	return sum
}

// insert adds key k first seen at ns, evicting an entry if the table is
// full. It reports false if nothing could be evicted.
func (d *Detector) insert(k [16]byte, ns int64) (uint32, bool) {
	if len(d.entries) >= d.cfg.MaxKeys && !d.evict(floorDiv(ns, d.width)) {
		return 0, false
	}
	i := uint32(len(d.entries))
	d.entries = append(d.entries, entry{key: k, last: ns})
	d.counts = append(d.counts, d.zeros...)
	d.index[k] = i
	return i, true
}

// evict removes the lightest non-quiet entry among evictionSample
// consecutive ones from a random start, judged at bucket tick.
func (d *Detector) evict(tick int64) bool {
	n := uint64(len(d.entries))
	if n == 0 {
		return false
	}
	start := d.random(n)
	victim, found := uint32(0), false
	var vCount uint32
	var vLast int64
	for j := uint64(0); j < evictionSample && j < n; j++ {
		i := uint32((start + j) % n)
		e := &d.entries[i]
		if e.quiet {
			continue
		}
		c := d.countAt(i, tick)
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
	delete(d.index, d.entries[i].key)
	last := uint32(len(d.entries) - 1)
	if i != last {
		d.entries[i] = d.entries[last]
		copy(d.counts[int(i)*d.ring:int(i+1)*d.ring], d.counts[int(last)*d.ring:])
		d.index[d.entries[i].key] = i
	}
	d.entries = d.entries[:last]
	d.counts = d.counts[:int(last)*d.ring]
}

// slot is the ring position of bucket b.
func (d *Detector) slot(b int64) int {
	s := int(b % int64(d.ring))
	if s < 0 {
		s += d.ring
	}
	return s
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
