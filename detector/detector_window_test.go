package detector

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// The cases below use a tumbling 60 s window: t0 is 10:00:00, so the
// batches are the clock minutes [t0, t0+60s), [t0+60s, t0+120s), ...
func TestObserveAtTumbling(t *testing.T) {
	s := time.Second
	tests := []struct {
		name      string
		threshold int
		steps     []step
	}{
		{"fires inside the batch, without waiting for its end", 3, []step{
			{op: observe, at: 0, addr: a4},
			{op: observe, at: 10 * s, addr: a4},
			{op: count, at: 10 * s, addr: a4, n: 2},
			{op: observe, at: 20 * s, addr: a4, hit: true, n: 3},
			{op: quiet, addr: a4, hit: true},
			{op: observe, at: 21 * s, addr: a4},
			{op: count, at: 90 * s, addr: a4, n: 3}, // frozen while quiet
		}},
		{"a new batch starts from zero", 3, []step{
			{op: observe, at: 50 * s, addr: a4},
			{op: observe, at: 60*s - 1, addr: a4},    // last ns of the first minute
			{op: observe, at: 60 * s, addr: a4},      // first ns of the next: 1, not 3
			{op: count, at: 60 * s, addr: a4, n: 1},  // this batch
			{op: count, at: 59 * s, addr: a4, n: 2},  // the previous batch is kept
			{op: count, at: 120 * s, addr: a4, n: 0}, // a batch not started yet
			{op: count, at: -1 * s, addr: a4, n: 0},  // older than the ring
			{op: observe, at: 119 * s, addr: a4},     //
			{op: observe, at: 120 * s, addr: a4},     // again a new batch
			{op: count, at: 120 * s, addr: a4, n: 1}, //
			{op: count, at: 119 * s, addr: a4, n: 2}, //
			{op: count, at: 59 * s, addr: a4, n: 0},  // left the ring
			{op: observe, at: 121 * s, addr: a4},     //
			{op: observe, at: 179 * s, addr: a4, hit: true, n: 3},
		}},
		{"batches are clock minutes, not counted from the first record", 2, []step{
			{op: observe, at: 59 * s, addr: a4},
			{op: observe, at: 61 * s, addr: a4}, // 2 s later, but another minute
			{op: count, at: 61 * s, addr: a4, n: 1},
		}},
		{"a late record of the previous batch counts in that batch", 3, []step{
			{op: observe, at: 50 * s, addr: a4},
			{op: observe, at: 55 * s, addr: a4},
			{op: observe, at: 65 * s, addr: a4},                  // batch 1 starts
			{op: count, at: 58 * s, addr: a4, n: 2},              //
			{op: observe, at: 58 * s, addr: a4, hit: true, n: 3}, // late, into batch 0: fires for it
		}},
		{"records older than the previous batch are late", 2, []step{
			{op: observe, at: 130 * s, addr: a4}, // batch 2
			{op: observe, at: 59 * s, addr: a4},  // batch 0: late
			{op: count, at: 59 * s, addr: a4, n: 0},
			{op: observe, at: 60 * s, addr: a4}, // batch 1: counted
			{op: count, at: 60 * s, addr: a4, n: 1},
			{op: count, at: 130 * s, addr: a4, n: 1},
			{op: observe, at: 61 * s, addr: a4, hit: true, n: 2},
		}},
		{"threshold 1 fires on first record", 1, []step{
			{op: observe, at: 0, addr: a6, hit: true, n: 1},
			{op: observe, at: 60 * s, addr: a6},
		}},
		{"release re-arms from zero", 2, []step{
			{op: observe, at: 0, addr: a4},
			{op: observe, at: 1 * s, addr: a4, hit: true, n: 2},
			{op: release, addr: a4, hit: true},
			{op: count, at: 1 * s, addr: a4, n: 0},
			{op: observe, at: 2 * s, addr: a4},
			{op: observe, at: 3 * s, addr: a4, hit: true, n: 2},
		}},
		{"sweep keeps the current and the previous batch", 5, []step{
			{op: observe, at: 59 * s, addr: a4},      // batch 0
			{op: observe, at: 60 * s, addr: b4},      // batch 1
			{op: sweep, at: 119 * s, n: 0},           // batch 1: batch 0 is the previous one
			{op: sweep, at: 120 * s, n: 1},           // batch 2: a goes
			{op: count, at: 119 * s, addr: b4, n: 1}, //
			{op: sweep, at: 180 * s, n: 1},           // b goes
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDetector(t, Config{Window: time.Minute, Threshold: tt.threshold, Tumbling: true})
			run(t, d, tt.steps)
		})
	}
}

// TestMinuteBoundary is the burst from the issue: 600 requests in the last
// 30 s of one clock minute and 600 in the first 30 s of the next, threshold
// 1000. A sliding minute sees up to 1200 and fires; a tumbling one never
// sees more than 600 in one batch and does not.
func TestMinuteBoundary(t *testing.T) {
	const threshold = 1000
	a := netip.MustParseAddr("203.0.113.7")
	var records []time.Time
	for i := range 1200 { // one every 50 ms from 10:00:30 to 10:01:29.95
		records = append(records, t0.Add(30*time.Second+time.Duration(i)*50*time.Millisecond))
	}
	for _, tc := range []struct {
		name     string
		tumbling bool
		wantAt   int // index of the record that fires; -1: none
		why      string
	}{
		{"sliding", false, 999, "the 60 s ending at 10:01:19.95 hold 600+400 requests"},
		{"tumbling", true, -1, "each clock minute (10:00 and 10:01) holds only 600 requests"},
	} {
		d := newDetector(t, Config{Window: time.Minute, Threshold: threshold, Tumbling: tc.tumbling})
		firedAt := -1
		for i, at := range records {
			if _, ok := d.ObserveAt(at, a); ok {
				if firedAt >= 0 {
					t.Fatalf("%s: fired twice, at records %d and %d", tc.name, firedAt, i)
				}
				firedAt = i
			}
		}
		if firedAt != tc.wantAt {
			t.Errorf("%s (threshold %d): fired at record %d, want %d: %s", tc.name, threshold, firedAt, tc.wantAt, tc.why)
		}
	}
}

func TestHitTumbling(t *testing.T) {
	d := newDetector(t, Config{Window: time.Minute, Threshold: 3, Tumbling: true})
	a := netip.MustParseAddr("198.51.100.9")
	d.ObserveAt(t0.Add(40*time.Second), a)
	d.ObserveAt(t0.Add(50*time.Second), a)
	d.ObserveAt(t0.Add(70*time.Second), a) // next batch
	h, ok := d.ObserveAt(t0.Add(45*time.Second), a)
	if !ok {
		t.Fatal("late third record of batch 10:00 did not fire")
	}
	want := Hit{
		Addr:   a,
		Count:  3,
		Window: time.Minute,
		First:  t0,                       // the batch that fired
		Last:   t0.Add(70 * time.Second), // newest record of the address
	}
	if h != want {
		t.Errorf("Hit = %+v\nwant  %+v", h, want)
	}
}

// TestTumblingMatchesBruteForce replays random out-of-order timelines and
// checks the tumbling count is exact: at every step, CountAt for the
// record's batch is the number of accepted records in that batch, and the
// Detector fires on the record that brings a batch to the threshold, and
// then never again.
func TestTumblingMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const window = 10 * time.Second
	for run := range 20 {
		threshold := 5 + rng.IntN(40)
		d := newDetector(t, Config{Window: window, Threshold: threshold, Tumbling: true})
		a := netip.MustParseAddr(a4)
		perBatch := map[int64]int{}
		newest := t0
		fired := false
		for i := range 400 {
			at := newest.Add(time.Duration(rng.Int64N(int64(window / 10))))
			if rng.IntN(3) == 0 {
				at = newest.Add(-time.Duration(rng.Int64N(int64(window * 3))))
			}
			if at.After(newest) {
				newest = at
			}
			batch := floorDiv(at.UnixNano(), int64(window))
			late := batch < floorDiv(newest.UnixNano(), int64(window))-1
			_, ok := d.ObserveAt(at, a)
			if !late && !fired {
				perBatch[batch]++
			}
			wantFire := !late && !fired && perBatch[batch] == threshold
			if ok != wantFire {
				t.Fatalf("run %d record %d: ObserveAt(t0+%v) = %v, want %v (batch count %d, threshold %d, late %v)",
					run, i, at.Sub(t0), ok, wantFire, perBatch[batch], threshold, late)
			}
			fired = fired || ok
			if !fired && !late {
				if got := d.CountAt(at, a); got != perBatch[batch] {
					t.Fatalf("run %d record %d: CountAt(t0+%v) = %d, want %d", run, i, at.Sub(t0), got, perBatch[batch])
				}
			}
		}
	}
}
