package detector

import (
	"errors"
	"math"
	"regexp"
	"strconv"
	"strings"
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

func TestLike(t *testing.T) {
	tests := []struct {
		s, pat string
		want   bool
	}{
		{"", "", true},
		{"a", "", false},
		{"", "%", true},
		{"", "%%", true},
		{"", "_", false},
		{"abc", "%", true},
		{"abc", "abc", true},
		{"abc", "ab", false},
		{"abc", "abcd", false},
		{"abc", "a%", true},
		{"abc", "%c", true},
		{"abc", "%b%", true},
		{"abc", "%d%", false},
		{"abc", "a_c", true},
		{"abc", "___", true},
		{"abc", "____", false},
		{"abc", "__", false},
		{"abc", "_%_", true},
		{"ac", "a%%c", true},
		{"aaab", "%aab", true}, // needs backtracking
		{"aaab", "%ab%b", false},
		{"abcabcabd", "%abd", true},
		{"abcabcabd", "a%c%d", true},
		{"abcabcabd", "a%c%e", false},
		{"/wp-login.php", "/wp-%.php", true},
		{"/wp-login.php", "/wp-%.PHP", false},
		{"a.b", "a.b", true},
		{"axb", "a.b", false}, // no regexp meaning
		{"a*b", "a*b", true},
		{"héllo", "h_llo", true}, // _ is one character, not one byte
		{"héllo", "h__llo", false},
		{"日本語", "___", true},
		{"日本語", "%本%", true},
		{"\xff\xfe", "__", true}, // invalid UTF-8: one byte each
		{"50%", "50%", true},
		{"5", "5%", true},
		{"a_b", "a_b", true},
	}
	for _, tt := range tests {
		if got := like([]byte(tt.s), tt.pat); got != tt.want {
			t.Errorf("like(%q, %q) = %v, want %v", tt.s, tt.pat, got, tt.want)
		}
		// The specialised forms of likeNode agree with like.
		body := chunk.AppendValue(nil, map[string]any{"f": tt.s})
		src := "f LIKE " + quoteLit(tt.pat)
		if got := mustCond(t, src).Eval(body); got != tt.want {
			t.Errorf("%s on %q = %v, want %v", src, tt.s, got, tt.want)
		}
	}
}

func quoteLit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// TestLikeKinds checks that patterns take the cheap path they should.
func TestLikeKinds(t *testing.T) {
	tests := []struct {
		pat  string
		kind likeKind
		lit  string
	}{
		{"abc", likeExact, "abc"},
		{"", likeExact, ""},
		{"abc%", likePrefix, "abc"},
		{"%abc", likeSuffix, "abc"},
		{"%abc%", likeContains, "abc"},
		{"%%abc%%", likeContains, "abc"},
		{"%", likeContains, ""},
		{"a%c", likeGeneral, ""},
		{"a_c", likeGeneral, ""},
		{"_%", likeGeneral, ""},
	}
	for _, tt := range tests {
		n := newLikeNode(chunk.Path{"f"}, tt.pat, false)
		if n.kind != tt.kind || (tt.kind != likeGeneral && n.lit != tt.lit) {
			t.Errorf("newLikeNode(%q) = kind %d lit %q, want kind %d lit %q", tt.pat, n.kind, n.lit, tt.kind, tt.lit)
		}
	}
}

func TestParseNumber(t *testing.T) {
	tests := []struct {
		in   string
		ok   bool
		kind numKind
		i    int64
	}{
		{"0", true, numInt, 0},
		{"404", true, numInt, 404},
		{"+404", true, numInt, 404},
		{"-404", true, numInt, -404},
		{"007", true, numInt, 7},
		{"9223372036854775807", true, numInt, math.MaxInt64},
		{"-9223372036854775808", true, numInt, math.MinInt64},
		{"9223372036854775808", true, numBig, 0},
		{"-9223372036854775809", true, numFloat, 0},
		{"99999999999999999999999", true, numFloat, 0},
		{"1.5", true, numFloat, 0},
		{".5", true, numFloat, 0},
		{"5.", true, numFloat, 0},
		{"1e3", true, numFloat, 0},
		{"1E-3", true, numFloat, 0},
		{"1e+400", true, numFloat, 0},
		{"", false, 0, 0},
		{"-", false, 0, 0},
		{".", false, 0, 0},
		{"1e", false, 0, 0},
		{"1e+", false, 0, 0},
		{"e3", false, 0, 0},
		{" 1", false, 0, 0},
		{"1 ", false, 0, 0},
		{"0x1f", false, 0, 0},
		{"1_000", false, 0, 0},
		{"NaN", false, 0, 0},
		{"Inf", false, 0, 0},
		{"--1", false, 0, 0},
		{"1.2.3", false, 0, 0},
	}
	for _, tt := range tests {
		n, ok := parseNumber([]byte(tt.in))
		if ok != tt.ok || (ok && n.kind != tt.kind) || (ok && n.kind == numInt && n.i != tt.i) {
			t.Errorf("parseNumber(%q) = %+v, %v; want kind %d i %d, %v", tt.in, n, ok, tt.kind, tt.i, tt.ok)
			continue
		}
		if ok && n.kind == numFloat {
			want, _ := strconv.ParseFloat(tt.in, 64)
			if n.f != want {
				t.Errorf("parseNumber(%q) = %v, want %v", tt.in, n.f, want)
			}
		}
	}
	// Floats agree with strconv on the fast and the slow path.
	for _, s := range []string{"0.1", "0.3", "123.456", "1e22", "1e23", "9007199254740993.5", "4.9e-324", "1e-400",
		"2.2250738585072014e-308", "1.7976931348623157e308", "0.000000000000000000000000000001", "-0.0", "12345678901234567890.5"} {
		n, ok := parseNumber([]byte(s))
		want, _ := strconv.ParseFloat(s, 64)
		if !ok || n.float() != want || math.Signbit(n.float()) != math.Signbit(want) {
			t.Errorf("parseNumber(%q) = %v, %v; want %v", s, n.float(), ok, want)
		}
	}
}

func TestCompareNumbers(t *testing.T) {
	i := func(v int64) number { return number{kind: numInt, i: v} }
	u := func(v uint64) number { return number{kind: numBig, u: v} }
	f := func(v float64) number { return number{kind: numFloat, f: v} }
	tests := []struct {
		a, b number
		c    int
		ok   bool
	}{
		{i(1), i(2), -1, true},
		{i(2), i(2), 0, true},
		{i(math.MaxInt64), i(math.MaxInt64 - 1), 1, true}, // exact beyond 2^53
		{u(1 << 63), i(math.MaxInt64), 1, true},
		{i(-1), u(1 << 63), -1, true},
		{u(1<<63 + 1), u(1 << 63), 1, true},
		{i(2), f(2.5), -1, true},
		{f(-0.0), i(0), 0, true},
		{f(math.NaN()), i(0), 0, false},
		{i(0), f(math.NaN()), 0, false},
		{f(math.Inf(1)), u(math.MaxUint64), 1, true},
	}
	for _, tt := range tests {
		if c, ok := compareNumbers(tt.a, tt.b); c != tt.c || ok != tt.ok {
			t.Errorf("compareNumbers(%+v, %+v) = %d, %v; want %d, %v", tt.a, tt.b, c, ok, tt.c, tt.ok)
		}
	}
}

func TestCondNaNField(t *testing.T) {
	body := chunk.AppendValue(nil, map[string]any{"f": math.NaN()})
	for _, src := range []string{"f = 1", "f != 1", "f < 1", "f IN (1)"} {
		if got := evalTri(mustCond(t, src), body); got != triUnknown {
			t.Errorf("%s with f NaN: %v, want unknown", src, got)
		}
	}
}

func TestCondString(t *testing.T) {
	tests := []struct{ src, want string }{
		{"auth = 'failed'", "auth = 'failed'"},
		{"a<>1", "a != 1"},
		{"a = \"it's\"", "a = 'it''s'"},
		{"not a = 1 and b = 2 or c = 3", "NOT a = 1 AND b = 2 OR c = 3"},
		{"a = 1 AND (b = 2 OR c = 3)", "a = 1 AND (b = 2 OR c = 3)"},
		{"(a = 1 AND b = 2) AND c = 3", "(a = 1 AND b = 2) AND c = 3"},
		{"((a = 1))", "a = 1"},
		{"NOT (a = 1 OR b = 2)", "NOT (a = 1 OR b = 2)"},
		{"1 < a", "a > 1"},
		{"'x' = a", "a = 'x'"},
		{"a in (1,'b', true)", "a IN (1, 'b', TRUE)"},
		{"a not in (-1.50)", "a NOT IN (-1.50)"},
		{"a is not null", "a IS NOT NULL"},
		{"a Like '%x' and b not regexp '^y'", "a LIKE '%x' AND b NOT REGEXP '^y'"},
		{"request.path = 'x'", "request.path = 'x'"},
		{"$request['path'] = 'x'", "request.path = 'x'"},
		{"$a.b = 1", "$a.b = 1"},
		{"$k['x-y'] = 1", "$k['x-y'] = 1"},
		{"$count = 1", "$count = 1"},
		{"$in = 1", "$in = 1"},
		{"tags[0] = 1", "tags.0 = 1"},
		{"a = 1 // comment", "a = 1"},
		{"", ""},
	}
	for _, tt := range tests {
		c := mustCond(t, tt.src)
		if got := c.String(); got != tt.want {
			t.Errorf("CompileCond(%q).String() = %q, want %q", tt.src, got, tt.want)
		}
		if again := mustCond(t, c.String()).String(); again != c.String() {
			t.Errorf("String of %q does not re-parse to itself: %q then %q", tt.src, c.String(), again)
		}
	}
}

func TestCompileCondErrors(t *testing.T) {
	tests := []struct {
		src       string
		line, col int
		msg       string
	}{
		{"auth = 'failed", 1, 8, "unterminated string"},
		{"auth =", 1, 7, "unexpected end of input, want a string, number"},
		{"auth", 1, 5, "after field auth, want a comparison"},
		{"= 1", 1, 1, "unexpected '=', want a field"},
		{"a = b", 1, 5, "comparing two fields is not supported"},
		{"1 = 2", 1, 5, "unexpected number 2, want a field"},
		{"a = NULL", 1, 5, "use IS NULL"},
		{"a IS 1", 1, 6, "want NULL after IS"},
		{"a IS NOT", 1, 9, "want NULL after IS"},
		{"a BETWEEN 1 AND 2", 1, 3, "unsupported BETWEEN"},
		{"a NOT BETWEEN 1 AND 2", 1, 7, "unsupported BETWEEN"},
		{"a NOT = 1", 1, 7, "after NOT, want LIKE, REGEXP or IN"},
		{"a IN ()", 1, 7, "in IN list"},
		{"a IN (1, b)", 1, 10, "unexpected b in IN list"},
		{"a IN (1", 1, 8, "want ',' or ')'"},
		{"a IN 1", 1, 6, "want '(' after IN"},
		{"a LIKE 1", 1, 8, "want a string pattern after LIKE"},
		{"a REGEXP '('", 1, 10, "invalid regular expression"},
		{"a < TRUE", 1, 5, "< on a boolean"},
		{"(a = 1", 1, 7, "want ')'"},
		{"a = 1)", 1, 6, "unexpected ')' after the condition"},
		{"a = 1 b = 2", 1, 7, "unexpected b after the condition"},
		{"a = 1 AND", 1, 10, "unexpected end of input"},
		{"a == 1", 1, 4, "unexpected '='"},
		{"a = 1 & b = 2", 1, 7, "unexpected character '&'"},
		{"AND a = 1", 1, 1, "unexpected keyword AND"},
		{"in = 1", 1, 1, "write $in"},
		{"a = 1e999", 1, 5, "out of range"},
		{"a = 1 /* open", 1, 7, "unterminated comment"},
		{"a['x = 1", 1, 2, "unterminated '['"},
		{"a[x] = 1", 1, 1, "field a[x]"},
		{"$ = 1", 1, 1, "no key after '$'"},
		// Positions on later lines count characters, not bytes.
		{"a = 1 AND\n  b = 2 AND\n  é = 3", 3, 3, "unexpected character 'é'"},
		{"a = 'é'\n\t AND c ~ 3", 2, 9, "unexpected character '~'"},
		{"a = 1 OR\r\nb", 2, 2, "after field b"},
	}
	for _, tt := range tests {
		_, err := CompileCond(tt.src)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("CompileCond(%q) error = %v, want a *SyntaxError", tt.src, err)
			continue
		}
		if se.Line != tt.line || se.Column != tt.col || !strings.Contains(se.Msg, tt.msg) || se.What != "where" {
			t.Errorf("CompileCond(%q) = line %d column %d %q, want line %d column %d containing %q", tt.src, se.Line, se.Column, se.Msg, tt.line, tt.col, tt.msg)
		}
		if !strings.HasPrefix(err.Error(), "detector: where "+strconv.Quote(tt.src)+" line ") {
			t.Errorf("CompileCond(%q) error %q does not quote the condition", tt.src, err)
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

// TestRegexpIsRE2: REGEXP uses Go syntax and is compiled once.
func TestRegexpIsRE2(t *testing.T) {
	c := mustCond(t, "agent REGEXP '(?i)SQLMAP'")
	n, ok := c.root.(*regexpNode)
	if !ok || n.re.String() != regexp.MustCompile("(?i)SQLMAP").String() {
		t.Fatalf("root = %#v, want a regexpNode", c.root)
	}
	if !c.Eval(chunk.AppendValue(nil, condRecord)) {
		t.Errorf("(?i)SQLMAP does not match %q", condRecord["agent"])
	}
}

// TestRegexpLiterals checks the substring fast path of REGEXP: which
// patterns take it, and that it agrees with the regexp on every input.
func TestRegexpLiterals(t *testing.T) {
	tests := []struct {
		pat  string
		lits string // the literal set joined by |; "-" for none, "*" for some
	}{
		{"sqlmap|nikto", "sqlmap|nikto"},
		{"(sqlmap|nikto)", "sqlmap|nikto"},
		{"sqlmap|sqlninja", "sqlmap|sqlninja"}, // the parser factors a common prefix
		{"wp-(login|admin)\\.php", "wp-login.php|wp-admin.php"},
		{"x[abc]", "xa|xb|xc"},
		{"ab{2}", "abb"},
		{"", ""},
		{"a|", "a|"},
		{"^sqlmap", "-"},
		{"sqlmap$", "-"},
		{"(?i)sqlmap", "-"},
		{"a.c", "-"},
		{"a?", "-"},
		{"a+", "-"},
		{"[a-z]x", "*"}, // 26 literals: fine; a wider product: no
		{"[a-z][a-z]", "-"},
		{"\\bword", "-"},
		{"\uFFFD", "-"},
	}
	inputs := []string{"", "a", "abb", "sqlmap/1.7", "Nikto", "xx-nikto", "sqlninja", "/wp-login.php", "/wp-admin.php?x",
		"xb", "xd", "word", "a word", "\xff", "héllo", "ab", "aab"}
	for _, tt := range tests {
		c := mustCond(t, "f REGEXP "+quoteLit(tt.pat))
		n := c.root.(*regexpNode)
		got := "-"
		if n.lits != nil {
			got = strings.Join(n.lits, "|")
		}
		if tt.lits == "*" && got == "-" || tt.lits != "*" && got != tt.lits {
			t.Errorf("REGEXP %q: literal set %q, want %q", tt.pat, got, tt.lits)
		}
		for _, in := range inputs {
			if got, want := n.match([]byte(in)), n.re.MatchString(in); got != want {
				t.Errorf("REGEXP %q on %q: fast path %v, regexp %v", tt.pat, in, got, want)
			}
		}
	}
}

func FuzzRegexpLiterals(f *testing.F) {
	f.Add("sqlmap|nikto", "xx-sqlmap")
	f.Add("wp-(login|admin)\\.php", "/wp-login.php")
	f.Add("[ab]c|d", "\xffd")
	f.Fuzz(func(t *testing.T, pat, in string) {
		re, err := regexp.Compile(pat)
		if err != nil {
			return
		}
		n := newRegexpNode(chunk.Path{"f"}, re, false)
		if got, want := n.match([]byte(in)), re.MatchString(in); got != want {
			t.Fatalf("REGEXP %q (literals %q) on %q: fast path %v, regexp %v", pat, n.lits, in, got, want)
		}
	})
}

// TestRegexpLiteralsBounded: a huge repetition leaves the literal search
// quickly instead of building megabytes of literals.
func TestRegexpLiteralsBounded(t *testing.T) {
	for _, pat := range []string{"(a{1000}){1000}", "((((((((((a{2}){2}){2}){2}){2}){2}){2}){2}){2}){2}){2}", "[a-z]{2}"} {
		re, err := regexp.Compile(pat)
		if err != nil {
			continue // too large for this Go version's regexp
		}
		if n := newRegexpNode(chunk.Path{"f"}, re, false); n.lits != nil {
			t.Errorf("REGEXP %q: %d literals of length %d, want none", pat, len(n.lits), len(n.lits[0]))
		}
	}
}
