package chunk

import (
	"bytes"
	"encoding/hex"
	"math"
	"strings"
	"testing"
	"time"
)

// TestAppendValue pins the exact bytes for every supported type and every
// size boundary of the encodings.
func TestAppendValue(t *testing.T) {
	type stringer struct{ A int }
	tests := []struct {
		name string
		v    any
		want string // hex; "…" marks a payload checked by length only
	}{
		{"nil", nil, "c0"},
		{"false", false, "c2"},
		{"true", true, "c3"},
		{"int 0", 0, "00"},
		{"int 127", 127, "7f"},
		{"int 128", 128, "cc80"},
		{"uint8 255", uint8(255), "ccff"},
		{"int16 256", int16(256), "cd0100"},
		{"uint16 65535", uint16(65535), "cdffff"},
		{"int32 65536", int32(65536), "ce00010000"},
		{"uint32 max", uint32(math.MaxUint32), "ceffffffff"},
		{"int64 2^32", int64(1 << 32), "cf0000000100000000"},
		{"uint max", uint(math.MaxUint64), "cfffffffffffffffff"},
		{"int -1", -1, "ff"},
		{"int8 -32", int8(-32), "e0"},
		{"int -33", -33, "d0df"},
		{"int -128", -128, "d080"},
		{"int -129", -129, "d1ff7f"},
		{"int -32768", -32768, "d18000"},
		{"int -32769", -32769, "d2ffff7fff"},
		{"int min32", math.MinInt32, "d280000000"},
		{"int min32-1", math.MinInt32 - 1, "d3ffffffff7fffffff"},
		{"int64 min", int64(math.MinInt64), "d38000000000000000"},
		{"float32", float32(1.5), "ca3fc00000"},
		{"float64", 1.5, "cb3ff8000000000000"},
		{"str empty", "", "a0"},
		{"str", "abc", "a3616263"},
		{"bin", []byte("ab"), "c4026162"},
		{"bin empty", []byte{}, "c400"},
		{"time", time.Unix(1714564800, 7), "d700 6632 2ec0 00000007"},
		{"map sorted", map[string]any{"b": 2, "a": 1}, "82 a161 01 a162 02"},
		{"map nil", map[string]any(nil), "80"},
		{"map of strings", map[string]string{"z": "1", "y": "2"}, "82 a179 a132 a17a a131"},
		{"array", []any{1, "x", nil}, "93 01 a178 c0"},
		{"array of strings", []string{"x", "y"}, "92 a178 a179"},
		{"Value", Value{Kind: KindStr, Raw: []byte{0xa1, 0x78}}, "a178"},
		{"zero Value", Value{}, "c0"},
		{"other type via fmt", stringer{A: 3}, "a3 7b337d"},
	}
	for _, tc := range tests {
		got := AppendValue(nil, tc.v)
		want := strings.ReplaceAll(tc.want, " ", "")
		if hex.EncodeToString(got) != want {
			t.Errorf("%s: AppendValue(%#v) = %x, want %s", tc.name, tc.v, got, want)
		}
	}
}

// TestAppendHeaders pins the header bytes at each size boundary.
func TestAppendHeaders(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string // hex of the header only
	}{
		{"str 31", AppendStr(nil, strings.Repeat("x", 31))[:1], "bf"},
		{"str 32", AppendStr(nil, strings.Repeat("x", 32))[:2], "d920"},
		{"str 255", AppendStrBytes(nil, bytes.Repeat([]byte("x"), 255))[:2], "d9ff"},
		{"str 256", AppendStr(nil, strings.Repeat("x", 256))[:3], "da0100"},
		{"str 65536", AppendStr(nil, strings.Repeat("x", 65536))[:5], "db00010000"},
		{"bin 256", AppendBin(nil, make([]byte, 256))[:3], "c50100"},
		{"bin 65536", AppendBin(nil, make([]byte, 65536))[:5], "c600010000"},
		{"array 15", AppendArrayHeader(nil, 15), "9f"},
		{"array 16", AppendArrayHeader(nil, 16), "dc0010"},
		{"array 65536", AppendArrayHeader(nil, 65536), "dd00010000"},
		{"map 15", AppendMapHeader(nil, 15), "8f"},
		{"map 16", AppendMapHeader(nil, 16), "de0010"},
		{"map 65536", AppendMapHeader(nil, 65536), "df00010000"},
		{"fixext1", AppendExt(nil, 5, []byte{1}), "d40501"},
		{"fixext2", AppendExt(nil, 5, []byte{1, 2}), "d5050102"},
		{"fixext4", AppendExt(nil, -1, []byte{1, 2, 3, 4}), "d6ff01020304"},
		{"fixext16", AppendExt(nil, 0, make([]byte, 16))[:2], "d800"},
		{"ext8 3", AppendExt(nil, 1, []byte{1, 2, 3}), "c70301010203"},
		{"ext8 0", AppendExt(nil, 1, nil), "c70001"},
		{"ext16", AppendExt(nil, 1, make([]byte, 256))[:4], "c8010001"},
		{"ext32", AppendExt(nil, 1, make([]byte, 65536))[:6], "c90001000001"},
		{"event header", AppendEventHeader(nil, time.Unix(1, 2)), "9292d700000000010000000280"},
		{"group start", AppendGroupStart(nil, nil, nil), "9292d700ffffffff000000008080"},
		{"group end", AppendGroupEnd(nil), "9292d700fffffffe000000008080"},
		{"legacy", AppendEventLegacy(nil, 5, nil), "920580"},
	}
	for _, tc := range tests {
		if got := hex.EncodeToString(tc.got); got != tc.want {
			t.Errorf("%s = %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestRoundTripValues encodes values and decodes them with Lookup.
func TestRoundTripValues(t *testing.T) {
	tests := []struct {
		v    any
		kind Kind
		n    int // element count for arrays and maps, length for str
	}{
		{strings.Repeat("x", 70000), KindStr, 70000},
		{make([]byte, 300), KindStr, 300},
		{make([]any, 16), KindArray, 16},
		{make([]any, 65536), KindArray, 65536},
		{manyKeys(16), KindMap, 16},
		{manyKeys(70000), KindMap, 70000},
		{AppendExt(nil, 9, []byte{1, 2, 3}), KindStr, 6}, // bin holding ext bytes
	}
	for i, tc := range tests {
		enc := AppendValue(nil, tc.v)
		v, ok := Lookup(enc, nil)
		if !ok || v.Kind != tc.kind {
			t.Fatalf("case %d: Lookup = (%v, %v), want kind %v", i, v.Kind, ok, tc.kind)
		}
		n := int(v.Int)
		if tc.kind == KindStr {
			n = len(v.Str)
		}
		if n != tc.n || len(v.Raw) != len(enc) {
			t.Errorf("case %d: size = %d, Raw %d bytes; want %d, %d bytes", i, n, len(v.Raw), tc.n, len(enc))
		}
	}
	ext, ok := Lookup(AppendExt(nil, -3, []byte{1, 2, 3}), nil)
	if !ok || ext.Kind != KindExt || ext.Int != -3 || !bytes.Equal(ext.Str, []byte{1, 2, 3}) {
		t.Errorf("ext round trip = %+v, %v; want ext type -3 payload 010203", ext, ok)
	}
}

func manyKeys(n int) map[string]any {
	m := make(map[string]any, n)
	for i := range n {
		m[string(AppendUint([]byte("k"), uint64(i)))] = i
	}
	return m
}

// TestRoundTripEvents encodes events of both shapes and reads them back.
func TestRoundTripEvents(t *testing.T) {
	body := map[string]any{"host": "2001:db8::1", "code": 404, "req": map[string]any{"path": "/x"}}
	meta := map[string]any{"trace_id": "abc"}
	data := cat(
		AppendEventV2(nil, t0.Add(123*time.Nanosecond), meta, body),
		AppendEventLegacy(nil, t0.Add(time.Second), body),
		AppendEventLegacy(nil, uint32(t0.Unix()+2), body),
		AppendEventLegacy(nil, float64(t0.Unix())+3.5, body),
		AppendEventLegacy(nil, "no time", body),
	)
	wantTimes := []time.Time{t0.Add(123), t0.Add(time.Second), t0.Add(2 * time.Second), t0.Add(3500 * time.Millisecond), {}}
	evs, st := readAll(data)
	if st != (Stats{Records: 5}) {
		t.Fatalf("Stats() = %+v, want 5 records", st)
	}
	for i, ev := range evs {
		if ev.HasTime != !wantTimes[i].IsZero() || !ev.Time.Equal(wantTimes[i]) {
			t.Errorf("event %d: Time = (%v, %v), want %v", i, ev.Time, ev.HasTime, wantTimes[i])
		}
		if !bytes.Equal(ev.Body, AppendValue(nil, body)) {
			t.Errorf("event %d: Body = % x, want the encoded body", i, ev.Body)
		}
		if v, ok := Lookup(ev.Body, Path{"req", "path"}); !ok || string(v.Str) != "/x" {
			t.Errorf("event %d: Lookup(req.path) = (%q, %v), want (/x, true)", i, v.Str, ok)
		}
		if v, ok := Lookup(ev.Body, Path{"code"}); !ok || v.Kind != KindUint || v.Uint != 404 {
			t.Errorf("event %d: Lookup(code) = (%+v, %v), want uint 404", i, v, ok)
		}
	}
	if !bytes.Equal(evs[0].Meta, AppendValue(nil, meta)) {
		t.Errorf("event 0: Meta = % x, want the encoded metadata", evs[0].Meta)
	}
	// AppendEventHeader followed by a body equals AppendEventV2 with no meta.
	hdr := AppendValue(AppendEventHeader(nil, t0), body)
	if v2 := AppendEventV2(nil, t0, nil, body); !bytes.Equal(hdr, v2) {
		t.Errorf("AppendEventHeader+body = % x, AppendEventV2 = % x, want equal", hdr, v2)
	}
}

// TestAppendAllocs proves the fixed-shape helpers only grow dst.
func TestAppendAllocs(t *testing.T) {
	dst := make([]byte, 0, 4096)
	field := []byte("10.0.0.1")
	allocs := testing.AllocsPerRun(100, func() {
		b := AppendEventHeader(dst[:0], t0)
		b = AppendMapHeader(b, 3)
		b = AppendStr(b, "host")
		b = AppendStrBytes(b, field)
		b = AppendStr(b, "code")
		b = AppendInt(b, 200)
		b = AppendStr(b, "f")
		b = AppendFloat(b, 1.5)
		dst = b
	})
	if allocs != 0 {
		t.Errorf("AppendEventHeader..AppendFloat: %v allocs per run, want 0", allocs)
	}
	evs, st := readAll(dst)
	if st.Records != 1 || len(evs) != 1 {
		t.Fatalf("Stats() = %+v, want 1 record", st)
	}
	if v, ok := Lookup(evs[0].Body, Path{"host"}); !ok || string(v.Str) != "10.0.0.1" {
		t.Errorf("Lookup(host) = (%q, %v), want (10.0.0.1, true)", v.Str, ok)
	}
}
