package guard

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/dosguard/dosguard/chunk"
	"github.com/dosguard/dosguard/conf"
)

// clientAddr is the address of client c of a benchmark: public IPv4
// addresses in 198.18.0.0/15 and on (RFC 2544's benchmarking range), never
// exempt.
func clientAddr(c int) string {
	return "198." + strconv.Itoa(18+c>>16) + "." + strconv.Itoa(c>>8&255) + "." + strconv.Itoa(c&255)
}

var (
	benchPaths  = [...]string{"/", "/index.html", "/api/v1/items", "/api/v1/users/42", "/static/app.css", "/static/app.js", "/login", "/search?q=shoes"}
	benchAgents = [...]string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
		"curl/8.5.0",
	}
)

// appendApache appends one record as Fluent Bit's apache2 parser emits it:
// a v2 event whose body holds the regex's groups in order (host, user,
// method, path, code, size, referer, agent), all strings, time taken out.
func appendApache(dst []byte, t time.Time, host string, r *rand.Rand) []byte {
	code := "200"
	if r.IntN(10) == 0 {
		code = "404"
	}
	dst = chunk.AppendEventHeader(dst, t)
	dst = chunk.AppendMapHeader(dst, 8)
	for _, kv := range [...][2]string{
		{"host", host}, {"user", "-"}, {"method", "GET"}, {"path", benchPaths[r.IntN(len(benchPaths))]},
		{"code", code}, {"size", strconv.Itoa(200 + r.IntN(5000))},
		{"referer", "https://www.example.com/"}, {"agent", benchAgents[r.IntN(len(benchAgents))]},
	} {
		dst = chunk.AppendStr(dst, kv[0])
		dst = chunk.AppendStr(dst, kv[1])
	}
	return dst
}

// clientChunks returns chunks of 1000 apache2 records, n records in all, each
// from one of clients addresses picked at random, one every 10 µs, and a
// warm-up chunk in which every client sends one record.
func clientChunks(clients, n int) (warm []byte, chunks [][]byte) {
	r := rand.New(rand.NewPCG(1, uint64(clients)))
	for c := range clients {
		warm = appendApache(warm, t0, clientAddr(c), r)
	}
	for i := 0; i < n; i += 1000 {
		var c []byte
		for j := i; j < i+1000; j++ {
			c = appendApache(c, t0.Add(time.Duration(j)*10*time.Microsecond), clientAddr(r.IntN(clients)), r)
		}
		chunks = append(chunks, c)
	}
	return warm, chunks
}

// benchGuard is a guard with one sliding rule (60 s, 12 buckets) that no
// client reaches, dry run, and Max_Tracked_Keys room for every client.
func benchGuard(tb testing.TB, clients int) *Guard {
	tb.Helper()
	cfg, err := conf.Parse(conf.Props{"Threshold": "1000000000", "Max_Tracked_Keys": strconv.Itoa(max(clients, 1000))})
	if err != nil {
		tb.Fatal(err)
	}
	g, err := New(cfg, Deps{Now: func() time.Time { return t0 }}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

// BenchmarkFlushClients is BenchmarkFlush over a load that looks like a real
// one: apache2 records in Fluent Bit's field order from 1,000, 20,000 and
// 200,000 distinct clients picked at random, so the per-address state does
// not sit in the CPU cache as it does with 200 clients. Every client is
// tracked before the timer starts; 64 chunks of 1000 records are flushed in
// turn.
func BenchmarkFlushClients(b *testing.B) {
	for _, clients := range []int{1_000, 20_000, 200_000} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			g := benchGuard(b, clients)
			warm, chunks := clientChunks(clients, 64_000)
			g.FlushAt(t0, warm, "access")
			if st := g.flush.detectorStats(); st.Tracked != int64(clients) {
				b.Fatalf("Tracked = %d after warm-up, want %d", st.Tracked, clients)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				g.FlushAt(t0, chunks[i%len(chunks)], "access")
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i*1000), "ns/record")
			if st := g.Stats(); st.Hits != 0 || st.NoKey+st.Invalid+st.Exempt != 0 {
				b.Fatalf("Stats() = %+v: want every record counted, no hit", st)
			}
		})
	}
}

// BenchmarkFlushClientsCold is BenchmarkFlushClients as inside Fluent Bit,
// whose own work between two flushes (reading, parsing, buffering
// megabytes of logs) pushes dosguard's tables and the chunk out of the CPU
// caches: before each chunk, with the timer stopped, it writes other
// memory, 8 MiB (more than the level 2 cache) or 64 MiB (more than a
// level 3 cache too, as when Fluent Bit holds a chunk a second before
// flushing it). The timed part is only the flush.
func BenchmarkFlushClientsCold(b *testing.B) {
	other := make([]byte, 64<<20)
	for _, clients := range []int{1_000, 5_000, 20_000} {
		for _, evict := range []int{8, 64} {
			b.Run(fmt.Sprintf("clients=%d/evict=%dMiB", clients, evict), func(b *testing.B) {
				g := benchGuard(b, clients)
				warm, chunks := clientChunks(clients, 64_000)
				g.FlushAt(t0, warm, "access")
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					b.StopTimer()
					evictCaches(other[:evict<<20])
					b.StartTimer()
					g.FlushAt(t0, chunks[i%len(chunks)], "access")
					i++
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i*1000), "ns/record")
			})
		}
	}
}

// evictCaches writes one byte in every cache line of other, pushing what
// the caches held out of them.
func evictCaches(other []byte) {
	for j := 0; j < len(other); j += 64 {
		other[j]++
	}
}

// BenchmarkFlushBytesPerAddress measures the heap a guard holds per tracked
// address after flushing 200,000 distinct clients through the default
// sliding rule: everything the flush keeps, tables and caches included.
// Run it with -benchtime=1x.
func BenchmarkFlushBytesPerAddress(b *testing.B) {
	const clients = 200_000
	warm, _ := clientChunks(clients, 0)
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		g := benchGuard(b, clients)
		g.FlushAt(t0, warm, "access")
		runtime.GC()
		runtime.ReadMemStats(&after)
		if st := g.flush.detectorStats(); st.Tracked != clients {
			b.Fatalf("Tracked = %d, want %d", st.Tracked, clients)
		}
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/clients, "bytes/address")
		runtime.KeepAlive(g)
	}
}

// TestFlushBatched drives the batched path (a table above
// detector.PrefetchMin addresses): an attacker among 20,000 tracked clients,
// one record in ten of a chunk, trips the rule once, and a flush allocates
// nothing.
func TestFlushBatched(t *testing.T) {
	const clients, threshold = 20000, 40
	cfg, err := conf.Parse(conf.Props{"Threshold": strconv.Itoa(threshold), "Max_Tracked_Keys": "100000"})
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(cfg, Deps{Now: func() time.Time { return t0 }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	warm, _ := clientChunks(clients, 0)
	if fs := g.FlushAt(t0, warm, "access"); fs.Hits != 0 || fs.Records != clients {
		t.Fatalf("warm-up: %+v, want %d records, no hit", fs, clients)
	}
	r := rand.New(rand.NewPCG(3, 4))
	var c []byte
	attacker := 0
	for j := range 1000 {
		host := clientAddr(r.IntN(clients))
		if j%10 == 5 {
			host, attacker = "203.0.113.66", attacker+1
		}
		c = appendApache(c, t0.Add(time.Duration(j)*time.Millisecond), host, r)
	}
	fs := g.FlushAt(t0, c, "access")
	if fs.Hits != 1 || attacker < threshold {
		t.Fatalf("FlushAt = %+v with %d attacker records: want exactly 1 hit", fs, attacker)
	}
	if st := g.Stats(); st.Hits != 1 {
		t.Errorf("Stats().Hits = %d, want 1", st.Hits)
	}
	_, other := clientChunks(clients, 1000)
	if n := testing.AllocsPerRun(5, func() { g.FlushAt(t0, other[0], "access") }); n != 0 {
		t.Errorf("FlushAt with %d tracked clients: %v allocations, want 0", clients, n)
	}
}
