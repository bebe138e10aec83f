package guard

import (
	"fmt"
	"testing"
	"time"

	"github.com/dosguard/dosguard/chunk"
	"github.com/dosguard/dosguard/conf"
)

// benchChunk is 1000 apache2-style records from 200 clients.
func benchChunk() []byte {
	var c []byte
	for i := 0; i < 1000; i++ {
		c = chunk.AppendEventV2(c, t0.Add(time.Duration(i)*time.Millisecond), map[string]any{}, map[string]any{
			"host": fmt.Sprintf("198.51.%d.%d", i%200/100, i%200), "user": "-", "method": "GET",
			"path": fmt.Sprintf("/api/v1/items/%d?page=2", i), "code": "200", "size": "1234",
			"referer": "https://www.example.com/", "agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0",
		})
	}
	return c
}

// BenchmarkFlush measures the flush hot path: decode, key lookup, address
// parse, exemption check and sliding-window count, per record. No client
// trips the rule, so no decision is queued.
func BenchmarkFlush(b *testing.B) {
	cfg, err := conf.Parse(conf.Props{"Threshold": "1000000000"})
	if err != nil {
		b.Fatal(err)
	}
	g, err := New(cfg, Deps{Now: func() time.Time { return t0 }}, nil)
	if err != nil {
		b.Fatal(err)
	}
	c := benchChunk()
	g.FlushAt(t0, c, "access") // warm: the 200 clients are tracked
	b.ReportAllocs()
	b.SetBytes(int64(len(c)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		g.FlushAt(t0, c, "access")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/record")
}

func TestFlushAllocatesNothingPerRecord(t *testing.T) {
	cfg, err := conf.Parse(conf.Props{"Threshold": "1000000000"})
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(cfg, Deps{Now: func() time.Time { return t0 }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := benchChunk()
	g.FlushAt(t0, c, "access")
	if n := testing.AllocsPerRun(20, func() { g.FlushAt(t0, c, "access") }); n != 0 {
		t.Errorf("FlushAt of 1000 known clients: %v allocations, want 0", n)
	}
}

// BenchmarkFlushRules measures records/s and allocations per record for 1,
// 5 and 20 rules on the same chunk: one decode per record, each key read
// once, then each rule's condition and counter.
func BenchmarkFlushRules(b *testing.B) {
	kinds := []conf.Props{
		{"Threshold": "1000000000"},
		{"Threshold": "1000000000", "Where": "code >= 400 AND path LIKE '/wp-%'"},
		{"Threshold": "1000000000", "Window_Type": "tumbling", "Where": "method IN ('POST','PUT')"},
		{"Threshold": "65536", "Distinct": "path"},
		{"Threshold": "1000000000", "Where": "agent REGEXP 'sqlmap|nikto'"},
	}
	for _, n := range []int{1, 5, 20} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			cfg, err := conf.Parse(conf.Props{"Threshold": "1"})
			if err != nil {
				b.Fatal(err)
			}
			cfg.Rules = nil
			for i := 0; i < n; i++ {
				one, err := conf.Parse(kinds[i%len(kinds)])
				if err != nil {
					b.Fatal(err)
				}
				r := one.Rules[0]
				r.Name = fmt.Sprintf("block.r%d", i)
				cfg.Rules = append(cfg.Rules, r)
			}
			g, err := New(cfg, Deps{Now: func() time.Time { return t0 }}, nil)
			if err != nil {
				b.Fatal(err)
			}
			c := benchChunk()
			g.FlushAt(t0, c, "access")
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				g.FlushAt(t0, c, "access")
			}
			b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/record")
		})
	}
}
