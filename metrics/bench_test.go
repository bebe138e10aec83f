package metrics_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/dosguard/dosguard/chunk"
	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/guard"
	"github.com/dosguard/dosguard/metrics"
)

// benchChunk is 1000 records from 200 clients (guard's BenchmarkFlush's).
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

// watched returns a guard watched by an Output on its own endpoint, as the
// plugin runs it with Metrics_Listen set.
func watched(tb testing.TB) (*guard.Guard, *metrics.Output) {
	cfg, err := conf.Parse(conf.Props{"Threshold": "1000000000"})
	if err != nil {
		tb.Fatal(err)
	}
	g, err := guard.New(cfg, guard.Deps{Now: func() time.Time { return t0 }}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	var hub metrics.Hub
	o, err := hub.Open(listen, "dosguard.0", nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(o.Close)
	if err := o.Watch(g); err != nil {
		tb.Fatal(err)
	}
	return g, o
}

// flushObserved is the plugin's flush with metrics on.
func flushObserved(g *guard.Guard, o *metrics.Output, c []byte) {
	start := time.Now()
	fs := g.FlushAt(t0, c, "access")
	o.ObserveFlush(time.Since(start), fs.Records)
}

// BenchmarkFlushWithMetrics is guard's BenchmarkFlush with metrics on: the
// flush and its one observation.
func BenchmarkFlushWithMetrics(b *testing.B) {
	g, o := watched(b)
	c := benchChunk()
	flushObserved(g, o, c)
	b.ReportAllocs()
	b.SetBytes(int64(len(c)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		flushObserved(g, o, c)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/record")
}

func TestFlushWithMetricsAllocatesNothing(t *testing.T) {
	g, o := watched(t)
	c := benchChunk()
	flushObserved(g, o, c)
	if n := testing.AllocsPerRun(20, func() { flushObserved(g, o, c) }); n != 0 {
		t.Errorf("flush of 1000 known clients with metrics on: %v allocations, want 0", n)
	}
}
