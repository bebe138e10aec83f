package detector

import (
	"errors"
	"testing"

	"github.com/dosguard/dosguard/chunk"
)

// condRecord is the record most condition tests evaluate against. The keys
// are written sorted.
var condRecord = map[string]any{
	"agent":   "sqlmap/1.7.2#stable (https://sqlmap.org)",
	"auth":    "failed",
	"big":     uint64(1<<63 + 5),
	"bot":     true,
	"botstr":  "TRUE",
	"bytes":   uint64(1234),
	"code":    "404", // a parser that left the status as text
	"empty":   "",
	"host":    "192.0.2.1",
	"method":  "POST",
	"neg":     -7,
	"nothing": nil,
	"path":    "/wp-login.php",
	"quote":   "it's",
	"ratio":   0.5,
	"request": map[string]any{
		"path":    "/admin",
		"headers": map[string]any{"x-real-ip": "198.51.100.7"},
	},
	"size":   "-",
	"status": 503, // a parser that typed it
	"tags":   []any{"a", "b"},
	"utf":    "héllo wörld",
	"weird":  []byte("bin\x00ary"),
}

func mustCond(t testing.TB, src string) *Cond {
	t.Helper()
	c, err := CompileCond(src)
	if err != nil {
		t.Fatalf("CompileCond(%q): %v", src, err)
	}
	return c
}

// evalTri evaluates c's tree, telling unknown from false.
func evalTri(c *Cond, body []byte) tri {
	if c.root == nil {
		return triTrue
	}
	return c.root.eval(body)
}

var triNames = [...]string{"false", "true", "unknown"}

func (t tri) String() string { return triNames[t] }

func TestCondEval(t *testing.T) {
	body := chunk.AppendValue(nil, condRecord)
	tests := []struct {
		cond string
		want tri
	}{
		// The article's condition and plain string comparisons.
		{"auth = 'failed'", triTrue},
		{"auth = 'FAILED'", triFalse}, // strings are case-sensitive
		{"auth != 'failed'", triFalse},
		{"auth <> 'ok'", triTrue},
		{"method < 'PUT'", triTrue},
		{"method >= 'POST'", triTrue},
		{"method > 'POST'", triFalse},
		{"empty = ''", triTrue},
		{"quote = 'it''s'", triTrue},
		{`quote = "it's"`, triTrue},
		{"utf = 'héllo wörld'", triTrue},
		{"weird = 'bin\x00ary'", triTrue}, // bin compares like str
		// Numbers: a number literal converts a textual field...
		{"code = 404", triTrue},
		{"code >= 400", triTrue},
		{"code < 404.5", triTrue},
		{"code > 4e2", triTrue},
		{"code = 404.0", triTrue},
		{"code != 404", triFalse},
		// ...and a numeric field converts a textual literal.
		{"status = '503'", triTrue},
		{"status = 503", triTrue},
		{"status >= 500 AND status < 600", triTrue},
		{"status = '5xx'", triUnknown}, // not a number: cannot compare
		{"bytes > 1000", triTrue},
		{"neg < 0", triTrue},
		{"neg = -7", triTrue},
		{"neg > -7.5", triTrue},
		{"ratio = 0.5", triTrue},
		{"ratio < 1", triTrue},
		{"big > 9223372036854775807", triTrue}, // uint64 beyond int64, exact
		{"big = 9223372036854775813", triTrue},
		{"big < 1e30", triTrue},
		{"size > 1000", triUnknown}, // "-" is no number
		{"size = '-'", triTrue},
		// Text literals against textual fields stay strings: "404" < "5".
		{"code < '5'", triTrue},
		{"code = '404.0'", triFalse},
		// Booleans.
		{"bot = TRUE", triTrue},
		{"bot = 'true'", triTrue},
		{"bot != false", triTrue},
		{"botstr = true", triTrue}, // text TRUE converts for a boolean literal
		{"bot = 1", triUnknown},
		{"code = TRUE", triUnknown},
		// Literal first.
		{"400 <= code", triTrue},
		{"'failed' = auth", triTrue},
		{"500 > status", triFalse},
		// Nested fields and record accessors.
		{"request.path = '/admin'", triTrue},
		{"request.headers.x_real_ip IS NULL", triTrue},
		{"$request['headers']['x-real-ip'] = '198.51.100.7'", triTrue},
		{`request["path"] LIKE '/ad%'`, triTrue},
		{"tags.1 = 'b'", triTrue},
		{"$tags[0] = 'a'", triTrue},
		// Maps and arrays never compare with scalars.
		{"request = '/admin'", triUnknown},
		{"tags != 'a'", triUnknown},
		{"tags IS NOT NULL", triTrue},
		// IN lists.
		{"method IN ('POST', 'PUT')", triTrue},
		{"method IN ('GET')", triFalse},
		{"method NOT IN ('GET', 'HEAD')", triTrue},
		{"code IN (301, 302, 404)", triTrue},
		{"status IN ('503')", triTrue},
		{"size IN (1, 2)", triUnknown},   // no element comparable
		{"size IN (1, '-')", triTrue},    // one equal element wins
		{"size IN (1, 'x')", triUnknown}, // false and unknown: unknown
		{"size NOT IN (1, 'x')", triUnknown},
		{"status NOT IN (200, 503)", triFalse},
		// LIKE and REGEXP.
		{"path LIKE '/wp-%'", triTrue},
		{"path NOT LIKE '/wp-%'", triFalse},
		{"path LIKE '%.php'", triTrue},
		{"path LIKE '%login%'", triTrue},
		{"path LIKE '/wp-login.php'", triTrue},
		{"path LIKE '/wp_login.php'", triTrue},
		{"path LIKE '/WP-%'", triFalse},
		{"status LIKE '5%'", triTrue}, // numbers match their text
		{"ratio LIKE '0.5'", triTrue},
		{"bot LIKE 'tr%'", triTrue},
		{"request LIKE '%'", triUnknown},
		{"agent REGEXP 'sqlmap|nikto'", triTrue}, // anywhere in the value
		{"agent REGEXP '^nikto'", triFalse},
		{"agent NOT REGEXP '^Mozilla'", triTrue},
		{"status REGEXP '^5\\d\\d$'", triTrue},
		{`path REGEXP '\.php$'`, triTrue}, // backslashes are plain characters
		// NULL.
		{"missing IS NULL", triTrue},
		{"nothing IS NULL", triTrue},
		{"empty IS NULL", triFalse},
		{"auth IS NOT NULL", triTrue},
		{"missing = 1", triUnknown},
		{"nothing = 'x'", triUnknown},
		{"missing LIKE '%'", triUnknown},
		{"missing REGEXP ''", triUnknown},
		{"missing IN ('a')", triUnknown},
		// Logic.
		{"auth = 'failed' AND code = 404", triTrue},
		{"auth = 'failed' AND code = 200", triFalse},
		{"auth = 'ok' OR code = 404", triTrue},
		{"NOT auth = 'ok'", triTrue},
		{"NOT NOT auth = 'failed'", triTrue},
		{"(auth = 'ok' OR method = 'POST') AND NOT (code = 200)", triTrue},
		{"auth = 'ok' OR method = 'POST' AND code = 200", triFalse}, // AND binds tighter
		{"(auth = 'ok' OR method = 'POST') AND code = 200", triFalse},
		{"auth = 'failed' OR method = 'GET' AND code = 200", triTrue},
		{"", triTrue},
		{"  /* nothing */ ", triTrue},
	}
	for _, tt := range tests {
		c := mustCond(t, tt.cond)
		if got := evalTri(c, body); got != tt.want {
			t.Errorf("%q: got %v, want %v", tt.cond, got, tt.want)
		}
		if got, want := c.Eval(body), tt.want == triTrue; got != want {
			t.Errorf("%q: Eval = %v, want %v", tt.cond, got, want)
		}
	}
}

// TestCondNullLogic walks the three-valued truth tables: u is a comparison
// with a missing field (unknown), T and F are true and false ones.
func TestCondNullLogic(t *testing.T) {
	body := chunk.AppendValue(nil, map[string]any{"x": 1})
	const u, T, F = "missing = 1", "x = 1", "x = 2"
	tests := []struct {
		cond string
		want tri
	}{
		{u, triUnknown},
		{"NOT " + u, triUnknown}, // NOT unknown is unknown: neither x = 1 nor NOT x = 1 counts
		{u + " AND " + T, triUnknown},
		{u + " AND " + F, triFalse},
		{F + " AND " + u, triFalse},
		{u + " OR " + T, triTrue},
		{T + " OR " + u, triTrue},
		{u + " OR " + F, triUnknown},
		{"NOT (" + u + " AND " + F + ")", triTrue},
		{"NOT (" + u + " OR " + F + ")", triUnknown},
		{u + " AND " + u, triUnknown},
		{u + " OR " + u, triUnknown},
		{"missing IS NULL AND " + T, triTrue},
		{"NOT missing IS NULL", triFalse},
		{"missing IS NOT NULL OR " + F, triFalse},
	}
	for _, tt := range tests {
		if got := evalTri(mustCond(t, tt.cond), body); got != tt.want {
			t.Errorf("%q: got %v, want %v", tt.cond, got, tt.want)
		}
	}
}

// TestCondNilAndMalformed: a nil Cond holds for everything, and a body
// that is no map makes every field NULL.
func TestCondNilAndMalformed(t *testing.T) {
	var c *Cond
	if !c.Eval(nil) || c.String() != "" {
		t.Errorf("nil Cond: Eval = %v, String = %q; want true, \"\"", c.Eval(nil), c.String())
	}
	for _, body := range [][]byte{nil, {0xc1}, {0x81, 0xa1, 'x'}, chunk.AppendValue(nil, "str")} {
		if got := evalTri(mustCond(t, "x = 1"), body); got != triUnknown {
			t.Errorf("body %x: x = 1 is %v, want unknown", body, got)
		}
		if !mustCond(t, "x IS NULL").Eval(body) {
			t.Errorf("body %x: x IS NULL is false, want true", body)
		}
	}
}

// apacheBody is an apache2 parser record with an auth field added, the
// shape the benchmarks and the allocation test evaluate.
func apacheBody() []byte {
	return chunk.AppendValue(nil, map[string]any{
		"host":    "203.0.113.9",
		"user":    "-",
		"method":  "POST",
		"path":    "/wp-login.php?redirect_to=%2Fwp-admin%2F",
		"code":    "401",
		"size":    "5123",
		"referer": "https://www.example.com/wp-login.php",
		"agent":   "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
		"auth":    "failed",
		"status":  401,
	})
}

// typicalConds are the conditions benchmarked and checked for allocations,
// with their value on apacheBody.
var typicalConds = []struct {
	name, src string
	want      bool
}{
	{"eq", "auth = 'failed'", true},
	{"num_and_like", "code >= 400 AND path LIKE '/wp-%'", true},
	{"in", "method IN ('POST','PUT')", true},
	{"regexp", "agent REGEXP 'sqlmap|nikto'", false},
	{"regexp_hit", "agent REGEXP 'Chrome/1[0-9]+'", true},
	{"regexp_re2", "agent REGEXP '(?i)sqlmap|nikto'", false}, // no literal fast path
	{"like_general", "path LIKE '/wp-%.php%admin%'", true},
	{"float_text", "size > 5122.5", true},
	{"or_not_null", "NOT auth = 'ok' OR missing IS NULL", true},
}

func TestCondEvalAllocs(t *testing.T) {
	body := apacheBody()
	for _, tc := range typicalConds {
		c := mustCond(t, tc.src)
		if got := c.Eval(body); got != tc.want {
			t.Errorf("%q: Eval = %v, want %v", tc.src, got, tc.want)
		}
		if n := testing.AllocsPerRun(100, func() { c.Eval(body) }); n != 0 {
			t.Errorf("%q: Eval allocates %v times, want 0", tc.src, n)
		}
	}
}

func BenchmarkCondEval(b *testing.B) {
	body := apacheBody()
	for _, tc := range typicalConds {
		b.Run(tc.name, func(b *testing.B) {
			c := mustCond(b, tc.src)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if c.Eval(body) {
					n++
				}
			}
			if tc.want != (n > 0) {
				b.Fatalf("%q matched %d times, want %v", tc.src, n, tc.want)
			}
		})
	}
}

func FuzzCompileCond(f *testing.F) {
	for _, s := range []string{
		"auth = 'failed'",
		"code >= 400 AND path LIKE '/wp-%'",
		"method IN ('POST','PUT')",
		"agent REGEXP 'sqlmap|nikto'",
		"NOT (a = 1 OR b IS NULL) AND $k['x''y'][0] != -1.5e3",
		"request.path NOT LIKE '%_x' OR 1 < status",
		"a = \"q\"\"q\" /* c */ // d",
		"tags.0 NOT IN (TRUE, 'x', 2)",
		"a['x = 1",
		"((((",
	} {
		f.Add(s)
	}
	bodies := [][]byte{
		chunk.AppendValue(nil, condRecord),
		apacheBody(),
		chunk.AppendValue(nil, map[string]any{"a": 1, "b": nil, "k": map[string]any{"x'y": []any{-1500}}}),
		{0x81, 0xa1, 'a'}, // truncated
	}
	f.Fuzz(func(t *testing.T, src string) {
		c, err := CompileCond(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line < 1 || se.Column < 1 || se.Offset < 0 || se.Offset > len(src) {
				t.Fatalf("CompileCond(%q) error %v: want a *SyntaxError with a position", src, err)
			}
			return
		}
		s := c.String()
		c2, err := CompileCond(s)
		if err != nil {
			t.Fatalf("CompileCond(%q).String() = %q does not compile: %v", src, s, err)
		}
		if s2 := c2.String(); s2 != s {
			t.Fatalf("String of %q is not stable: %q then %q", src, s, s2)
		}
		for _, body := range bodies {
			if a, b := evalTri(c, body), evalTri(c2, body); a != b {
				t.Fatalf("%q and its rendering %q differ on %x: %v, %v", src, s, body, a, b)
			}
		}
	})
}
