package metrics

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/dosguard/dosguard/chunk"
	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/guard"
)

// BenchmarkScrape gathers an output's metrics with 1 000 and 100 000
// addresses tracked: the cost must not grow with them.
func BenchmarkScrape(b *testing.B) {
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("tracked=%d", n), func(b *testing.B) {
			cfg, err := conf.Parse(conf.Props{"Threshold": "1000000"})
			if err != nil {
				b.Fatal(err)
			}
			g, err := guard.New(cfg, guard.Deps{Now: func() time.Time { return t0 }}, nil)
			if err != nil {
				b.Fatal(err)
			}
			var c []byte
			for i := 0; i < n; i++ {
				a := netip.AddrFrom4([4]byte{198, byte(i >> 16), byte(i >> 8), byte(i)})
				c = chunk.AppendEventV2(c, t0, map[string]any{}, map[string]any{"host": a.String()})
			}
			g.FlushAt(t0, c, "access")
			if tr := g.RuleStats()[0].Tracked; tr != int64(n) {
				b.Fatalf("tracked %d, want %d", tr, n)
			}
			var hub Hub
			o, err := hub.Open("127.0.0.1:0", "dosguard.0", nil)
			if err != nil {
				b.Fatal(err)
			}
			defer o.Close()
			if err := o.Watch(g); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := o.ep.reg.Gather(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
