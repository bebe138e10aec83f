package detector

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// t0 starts every timeline. It lies on a bucket boundary for every window
// used here (a whole minute is a multiple of 5 s and of 1 s).
var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

type op int

const (
	observe op = iota // ObserveAt(at, addr); hit: fired; n: Hit.Count when fired
	count             // CountAt(at, addr) == n
	release           // Release(addr) == hit
	sweep             // SweepAt(at) == n
	quiet             // Quiet(addr) == hit
)

type step struct {
	op   op
	at   time.Duration // time is t0+at
	addr string
	v    string // observe: if set, ObserveDistinctAt with the hash of v
	hit  bool
	n    int
}

// testSeed hashes the values of distinct steps.
var testSeed = maphash.MakeSeed()

func (s step) String() string {
	at := "t0"
	switch {
	case s.at > 0:
		at += "+" + s.at.String()
	case s.at < 0:
		at += "-" + (-s.at).String()
	}
	switch s.op {
	case observe:
		if s.v != "" {
			return fmt.Sprintf("ObserveDistinctAt(%s, %s, %q)", at, s.addr, s.v)
		}
		return fmt.Sprintf("ObserveAt(%s, %s)", at, s.addr)
	case count:
		return fmt.Sprintf("CountAt(%s, %s)", at, s.addr)
	case release:
		return fmt.Sprintf("Release(%s)", s.addr)
	case sweep:
		return fmt.Sprintf("SweepAt(%s)", at)
	default:
		return fmt.Sprintf("Quiet(%s)", s.addr)
	}
}

// run plays steps against d, failing with messages such as
// "step 3: ObserveAt(t0+2s, 1.2.3.4) = false, want true".
func run(t *testing.T, d *Detector, steps []step) {
	t.Helper()
	for i, s := range steps {
		at := t0.Add(s.at)
		var a netip.Addr
		if s.addr != "" {
			a = netip.MustParseAddr(s.addr)
		}
		switch s.op {
		case observe:
			var h Hit
			var ok bool
			if s.v != "" {
				h, ok = d.ObserveDistinctAt(at, a, HashBytes(testSeed, []byte(s.v)))
			} else {
				h, ok = d.ObserveAt(at, a)
			}
			if ok != s.hit {
				t.Errorf("step %d: %v = %v, want %v", i, s, ok, s.hit)
			} else if ok && h.Count != s.n {
				t.Errorf("step %d: %v: Hit.Count = %d, want %d", i, s, h.Count, s.n)
			}
		case count:
			if got := d.CountAt(at, a); got != s.n {
				t.Errorf("step %d: %v = %d, want %d", i, s, got, s.n)
			}
		case release:
			if got := d.Release(a); got != s.hit {
				t.Errorf("step %d: %v = %v, want %v", i, s, got, s.hit)
			}
		case sweep:
			if got := d.SweepAt(at); got != s.n {
				t.Errorf("step %d: %v = %d, want %d", i, s, got, s.n)
			}
		case quiet:
			if got := d.Quiet(a); got != s.hit {
				t.Errorf("step %d: %v = %v, want %v", i, s, got, s.hit)
			}
		}
	}
}

func newDetector(t testing.TB, cfg Config) *Detector {
	t.Helper()
	d, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return d
}

const (
	a4 = "192.0.2.1"
	b4 = "192.0.2.2"
	c4 = "192.0.2.3"
	a6 = "2001:db8::1"
	b6 = "2001:db8::2"
)

// The cases below use a 60 s window in 12 buckets of 5 s unless they say
// otherwise.
func TestObserveAt(t *testing.T) {
	s := time.Second
	ms := time.Millisecond
	tests := []struct {
		name      string
		threshold int
		steps     []step
	}{
		{"fires exactly at threshold, then quiet", 3, []step{
			{op: observe, at: 0, addr: a4},
			{op: observe, at: 1 * s, addr: a4},
			{op: quiet, addr: a4, hit: false},
			{op: observe, at: 2 * s, addr: a4, hit: true, n: 3},
			{op: quiet, addr: a4, hit: true},
			{op: observe, at: 3 * s, addr: a4},
			{op: observe, at: 4 * s, addr: a4},
			{op: observe, at: 120 * s, addr: a4},
			{op: count, at: 120 * s, addr: a4, n: 3}, // frozen while quiet
		}},
		{"threshold-1 never fires", 3, []step{
			{op: observe, at: 0, addr: b4},
			{op: observe, at: 59 * s, addr: b4},
			{op: count, at: 59 * s, addr: b4, n: 2},
			{op: observe, at: 70 * s, addr: b4}, // t0 record has left the ring
			{op: count, at: 70 * s, addr: b4, n: 2},
		}},
		{"threshold 1 fires on first record", 1, []step{
			{op: observe, at: 0, addr: a4, hit: true, n: 1},
			{op: observe, at: 1 * s, addr: a4},
		}},
		{"window slides: old requests age out", 3, []step{
			{op: observe, at: 0, addr: a4},
			{op: observe, at: 30 * s, addr: a4},
			{op: observe, at: 70 * s, addr: a4}, // t0 is older than 70s-60s-5s: gone
			{op: count, at: 70 * s, addr: a4, n: 2},
			{op: observe, at: 75 * s, addr: a4, hit: true, n: 3},
		}},
		{"bound at the edges: never under-counts, over-counts at most one bucket", 100, []step{
			{op: observe, at: 0, addr: a4},             // first ns of bucket [t0, t0+5s)
			{op: observe, at: 5*s - 1, addr: b4},       // last ns of the same bucket
			{op: count, at: 60*s - 1, addr: a4, n: 1},  // inside (t-60s, t]: counted
			{op: count, at: 65*s - 2, addr: b4, n: 1},  // inside (t-60s, t] by 1ns: counted
			{op: count, at: 60 * s, addr: a4, n: 1},    // at t-60s: over-count, allowed
			{op: count, at: 65*s - 1, addr: a4, n: 1},  // 5s-1ns before t-60s: over-count, the most allowed
			{op: count, at: 65*s - 1, addr: b4, n: 1},  // exactly t-60s
			{op: count, at: 65 * s, addr: a4, n: 0},    // 5s before t-60s: never counted
			{op: count, at: 65 * s, addr: b4, n: 0},    // 1ns before t-60s, but its bucket left
			{op: observe, at: 65*s - 1, addr: a4},      // moves a's ring: t0 still in it
			{op: count, at: 65*s - 1, addr: a4, n: 2},  // both records
			{op: observe, at: 65 * s, addr: a4},        // t0's bucket drops out
			{op: count, at: 65 * s, addr: a4, n: 2},    // t0+65s-1ns and t0+65s
			{op: count, at: 125*s - 1, addr: a4, n: 2}, // both still in ring
			{op: count, at: 125 * s, addr: a4, n: 1},   // t0+65s-1ns left; t0+65s is at t-60s
			{op: count, at: 130 * s, addr: a4, n: 0},   // both left
			{op: count, at: 10 * s, addr: a4, n: 2},    // earlier t: the ring as is
			{op: count, at: 24 * time.Hour, addr: a4, n: 0},
		}},
		{"out of order within the ring is counted", 3, []step{
			{op: observe, at: 50 * s, addr: a4},
			{op: observe, at: 10 * s, addr: a4}, // ring reaches back to t0-10s
			{op: count, at: 50 * s, addr: a4, n: 2},
			{op: observe, at: -10 * s, addr: a4, hit: true, n: 3}, // oldest bucket of the ring
		}},
		{"records older than the ring are late", 3, []step{
			{op: observe, at: 100 * s, addr: a4}, // ring: [t0+40s, t0+105s)
			{op: observe, at: 30 * s, addr: a4},
			{op: observe, at: 40*s - 1, addr: a4},
			{op: count, at: 100 * s, addr: a4, n: 1},
			{op: observe, at: 40 * s, addr: a4},
			{op: observe, at: 100*s + 900*ms, addr: a4, hit: true, n: 3},
		}},
		{"a far future record moves the ring; the present becomes late", 2, []step{
			{op: observe, at: 0, addr: a4},
			{op: observe, at: 24 * time.Hour, addr: a4},
			{op: count, at: 24 * time.Hour, addr: a4, n: 1},
			{op: observe, at: 1 * s, addr: a4},
			{op: count, at: 24 * time.Hour, addr: a4, n: 1},
		}},
		{"lateness is per address: a replayed old log counts", 2, []step{
			{op: observe, at: 0, addr: a4},
			{op: observe, at: -24 * time.Hour, addr: b4},
			{op: observe, at: -24*time.Hour + s, addr: b4, hit: true, n: 2},
		}},
		{"release re-arms from zero", 2, []step{
			{op: observe, at: 0, addr: a4},
			{op: observe, at: 1 * s, addr: a4, hit: true, n: 2},
			{op: observe, at: 2 * s, addr: a4},
			{op: release, addr: a4, hit: true},
			{op: quiet, addr: a4, hit: false},
			{op: count, at: 2 * s, addr: a4, n: 0},
			{op: observe, at: 3 * s, addr: a4},
			{op: observe, at: 4 * s, addr: a4, hit: true, n: 2},
			{op: release, addr: a4, hit: true},
			{op: release, addr: a4, hit: false}, // no longer tracked
			{op: release, addr: b4, hit: false}, // never seen
		}},
		{"IPv4 and IPv6 keys are distinct; mapped IPv4 is IPv4", 3, []step{
			{op: observe, at: 0, addr: a6},
			{op: observe, at: 0, addr: b6},
			{op: observe, at: 0, addr: "::ffff:192.0.2.1"},
			{op: observe, at: 1 * s, addr: a6},
			{op: observe, at: 1 * s, addr: a4},
			{op: count, at: 1 * s, addr: "::ffff:192.0.2.1", n: 2},
			{op: count, at: 1 * s, addr: "::c000:201", n: 0}, // IPv4-compatible is not IPv4
			{op: observe, at: 2 * s, addr: "fe80::1%eth0"},
			{op: count, at: 2 * s, addr: "fe80::1", n: 1}, // zone ignored
			{op: observe, at: 2 * s, addr: a6, hit: true, n: 3},
			{op: observe, at: 2 * s, addr: a4, hit: true, n: 3},
			{op: count, at: 2 * s, addr: b6, n: 1},
		}},
		{"sweep drops idle keys, never quiet ones", 2, []step{
			{op: observe, at: 0, addr: a4},
			{op: observe, at: 50 * s, addr: b4},
			{op: observe, at: 0, addr: c4},
			{op: observe, at: 1 * s, addr: c4, hit: true, n: 2},
			{op: sweep, at: 65*s - 1, n: 0}, // a's bucket still counts at t
			{op: sweep, at: 65 * s, n: 1},   // a is gone
			{op: count, at: 50 * s, addr: a4, n: 0},
			{op: count, at: 50 * s, addr: b4, n: 1},
			{op: sweep, at: time.Hour, n: 1}, // b
			{op: quiet, addr: c4, hit: true},
			{op: observe, at: time.Hour, addr: a4}, // a starts over
			{op: count, at: time.Hour, addr: a4, n: 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDetector(t, Config{Window: time.Minute, Threshold: tt.threshold})
			run(t, d, tt.steps)
		})
	}
}

func TestObserveAtStats(t *testing.T) {
	d := newDetector(t, Config{Window: time.Minute, Threshold: 2})
	a := netip.MustParseAddr(a4)
	d.ObserveAt(t0.Add(100*time.Second), a)
	d.ObserveAt(t0, a)                                          // late
	d.ObserveAt(t0.Add(100*time.Second), netip.Addr{})          // invalid address
	d.ObserveAt(time.Time{}, a)                                 // invalid time
	d.ObserveAt(time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC), a) // invalid time
	d.ObserveAt(t0.Add(101*time.Second), a)                     // fires
	d.ObserveAt(t0.Add(102*time.Second), netip.MustParseAddr(b4))
	want := Stats{Tracked: 2, Quiet: 1, Fired: 1, Late: 1, Invalid: 3}
	if got := d.Stats(); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	d.Release(a)
	want.Tracked, want.Quiet = 1, 0
	if got := d.Stats(); got != want {
		t.Errorf("after Release: Stats() = %+v, want %+v", got, want)
	}
}

func TestHit(t *testing.T) {
	d := newDetector(t, Config{Window: time.Minute, Threshold: 3})
	a := netip.MustParseAddr("::ffff:198.51.100.9")
	d.ObserveAt(t0.Add(52*time.Second), a)
	d.ObserveAt(t0.Add(13*time.Second), a) // out of order, bucket [t0+10s, t0+15s)
	h, ok := d.ObserveAt(t0.Add(31*time.Second), a)
	if !ok {
		t.Fatal("third record did not fire")
	}
	want := Hit{
		Addr:   netip.MustParseAddr("198.51.100.9"),
		Count:  3,
		Window: time.Minute,
		First:  t0.Add(10 * time.Second), // start of the bucket of the oldest record
		Last:   t0.Add(52 * time.Second), // newest record, not the firing one
	}
	if h != want {
		t.Errorf("Hit = %+v\nwant  %+v", h, want)
	}
}

// TestHalfThresholdNeverFires sends a steady half-threshold rate for ten
// minutes: the over-count allowed by the bound must not make it fire.
func TestHalfThresholdNeverFires(t *testing.T) {
	d := newDetector(t, Config{Window: time.Minute, Threshold: 10})
	a := netip.MustParseAddr(a4)
	for i := range 50 { // one every 12 s: 5 a minute
		at := t0.Add(time.Duration(i) * 12 * time.Second)
		if _, ok := d.ObserveAt(at, a); ok {
			t.Fatalf("record %d: ObserveAt(t0+%v, %s) = true, want false", i, at.Sub(t0), a)
		}
		if n := d.CountAt(at, a); n > 6 { // 5 in the window, 1 more in the slack
			t.Fatalf("record %d: CountAt(t0+%v) = %d, want <= 6", i, at.Sub(t0), n)
		}
	}
}

// TestCountBound checks the documented bound against a brute-force count on
// random timelines with out-of-order records: the count at the newest
// record's time t includes every accepted record in (t-Window, t] and none at
// or before t-Window-w, w the bucket width (Window rounded up to a multiple of
// Buckets ns, for a Window Buckets does not divide).
func TestCountBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, cfg := range []Config{
		{Window: time.Minute, Threshold: 1 << 30},
		{Window: 10 * time.Second, Threshold: 1 << 30, Buckets: 1},
		{Window: 7 * time.Second, Threshold: 1 << 30, Buckets: 3}, // 2.333...s buckets
	} {
		d := newDetector(t, cfg)
		width := (cfg.Window + time.Duration(d.cfg.Buckets) - 1) / time.Duration(d.cfg.Buckets)
		span := width * time.Duration(d.cfg.Buckets) // Window, rounded up to a multiple of Buckets ns
		a := netip.MustParseAddr(a4)
		var accepted []time.Time
		newest := t0
		for i := range 2000 {
			// Mostly forward, sometimes back by up to 1.5 windows.
			at := newest.Add(time.Duration(rng.Int64N(int64(cfg.Window / 8))))
			if rng.IntN(4) == 0 {
				at = newest.Add(-time.Duration(rng.Int64N(int64(cfg.Window * 3 / 2))))
			}
			late := d.Stats().Late
			d.ObserveAt(at, a)
			if d.Stats().Late == late {
				accepted = append(accepted, at)
			}
			if at.After(newest) {
				newest = at
			}
			var must, may int
			for _, r := range accepted {
				if r.After(newest.Add(-cfg.Window)) && !r.After(newest) {
					must++
				}
				if r.After(newest.Add(-span - width)) {
					may++
				}
			}
			if got := d.CountAt(newest, a); got < must || got > may {
				t.Fatalf("%+v record %d at t0+%v: CountAt(newest t0+%v) = %d, want in [%d, %d]",
					cfg, i, at.Sub(t0), newest.Sub(t0), got, must, may)
			}
		}
	}
}

// TestEvictionKeepsHeavyHitter hides one address sending 1 record in 100 in a
// spray of 100,000 one-off addresses, with room for 1,000: it must fire on
// its 300th record, which means it was never evicted.
func TestEvictionKeepsHeavyHitter(t *testing.T) {
	const threshold = 300
	d := newDetector(t, Config{Window: time.Minute, Threshold: threshold, MaxKeys: 1000})
	heavy := netip.MustParseAddr("2001:db8:bad::1")
	heavyN, firedAt := 0, 0
	for i := range 100_000 {
		at := t0.Add(time.Duration(i) * time.Millisecond) // 100 s in all
		if i%100 == 50 {
			heavyN++
			if h, ok := d.ObserveAt(at, heavy); ok {
				if firedAt != 0 {
					t.Fatalf("heavy fired twice: records %d and %d", firedAt, heavyN)
				}
				firedAt = heavyN
				if h.Addr != heavy || h.Count != threshold {
					t.Errorf("Hit = %+v, want Addr %v Count %d", h, heavy, threshold)
				}
			}
		}
		spray := netip.AddrFrom4([4]byte{10 + byte(i>>16), byte(i >> 8), byte(i), 1})
		if _, ok := d.ObserveAt(at, spray); ok {
			t.Fatalf("one-off %v fired", spray)
		}
	}
	if firedAt != threshold {
		t.Errorf("heavy fired on its record %d, want %d", firedAt, threshold)
	}
	st := d.Stats()
	if st.Tracked != 1000 || st.Fired != 1 || st.Dropped != 0 || st.Evicted != 100_001-1000 {
		t.Errorf("Stats() = %+v, want Tracked 1000, Fired 1, Dropped 0, Evicted %d", st, 100_001-1000)
	}
}

// TestEvictionNeverQuiet fills a table with quiet addresses: newcomers are
// dropped, the quiet ones stay.
func TestEvictionNeverQuiet(t *testing.T) {
	d := newDetector(t, Config{Window: time.Minute, Threshold: 1, MaxKeys: 3})
	run(t, d, []step{
		{op: observe, at: 0, addr: a4, hit: true, n: 1},
		{op: observe, at: 0, addr: b4, hit: true, n: 1},
		{op: observe, at: 0, addr: a6, hit: true, n: 1},
		{op: observe, at: 1, addr: b6}, // table full of quiet: dropped
		{op: quiet, addr: b6, hit: false},
		{op: release, addr: b4, hit: true},
		{op: observe, at: 2, addr: b6, hit: true, n: 1}, // room again
		{op: quiet, addr: a4, hit: true},
		{op: quiet, addr: a6, hit: true},
	})
	if st := d.Stats(); st.Dropped != 1 || st.Evicted != 0 || st.Tracked != 3 || st.Quiet != 3 {
		t.Errorf("Stats() = %+v, want Dropped 1, Evicted 0, Tracked 3, Quiet 3", st)
	}
}

// TestEvictionPicksLightest fills a table of 8 (all sampled) and checks who
// makes room: the lowest count at the newcomer's time, ties to the oldest.
func TestEvictionPicksLightest(t *testing.T) {
	d := newDetector(t, Config{Window: time.Minute, Threshold: 5, MaxKeys: 8})
	var steps []step
	addr := func(i int) string { return fmt.Sprintf("192.0.2.%d", 10+i) }
	// Address i in 0..6 sends 2, 2, 3, 3, 4, 4, 4 records at t0+i s; 7 fires
	// and is quiet.
	for i := range 7 {
		for range min(i/2+2, 4) {
			steps = append(steps, step{op: observe, at: time.Duration(i) * time.Second, addr: addr(i)})
		}
	}
	for j := range 5 {
		steps = append(steps, step{op: observe, at: 0, addr: addr(7), hit: j == 4, n: 5})
	}
	steps = append(steps,
		step{op: observe, at: 30 * time.Second, addr: "198.51.100.1"},     // evicts 0: count 2 like 1, but older
		step{op: count, at: 30 * time.Second, addr: addr(0), n: 0},        // gone
		step{op: count, at: 30 * time.Second, addr: addr(1), n: 2},        // kept
		step{op: observe, at: 30 * time.Second, addr: "198.51.100.2"},     // evicts the newcomer 100.1 (count 1)
		step{op: count, at: 30 * time.Second, addr: "198.51.100.1", n: 0}, //
		step{op: observe, at: 66 * time.Second, addr: "198.51.100.3"},     // at t0+66s 1..2 have aged out: evicts 1, the older
		step{op: count, at: 66 * time.Second, addr: addr(1), n: 0},
		step{op: count, at: 66 * time.Second, addr: addr(5), n: 4},
		step{op: quiet, addr: addr(7), hit: true},
	)
	run(t, d, steps)
	if st := d.Stats(); st.Evicted != 3 || st.Tracked != 8 {
		t.Errorf("Stats() = %+v, want Evicted 3, Tracked 8", st)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg     Config
		wantErr string // substrings, "|" separated; "" means valid
	}{
		{Config{Window: time.Minute, Threshold: 1000}, ""},
		{Config{Window: time.Nanosecond, Threshold: 1, MaxKeys: 1, Buckets: 1}, ""},
		{Config{Window: MaxWindow, Threshold: 1<<31 - 1, MaxKeys: MaxMaxKeys, Buckets: MaxBuckets}, ""},
		{Config{Threshold: 1}, "Window 0s: must be in (0, 24h0m0s]"},
		{Config{Window: -time.Second, Threshold: 1}, "Window -1s"},
		{Config{Window: 25 * time.Hour, Threshold: 1}, "Window 25h0m0s"},
		{Config{Window: time.Minute}, "Threshold 0: must be in [1, 2147483647]"},
		{Config{Window: time.Minute, Threshold: 1 << 31}, "Threshold 2147483648"},
		{Config{Window: time.Minute, Threshold: 1, MaxKeys: -1}, "MaxKeys -1"},
		{Config{Window: time.Minute, Threshold: 1, MaxKeys: MaxMaxKeys + 1}, "MaxKeys 1073741825"},
		{Config{Window: time.Minute, Threshold: 1, Buckets: -1}, "Buckets -1"},
		{Config{Window: time.Minute, Threshold: 1, Buckets: 1025}, "Buckets 1025: must be in [0, 1024]"},
		{Config{Buckets: -3}, "Window 0s|Threshold 0|Buckets -3"}, // every error
		{Config{Window: time.Minute, Threshold: 1, Tumbling: true}, ""},
		{Config{Window: time.Minute, Threshold: 1, Tumbling: true, Buckets: 1}, ""},
		{Config{Window: time.Minute, Threshold: 1, Tumbling: true, Buckets: 12}, "Buckets 12: must be 0 or 1 with Tumbling"},
		{Config{Window: time.Minute, Threshold: MaxDistinctThreshold, Distinct: true}, ""},
		{Config{Window: time.Minute, Threshold: MaxDistinctThreshold + 1, Distinct: true}, "Threshold 65537: must be in [1, 65536] with Distinct"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		_, newErr := New(tt.cfg)
		if tt.wantErr == "" {
			if err != nil || newErr != nil {
				t.Errorf("%+v: Validate() = %v, New error = %v; want nil", tt.cfg, err, newErr)
			}
			continue
		}
		if err == nil || newErr == nil {
			t.Errorf("%+v: Validate() = %v, New error = %v; want %q", tt.cfg, err, newErr, tt.wantErr)
			continue
		}
		for _, want := range strings.Split(tt.wantErr, "|") {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%+v: Validate() = %q, want it to contain %q", tt.cfg, err, want)
			}
		}
	}
}

func TestNewDefaults(t *testing.T) {
	d := newDetector(t, Config{Window: time.Minute, Threshold: 5})
	if c := d.Config(); c.MaxKeys != DefaultMaxKeys || c.Buckets != DefaultBuckets {
		t.Errorf("Config() = %+v, want MaxKeys %d, Buckets %d", c, DefaultMaxKeys, DefaultBuckets)
	}
	d = newDetector(t, Config{Window: time.Minute, Threshold: 5, Tumbling: true})
	if c := d.Config(); c.Buckets != 1 || d.width != int64(time.Minute) || d.ring != 2 {
		t.Errorf("tumbling: Config() = %+v, width %d, ring %d; want Buckets 1, width 1m, ring 2", c, d.width, d.ring)
	}
}

func TestObserveAtAllocs(t *testing.T) {
	d := newDetector(t, Config{Window: time.Minute, Threshold: 1 << 30})
	a, b := netip.MustParseAddr(a4), netip.MustParseAddr(a6)
	at := t0
	d.ObserveAt(at, a)
	d.ObserveAt(at, b)
	n := testing.AllocsPerRun(1000, func() {
		at = at.Add(time.Second) // moves the ring too
		d.ObserveAt(at, a)
		d.ObserveAt(at, b)
		d.CountAt(at, a)
	})
	if n != 0 {
		t.Errorf("ObserveAt on tracked keys allocates %v times, want 0", n)
	}
}

// TestEvictionSamplesWholeTable puts 8 quiet addresses at the start of a full
// table: newcomers must still find room elsewhere rather than be dropped.
func TestEvictionSamplesWholeTable(t *testing.T) {
	d := newDetector(t, Config{Window: time.Minute, Threshold: 2, MaxKeys: 100})
	for i := range 100 {
		a := netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
		d.ObserveAt(t0, a)
		if i < 8 {
			d.ObserveAt(t0, a) // fires: quiet
		}
	}
	for i := range 100 {
		d.ObserveAt(t0.Add(time.Second), netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}))
	}
	// A newcomer is dropped only when its sample starts on one of the 8
	// quiet entries' first slot: about 1 in 100.
	if st := d.Stats(); st.Dropped > 5 || st.Quiet != 8 || st.Evicted+st.Dropped != 100 {
		t.Errorf("Stats() = %+v, want Dropped <= 5, Quiet 8, Evicted+Dropped 100", st)
	}
}

// TestPrefetchChangesNothing prefetches tracked, untracked and invalid
// addresses of a table past PrefetchMin: the counts, stats and hits that
// follow are those of a detector that never prefetched, and it allocates
// nothing.
func TestPrefetchChangesNothing(t *testing.T) {
	const n = PrefetchMin + 100
	mk := func() *Detector {
		d, err := New(Config{Window: time.Minute, Threshold: 3, MaxKeys: 2 * n})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	a, b := mk(), mk()
	addr := func(i int) netip.Addr {
		if i%2 == 0 {
			return netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
		}
		return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)})
	}
	t0 := time.Unix(1_700_000_000, 0)
	for i := range n {
		a.ObserveAt(t0, addr(i))
		b.ObserveAt(t0, addr(i))
	}
	run := []netip.Addr{addr(1), addr(2), addr(n + 5), {}, addr(3), addr(1)}
	for len(run) < 40 { // more than one pass of 32
		run = append(run, addr(len(run)*97%n))
	}
	if allocs := testing.AllocsPerRun(10, func() { a.Prefetch(run) }); allocs != 0 {
		t.Errorf("Prefetch: %v allocations, want 0", allocs)
	}
	for _, x := range run {
		ha, fa := a.ObserveAt(t0, x)
		hb, fb := b.ObserveAt(t0, x)
		if fa != fb || ha != hb {
			t.Fatalf("ObserveAt(%v) after Prefetch = %+v, %v; without = %+v, %v", x, ha, fa, hb, fb)
		}
	}
	if sa, sb := a.Stats(), b.Stats(); sa != sb {
		t.Errorf("Stats after Prefetch = %+v, without = %+v", sa, sb)
	}
}
