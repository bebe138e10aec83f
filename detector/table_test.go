package detector

import (
	"math/rand/v2"
	"net/netip"
	"strconv"
	"testing"
	"time"
)

// TestIndexChurn adds and removes random keys, many sharing a home slot's
// neighbourhood, and checks the index against a Go map after every step:
// removal's backward shift must leave every remaining key findable.
func TestIndexChurn(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	x := newIndex()
	var entries []entry
	want := map[key]uint32{}
	newKey := func() key { return key{lo: uint64(r.IntN(8))<<8 | uint64(r.IntN(200))} }
	for step := range 20_000 {
		k := newKey()
		h := x.hash(k)
		if i, ok := want[k]; ok {
			// remove entry i, moving the last into its place, as Detector.remove does
			x.del(k, h, entries)
			delete(want, k)
			last := uint32(len(entries) - 1)
			if i != last {
				entries[i] = entries[last]
				mk := entries[i].key
				x.set(mk, x.hash(mk), i, entries)
				want[mk] = i
			}
			entries = entries[:last]
		} else {
			i := uint32(len(entries))
			entries = append(entries, entry{key: k})
			x.add(h, i)
			want[k] = i
		}
		if x.n != len(want) {
			t.Fatalf("step %d: index holds %d keys, want %d", step, x.n, len(want))
		}
		if step%97 == 0 || step > 19_900 {
			for k, i := range want {
				if got, ok := x.find(k, x.hash(k), entries); !ok || got != i {
					t.Fatalf("step %d: find(%v) = %d, %v; want %d, true", step, k, got, ok, i)
				}
			}
		}
		if _, ok := x.find(key{hi: 1 << 56}, x.hash(key{hi: 1 << 56}), entries); ok {
			t.Fatalf("step %d: found a key never added", step)
		}
	}
	if 4*x.n > 3*len(x.slots) {
		t.Errorf("index of %d slots holds %d keys: above 3/4", len(x.slots), x.n)
	}
}

// TestIndexGuess checks the entry Detector.Prefetch loads for a key: the
// key's own, for every key of a full index, whether or not it sits in its
// home slot, unless another key of its run shares its 32 hash bits (then
// guess names that one, which is allowed). It also checks that the test
// saw keys past their home slot, the case guess exists for.
func TestIndexGuess(t *testing.T) {
	x := newIndex()
	var entries []entry
	for i := range 20_000 {
		k := keyOf(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}))
		entries = append(entries, entry{key: k})
		x.add(x.hash(k), uint32(i))
	}
	away := 0
	for i, e := range entries {
		h := x.hash(e.key)
		if x.slots[x.home(h)] != h>>32<<32|uint64(i+1) {
			away++
		}
		g, ok := x.guess(h)
		if !ok {
			t.Fatalf("guess(key %d): not found", i)
		}
		if g != uint32(i) && x.hash(entries[g].key)>>32 != h>>32 {
			t.Fatalf("guess(key %d) = %d, whose hash bits differ", i, g)
		}
	}
	if away < 1000 {
		t.Errorf("only %d of 20000 keys away from their home slot: the test misses the case", away)
	}
}

// TestCountersWiden sends one address more records in one bucket than a
// 16-bit counter holds: the counters widen and the count stays exact, so
// the rule fires on exactly its threshold and the bucket leaves the window
// with its true count.
func TestCountersWiden(t *testing.T) {
	for _, buckets := range []int{0, 40} {
		t.Run("buckets="+strconv.Itoa(buckets), func(t *testing.T) { testCountersWiden(t, buckets) })
	}
}

func testCountersWiden(t *testing.T, buckets int) {
	const threshold = 70_000
	d := newDetector(t, Config{Window: time.Minute, Threshold: threshold, Buckets: buckets})
	a, b := netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("2001:db8::9")
	d.ObserveAt(t0, b) // another entry, which widening must keep
	for n := 1; n < threshold; n++ {
		if _, ok := d.ObserveAt(t0, a); ok {
			t.Fatalf("fired on record %d, want %d", n, threshold)
		}
	}
	if !d.counts.wide() {
		t.Fatal("counters still 16 bits wide after a bucket of 69,999")
	}
	if got := d.CountAt(t0, a); got != threshold-1 {
		t.Fatalf("CountAt = %d, want %d", got, threshold-1)
	}
	if got := d.CountAt(t0, b); got != 1 {
		t.Fatalf("CountAt(other) = %d after widening, want 1", got)
	}
	// Once the bucket has left the window, the count is zero again, not
	// something left over from a saturated counter.
	later := t0.Add(time.Minute + 10*time.Second)
	d.ObserveAt(later, a)
	if got := d.CountAt(later, a); got != 1 {
		t.Fatalf("CountAt after the bucket left = %d, want 1", got)
	}
	if h, ok := d.ObserveAt(later, a); ok {
		t.Fatalf("fired with 2 records in the window: %+v", h)
	}
}

// TestCountersNarrow: a table whose buckets stay below 65536 keeps 16-bit
// counters.
func TestCountersNarrow(t *testing.T) {
	d := newDetector(t, Config{Window: time.Minute, Threshold: 1 << 30})
	for i := range 1000 {
		d.ObserveAt(t0, netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}))
	}
	if d.counts.wide() {
		t.Error("counters widened without a bucket above 65535")
	}
}
