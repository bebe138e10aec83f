//go:build cgo

package main

// Compares chunk decoding in one run: dosguard's chunk.Reader against
// fluent-bit-go's output.NewDecoder/GetRecord, over the same chunk.
//
// The chunk holds 1000 native Fluent Bit v2 events,
//
//	[[EventTime, {}], {host, user, method, path, code, size, referer, agent}]
//
// with EventTime the ext type 0 fixext8 (d7 00 <sec> <nsec>) that Fluent Bit
// writes, and eight str fields as its apache2 parser emits them (~250 B of
// body). Both decoders accept this form: GetRecord takes the header array's
// first element as the time (an FLBTime, via its registered ext), and would
// return -5 for an integer or float ts, which is why neither is used here.

import (
	"runtime"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"github.com/dosguard/dosguard/chunk"
	"github.com/fluent/fluent-bit-go/output"
)

// benchT0 dates the benchmark records.
var benchT0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// benchChunk returns n apache2-style v2 events as one chunk.
func benchChunk(n int) []byte {
	var b []byte
	for i := range n {
		b = chunk.AppendEventHeader(b, benchT0.Add(time.Duration(i)*time.Millisecond))
		b = chunk.AppendMapHeader(b, 8)
		for _, kv := range [...][2]string{
			{"host", "10." + strconv.Itoa(i>>16&255) + "." + strconv.Itoa(i>>8&255) + "." + strconv.Itoa(i&255)},
			{"user", "-"},
			{"method", "GET"},
			{"path", "/api/v1/items/" + strconv.Itoa(i) + "?page=2&sort=desc"},
			{"code", "200"},
			{"size", strconv.Itoa(1000 + i%9000)},
			{"referer", "https://www.example.com/catalog/index.html"},
			{"agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"},
		} {
			b = chunk.AppendStr(b, kv[0])
			b = chunk.AppendStr(b, kv[1])
		}
	}
	return b
}

// flbHost returns record["host"] as fluent-bit-go decodes it.
func flbHost(rec map[interface{}]interface{}) (string, bool) {
	switch h := rec["host"].(type) {
	case string:
		return h, true
	case []byte:
		return string(h), true
	}
	return "", false
}

// TestDecodersAgree checks both decoders see the same records, hosts and
// times in the benchmark chunk and in a legacy [EventTime, body] chunk.
func TestDecodersAgree(t *testing.T) {
	legacy := chunk.AppendEventLegacy(nil, benchT0, map[string]any{"host": "1.2.3.4"})
	legacy = chunk.AppendEventLegacy(legacy, benchT0.Add(time.Second), map[string]any{"host": "5.6.7.8"})
	for name, data := range map[string][]byte{"v2": benchChunk(50), "legacy": legacy} {
		r := chunk.NewReader(data)
		dec := output.NewDecoder(unsafe.Pointer(&data[0]), len(data))
		n := 0
		for {
			ev, ok := r.Next()
			ret, ts, rec := output.GetRecord(dec)
			if !ok {
				if ret == 0 {
					t.Fatalf("%s: record %d: fluent-bit-go has a record, chunk.Reader has none", name, n)
				}
				break
			}
			if ret != 0 {
				t.Fatalf("%s: record %d: GetRecord = %d, chunk.Reader has a record", name, n, ret)
			}
			v, ok := chunk.Lookup(ev.Body, chunk.Path{"host"})
			h, hok := flbHost(rec)
			if !ok || !hok || string(v.Str) != h {
				t.Errorf("%s: record %d: host = %q (%v), fluent-bit-go %q (%v)", name, n, v.Str, ok, h, hok)
			}
			ft, tok := ts.(output.FLBTime)
			if !tok || !ev.HasTime || !ft.Time.Equal(ev.Time) {
				t.Errorf("%s: record %d: time = %v (%v), fluent-bit-go %#v", name, n, ev.Time, ev.HasTime, ts)
			}
			n++
		}
		if st := r.Stats(); st.Records != n || n == 0 || st.Malformed != 0 {
			t.Errorf("%s: Stats() = %+v after %d agreeing records", name, st, n)
		}
	}
}

// BenchmarkDecodeChunk decodes the same 1000-record chunk with both decoders
// and reads host from every record.
func BenchmarkDecodeChunk(b *testing.B) {
	const records = 1000
	data := benchChunk(records)
	b.Run("chunk.Reader", func(b *testing.B) {
		host := chunk.Path{"host"}
		var r chunk.Reader
		sum := 0
		benchRecords(b, records, func() {
			r.Reset(data)
			for {
				ev, ok := r.Next()
				if !ok {
					break
				}
				if v, ok := chunk.Lookup(ev.Body, host); ok {
					sum += len(v.Str)
				}
			}
		})
		if sum == 0 {
			b.Fatal("no host found")
		}
	})
	b.Run("fluent-bit-go", func(b *testing.B) {
		sum := 0
		benchRecords(b, records, func() {
			dec := output.NewDecoder(unsafe.Pointer(&data[0]), len(data))
			for {
				ret, _, rec := output.GetRecord(dec)
				if ret != 0 {
					break
				}
				if h, ok := flbHost(rec); ok {
					sum += len(h)
				}
			}
		})
		if sum == 0 {
			b.Fatal("no host found")
		}
	})
}

// benchRecords runs decodeChunk b.N times and reports ns/record and
// allocs/record for a chunk of the given number of records.
func benchRecords(b *testing.B, records int, decodeChunk func()) {
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		decodeChunk()
	}
	runtime.ReadMemStats(&after)
	perRecord := float64(b.N) * float64(records)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/perRecord, "ns/record")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/perRecord, "allocs/record")
}
