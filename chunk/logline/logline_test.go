package logline

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ugorji/go/codec"

	"github.com/dosguard/dosguard/chunk"
)

// combined is an Apache combined log line; the tests splice fields into it.
const combined = `192.0.2.7 - alice [21/Nov/2026:10:00:01 +0900] "GET /index.html?q=1 HTTP/1.1" 200 5422 "https://example.com/" "Mozilla/5.0 (X11)"`

// t1 is the time of combined.
var t1 = time.Date(2026, 11, 21, 1, 0, 1, 0, time.UTC)

func TestParse(t *testing.T) {
	big := strings.Repeat("a", 1<<20)
	apacheFields := map[string]any{"host": "192.0.2.7", "user": "alice", "method": "GET", "path": "/index.html?q=1",
		"code": "200", "size": "5422", "referer": "https://example.com/", "agent": "Mozilla/5.0 (X11)"}
	with := func(kv ...string) map[string]any {
		m := map[string]any{}
		for k, v := range apacheFields {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name, format, timeKey, line string
		ok                          bool
		want                        map[string]any // the record's fields
		time                        time.Time      // zero: the line has no usable time
	}{
		// Apache (Fluent Bit's apache2 parser).
		{name: "apache combined", format: "apache2", line: combined, ok: true, want: apacheFields, time: t1},
		{name: "apache combined CRLF", format: "apache2", line: combined + "\r\n", ok: true, want: apacheFields, time: t1},
		{name: "auto picks apache", format: "auto", line: combined, ok: true, want: apacheFields, time: t1},
		{name: "empty format is apache", format: "", line: combined, ok: true, want: apacheFields, time: t1},
		{name: "apache common, no referer and agent", format: "apache2",
			line: `192.0.2.7 - - [21/Nov/2026:10:00:01 +0900] "POST /login HTTP/1.0" 401 -`, ok: true,
			want: map[string]any{"host": "192.0.2.7", "user": "-", "method": "POST", "path": "/login", "code": "401", "size": "-"}, time: t1},
		{name: "apache request without path", format: "apache2",
			line: `192.0.2.7 - - [21/Nov/2026:10:00:01 +0900] "-" 400 0 "-" "-"`, ok: true,
			want: map[string]any{"host": "192.0.2.7", "user": "-", "method": "-", "code": "400", "size": "0", "referer": "-", "agent": "-"}, time: t1},
		{name: "apache bad time is no time", format: "apache2",
			line: strings.Replace(combined, "21/Nov/2026:10:00:01 +0900", "yesterday", 1), ok: true, want: apacheFields},
		{name: "apache time before 1970 is no time", format: "apache2",
			line: strings.Replace(combined, "2026", "1960", 1), ok: true, want: apacheFields},
		{name: "apache time after 2038 is no time", format: "apache2",
			line: strings.Replace(combined, "2026", "2106", 1), ok: true, want: apacheFields},
		{name: "apache last second of 2038 is a time", format: "apache2",
			line: strings.Replace(combined, "21/Nov/2026:10:00:01 +0900", "19/Jan/2038:03:14:07 +0000", 1), ok: true,
			want: apacheFields, time: time.Unix(math.MaxInt32, 0)},
		{name: "apache binary bytes kept verbatim", format: "apache2",
			line: strings.Replace(combined, "192.0.2.7", "\x00\xff\xfe", 1), ok: true, want: with("host", "\x00\xff\xfe"), time: t1},
		{name: "apache huge path", format: "apache2",
			line: strings.Replace(combined, "/index.html?q=1", "/"+big, 1), ok: true, want: with("path", "/"+big), time: t1},
		{name: "apache escaped quote in agent does not match", format: "apache2",
			line: strings.Replace(combined, "(X11)", `\"x\"`, 1)},
		{name: "apache escaped quote in request does not match", format: "apache2",
			line: strings.Replace(combined, "/index.html?q=1", `/a\"b`, 1)},
		{name: "apache trailing text does not match", format: "apache2", line: combined + " extra"},
		{name: "apache missing bracket", format: "apache2", line: strings.Replace(combined, "]", "", 1)},
		{name: "apache unterminated request", format: "apache2", line: `192.0.2.7 - - [21/Nov/2026:10:00:01 +0900] "GET / 200 1`},
		{name: "apache line of another format", format: "apache2", line: `{"host":"192.0.2.7"}`},
		{name: "empty line", format: "auto", line: ""},
		{name: "blank line", format: "apache2", line: " \t\r\n"},
		{name: "binary garbage", format: "auto", line: "\x00\x01\xff\xfe\x80"},

		// nginx (Fluent Bit's nginx parser: no end anchor).
		{name: "nginx", format: "nginx",
			line: `192.0.2.8 example.com bob [21/Nov/2026:10:00:01 +0900] "GET /a HTTP/2.0" 404 12 "-" "curl/8.0" "198.51.100.1"`, ok: true,
			want: map[string]any{"remote": "192.0.2.8", "host": "example.com", "user": "bob", "method": "GET", "path": "/a",
				"code": "404", "size": "12", "referer": "-", "agent": "curl/8.0"}, time: t1},
		{name: "nginx needs referer and agent", format: "nginx",
			line: `192.0.2.8 example.com bob [21/Nov/2026:10:00:01 +0900] "GET /a HTTP/2.0" 404 12`},

		// JSON lines (Fluent Bit's json parser).
		{name: "json RFC 3339", format: "json", line: `{"time":"2026-11-21T01:00:01Z","host":"192.0.2.9","n":3,"f":1.5,"neg":-2,"ok":true,"nil":null}`, ok: true,
			want: map[string]any{"host": "192.0.2.9", "n": int64(3), "f": 1.5, "neg": int64(-2), "ok": true, "nil": nil}, time: t1},
		{name: "auto picks json after blanks", format: "auto", line: `  {"time":"2026-11-21T10:00:01+0900","host":"h"}`, ok: true,
			want: map[string]any{"host": "h"}, time: t1},
		{name: "json space layout", format: "json", line: `{"time":"2026-11-21 01:00:01"}`, ok: true, want: map[string]any{}, time: t1},
		{name: "json CLF layout", format: "json", line: `{"time":"21/Nov/2026:10:00:01 +0900"}`, ok: true, want: map[string]any{}, time: t1},
		{name: "json epoch seconds", format: "json", line: `{"time":1795222801}`, ok: true, want: map[string]any{}, time: t1},
		{name: "json epoch float", format: "json", line: `{"time":1795222801.25}`, ok: true, want: map[string]any{}, time: t1.Add(250 * time.Millisecond)},
		{name: "json time key", format: "json", timeKey: "ts", line: `{"ts":"2026-11-21T01:00:01Z","time":"x"}`, ok: true,
			want: map[string]any{"time": "x"}, time: t1},
		{name: "json unusable time stays in the record", format: "json", line: `{"time":"soon","a":1}`, ok: true,
			want: map[string]any{"time": "soon", "a": int64(1)}},
		{name: "json zero epoch is no time", format: "json", line: `{"time":0}`, ok: true, want: map[string]any{"time": int64(0)}},
		{name: "json epoch after 2038 is no time", format: "json", line: `{"time":4294967396}`, ok: true, want: map[string]any{"time": int64(4294967396)}},
		{name: "json huge epoch is no time", format: "json", line: `{"time":1e300}`, ok: true, want: map[string]any{"time": 1e300}},
		{name: "json year 1 is no time", format: "json", line: `{"time":"0001-01-01T00:00:00Z"}`, ok: true, want: map[string]any{"time": "0001-01-01T00:00:00Z"}},
		{name: "json nested", format: "json", line: `{"req":{"path":"/x","h":["a",1]},"e":{}}`, ok: true,
			want: map[string]any{"req": map[string]any{"path": "/x", "h": []any{"a", int64(1)}}, "e": map[string]any{}}},
		{name: "json big numbers", format: "json", line: `{"u":18446744073709551615,"i":-9223372036854775808,"inf":1e400}`, ok: true,
			want: map[string]any{"u": 1.8446744073709552e19, "i": int64(math.MinInt64), "inf": math.Inf(1)}},
		{name: "json escapes", format: "json", line: `{"q":"a\"b\\c\n\u00e9\ud83d\ude00","\u0074ab":"\t"}`, ok: true,
			want: map[string]any{"q": "a\"b\\c\né😀", "tab": "\t"}},
		{name: "json invalid UTF-8 and lone surrogate become U+FFFD", format: "json", line: "{\"b\":\"\xff\",\"s\":\"\\ud800\"}", ok: true,
			want: map[string]any{"b": "\ufffd", "s": "\ufffd"}},
		{name: "json huge string", format: "json", line: `{"big":"` + big + `"}`, ok: true, want: map[string]any{"big": big}},
		{name: "json duplicate key: last wins", format: "json", line: `{"a":1,"a":2}`, ok: true, want: map[string]any{"a": int64(2)}},
		{name: "json trailing blanks", format: "json", line: "{\"a\":1} \t", ok: true, want: map[string]any{"a": int64(1)}},
		{name: "json null is not a record", format: "json", line: `null`},
		{name: "json array is not a record", format: "json", line: `[{"a":1}]`},
		{name: "json string is not a record", format: "json", line: `"a"`},
		{name: "json two objects", format: "json", line: `{"a":1}{"b":2}`},
		{name: "json trailing junk", format: "json", line: `{"a":1} junk`},
		{name: "json trailing non-JSON blank", format: "json", line: "{\"a\":1}\u00a0"},
		{name: "json CRLF", format: "json", line: "{\"a\":1}\r\n", ok: true, want: map[string]any{"a": int64(1)}},
		{name: "json truncated", format: "json", line: `{"a":`},
		{name: "json bad escape", format: "json", line: `{"a":"\x"}`},
		{name: "json deep nesting", format: "json", line: strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000)},
		{name: "json binary", format: "json", line: "{\x00}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := Parser{Format: tc.format, TimeKey: tc.timeKey}
			prefix := []byte("prefix")
			out, tm, hasTime, ok := p.Parse(bytes.Clone(prefix), []byte(tc.line))
			if ok != tc.ok {
				t.Fatalf("Parse ok = %v, want %v", ok, tc.ok)
			}
			if !bytes.HasPrefix(out, prefix) {
				t.Fatalf("Parse lost dst: % x", out)
			}
			if !ok {
				if len(out) != len(prefix) || hasTime {
					t.Fatalf("failed Parse appended % x, hasTime %v", out[len(prefix):], hasTime)
				}
				return
			}
			if got := decodeBody(t, out[len(prefix):]); !equalValues(got, tc.want) {
				t.Errorf("record = %s\nwant     %s", short(got), short(tc.want))
			}
			if hasTime != !tc.time.IsZero() || !tm.Equal(tc.time) {
				t.Errorf("time = %v (hasTime %v), want %v", tm, hasTime, tc.time)
			}
		})
	}
}

func TestChunk(t *testing.T) {
	c := Chunk{Parser: Parser{Format: "auto"}}
	for _, l := range []string{combined, "garbage", `{"time":1795222801,"host":"h"}`, `{"time":4294967396}`, ""} {
		c.Add([]byte(l))
	}
	if c.Records() != 3 {
		t.Fatalf("Records() = %d, want 3", c.Records())
	}
	r := chunk.NewReader(c.Bytes())
	want := []struct {
		host    string
		hasTime bool
	}{{"192.0.2.7", true}, {"h", true}, {"", false}}
	for i, w := range want {
		ev, ok := r.Next()
		if !ok {
			t.Fatalf("event %d missing; stats %+v", i, r.Stats())
		}
		if ev.HasTime != w.hasTime || (w.hasTime && !ev.Time.Equal(t1)) {
			t.Errorf("event %d: Time %v HasTime %v, want %v at %v", i, ev.Time, ev.HasTime, w.hasTime, t1)
		}
		v, _ := chunk.Lookup(ev.Body, chunk.Path{"host"})
		if string(v.Str) != w.host {
			t.Errorf("event %d: host %q, want %q", i, v.Str, w.host)
		}
	}
	if _, ok := r.Next(); ok || r.Stats().Malformed != 0 {
		t.Fatalf("chunk has more than 3 well-formed events: stats %+v", r.Stats())
	}
	c.Reset()
	if c.Records() != 0 || len(c.Bytes()) != 0 {
		t.Fatalf("after Reset: Records %d, %d bytes", c.Records(), len(c.Bytes()))
	}
}

func TestCheckFormat(t *testing.T) {
	for _, f := range []string{"auto", "apache2", "nginx", "json"} {
		if err := CheckFormat(f); err != nil {
			t.Errorf("CheckFormat(%q) = %v", f, err)
		}
	}
	for _, f := range []string{"", "apache", "JSON", " json"} {
		if err := CheckFormat(f); err == nil {
			t.Errorf("CheckFormat(%q) = nil, want an error", f)
		}
	}
}

// FuzzParse checks Parse and Chunk.Add on any line, in every format: no
// panic; the same answer twice and whatever dst held; a record that is one
// msgpack map (read by an independent decoder) whose fields are, for the
// regex formats, substrings of the line, and for json, the values
// encoding/json reads from the line; a failed parse only for a line that is
// not exactly one JSON object (json); and a chunk that reads back with the
// very record and time Parse returned.
func FuzzParse(f *testing.F) {
	for _, l := range []string{combined, combined + "\r\n", `1.2.3.4 - - [01/Jan/1960:00:00:00 +0000] "GET / HTTP/1.1" 200 5`,
		`192.0.2.8 h u [21/Nov/2026:10:00:01 +0900] "GET /a HTTP/2.0" 404 12 "-" "c" "x"`,
		`{"time":"2026-11-21T01:00:01Z","host":"h","n":[1,{"a":null}]}`, `{"time":1795222801.5}`, `{"time":1e12}`,
		`null`, `{"a":1} {}`, "{\"b\":\"\xff\\ud800\"}", "\x00\xff"} {
		for format := range uint8(4) {
			f.Add([]byte(l), format, "")
		}
	}
	f.Add([]byte(`{"ts":"2026-11-21 01:00:01"}`), uint8(3), "ts")
	f.Fuzz(func(t *testing.T, line []byte, format uint8, timeKey string) {
		p := Parser{Format: []string{"auto", "apache2", "nginx", "json"}[format%4], TimeKey: timeKey}
		out, tm, hasTime, ok := p.Parse(nil, line)
		out2, tm2, hasTime2, ok2 := p.Parse([]byte{0xc0}, line)
		if ok != ok2 || hasTime != hasTime2 || !tm.Equal(tm2) || !bytes.Equal(out2, append([]byte{0xc0}, out...)) {
			t.Fatalf("Parse is not repeatable: (%v %v %v % x) then (%v %v %v % x)", ok, hasTime, tm, out, ok2, hasTime2, tm2, out2)
		}
		if !ok {
			if len(out) != 0 || hasTime || !tm.IsZero() {
				t.Fatalf("failed Parse returned % x, %v, %v", out, tm, hasTime)
			}
		} else {
			if !hasTime && !tm.IsZero() {
				t.Fatalf("hasTime false but time %v", tm)
			}
			got := decodeBody(t, out)
			trimmed := bytes.TrimSpace(line)
			if p.Format == "json" || (p.Format == "auto" && len(trimmed) > 0 && trimmed[0] == '{') {
				checkJSON(t, line, got, p.TimeKey, hasTime)
			} else {
				for k, v := range got {
					s, isStr := v.(string)
					if !isStr || !bytes.Contains(line, []byte(s)) {
						t.Fatalf("field %q = %#v is not a substring of the line", k, v)
					}
					if k == "time" {
						t.Fatalf("the time is a field: %q", s)
					}
				}
			}
		}
		if p.Format == "json" && !ok {
			var m map[string]any
			if err := json.Unmarshal(line, &m); err == nil && m != nil {
				t.Fatalf("Parse rejected a JSON object")
			}
		}
		c := Chunk{Parser: p}
		if c.Add(line) != ok {
			t.Fatalf("Chunk.Add = %v, Parse %v", !ok, ok)
		}
		r := chunk.NewReader(c.Bytes())
		ev, read := r.Next()
		if read != ok {
			t.Fatalf("chunk of % x read back: %v, stats %+v", c.Bytes(), read, r.Stats())
		}
		if ok && (!bytes.Equal(ev.Body, out) || ev.HasTime != hasTime || !ev.Time.Equal(tm)) {
			t.Fatalf("chunk reads back time %v (hasTime %v) body % x; Parse gave %v (%v) % x", ev.Time, ev.HasTime, ev.Body, tm, hasTime, out)
		}
		if _, more := r.Next(); more || r.Stats().Malformed != 0 {
			t.Fatalf("chunk holds more than the record: stats %+v", r.Stats())
		}
	})
}

// checkJSON compares a json record with what encoding/json reads from line.
func checkJSON(t *testing.T, line []byte, got map[string]any, timeKey string, hasTime bool) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var want map[string]any
	if err := dec.Decode(&want); err != nil || want == nil || !json.Valid(line) {
		t.Fatalf("Parse accepted %q, which is not one JSON object (%v)", line, err)
	}
	if timeKey == "" {
		timeKey = "time"
	}
	if _, in := want[timeKey]; hasTime {
		if !in {
			t.Fatalf("a time without the %q field", timeKey)
		}
		delete(want, timeKey)
	}
	if !equalValues(got, fromJSON(want)) {
		t.Fatalf("record %s, encoding/json reads %s", short(got), short(want))
	}
}

// fromJSON turns json.Numbers into int64 when they fit, else float64.
func fromJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = fromJSON(e)
		}
	case []any:
		for i, e := range v {
			v[i] = fromJSON(e)
		}
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64() // ±Inf when out of range, as Parse writes it
		return f
	}
	return v
}

// msgpack returns the handle of ugorji/go's msgpack decoder, independent of
// package chunk: str decodes to string, maps to map[string]any. It is built
// once, as a handle is costly to set up and safe for concurrent use once
// configured.
var msgpack = sync.OnceValue(func() *codec.MsgpackHandle {
	h := new(codec.MsgpackHandle)
	h.RawToString = true
	h.MapType = reflect.TypeOf(map[string]any(nil))
	h.MaxDepth = math.MaxInt16
	return h
})

// decodeBody decodes a record with the msgpack handle and fails unless it is
// exactly one map with string keys.
func decodeBody(tb testing.TB, body []byte) map[string]any {
	tb.Helper()
	var m map[string]any
	dec := codec.NewDecoderBytes(body, msgpack())
	if err := dec.Decode(&m); err != nil || m == nil || dec.NumBytesRead() != len(body) {
		tb.Fatalf("record % .64x is not one msgpack map: %v (read %d of %d bytes)", body, err, dec.NumBytesRead(), len(body))
	}
	return m
}

// equalValues is reflect.DeepEqual after turning unsigned integers that fit
// into int64, as ugorji decodes them by encoding.
func equalValues(a, b any) bool {
	return reflect.DeepEqual(toInt64(a), toInt64(b))
}

func toInt64(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = toInt64(e)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, e := range v {
			s[i] = toInt64(e)
		}
		return s
	case uint64:
		if v <= math.MaxInt64 {
			return int64(v)
		}
	}
	return v
}

// short formats v for a failure message, cut to a readable length.
func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}
