package detector

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// The sliding cases use a 60 s window in 12 buckets of 5 s, the tumbling
// ones clock minutes from t0 (10:00:00).
func TestObserveDistinctAt(t *testing.T) {
	s := time.Second
	tests := []struct {
		name      string
		tumbling  bool
		threshold int
		steps     []step
	}{
		{"duplicates don't count", false, 3, []step{
			{op: observe, at: 0, addr: a4, v: "/a"},
			{op: observe, at: 1 * s, addr: a4, v: "/a"},
			{op: observe, at: 2 * s, addr: a4, v: "/b"},
			{op: observe, at: 3 * s, addr: a4, v: "/a"},
			{op: observe, at: 4 * s, addr: a4, v: "/b"},
			{op: count, at: 4 * s, addr: a4, n: 2},
			{op: observe, at: 5 * s, addr: a4, v: "/c", hit: true, n: 3},
		}},
		{"fires at exactly Threshold distinct values", false, 5, []step{
			{op: observe, at: 0, addr: a4, v: "/1"},
			{op: observe, at: 0, addr: a4, v: "/2"},
			{op: observe, at: 0, addr: a4, v: "/3"},
			{op: observe, at: 0, addr: a4, v: "/4"},
			{op: count, at: 0, addr: a4, n: 4},
			{op: observe, at: 0, addr: a4, v: "/4"},
			{op: observe, at: 0, addr: a4, v: "/5", hit: true, n: 5},
			{op: observe, at: 0, addr: a4, v: "/6"}, // quiet
			{op: count, at: 0, addr: a4, n: 5},
		}},
		{"values age out of the window", false, 3, []step{
			{op: observe, at: 0, addr: a4, v: "/a"},
			{op: observe, at: 30 * s, addr: a4, v: "/b"},
			{op: observe, at: 70 * s, addr: a4, v: "/c"}, // /a, at t0, has left the ring
			{op: count, at: 70 * s, addr: a4, n: 2},
			{op: observe, at: 71 * s, addr: a4, v: "/a", hit: true, n: 3}, // /a is new again
		}},
		{"a repeat keeps a value in the window", false, 3, []step{
			{op: observe, at: 0, addr: a4, v: "/a"},
			{op: observe, at: 30 * s, addr: a4, v: "/b"},
			{op: observe, at: 50 * s, addr: a4, v: "/a"}, // /a now last seen at t0+50s
			{op: observe, at: 70 * s, addr: a4, v: "/c", hit: true, n: 3},
		}},
		{"an out-of-order repeat does not move a value back", false, 10, []step{
			{op: observe, at: 50 * s, addr: a4, v: "/a"},
			{op: observe, at: 0, addr: a4, v: "/a"},
			{op: count, at: 100 * s, addr: a4, n: 1},      // still last seen at t0+50s
			{op: count, at: 115 * s, addr: a4, n: 0},      // t0+50s has left
			{op: observe, at: -20 * s, addr: a4, v: "/b"}, // older than the ring: late
			{op: count, at: 50 * s, addr: a4, n: 1},
		}},
		{"ObserveAt is the value 0", false, 2, []step{
			{op: observe, at: 0, addr: a4},
			{op: observe, at: 1 * s, addr: a4},
			{op: count, at: 1 * s, addr: a4, n: 1},
		}},
		{"keys are apart; release forgets the values", false, 2, []step{
			{op: observe, at: 0, addr: a4, v: "/a"},
			{op: observe, at: 0, addr: a6, v: "/b"},
			{op: observe, at: 0, addr: a4, v: "/b", hit: true, n: 2},
			{op: count, at: 0, addr: a6, n: 1},
			{op: release, addr: a4, hit: true},
			{op: observe, at: 1 * s, addr: a4, v: "/a"},
			{op: count, at: 1 * s, addr: a4, n: 1},
			{op: observe, at: 2 * s, addr: a4, v: "/a"},
			{op: observe, at: 3 * s, addr: a4, v: "/c", hit: true, n: 2},
		}},
		{"tumbling: a new batch starts empty", true, 3, []step{
			{op: observe, at: 50 * s, addr: a4, v: "/a"},
			{op: observe, at: 55 * s, addr: a4, v: "/b"},
			{op: observe, at: 61 * s, addr: a4, v: "/c"},
			{op: count, at: 61 * s, addr: a4, n: 1},
			{op: observe, at: 62 * s, addr: a4, v: "/a"}, // seen in both batches: counts in both
			{op: observe, at: 63 * s, addr: a4, v: "/c"},
			{op: count, at: 63 * s, addr: a4, n: 2},
			{op: count, at: 59 * s, addr: a4, n: 2},
			{op: observe, at: 64 * s, addr: a4, v: "/b", hit: true, n: 3},
		}},
		{"tumbling: late values count in the previous batch", true, 3, []step{
			{op: observe, at: 50 * s, addr: a4, v: "/a"},
			{op: observe, at: 65 * s, addr: a4, v: "/a"}, // batch 1
			{op: observe, at: 66 * s, addr: a4, v: "/b"}, // batch 1 only, so far
			{op: observe, at: 56 * s, addr: a4, v: "/a"}, // batch 0 has it already
			{op: count, at: 56 * s, addr: a4, n: 1},
			{op: observe, at: 57 * s, addr: a4, v: "/b"}, // new in batch 0
			{op: count, at: 57 * s, addr: a4, n: 2},
			{op: count, at: 66 * s, addr: a4, n: 2},
			{op: observe, at: 58 * s, addr: a4, v: "/b"}, // repeat in batch 0
			{op: observe, at: 59 * s, addr: a4, v: "/c", hit: true, n: 3},
		}},
		{"tumbling: values older than the previous batch are stale", true, 2, []step{
			{op: observe, at: 50 * s, addr: a4, v: "/a"},
			{op: observe, at: 125 * s, addr: a4, v: "/b"}, // batch 2: /a's batch 0 is gone
			{op: observe, at: 126 * s, addr: a4, v: "/b"},
			{op: observe, at: 70 * s, addr: a4, v: "/a"}, // batch 1: new there
			{op: count, at: 70 * s, addr: a4, n: 1},
			{op: observe, at: 127 * s, addr: a4, v: "/a", hit: true, n: 2},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDetector(t, Config{Window: time.Minute, Threshold: tt.threshold, Distinct: true, Tumbling: tt.tumbling})
			run(t, d, tt.steps)
		})
	}
}

// TestDistinctMatchesBruteForce replays random out-of-order timelines over a
// few hundred values, enough to grow, purge and rebuild the value tables,
// against a brute-force count. Tumbling: CountAt of the record's batch is
// exactly the number of distinct values accepted in that batch. Sliding: at
// the newest time t it includes every value accepted in (t-Window, t] and
// none accepted only at or before t-Window-w.
func TestDistinctMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const window = 10 * time.Second
	for _, tumbling := range []bool{false, true} {
		for run := range 6 {
			values := 20 + rng.IntN(300)
			d := newDetector(t, Config{Window: window, Threshold: MaxDistinctThreshold, Distinct: true, Tumbling: tumbling})
			width := d.width
			a := netip.MustParseAddr(a6)
			type rec struct {
				at time.Time
				v  int
			}
			var accepted []rec
			newest := t0
			for i := range 2000 {
				at := newest.Add(time.Duration(rng.Int64N(int64(window / 50))))
				if rng.IntN(4) == 0 {
					at = newest.Add(-time.Duration(rng.Int64N(int64(window * 3 / 2))))
				}
				v := rng.IntN(values)
				late := d.Stats().Late
				d.ObserveDistinctAt(at, a, HashBytes(testSeed, fmt.Appendf(nil, "/%d", v)))
				if d.Stats().Late == late {
					accepted = append(accepted, rec{at, v})
				}
				if at.After(newest) {
					newest = at
					// Records this old count in no window any more.
					for len(accepted) > 0 && accepted[0].at.Before(newest.Add(-3*window)) {
						accepted = accepted[1:]
					}
				}
				name := fmt.Sprintf("tumbling=%v run %d record %d (t0+%v, value %d of %d)", tumbling, run, i, at.Sub(t0), v, values)
				if tumbling {
					if d.Stats().Late != late {
						continue
					}
					batch := floorDiv(at.UnixNano(), width)
					seen := map[int]bool{}
					for _, r := range accepted {
						if floorDiv(r.at.UnixNano(), width) == batch {
							seen[r.v] = true
						}
					}
					if got := d.CountAt(at, a); got != len(seen) {
						t.Fatalf("%s: CountAt = %d, want %d", name, got, len(seen))
					}
					continue
				}
				must, may := map[int]bool{}, map[int]bool{}
				oldest := (floorDiv(newest.UnixNano(), width) - int64(d.cfg.Buckets)) * width
				for _, r := range accepted {
					if r.at.After(newest.Add(-window)) && !r.at.After(newest) {
						must[r.v] = true
					}
					if r.at.UnixNano() >= oldest {
						may[r.v] = true
					}
				}
				if got := d.CountAt(newest, a); got < len(must) || got > len(may) {
					t.Fatalf("%s: CountAt(newest t0+%v) = %d, want in [%d, %d]", name, newest.Sub(t0), got, len(must), len(may))
				}
			}
			if n := setSlots(d, 0); n > d.maxSet {
				t.Errorf("tumbling=%v run %d: table of %d slots, above the bound %d", tumbling, run, n, d.maxSet)
			}
		}
	}
}

// TestDistinctSetBounded sends an endless stream of new values below the
// threshold rate: the table must stop growing at the documented bound and
// stay there, and the address never fires.
func TestDistinctSetBounded(t *testing.T) {
	for _, tc := range []struct {
		tumbling bool
		maxSet   int // power of two >= 4/3 * live values
	}{
		{false, 256}, // 99 live values + 1: 4/3*100 = 133.3
		{true, 512},  // 2*99 live values over two batches + 1: 4/3*199 = 265.3
	} {
		d := newDetector(t, Config{Window: time.Minute, Threshold: 100, Distinct: true, Tumbling: tc.tumbling})
		if d.maxSet != tc.maxSet {
			t.Errorf("tumbling=%v: maxSet = %d, want %d", tc.tumbling, d.maxSet, tc.maxSet)
		}
		a := netip.MustParseAddr(a4)
		// 90 new values a minute: under the threshold in any window or batch.
		for i := range 90 * 30 {
			at := t0.Add(time.Duration(i) * time.Minute / 90)
			if _, ok := d.ObserveDistinctAt(at, a, uint64(i)*0x9e3779b97f4a7c15); ok {
				t.Fatalf("tumbling=%v: value %d at t0+%v fired below the threshold rate", tc.tumbling, i, at.Sub(t0))
			}
		}
		if d.sets[0].tick != inTable {
			t.Fatalf("tumbling=%v: the set's values are not in a table", tc.tumbling)
		}
		if n := setSlots(d, 0); n > tc.maxSet {
			t.Errorf("tumbling=%v: table of %d slots, want at most %d", tc.tumbling, n, tc.maxSet)
		}
	}
}

func TestObserveDistinctAtAllocs(t *testing.T) {
	for _, tumbling := range []bool{false, true} {
		d := newDetector(t, Config{Window: time.Minute, Threshold: 1000, Distinct: true, Tumbling: tumbling})
		a, b := netip.MustParseAddr(a4), netip.MustParseAddr(a6)
		at := t0
		v := uint64(0)
		next := func() {
			at = at.Add(time.Second) // one new value a second: the ring moves, values age out
			v += 0x9e3779b97f4a7c15
			d.ObserveDistinctAt(at, a, v)
			d.ObserveDistinctAt(at, a, 42) // a repeat
			d.ObserveDistinctAt(at, b, 42)
		}
		for range 600 { // ten minutes: the tables reach their size
			next()
		}
		if n := testing.AllocsPerRun(1000, next); n != 0 {
			t.Errorf("tumbling=%v: ObserveDistinctAt on tracked keys allocates %v times, want 0", tumbling, n)
		}
	}
}

// TestDistinctEvictionReusesSets checks that evicted keys' tables go back to
// the pool: a spray of one-value addresses allocates no tables once full.
func TestDistinctEvictionReusesSets(t *testing.T) {
	d := newDetector(t, Config{Window: time.Minute, Threshold: 10, Distinct: true, MaxKeys: 1000})
	i := 0
	spray := func() {
		i++
		d.ObserveDistinctAt(t0.Add(time.Duration(i)*time.Millisecond), netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 7)
	}
	for range 5000 {
		spray()
	}
	if n := testing.AllocsPerRun(1000, spray); n > 0.1 { // the index map may still grow now and then
		t.Errorf("evicting spray allocates %v times a record, want ~0", n)
	}
	if st := d.Stats(); st.Tracked != 1000 || st.Evicted < 5000 {
		t.Errorf("Stats() = %+v, want Tracked 1000, Evicted >= 5000", st)
	}
}

// setSlots is the room entry i's set takes, in values: its table's slots,
// or 1 for a set held in the entry's dset.
func setSlots(d *Detector, i uint32) int {
	if s := d.sets[i]; s.tick == inTable {
		return len(d.tables[s.h].slots)
	}
	return 1
}

// TestDistinctSetMoves follows a set through the ways it is held: its one
// value in the entry, a stale value replaced there, a table from the second
// live value on, the table following its entry when another entry is
// swept out from under it, and the table reused once its address fires.
func TestDistinctSetMoves(t *testing.T) {
	d := newDetector(t, Config{Window: time.Minute, Threshold: 4, Distinct: true})
	a, b, c := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")
	observe := func(at time.Duration, addr netip.Addr, v uint64) bool {
		t.Helper()
		_, fired := d.ObserveDistinctAt(t0.Add(at), addr, v*0x9e3779b97f4a7c15) // bit 0 of a hash is not used
		return fired
	}
	count := func(at time.Duration, addr netip.Addr, want int) {
		t.Helper()
		if got := d.CountAt(t0.Add(at), addr); got != want {
			t.Fatalf("CountAt(t0+%v, %v) = %d, want %d", at, addr, got, want)
		}
	}
	// a: one value, held in its dset; again: a repeat.
	observe(0, a, 1)
	observe(time.Second, a, 1)
	count(time.Second, a, 1)
	if s := d.sets[0]; s.tick == inTable {
		t.Fatalf("one value: set in a table")
	}
	// Two minutes on, value 1 is stale: value 2 takes its place, no table.
	observe(2*time.Minute, a, 2)
	count(2*time.Minute, a, 1)
	if s := d.sets[0]; s.tick == inTable {
		t.Fatalf("a stale value replaced: set in a table")
	}
	// b: three values, a table.
	for v := range uint64(3) {
		observe(2*time.Minute+10*time.Second, b, 10+v)
	}
	count(2*time.Minute+10*time.Second, b, 3)
	if s := d.sets[1]; s.tick != inTable {
		t.Fatalf("three values: set not in a table")
	}
	// a goes idle and is swept: b moves into entry 0 with its table.
	d.SweepAt(t0.Add(3*time.Minute + 5*time.Second))
	if st := d.Stats(); st.Tracked != 1 {
		t.Fatalf("Tracked = %d after the sweep, want 1 (b)", st.Tracked)
	}
	count(2*time.Minute+20*time.Second, b, 3)
	if observe(2*time.Minute+20*time.Second, b, 11) {
		t.Fatal("b fired on a repeated value")
	}
	count(2*time.Minute+20*time.Second, b, 3)
	if !observe(2*time.Minute+20*time.Second, b, 13) {
		t.Fatal("b did not fire on its fourth value")
	}
	if s := d.sets[0]; s != noValues {
		t.Fatalf("fired: set %+v, want empty", s)
	}
	// c reuses the table b left.
	observe(2*time.Minute+30*time.Second, c, 20)
	observe(2*time.Minute+30*time.Second, c, 21)
	count(2*time.Minute+30*time.Second, c, 2)
	if s := d.sets[1]; s.tick != inTable || s.h != 0 || len(d.tables) != 1 {
		t.Fatalf("c's set %+v with %d tables, want table 0 reused", s, len(d.tables))
	}
}
