package guard

import (
	"context"
	"testing"
	"time"

	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/shared/redistest"
)

// sharedBenchGuard is BenchmarkFlush's guard with Redis on (a real
// redis-server; rounds run by hand).
func sharedBenchGuard(tb testing.TB) *Guard {
	srv := redistest.Start(tb)
	cfg, err := conf.Parse(conf.Props{"Threshold": "1000000000", "Redis_URL": srv.URL()})
	if err != nil {
		tb.Fatal(err)
	}
	g, err := New(cfg, Deps{Now: func() time.Time { return t0 }, SyncTick: make(chan time.Time), Tick: make(chan time.Time)}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { g.Close(context.Background()) })
	return g
}

// TestSharedFlushAllocatesNothingPerRecord: with Redis on, the flush still
// allocates nothing, between sync rounds as right after one.
func TestSharedFlushAllocatesNothingPerRecord(t *testing.T) {
	g := sharedBenchGuard(t)
	c := benchChunk()
	g.FlushAt(t0, c, "access")
	g.syncRound(context.Background())
	g.FlushAt(t0, c, "access")
	if n := testing.AllocsPerRun(20, func() { g.FlushAt(t0, c, "access") }); n != 0 {
		t.Errorf("FlushAt of 1000 known clients with Redis on: %v allocations, want 0", n)
	}
	if st := g.shared.syncer; st.Held() != 0 {
		t.Errorf("%d deltas held after a round with Redis up", st.Held())
	}
}

// BenchmarkSharedFlush is BenchmarkFlush with Redis on: the shared side's
// cost per record (a sync round every 100 chunks, outside the timing).
func BenchmarkSharedFlush(b *testing.B) {
	g := sharedBenchGuard(b)
	c := benchChunk()
	g.FlushAt(t0, c, "access")
	b.ReportAllocs()
	b.SetBytes(int64(len(c)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%100 == 99 {
			b.StopTimer()
			g.syncRound(context.Background())
			b.StartTimer()
		}
		g.FlushAt(t0, c, "access")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/record")
}
