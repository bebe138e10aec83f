package chunk

import (
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"
)

// t0 is the fixed instant the fixtures are dated from.
var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// hx decodes hex written with optional spaces, e.g. "92 d7 00".
func hx(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		tb.Fatalf("bad hex fixture %q: %v", s, err)
	}
	return b
}

// cat concatenates byte slices into a new slice of exact capacity, so that a
// read past its end panics instead of seeing spare capacity.
func cat(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// hostBody returns the encoded body {"host": host}.
func hostBody(host string) []byte {
	return AppendStr(AppendStr(AppendMapHeader(nil, 1), "host"), host)
}

// apacheRecord appends record i of a realistic access log as a v2 event, the
// way Fluent Bit's apache2 parser emits it: eight str fields in the order of
// the regex groups, about 250 bytes of body.
func apacheRecord(dst []byte, i int) []byte {
	host := "10." + strconv.Itoa(i>>16&255) + "." + strconv.Itoa(i>>8&255) + "." + strconv.Itoa(i&255)
	dst = AppendEventHeader(dst, t0.Add(time.Duration(i)*time.Millisecond))
	dst = AppendMapHeader(dst, 8)
	dst = AppendStr(dst, "host")
	dst = AppendStr(dst, host)
	dst = AppendStr(dst, "user")
	dst = AppendStr(dst, "-")
	dst = AppendStr(dst, "method")
	dst = AppendStr(dst, "GET")
	dst = AppendStr(dst, "path")
	dst = AppendStr(dst, "/api/v1/items/"+strconv.Itoa(i)+"?page=2&sort=desc")
	dst = AppendStr(dst, "code")
	dst = AppendStr(dst, "200")
	dst = AppendStr(dst, "size")
	dst = AppendStr(dst, strconv.Itoa(1000+i%9000))
	dst = AppendStr(dst, "referer")
	dst = AppendStr(dst, "https://www.example.com/catalog/index.html")
	dst = AppendStr(dst, "agent")
	dst = AppendStr(dst, "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36")
	return dst
}

// apacheChunk returns n apache records as one chunk.
func apacheChunk(n int) []byte {
	var b []byte
	for i := range n {
		b = apacheRecord(b, i)
	}
	return b
}

// readAll drains a Reader over data.
func readAll(data []byte) ([]Event, Stats) {
	r := NewReader(data)
	var evs []Event
	for {
		ev, ok := r.Next()
		if !ok {
			return evs, r.Stats()
		}
		evs = append(evs, ev)
	}
}
