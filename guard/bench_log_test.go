package guard

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// logChunks returns chunks of perChunk apache2 records, n records in all,
// from clients addresses picked at random, rate records a second of log
// time from t0 in order, and the offsets in each chunk of the records'
// EventTime seconds, so a replay can move them on.
func logChunks(clients, n, perChunk int, rate float64) (chunks [][]byte, secs [][]int) {
	r := rand.New(rand.NewPCG(5, uint64(clients)))
	for i := 0; i < n; i += perChunk {
		var c []byte
		var s []int
		for j := i; j < i+perChunk; j++ {
			s = append(s, len(c)+4) // 92 92 d7 00 <sec> <nsec>
			c = appendApache(c, t0.Add(time.Duration(float64(j)/rate*float64(time.Second))), clientAddr(r.IntN(clients)), r)
		}
		chunks, secs = append(chunks, c), append(secs, s)
	}
	return chunks, secs
}

// BenchmarkFlushLog replays a log with the timing of bench/flb.sh's, the
// load of the real-Fluent-Bit measure: 1,000,000 lines an hour (278 a
// second of log time) from clients picked at random, so that at 20,000
// clients an address comes back every 72 s on average, after the 60 s
// window: most records move their address's ring on, and some find it
// swept and are inserted again. It flushes chunks of 4,000 records and
// sweeps after every 36 (Fluent Bit reads about 140,000 lines a second and
// the worker sweeps once a second), and before each chunk it evicts the
// caches as BenchmarkFlushClientsCold's 64 MiB does. The replay goes round
// its 288,000 records, their times moved on by its length each time, so
// log time only goes forward. The timed part is the flushes and sweeps.
func BenchmarkFlushLog(b *testing.B) {
	const (
		perChunk, chunks, sweepEvery = 4_000, 72, 36
		rate                         = 1e6 / 3600.0
	)
	other := make([]byte, 64<<20)
	for _, clients := range []int{1_000, 20_000} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			g := benchGuard(b, clients)
			n := perChunk * chunks
			data, secs := logChunks(clients, n, perChunk, rate)
			span := uint32(float64(n)/rate) + 1 // whole seconds, past the last record
			var swept time.Time
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				b.StopTimer()
				if i > 0 && i%chunks == 0 { // round again, later
					for k, c := range data {
						for _, off := range secs[k] {
							binary.BigEndian.PutUint32(c[off:], binary.BigEndian.Uint32(c[off:])+span)
						}
					}
				}
				evictCaches(other)
				b.StartTimer()
				g.FlushAt(t0, data[i%chunks], "access")
				if i++; i%sweepEvery == 0 {
					g.flush.sweep(&swept)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i*perChunk), "ns/record")
			if st := g.Stats(); st.Hits != 0 || st.NoKey+st.Invalid+st.Exempt != 0 {
				b.Fatalf("Stats() = %+v: want every record counted, no hit", st)
			}
		})
	}
}
