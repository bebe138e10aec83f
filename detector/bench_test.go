package detector

import (
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// BenchmarkObserveAt measures the hot path on tracked addresses: same
// bucket, and a record per second that moves the ring each time.
func BenchmarkObserveAt(b *testing.B) {
	for _, bm := range []struct {
		name     string
		addr     string
		step     time.Duration
		tumbling bool
	}{
		{"v4/same-bucket", "203.0.113.195", 0, false},
		{"v6/same-bucket", "2001:db8:85a3::8a2e:370:7334", 0, false},
		{"v4/moving-ring", "203.0.113.195", time.Second, false},
		{"v4/tumbling", "203.0.113.195", time.Second, true},
	} {
		b.Run(bm.name, func(b *testing.B) {
			d := newDetector(b, Config{Window: time.Minute, Threshold: 1 << 30, Tumbling: bm.tumbling})
			a := netip.MustParseAddr(bm.addr)
			// Some company in the table, so the map lookup is realistic.
			for i := range 10_000 {
				d.ObserveAt(t0, netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}))
			}
			at := t0
			b.ReportAllocs()
			for b.Loop() {
				at = at.Add(bm.step)
				d.ObserveAt(at, a)
			}
		})
	}
}

// BenchmarkObserveDistinctAt measures distinct counting on a tracked
// address: a repeated value, and a new value every record, one a
// millisecond, so about 60 live values of a threshold of 1000 and a value
// aging out for each one added once the window is full.
func BenchmarkObserveDistinctAt(b *testing.B) {
	for _, bm := range []struct {
		name     string
		fresh    bool
		tumbling bool
	}{
		{"repeat", false, false},
		{"new-values", true, false},
		{"new-values/tumbling", true, true},
	} {
		b.Run(bm.name, func(b *testing.B) {
			d := newDetector(b, Config{Window: time.Second, Threshold: 1000, Distinct: true, Tumbling: bm.tumbling})
			a := netip.MustParseAddr("203.0.113.195")
			for i := range 10_000 {
				d.ObserveDistinctAt(t0, netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 1)
			}
			at, v := t0, uint64(0)
			b.ReportAllocs()
			for b.Loop() {
				if bm.fresh {
					at = at.Add(16 * time.Millisecond)
					v += 0x9e3779b97f4a7c15
				}
				if _, ok := d.ObserveDistinctAt(at, a, v); ok {
					b.Fatal("fired")
				}
			}
		})
	}
}

// BenchmarkObserveAtNewKey measures first sight of an address: amortised
// table growth, and eviction once the table is full.
func BenchmarkObserveAtNewKey(b *testing.B) {
	for _, bm := range []struct {
		name    string
		maxKeys int
	}{
		{"growing", MaxMaxKeys},
		{"evicting", 10_000},
	} {
		b.Run(bm.name, func(b *testing.B) {
			d := newDetector(b, Config{Window: time.Minute, Threshold: 1 << 30, MaxKeys: bm.maxKeys})
			i := uint32(0)
			b.ReportAllocs()
			for b.Loop() {
				i++
				at := t0.Add(time.Duration(i) * time.Microsecond)
				d.ObserveAt(at, netip.AddrFrom4([4]byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}))
			}
		})
	}
}

// BenchmarkBytesPerKey measures the heap held by a Detector tracking 1e6
// addresses (half IPv4, half IPv6): a sliding window of the default 12
// buckets, a tumbling window, and a distinct count with one value per
// address. Run it with -benchtime=1x.
func BenchmarkBytesPerKey(b *testing.B) {
	const keys = 1_000_000
	for _, bm := range []struct {
		name string
		cfg  Config
	}{
		{"sliding", Config{Window: time.Minute, Threshold: 1 << 30, MaxKeys: keys}},
		{"tumbling", Config{Window: time.Minute, Threshold: 1 << 30, MaxKeys: keys, Tumbling: true}},
		{"distinct", Config{Window: time.Minute, Threshold: MaxDistinctThreshold, MaxKeys: keys, Distinct: true}},
	} {
		b.Run(bm.name, func(b *testing.B) {
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				d := newDetector(b, bm.cfg)
				for i := range keys {
					var a netip.Addr
					if i%2 == 0 {
						a = netip.AddrFrom4([4]byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)})
					} else {
						a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 12: byte(i >> 24), 13: byte(i >> 16), 14: byte(i >> 8), 15: byte(i)})
					}
					d.ObserveDistinctAt(t0.Add(time.Duration(i)*time.Microsecond), a, uint64(i))
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				if got := d.Stats().Tracked; got != keys {
					b.Fatalf("Tracked = %d, want %d", got, keys)
				}
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/keys, "bytes/key")
				runtime.KeepAlive(d)
			}
		})
	}
}
