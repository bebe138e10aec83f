package chunk

import (
	"testing"
	"time"
)

// BenchmarkReader decodes a chunk of 1000 apache2 records (eight str fields,
// about 250 bytes of body each) and looks up host in every one: the work a
// flush does per chunk.
func BenchmarkReader(b *testing.B) {
	data := apacheChunk(1000)
	host := Path{"host"}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var r Reader
	n := 0
	for b.Loop() {
		r.Reset(data)
		for {
			ev, ok := r.Next()
			if !ok {
				break
			}
			if v, ok := Lookup(ev.Body, host); ok {
				n += len(v.Str)
			}
		}
	}
	if r.Stats().Records != 1000 || n == 0 {
		b.Fatalf("Stats() = %+v, host bytes %d; want 1000 records", r.Stats(), n)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/record")
}

// BenchmarkLookup finds the first and the last field of an apache2 body.
func BenchmarkLookup(b *testing.B) {
	r := NewReader(apacheRecord(nil, 1))
	ev, _ := r.Next()
	for _, key := range []string{"host", "agent"} {
		b.Run(key, func(b *testing.B) {
			p := Path{key}
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := Lookup(ev.Body, p); !ok {
					b.Fatal("not found")
				}
			}
		})
	}
}

// BenchmarkAppendRecord builds one apache2 record with the fixed-shape
// helpers, as the CLI's line-to-record path does.
func BenchmarkAppendRecord(b *testing.B) {
	dst := make([]byte, 0, 1024)
	t := time.Unix(1714564800, 0)
	host := []byte("10.1.2.3")
	b.ReportAllocs()
	for b.Loop() {
		d := AppendEventHeader(dst[:0], t)
		d = AppendMapHeader(d, 8)
		for _, k := range [...]string{"host", "user", "method", "path", "code", "size", "referer", "agent"} {
			d = AppendStr(d, k)
			d = AppendStrBytes(d, host)
		}
		dst = d
	}
}
