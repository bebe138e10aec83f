package detector

import (
	"regexp"
	"strings"
	"testing"

	"github.com/dosguard/dosguard/chunk"
)

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
