package chunk

import (
	"bytes"
	"math"
	"slices"
	"testing"
)

// seedChunks returns chunks for the fuzz corpora: every shape the unit tests
// use, valid and broken.
func seedChunks() [][]byte {
	ev := AppendEventV2(nil, t0, map[string]any{"m": 1}, map[string]any{"host": "a", "req": map[string]any{"path": "/"}, "arr": []any{1, "x"}})
	return [][]byte{
		nil,
		apacheChunk(3),
		ev,
		ev[:len(ev)-3],
		AppendEventLegacy(nil, uint64(5), map[string]any{"host": "b", "f": 1.5, "bin": []byte{1}}),
		AppendEventLegacy(nil, -1, nil),
		AppendEventLegacy(nil, 1.25, map[string]any{"n": nil}),
		append(AppendGroupStart(nil, nil, map[string]any{"svc": "x"}), AppendGroupEnd(nil)...),
		{0x92, 0x01, 0xa1, 0x78},
		{0x92, 0x91, 0x01, 0x80},
		{0xdd, 0xff, 0xff, 0xff, 0xff},
		{0xc1},
		{0x92, 0xc7, 0x08, 0x00, 0, 0, 0, 1, 0, 0, 0, 1, 0x80},
	}
}

// FuzzReader checks that any input decodes without panicking and that the
// Stats agree with what Next returned.
func FuzzReader(f *testing.F) {
	for _, s := range seedChunks() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		data = data[:len(data):len(data)]
		r := NewReader(data)
		records := 0
		for {
			ev, ok := r.Next()
			if !ok {
				break
			}
			records++
			if !isMap(ev.Body, 0) {
				t.Fatalf("record %d: Body % x is not a map", records, ev.Body)
			}
			if end, ok := skip(ev.Body, 0); !ok || end != len(ev.Body) {
				t.Fatalf("record %d: Body % x is not exactly one object", records, ev.Body)
			}
			if ev.Meta != nil && !isMap(ev.Meta, 0) {
				t.Fatalf("record %d: Meta % x is not a map", records, ev.Meta)
			}
			if ev.HasTime {
				if s := ev.Time.Unix(); s < 0 || s > math.MaxInt32 {
					t.Fatalf("record %d: Time %v out of range", records, ev.Time)
				}
			} else if !ev.Time.IsZero() {
				t.Fatalf("record %d: HasTime false but Time %v", records, ev.Time)
			}
		}
		st := r.Stats()
		if st.Records != records {
			t.Fatalf("Stats().Records = %d, Next returned %d", st.Records, records)
		}
		if st.Records+st.Groups+st.Malformed > len(data) {
			t.Fatalf("Stats() = %+v counts more objects than %d bytes", st, len(data))
		}
		if _, ok := r.Next(); ok {
			t.Fatal("Next() = true after it returned false")
		}
		var again Reader
		again.Reset(data)
		for {
			if _, ok := again.Next(); !ok {
				break
			}
		}
		if again.Stats() != st {
			t.Fatalf("second pass Stats() = %+v, first %+v", again.Stats(), st)
		}
	})
}

// FuzzLookup checks that Lookup never panics and returns one whole object.
func FuzzLookup(f *testing.F) {
	for _, s := range seedChunks() {
		f.Add(s, "host")
		f.Add(s, "$req['path']")
		f.Add(s, "$arr[1]")
	}
	f.Fuzz(func(t *testing.T, body []byte, path string) {
		body = body[:len(body):len(body)]
		p, err := ParsePath(path)
		if err != nil {
			return
		}
		v, ok := Lookup(body, p)
		if !ok {
			if v.Kind != KindInvalid {
				t.Fatalf("Lookup failed but Kind = %v", v.Kind)
			}
			return
		}
		if v.Kind == KindInvalid || len(v.Raw) == 0 {
			t.Fatalf("Lookup = %+v, want a decoded value", v)
		}
		if end, ok := skip(v.Raw, 0); !ok || end != len(v.Raw) {
			t.Fatalf("Raw % x is not exactly one object", v.Raw)
		}
		if b, ok := v.AsBytes(); ok && !bytes.Contains(v.Raw, b) {
			t.Fatalf("AsBytes %q not inside Raw % x", b, v.Raw)
		}
	})
}

// FuzzParsePath checks that ParsePath never panics and that a parsed path
// survives a round trip through String.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"host", "$host", "a.b", "$a['b']['c']", `$a["b"]`, "$a[0]", "$a['it''s']", "$a[", "a..b", " $x "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err != nil {
			return
		}
		if len(p) == 0 || p[0] == "" {
			t.Fatalf("ParsePath(%q) = %q, want a non-empty first key", s, []string(p))
		}
		back, err := ParsePath(p.String())
		if err != nil || !slices.Equal(back, p) {
			t.Fatalf("ParsePath(%q) = %q; its String %q parses to (%q, %v)", s, []string(p), p.String(), []string(back), err)
		}
	})
}
