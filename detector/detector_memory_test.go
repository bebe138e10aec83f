package detector

import (
	"flag"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"
)

// sprayResult is what spray measured.
type sprayResult struct {
	heavyN, firedAt int   // heavy records sent; the one that fired, 0 if none
	heap            int64 // HeapInuse growth after GC, the Detector alive
	stats           Stats
}

// spray feeds a Detector made from cfg n one-off addresses, one every
// 100 µs, with one heavy hitter sending every heavyEvery-th record among
// them, and measures the heap the Detector holds at the end. With Distinct,
// every record carries a new value.
func spray(tb testing.TB, cfg Config, n, heavyEvery int) sprayResult {
	tb.Helper()
	var res sprayResult
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	d := newDetector(tb, cfg)
	heavy := netip.MustParseAddr("2001:db8:bad::1")
	for i := range n {
		at := t0.Add(time.Duration(i) * 100 * time.Microsecond)
		v := uint64(i) * 0x9e3779b97f4a7c15 // a new value each record
		if i%heavyEvery == heavyEvery/2 {
			res.heavyN++
			if h, ok := d.ObserveDistinctAt(at, heavy, v); ok {
				if res.firedAt != 0 || h.Addr != heavy {
					tb.Fatalf("heavy hitter: second hit %+v after record %d", h, res.firedAt)
				}
				res.firedAt = res.heavyN
			}
		}
		j := uint32(i) + 20<<24 // 20.0.0.0 onwards: public, never the heavy one
		one := netip.AddrFrom4([4]byte{byte(j >> 24), byte(j >> 16), byte(j >> 8), byte(j)})
		if _, ok := d.ObserveDistinctAt(at, one, v); ok && cfg.Threshold > 1 {
			tb.Fatalf("one-off %v fired", one)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	res.heap = int64(after.HeapInuse) - int64(before.HeapInuse)
	res.stats = d.Stats()
	runtime.KeepAlive(d)
	return res
}

// sprayCases are the rules sprayed: a minute, threshold 50, which the heavy
// hitter's 1 record a second reaches within its first minute.
var sprayCases = []struct {
	name string
	cfg  Config
	// bytesPerKey is the heap per tracked key BenchmarkBytesPerKey
	// measures with 1e6 keys.
	bytesPerKey int64
}{
	{"sliding", Config{Window: time.Minute, Threshold: 50}, 77},
	{"tumbling", Config{Window: time.Minute, Threshold: 50, Tumbling: true}, 54},
	{"distinct", Config{Window: time.Minute, Threshold: 50, Distinct: true}, 95},
}

// TestSprayMemory hides a heavy hitter sending 1 record in 10,000 in a spray
// of 1,000,000 one-off addresses with room for 10,000, so the table turns
// over once between two of its records. While its count is 1 it is as light
// as a one-off and may be evicted; once it is 2 it never is. So it must
// fire within its first minute (60 records at 1 a second), having lost at
// most a few first records. The Detector's heap must stay within twice
// MaxKeys times the bytes per key BenchmarkBytesPerKey measures, plus 1 MB
// for the runtime's own rounding and the test's noise: a hundredth of what a
// million tracked keys would take.
func TestSprayMemory(t *testing.T) {
	const n, maxKeys, every = 1_000_000, 10_000, 10_000
	for _, tc := range sprayCases {
		t.Run(tc.name, func(t *testing.T) {
			if raceEnabled && tc.name != "sliding" {
				t.Skip("slow under the race detector; the sliding case runs")
			}
			cfg := tc.cfg
			cfg.MaxKeys = maxKeys
			res := spray(t, cfg, n, every)
			if res.firedAt < cfg.Threshold || res.firedAt > cfg.Threshold+5 {
				t.Errorf("heavy hitter fired on its record %d of %d, want %d to %d: it was evicted once heavy",
					res.firedAt, res.heavyN, cfg.Threshold, cfg.Threshold+5)
			}
			lost := int64(res.firedAt - cfg.Threshold) // heavy records lost to evictions
			if st := res.stats; st.Tracked != maxKeys || st.Evicted != n+1-maxKeys+lost || st.Fired != 1 || st.Dropped != 0 {
				t.Errorf("Stats() = %+v, want Tracked %d, Evicted %d, Fired 1, Dropped 0", st, maxKeys, n+1-maxKeys+lost)
			}
			if bound := 2*maxKeys*tc.bytesPerKey + 1<<20; res.heap > bound {
				t.Errorf("heap in use grew by %d bytes (%d a key), want at most %d (2*%d a key + 1 MB)",
					res.heap, res.heap/maxKeys, bound, tc.bytesPerKey)
			}
			t.Logf("%s: heap %d bytes for %d keys (%d a key), %d evictions", tc.name, res.heap, maxKeys, res.heap/maxKeys, res.stats.Evicted)
		})
	}
}

// BenchmarkSpray10M is the spray of the issue: 10,000,000 one-off addresses,
// room for 1,000,000, and a heavy hitter sending 1 record in 10,000. It
// reports the heap the Detector holds, per tracked key, and the evictions,
// and fails if the heavy hitter does not fire. It takes seconds and a few
// hundred MB, so it runs only when -bench names it:
//
//	go test -run '^$' -bench Spray10M -benchtime=1x ./detector
func BenchmarkSpray10M(b *testing.B) {
	if f := flag.Lookup("test.bench"); f == nil || !strings.Contains(f.Value.String(), "Spray") {
		b.Skip("runs only when -bench names it: -bench Spray10M -benchtime=1x")
	}
	const n, maxKeys, every = 10_000_000, 1_000_000, 10_000
	for _, tc := range sprayCases {
		b.Run(tc.name, func(b *testing.B) {
			cfg := tc.cfg
			cfg.MaxKeys = maxKeys
			for b.Loop() {
				res := spray(b, cfg, n, every)
				if res.firedAt != cfg.Threshold {
					b.Fatalf("heavy hitter fired on its record %d of %d, want %d: it was evicted", res.firedAt, res.heavyN, cfg.Threshold)
				}
				b.ReportMetric(float64(res.heap)/(1<<20), "heap-MB")
				b.ReportMetric(float64(res.heap)/float64(res.stats.Tracked), "bytes/key")
				b.ReportMetric(float64(res.stats.Evicted), "evictions")
			}
		})
	}
}
