package chunk

import (
	"bytes"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestReaderTimestamps runs every ts encoding through both event shapes.
func TestReaderTimestamps(t *testing.T) {
	sec := uint32(t0.Unix())
	ext := func(s, ns uint32) string {
		return "d7 00" + hexU32(s) + hexU32(ns)
	}
	tests := []struct {
		name    string
		ts      string // hex of the ts object
		group   bool
		hasTime bool
		want    time.Time
	}{
		{"fixext8", ext(sec, 5), false, true, t0.Add(5)},
		{"ext8 len 8", "c7 08 00" + hexU32(sec) + hexU32(999999999), false, true, t0.Add(999999999)},
		{"fixext8 zero", ext(0, 0), false, true, time.Unix(0, 0)},
		{"positive fixint", "05", false, true, time.Unix(5, 0)},
		{"uint8", "cc ff", false, true, time.Unix(255, 0)},
		{"uint16", "cd 01 00", false, true, time.Unix(256, 0)},
		{"uint32", "ce" + hexU32(sec), false, true, t0},
		{"uint64", "cf 00000000" + hexU32(sec), false, true, t0},
		{"int8 non-negative", "d0 05", false, true, time.Unix(5, 0)},
		{"int16 non-negative", "d1 01 00", false, true, time.Unix(256, 0)},
		{"int32 non-negative", "d2" + hexU32(sec), false, true, t0},
		{"int64 non-negative", "d3 00000000" + hexU32(sec), false, true, t0},
		{"float64", "cb 41d9 8c8b 3010 0000", false, true, time.Unix(1714564288, 250000000)},
		{"float32", "ca 3fc00000", false, true, time.Unix(1, 500000000)},
		{"float64 zero", "cb 0000000000000000", false, true, time.Unix(0, 0)},

		{"negative fixint", "fb", false, false, time.Time{}},
		{"int8 negative", "d0 9c", false, false, time.Time{}},
		{"int64 min", "d3 8000000000000000", false, false, time.Time{}},
		{"uint32 past int32", "ce 80000000", false, false, time.Time{}},
		{"uint64 huge", "cf ffffffffffffffff", false, false, time.Time{}},
		{"float64 negative", "cb bff0000000000000", false, false, time.Time{}},
		{"float64 NaN", "cb 7ff8000000000001", false, false, time.Time{}},
		{"float64 +Inf", "cb 7ff0000000000000", false, false, time.Time{}},
		{"float64 too big", "cb 4200000000000000", false, false, time.Time{}},
		{"ext sec past int32", ext(0x80000000, 0), false, false, time.Time{}},
		{"ext nsec 1e9", ext(sec, 1000000000), false, false, time.Time{}},
		{"fixext8 type 1", "d7 01" + hexU32(sec) + "00000000", false, false, time.Time{}},
		{"fixext4 type 0", "d6 00" + hexU32(sec), false, false, time.Time{}},
		{"ext8 len 12 type 0", "c7 0c 00" + hexU32(sec) + "00000000 00000000", false, false, time.Time{}},
		{"fixext16 type 0", "d8 00" + strings.Repeat("00", 16), false, false, time.Time{}},
		{"ext16 type 0", "c8 0008 00" + hexU32(sec) + "00000000", false, false, time.Time{}},
		{"nil", "c0", false, false, time.Time{}},
		{"true", "c3", false, false, time.Time{}},
		{"str", "a3 313233", false, false, time.Time{}},
		{"bin", "c4 01 31", false, false, time.Time{}},
		{"map", "81 a1 61 01", false, false, time.Time{}},

		{"group start ext", ext(0xFFFFFFFF, 0), true, false, time.Time{}},
		{"group end ext", ext(0xFFFFFFFE, 0), true, false, time.Time{}},
		{"group start ext nsec ignored", ext(0xFFFFFFFF, 7), true, false, time.Time{}},
		{"group start ext8", "c7 08 00 ffffffff 00000000", true, false, time.Time{}},
		{"group start uint32", "ce ffffffff", true, false, time.Time{}},
		{"group end uint64", "cf 00000000 fffffffe", true, false, time.Time{}},
		{"group start negative fixint", "ff", true, false, time.Time{}},
		{"group end negative fixint", "fe", true, false, time.Time{}},
		{"group start int8", "d0 ff", true, false, time.Time{}},
		{"group end int32", "d2 fffffffe", true, false, time.Time{}},
	}
	body := hostBody("1.2.3.4")
	meta := hx(t, "81 a1 6b a1 76") // {"k":"v"}
	for _, tc := range tests {
		ts := hx(t, tc.ts)
		shapes := []struct {
			name     string
			data     []byte
			wantMeta []byte
		}{
			{"legacy", cat([]byte{0x92}, ts, body), nil},
			{"v2", cat([]byte{0x92, 0x92}, ts, meta, body), meta},
		}
		for _, sh := range shapes {
			t.Run(tc.name+"/"+sh.name, func(t *testing.T) {
				evs, st := readAll(sh.data)
				wantStats := Stats{Records: 1}
				if tc.group {
					wantStats = Stats{Groups: 1}
				}
				if st != wantStats {
					t.Fatalf("Stats() = %+v, want %+v", st, wantStats)
				}
				if tc.group {
					return
				}
				ev := evs[0]
				if ev.HasTime != tc.hasTime || !ev.Time.Equal(tc.want) {
					t.Errorf("event time = (%v, HasTime %v), want (%v, %v)", ev.Time, ev.HasTime, tc.want, tc.hasTime)
				}
				if ev.HasTime && ev.Time.Location() != time.UTC {
					t.Errorf("event time location = %v, want UTC", ev.Time.Location())
				}
				if !bytes.Equal(ev.Body, body) {
					t.Errorf("Body = % x, want % x", ev.Body, body)
				}
				if !bytes.Equal(ev.Meta, sh.wantMeta) || (sh.wantMeta == nil) != (ev.Meta == nil) {
					t.Errorf("Meta = % x, want % x", ev.Meta, sh.wantMeta)
				}
			})
		}
	}
}

func hexU32(v uint32) string {
	const digits = "0123456789abcdef"
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = digits[v&15]
		v >>= 4
	}
	return string(b[:])
}

// TestReaderChunks decodes whole chunks mixing good events, group markers and
// objects that are not events, and checks which records come out.
func TestReaderChunks(t *testing.T) {
	ev := func(host string) []byte { return AppendEventV2(nil, t0, nil, map[string]any{"host": host}) }
	legacy := func(host string) []byte { return AppendEventLegacy(nil, t0, map[string]any{"host": host}) }
	deep := func(depth int, leaf []byte) []byte {
		return cat(bytes.Repeat([]byte{0x91}, depth), leaf)
	}
	tests := []struct {
		name  string
		data  []byte
		hosts []string
		stats Stats
	}{
		{"nil chunk", nil, nil, Stats{}},
		{"empty chunk", []byte{}, nil, Stats{}},
		{"one v2", ev("a"), []string{"a"}, Stats{Records: 1}},
		{"one legacy", legacy("a"), []string{"a"}, Stats{Records: 1}},
		{"mixed shapes", cat(ev("a"), legacy("b"), ev("c")), []string{"a", "b", "c"}, Stats{Records: 3}},
		{"group around records",
			cat(AppendGroupStart(nil, map[string]any{"schema": "otlp"}, map[string]any{"service": "web"}),
				ev("a"), ev("b"), AppendGroupEnd(nil), ev("c")),
			[]string{"a", "b", "c"}, Stats{Records: 3, Groups: 2}},
		{"only groups", cat(AppendGroupStart(nil, nil, nil), AppendGroupEnd(nil)), nil, Stats{Groups: 2}},
		{"array16 root and header", cat(hx(t, "dc 0002 dc 0002"), AppendTimestampExt(nil, t0), hx(t, "80"), hostBody("a")),
			[]string{"a"}, Stats{Records: 1}},
		{"map16 body", cat(hx(t, "92"), AppendTimestampExt(nil, t0), hx(t, "de 0001 a4"), []byte("host"), hx(t, "a1 61")),
			[]string{"a"}, Stats{Records: 1}},

		{"garbage between events", cat(
			ev("a"),
			AppendStr(nil, "hello"),         // str
			hx(t, "2a"),                     // int
			hx(t, "c0"),                     // nil
			hx(t, "93 01 80 80"),            // array of 3
			hx(t, "91 01"),                  // array of 1
			hostBody("x"),                   // a bare map
			hx(t, "92 01 a3 616263"),        // body is a str
			hx(t, "92 01 90"),               // body is an array
			hx(t, "92 01 c0"),               // body is nil
			hx(t, "92 91 01 80"),            // v2 header of 1
			hx(t, "92 93 01 80 80 80"),      // v2 header of 3
			hx(t, "92 92 01 a1 6d 80"),      // v2 metadata is a str
			hx(t, "92 92 01 c0 80"),         // v2 metadata is nil
			hx(t, "d7 00 0000000000000000"), // a bare timestamp
			ev("b"),
		), []string{"a", "b"}, Stats{Records: 2, Malformed: 14}},
		{"group marker with non-map body", cat(hx(t, "92 92 d7 00 ffffffff 00000000 80 a1 78"), ev("a")),
			[]string{"a"}, Stats{Records: 1, Malformed: 1}},
		{"deeply nested non-event skipped", cat(ev("a"), deep(100000, hx(t, "80")), ev("b")),
			[]string{"a", "b"}, Stats{Records: 2, Malformed: 1}},
		{"deeply nested field", cat(hx(t, "92 01 82 a4"), []byte("host"), hx(t, "a1 61 a1 64"), deep(100000, hx(t, "c0")), ev("b")),
			[]string{"a", "b"}, Stats{Records: 2}},

		{"reserved byte stops", cat(ev("a"), hx(t, "c1"), ev("b")), []string{"a"}, Stats{Records: 1, Malformed: 1}},
		{"reserved byte inside event stops", cat(ev("a"), hx(t, "92 01 81 a1 78 c1"), ev("b")),
			[]string{"a"}, Stats{Records: 1, Malformed: 1}},
		{"truncated tail", cat(ev("a"), ev("b")[:10]), []string{"a"}, Stats{Records: 1, Malformed: 1}},
		{"array32 claims 4G elements", cat(ev("a"), hx(t, "dd ffffffff 01 02"), ev("b")),
			[]string{"a"}, Stats{Records: 1, Malformed: 1}},
		{"map32 claims 2G pairs", cat(ev("a"), hx(t, "92 01 df 80000000"), ev("b")),
			[]string{"a"}, Stats{Records: 1, Malformed: 1}},
		{"str32 claims 4 GiB", cat(ev("a"), hx(t, "92 01 81 a1 78 db ffffffff 00"), ev("b")),
			[]string{"a"}, Stats{Records: 1, Malformed: 1}},
		{"ext32 claims 4 GiB", cat(ev("a"), hx(t, "c9 ffffffff 00"), ev("b")),
			[]string{"a"}, Stats{Records: 1, Malformed: 1}},
		{"lone header byte", hx(t, "92"), nil, Stats{Malformed: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evs, st := readAll(tc.data)
			if st != tc.stats {
				t.Errorf("Stats() = %+v, want %+v", st, tc.stats)
			}
			var hosts []string
			for i, ev := range evs {
				v, ok := Lookup(ev.Body, Path{"host"})
				if !ok {
					t.Errorf("event %d: Lookup(host) failed in body % x", i, ev.Body)
					continue
				}
				hosts = append(hosts, string(v.Str))
			}
			if strings.Join(hosts, ",") != strings.Join(tc.hosts, ",") {
				t.Errorf("hosts = %q, want %q", hosts, tc.hosts)
			}
		})
	}
}

// TestReaderTruncatedEverywhere cuts a valid chunk at every byte offset: the
// events that end before the cut come out intact, a cut inside an event
// counts one malformed, and nothing panics.
func TestReaderTruncatedEverywhere(t *testing.T) {
	parts := [][]byte{
		AppendEventV2(nil, t0, map[string]any{"trace": "abc"}, map[string]any{"host": "a", "n": 1, "req": map[string]any{"path": "/x"}}),
		AppendGroupStart(nil, nil, map[string]any{"svc": "web"}),
		AppendEventLegacy(nil, t0.Add(time.Second), map[string]any{"host": "b", "f": 1.5, "bin": []byte{1, 2}}),
		AppendEventLegacy(nil, uint64(t0.Unix()), map[string]any{"host": "c", "big": strings.Repeat("x", 300)}),
		AppendGroupEnd(nil),
		AppendEventV2(nil, t0.Add(2*time.Second), nil, map[string]any{"host": "d", "arr": []any{1, "two", nil}}),
		AppendEventLegacy(nil, float32(1.5), varietyBody()),
		AppendEventLegacy(nil, int64(-1)<<40, map[string]any{"host": "e"}),
		AppendEventV2(nil, t0, nil, map[string]any{"host": "f"}),
	}
	isRecord := []bool{true, false, true, true, false, true, true, true, true}
	full := cat(parts...)
	var ends []int
	n := 0
	for _, p := range parts {
		n += len(p)
		ends = append(ends, n)
	}
	for cut := 0; cut <= len(full); cut++ {
		data := full[:cut:cut]
		evs, st := readAll(data)
		var want Stats
		var wantBodies [][]byte
		start := 0
		for i, end := range ends {
			if end > cut {
				if start < cut {
					want.Malformed = 1
				}
				break
			}
			if isRecord[i] {
				want.Records++
				_, bodyStart := bodyOffset(t, parts[i])
				wantBodies = append(wantBodies, parts[i][bodyStart:])
			} else {
				want.Groups++
			}
			start = end
		}
		if st != want {
			t.Fatalf("cut %d: Stats() = %+v, want %+v", cut, st, want)
		}
		for i, ev := range evs {
			if !bytes.Equal(ev.Body, wantBodies[i]) {
				t.Fatalf("cut %d: event %d Body = % x, want % x", cut, i, ev.Body, wantBodies[i])
			}
		}
	}
}

// varietyBody returns a body using every msgpack encoding.
func varietyBody() map[string]any {
	return map[string]any{
		"host": "v", "i8": -100, "i16": -1000, "i32": -100000, "i64": int64(-1) << 40,
		"u8": 200, "u16": 1000, "u32": 1000000, "u64": uint64(1) << 40,
		"f32": float32(1), "f64": 2.5, "t": true, "n": nil,
		"s8": strings.Repeat("s", 40), "s16": strings.Repeat("s", 300),
		"b16": make([]byte, 300), "a16": make([]any, 16), "m16": manyKeys(16),
		"x1":   Value{Kind: KindExt, Raw: AppendExt(nil, 1, []byte{1})},
		"x2":   Value{Kind: KindExt, Raw: AppendExt(nil, 1, []byte{1, 2})},
		"x4":   Value{Kind: KindExt, Raw: AppendExt(nil, 1, []byte{1, 2, 3, 4})},
		"x16":  Value{Kind: KindExt, Raw: AppendExt(nil, 1, make([]byte, 16))},
		"xe8":  Value{Kind: KindExt, Raw: AppendExt(nil, 1, make([]byte, 3))},
		"xe16": Value{Kind: KindExt, Raw: AppendExt(nil, 1, make([]byte, 300))},
	}
}

// TestLookupTruncatedEverywhere looks up every field of a body cut at every
// byte offset: a lookup succeeds only if the value lies wholly before the
// cut, and returns the same value as on the whole body.
func TestLookupTruncatedEverywhere(t *testing.T) {
	full := AppendValue(nil, varietyBody())
	keys := slices.Sorted(maps.Keys(varietyBody()))
	for cut := 0; cut <= len(full); cut++ {
		data := full[:cut:cut]
		for _, k := range keys {
			v, ok := Lookup(data, Path{k})
			if !ok {
				continue
			}
			w, _ := Lookup(full, Path{k})
			if !bytes.Equal(v.Raw, w.Raw) || v.Kind != w.Kind || v.Int != w.Int || v.Uint != w.Uint || v.Float != w.Float {
				t.Fatalf("cut %d: Lookup(%s) = %+v, on the whole body %+v", cut, k, v, w)
			}
		}
	}
	for _, k := range keys {
		if _, ok := Lookup(full, Path{k}); !ok {
			t.Errorf("Lookup(%s) on the whole body failed", k)
		}
	}
}

// bodyOffset returns the offset of the body in a single encoded event: the
// second element of the root array.
func bodyOffset(t *testing.T, ev []byte) (int, int) {
	t.Helper()
	_, first, ok := containerLen(ev, 0, false)
	if !ok {
		t.Fatalf("not an array: % x", ev)
	}
	body, ok := skip(ev, first)
	if !ok {
		t.Fatalf("bad first element: % x", ev)
	}
	return first, body
}

// TestReaderHugeFields reads records with 1 MiB str and bin fields and the
// str8/str16/str32 boundaries around them.
func TestReaderHugeFields(t *testing.T) {
	mib := strings.Repeat("a", 1<<20)
	tests := []struct {
		name  string
		value any
		n     int
	}{
		{"str 31", strings.Repeat("s", 31), 31},
		{"str 255", strings.Repeat("s", 255), 255},
		{"str 256", strings.Repeat("s", 256), 256},
		{"str 65535", strings.Repeat("s", 65535), 65535},
		{"str 65536", strings.Repeat("s", 65536), 65536},
		{"str 1 MiB", mib, 1 << 20},
		{"bin 1 MiB", []byte(mib), 1 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := cat(
				AppendEventV2(nil, t0, nil, map[string]any{"agent": tc.value, "host": "h"}),
				AppendEventLegacy(nil, t0, map[string]any{"host": "after"}),
			)
			evs, st := readAll(data)
			if st != (Stats{Records: 2}) || len(evs) != 2 {
				t.Fatalf("Stats() = %+v, want 2 records", st)
			}
			v, ok := Lookup(evs[0].Body, Path{"agent"})
			if !ok || v.Kind != KindStr || len(v.Str) != tc.n {
				t.Errorf("Lookup(agent) = (%v, len %d, %v), want (str, len %d, true)", v.Kind, len(v.Str), ok, tc.n)
			}
			for i, want := range []string{"h", "after"} {
				v, ok := Lookup(evs[i].Body, Path{"host"})
				if !ok || string(v.Str) != want {
					t.Errorf("event %d: Lookup(host) = (%q, %v), want (%q, true)", i, v.Str, ok, want)
				}
			}
		})
	}
}

// TestReaderReset checks the zero Reader, reuse after Reset, and that a
// returned Body cannot be appended into the rest of the chunk.
func TestReaderReset(t *testing.T) {
	var r Reader
	if _, ok := r.Next(); ok {
		t.Fatal("zero Reader: Next() = true, want false")
	}
	if st := r.Stats(); st != (Stats{}) {
		t.Fatalf("zero Reader: Stats() = %+v, want zero", st)
	}
	one := cat(apacheChunk(2), hx(t, "c0"))
	r.Reset(one)
	for range 3 {
		r.Next()
	}
	if st := r.Stats(); st != (Stats{Records: 2, Malformed: 1}) {
		t.Fatalf("first chunk: Stats() = %+v, want 2 records, 1 malformed", st)
	}
	if _, ok := r.Next(); ok {
		t.Fatal("exhausted Reader: Next() = true, want false")
	}
	two := apacheChunk(1)
	r.Reset(two)
	ev, ok := r.Next()
	if !ok {
		t.Fatal("after Reset: Next() = false, want true")
	}
	if st := r.Stats(); st != (Stats{Records: 1}) {
		t.Fatalf("after Reset: Stats() = %+v, want 1 record", st)
	}
	if cap(ev.Body) != len(ev.Body) || cap(ev.Meta) != len(ev.Meta) {
		t.Errorf("Body/Meta cap = %d/%d, want their lengths %d/%d", cap(ev.Body), cap(ev.Meta), len(ev.Body), len(ev.Meta))
	}
	if !ev.HasTime || !ev.Time.Equal(t0) {
		t.Errorf("Time = (%v, %v), want (%v, true)", ev.Time, ev.HasTime, t0)
	}
}

// TestReaderFloatFraction checks that float seconds keep their fraction.
func TestReaderFloatFraction(t *testing.T) {
	tests := []struct {
		f    float64
		want time.Time
	}{
		{1714564800.5, time.Unix(1714564800, 500000000)},
		{0.000001, time.Unix(0, 1000)},
		{math.Nextafter(2, 0), time.Unix(1, 999999999)},
	}
	for i, tc := range tests {
		evs, _ := readAll(AppendEventLegacy(nil, tc.f, nil))
		if len(evs) != 1 || !evs[0].HasTime {
			t.Fatalf("case %d: %v: no record with time", i, tc.f)
		}
		if d := evs[0].Time.Sub(tc.want); d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("case %d: Time for %v = %v, want %v", i, tc.f, evs[0].Time, tc.want)
		}
	}
}

// TestNextAllocs proves the decode loop allocates nothing.
func TestNextAllocs(t *testing.T) {
	data := apacheChunk(100)
	host := Path{"host"}
	var r Reader
	n := 0
	allocs := testing.AllocsPerRun(10, func() {
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
	})
	if allocs != 0 {
		t.Errorf("Next+Lookup over 100 records: %v allocs per run, want 0", allocs)
	}
	if n == 0 {
		t.Error("Lookup(host) found nothing")
	}
}
