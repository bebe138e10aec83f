package chunk

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	tests := []struct {
		in      string
		want    Path
		wantErr string // substring of the error; "" for success
	}{
		{"host", Path{"host"}, ""},
		{"  host\t", Path{"host"}, ""},
		{"$host", Path{"host"}, ""},
		{"request.path", Path{"request", "path"}, ""},
		{"a.b.c", Path{"a", "b", "c"}, ""},
		{"$request.path", Path{"request.path"}, ""},
		{"$kubernetes['labels']['app']", Path{"kubernetes", "labels", "app"}, ""},
		{`$a["b"]`, Path{"a", "b"}, ""},
		{"$a['b.c']", Path{"a", "b.c"}, ""},
		{"$a['it''s']", Path{"a", "it's"}, ""},
		{`$a["say ""hi"""]`, Path{"a", `say "hi"`}, ""},
		{`$a['"']`, Path{"a", `"`}, ""},
		{"$a['']", Path{"a", ""}, ""},
		{"$a['b]']", Path{"a", "b]"}, ""},
		{"$a[0]", Path{"a", "0"}, ""},
		{"$a['b'][12]['c']", Path{"a", "b", "12", "c"}, ""},
		{"log.req['x y']", Path{"log", "req", "x y"}, ""},
		{"$$a", Path{"$a"}, ""},

		{"", nil, "empty"},
		{"   ", nil, "empty"},
		{"$", nil, "no key after '$'"},
		{"$['a']", nil, "no key after '$'"},
		{"['a']", nil, "no key before '['"},
		{"a..b", nil, "empty key between dots"},
		{".a", nil, "empty key between dots"},
		{"a.", nil, "empty key between dots"},
		{"$a[", nil, "unbalanced '['"},
		{"$a['b'", nil, "missing ']'"},
		{"$a['b", nil, "unterminated quote"},
		{"$a['b']c", nil, "unexpected 'c' at offset 7"},
		{"$a['b'] ['c']", nil, "unexpected ' ' at offset 7"},
		{"$a[b]", nil, `index "b" is not a quoted key or a number`},
		{"$a[]", nil, `index "" is not`},
		{"$a[-1]", nil, `index "-1" is not`},
		{"$a['b']]", nil, "unexpected ']'"},
	}
	for _, tc := range tests {
		got, err := ParsePath(tc.in)
		if tc.wantErr != "" {
			if err == nil {
				t.Errorf("ParsePath(%q) = %q, want error containing %q", tc.in, got, tc.wantErr)
				continue
			}
			if !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), tc.in) {
				t.Errorf("ParsePath(%q) error = %q, want it to contain %q and the input", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParsePath(%q) = (%q, %v), want (%q, nil)", tc.in, got, err, tc.want)
		}
	}
}

func TestPathString(t *testing.T) {
	tests := []struct {
		p    Path
		want string
	}{
		{nil, ""},
		{Path{"host"}, "$host"},
		{Path{"a", "b"}, "$a['b']"},
		{Path{"a", "it's"}, "$a['it''s']"},
	}
	for _, tc := range tests {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("%q.String() = %q, want %q", []string(tc.p), got, tc.want)
			continue
		}
		if tc.p == nil {
			continue
		}
		back, err := ParsePath(tc.want)
		if err != nil || !slices.Equal(back, tc.p) {
			t.Errorf("ParsePath(%q) = (%q, %v), want (%q, nil)", tc.want, back, err, tc.p)
		}
	}
}

func TestLookup(t *testing.T) {
	body := AppendValue(nil, map[string]any{
		"host":  "1.2.3.4",
		"code":  200,
		"neg":   -5,
		"big":   uint64(math.MaxUint64),
		"f":     1.5,
		"f32":   float32(0.25),
		"yes":   true,
		"no":    false,
		"none":  nil,
		"bin":   []byte("xy"),
		"empty": "",
		"req":   map[string]any{"path": "/a", "hdr": map[string]any{"ua": "curl"}},
		"arr":   []any{"zero", map[string]any{"k": "v"}},
		"t":     t0,
		"0":     "key zero",
		"a.b":   "dotted key",
	})
	type want struct {
		kind Kind
		str  string
		i    int64
		u    uint64
		f    float64
		b    bool
	}
	tests := []struct {
		path string
		ok   bool
		want want
	}{
		{"host", true, want{kind: KindStr, str: "1.2.3.4"}},
		{"code", true, want{kind: KindUint, u: 200}},
		{"neg", true, want{kind: KindInt, i: -5}},
		{"big", true, want{kind: KindUint, u: math.MaxUint64}},
		{"f", true, want{kind: KindFloat, f: 1.5}},
		{"f32", true, want{kind: KindFloat, f: 0.25}},
		{"yes", true, want{kind: KindBool, b: true}},
		{"no", true, want{kind: KindBool}},
		{"none", true, want{kind: KindNil}},
		{"bin", true, want{kind: KindStr, str: "xy"}},
		{"empty", true, want{kind: KindStr, str: ""}},
		{"req.path", true, want{kind: KindStr, str: "/a"}},
		{"$req['hdr']['ua']", true, want{kind: KindStr, str: "curl"}},
		{"req.hdr", true, want{kind: KindMap, i: 1}},
		{"req", true, want{kind: KindMap, i: 2}},
		{"arr", true, want{kind: KindArray, i: 2}},
		{"$arr[0]", true, want{kind: KindStr, str: "zero"}},
		{"$arr[1]['k']", true, want{kind: KindStr, str: "v"}},
		{"t", true, want{kind: KindExt, i: 0, str: string(AppendTimestampExt(nil, t0)[2:])}},
		{"$0", true, want{kind: KindStr, str: "key zero"}},
		{"$a.b", true, want{kind: KindStr, str: "dotted key"}},

		{"missing", false, want{}},
		{"hos", false, want{}},
		{"hostx", false, want{}},
		{"req.missing", false, want{}},
		{"host.sub", false, want{}},
		{"req.path.deeper", false, want{}},
		{"$arr[2]", false, want{}},
		{"$arr['x']", false, want{}},
		{"$arr[99999999999]", false, want{}},
		{"a.b", false, want{}},
	}
	for _, tc := range tests {
		p, err := ParsePath(tc.path)
		if err != nil {
			t.Fatalf("ParsePath(%q): %v", tc.path, err)
		}
		v, ok := Lookup(body, p)
		if ok != tc.ok {
			t.Errorf("Lookup(%s) ok = %v, want %v", tc.path, ok, tc.ok)
			continue
		}
		if !ok {
			if v.Kind != KindInvalid {
				t.Errorf("Lookup(%s) missing but Kind = %v, want invalid", tc.path, v.Kind)
			}
			continue
		}
		got := want{kind: v.Kind, str: string(v.Str), i: v.Int, u: v.Uint, f: v.Float, b: v.Bool}
		if got != tc.want {
			t.Errorf("Lookup(%s) = %+v, want %+v", tc.path, got, tc.want)
		}
		if end, ok := skip(v.Raw, 0); !ok || end != len(v.Raw) {
			t.Errorf("Lookup(%s).Raw = % x is not exactly one object", tc.path, v.Raw)
		}
	}
}

// TestLookupOddMaps covers keys that are not str, duplicate keys, and bodies
// that are not maps or are broken.
func TestLookupOddMaps(t *testing.T) {
	tests := []struct {
		name string
		body string // hex
		path Path
		ok   bool
		want string
	}{
		{"int key skipped", "82 01 a1 78 a4 686f7374 a1 79", Path{"host"}, true, "y"},
		{"map key skipped", "82 81 a1 61 01 a1 78 a4 686f7374 a1 79", Path{"host"}, true, "y"},
		{"bin key matches", "81 c4 04 686f7374 a1 79", Path{"host"}, true, "y"},
		{"first duplicate wins", "82 a4 686f7374 a1 61 a4 686f7374 a1 62", Path{"host"}, true, "a"},
		{"int key not matched by digits", "81 00 a1 78", Path{"0"}, false, ""},
		{"body is array", "91 a4 686f7374", Path{"host"}, false, ""},
		{"body is str", "a4 686f7374", Path{"host"}, false, ""},
		{"empty body", "", Path{"host"}, false, ""},
		{"truncated value", "81 a4 686f7374 a5 6162", Path{"host"}, false, ""},
		{"truncated before key", "82 a1 61 a1 62", Path{"host"}, false, ""},
		{"reserved byte in skipped value", "82 a1 61 c1 a4 686f7374 a1 79", Path{"host"}, false, ""},
		{"map16 claims too much", "de ffff a4 686f7374 a1 79", Path{"host"}, false, ""},
		{"map32 claims too much", "df ffffffff a4 686f7374 a1 79", Path{"host"}, false, ""},
		{"empty path is the body", "81 a1 61 a1 62", Path{}, true, ""},
	}
	for _, tc := range tests {
		body := hx(t, tc.body)
		v, ok := Lookup(body, tc.path)
		if ok != tc.ok || string(v.Str) != tc.want {
			t.Errorf("%s: Lookup(%q) = (%q, %v), want (%q, %v)", tc.name, []string(tc.path), v.Str, ok, tc.want, tc.ok)
		}
	}
}

func TestValueAsBytes(t *testing.T) {
	tests := []struct {
		v    any
		want []byte
		ok   bool
	}{
		{"abc", []byte("abc"), true},
		{[]byte("abc"), []byte("abc"), true},
		{"", []byte{}, true},
		{7, nil, false},
		{nil, nil, false},
		{[]any{"abc"}, nil, false},
	}
	for _, tc := range tests {
		v, ok := Lookup(AppendValue(nil, tc.v), nil)
		if !ok {
			t.Fatalf("Lookup(%v, nil) failed", tc.v)
		}
		got, ok := v.AsBytes()
		if ok != tc.ok || !bytes.Equal(got, tc.want) {
			t.Errorf("AsBytes() of %#v = (%q, %v), want (%q, %v)", tc.v, got, ok, tc.want, tc.ok)
		}
	}
}

func TestKindString(t *testing.T) {
	tests := []struct {
		k    Kind
		want string
	}{
		{KindInvalid, "invalid"},
		{KindStr, "str"},
		{KindExt, "ext"},
		{Kind(200), "kind(200)"},
	}
	for _, tc := range tests {
		if got := tc.k.String(); got != tc.want {
			t.Errorf("Kind(%d).String() = %q, want %q", tc.k, got, tc.want)
		}
	}
}
