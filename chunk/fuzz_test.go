package chunk

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"strings"
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
		{0x92, 0xc8, 0x00, 0x08, 0x00, 0, 0, 0, 1, 0, 0, 0, 1, 0x80},
		{0x92, 0xd6, 0xff, 0, 0, 0, 1, 0x81, 0xa1, 0x74, 0xd6, 0xff, 0, 0, 0, 1},
		{0x92, 0xd5, 0xff, 0, 0, 0x80},
		AppendEventLegacy(nil, float32(2.5), map[string]any{"k": allKinds()}),
		cat([]byte{0x92, 0x00}, allKinds()),
	}
}

// allKinds returns a map holding every msgpack type and encoding, with a
// repeated key, a bin key and an integer key.
func allKinds() []byte {
	b := AppendMapHeader(nil, 22)
	for i, v := range []any{nil, true, false, 5, 200, 300, 70000, uint64(1) << 40, -3, -100, -300, -70000, int64(-1) << 40,
		float32(1.5), 2.5, "s", strings.Repeat("x", 40), strings.Repeat("y", 300), []byte{1, 2}, []any{1, []any{}}} {
		b = AppendValue(AppendStr(b, "k"+strconv.Itoa(i)), v)
	}
	b = AppendExt(AppendStr(b, "k0"), 7, []byte{1, 2, 3}) // a repeated key
	b = AppendStr(AppendBin(b, []byte("bin")), "v")
	return b
}

// drain reads all of data, checking what holds for any input, and returns the
// records and the Stats.
func drain(t *testing.T, data []byte) ([]Event, Stats) {
	t.Helper()
	r := NewReader(data)
	var evs []Event
	for {
		ev, ok := r.Next()
		if !ok {
			break
		}
		evs = append(evs, ev)
		n := len(evs)
		if !isMap(ev.Body, 0) {
			t.Fatalf("record %d: Body % x is not a map", n, ev.Body)
		}
		if ev.Meta != nil && !isMap(ev.Meta, 0) {
			t.Fatalf("record %d: Meta % x is not a map", n, ev.Meta)
		}
		if ev.HasTime {
			if s := ev.Time.Unix(); s < 0 || s > math.MaxInt32 {
				t.Fatalf("record %d: Time %v out of range", n, ev.Time)
			}
		} else if !ev.Time.IsZero() {
			t.Fatalf("record %d: HasTime false but Time %v", n, ev.Time)
		}
	}
	st := r.Stats()
	if st.Records != len(evs) {
		t.Fatalf("Stats().Records = %d, Next returned %d", st.Records, len(evs))
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
	return evs, st
}

// FuzzReader checks that any input decodes without panicking, that the Stats
// agree with what Next returned, and that the Reader agrees with the
// differential oracle (oracle_test.go): the objects, which of them are
// records, group markers or malformed, each record's time, metadata and body,
// and what Lookup finds under each key of the body.
func FuzzReader(f *testing.F) {
	for _, s := range seedChunks() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		data = data[:len(data):len(data)]
		all, _ := drain(t, data)
		want, n, broken := oracleChunk(t, data)
		evs, st := drain(t, data[:n]) // the part the oracle can judge
		if len(evs) > len(all) {
			t.Fatalf("%d records in the first %d bytes, %d in all %d", len(evs), n, len(all), len(data))
		}
		var wantSt Stats
		for _, w := range want {
			switch w.kind {
			case "record":
				if wantSt.Records < len(evs) {
					checkEvent(t, wantSt.Records, evs[wantSt.Records], w)
					checkKeys(t, evs[wantSt.Records].Body)
				}
				wantSt.Records++
			case "group":
				wantSt.Groups++
			default:
				wantSt.Malformed++
			}
		}
		if broken {
			wantSt.Malformed++
		}
		if st != wantSt {
			t.Fatalf("Stats() = %+v; ugorji reads %+v (framing broken: %v)", st, wantSt, broken)
		}
	})
}

// checkKeys looks up each str and bin key of body, and one missing key, and
// compares with the oracle.
func checkKeys(t *testing.T, body []byte) {
	t.Helper()
	kv := uElems(t, body)
	keys := []string{"\x00missing"}
	for j := 0; j+1 < len(kv) && len(keys) < 16; j += 2 {
		switch k, _ := uScalar(t, kv[j]); k := k.(type) {
		case string:
			keys = append(keys, k)
		case []byte:
			keys = append(keys, string(k))
		}
	}
	for _, k := range keys {
		p := Path{k}
		v, ok := Lookup(body, p)
		raw, found, _ := oracleLookup(t, body, p)
		if ok != found {
			t.Fatalf("Lookup(%q) ok = %v; ugorji finds it: %v", k, ok, found)
		}
		if ok {
			checkValue(t, v, raw)
		}
	}
}

// FuzzLookup checks that Lookup never panics and agrees with the oracle:
// where ugorji reads the body, Lookup finds the same object under the same
// path, decoded the same; where it cannot, whatever Lookup returns is still
// one whole object to ugorji.
func FuzzLookup(f *testing.F) {
	for _, s := range seedChunks() {
		f.Add(s, "host")
		f.Add(s, "$req['path']")
		f.Add(s, "$arr[1]")
	}
	body := allKinds()
	for i := range 21 {
		f.Add(body, "k"+strconv.Itoa(i))
	}
	f.Add(body, "bin")
	f.Add(body, "$k19[1]")
	f.Add(body, "$k19[0001]")
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
		} else {
			if v.Kind == KindInvalid || len(v.Raw) == 0 {
				t.Fatalf("Lookup = %+v, want a decoded value", v)
			}
			if b, ok := v.AsBytes(); ok && !bytes.Contains(v.Raw, b) {
				t.Fatalf("AsBytes %q not inside Raw % x", b, v.Raw)
			}
		}
		// LookupStr says what Lookup decodes, without decoding.
		s, f := LookupStr(body, p)
		want, wantStr := FieldMissing, []byte(nil)
		switch {
		case !ok:
		case v.Kind == KindNil:
			want = FieldNil
		case v.Kind == KindStr:
			want, wantStr = FieldStr, v.Str
		default:
			want = FieldOther
		}
		if f != want || !bytes.Equal(s, wantStr) {
			t.Fatalf("LookupStr(%q) = %q, %v; Lookup gives %+v, ok %v", p, s, f, v, ok)
		}
		raw, found, known := oracleLookup(t, body, p)
		switch {
		case known && found != ok:
			t.Fatalf("Lookup(%q) ok = %v; ugorji finds it: %v", p, ok, found)
		case known && ok:
			checkValue(t, v, raw)
		case ok:
			if obj, whole, allowed := uObject(v.Raw); !allowed && (!whole || len(obj) != len(v.Raw)) {
				t.Fatalf("Lookup Raw % x is not one object to ugorji (%d bytes read)", v.Raw, len(obj))
			}
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
