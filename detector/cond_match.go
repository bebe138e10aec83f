package detector

import (
	"bytes"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dosguard/dosguard/chunk"
)

// The LIKE and REGEXP predicates: each pattern is reduced, when compiled, to
// the cheapest test that gives the same answers (prefix, suffix, substring
// or a set of literals), and matched without allocating.

// likeKind is a LIKE pattern reduced to a cheaper test where possible.
type likeKind uint8

const (
	likeGeneral  likeKind = iota // wildcards anywhere
	likeExact                    // no wildcard
	likePrefix                   // lit%
	likeSuffix                   // %lit
	likeContains                 // %lit%
)

// likeNode is field [NOT] LIKE 'pattern'.
type likeNode struct {
	path chunk.Path
	pat  string
	kind likeKind
	lit  string // the pattern without its wildcards, for the cheap kinds
	neg  bool
}

func newLikeNode(path chunk.Path, pat string, neg bool) *likeNode {
	n := &likeNode{path: path, pat: pat, neg: neg}
	inner := strings.Trim(pat, "%")
	if strings.ContainsAny(inner, "%_") {
		return n
	}
	n.lit = inner
	pre, suf := strings.HasPrefix(pat, "%"), strings.HasSuffix(pat, "%")
	switch {
	case pre && suf:
		n.kind = likeContains
	case pre:
		n.kind = likeSuffix
	case suf:
		n.kind = likePrefix
	default:
		n.kind = likeExact
	}
	return n
}

func (n *likeNode) eval(body []byte) tri {
	v, ok := chunk.Lookup(body, n.path)
	if !ok {
		return triUnknown
	}
	var buf [32]byte
	s, ok := valueText(buf[:0], &v)
	if !ok {
		return triUnknown
	}
	var m bool
	switch n.kind {
	case likeExact:
		m = string(s) == n.lit
	case likePrefix:
		m = len(s) >= len(n.lit) && string(s[:len(n.lit)]) == n.lit
	case likeSuffix:
		m = len(s) >= len(n.lit) && string(s[len(s)-len(n.lit):]) == n.lit
	case likeContains:
		m = containsStr(s, n.lit)
	default:
		m = like(s, n.pat)
	}
	return triOf(m != n.neg)
}

// containsStr is bytes.Contains for a string needle, without allocating.
func containsStr(s []byte, sub string) bool {
	if len(sub) == 0 {
		return true
	}
	for i := 0; i+len(sub) <= len(s); {
		j := bytes.IndexByte(s[i:], sub[0])
		if j < 0 || i+j+len(sub) > len(s) {
			return false
		}
		i += j
		if string(s[i:i+len(sub)]) == sub {
			return true
		}
		i++
	}
	return false
}

// like matches s against the SQL pattern p as a whole: % matches any run of
// characters, _ exactly one UTF-8 character, every other byte itself. It
// backtracks only to the last %, so it runs in O(len(s)*len(p)) at worst.
func like(s []byte, p string) bool {
	si, pi := 0, 0
	star, mark := -1, 0 // the last % in p and where in s it resumes
	for si < len(s) {
		if pi < len(p) {
			switch c := p[pi]; {
			case c == '%':
				star, mark = pi, si
				pi++
				continue
			case c == '_':
				_, n := utf8.DecodeRune(s[si:])
				si += n
				pi++
				continue
			case c == s[si]:
				si++
				pi++
				continue
			}
		}
		if star < 0 {
			return false
		}
		_, n := utf8.DecodeRune(s[mark:])
		mark += n
		si, pi = mark, star+1
	}
	for pi < len(p) && p[pi] == '%' {
		pi++
	}
	return pi == len(p)
}

// regexpNode is field [NOT] REGEXP 'pattern'.
type regexpNode struct {
	path chunk.Path
	re   *regexp.Regexp
	// lits, when not nil, is the finite set of strings re matches: the
	// value matches if it contains one of them. Go's regexp scans an
	// unanchored alternation without a common prefix, such as sqlmap|nikto,
	// from every position, a hundred times slower than substring search.
	lits []string
	neg  bool
}

// Bounds of the literal set of a regexpNode: the number of strings, their
// length, and the syntax nodes visited to find them (a simplified regexp
// shares subtrees, so a walk of a{1000}{1000} would be long).
const (
	maxRegexpLiterals   = 32
	maxRegexpLiteralLen = 256
	maxRegexpNodes      = 1024
)

func newRegexpNode(path chunk.Path, re *regexp.Regexp, neg bool) *regexpNode {
	n := &regexpNode{path: path, re: re, neg: neg}
	if t, err := syntax.Parse(re.String(), syntax.Perl); err == nil {
		budget := maxRegexpNodes
		if lits, ok := literalSet(t.Simplify(), &budget); ok {
			n.lits = lits
		}
	}
	return n
}

// literalSet returns the strings t matches when they are few and short and
// t has no anchors, repetition, case folding or classes larger than a few
// runes. budget bounds the nodes visited.
func literalSet(t *syntax.Regexp, budget *int) ([]string, bool) {
	if *budget--; *budget < 0 {
		return nil, false
	}
	switch t.Op {
	case syntax.OpEmptyMatch:
		return []string{""}, true
	case syntax.OpLiteral:
		// Go's regexp reads invalid UTF-8 as U+FFFD, substring search
		// does not: leave that rune to the regexp.
		if t.Flags&syntax.FoldCase != 0 || slices.Contains(t.Rune, utf8.RuneError) || len(t.Rune) > maxRegexpLiteralLen {
			return nil, false
		}
		return []string{string(t.Rune)}, true
	case syntax.OpCharClass:
		var out []string
		for i := 0; i+1 < len(t.Rune); i += 2 {
			for r := t.Rune[i]; r <= t.Rune[i+1]; r++ {
				if len(out) == maxRegexpLiterals || r == utf8.RuneError {
					return nil, false
				}
				out = append(out, string(r))
			}
		}
		return out, len(out) > 0
	case syntax.OpCapture:
		return literalSet(t.Sub[0], budget)
	case syntax.OpAlternate:
		var out []string
		for _, s := range t.Sub {
			l, ok := literalSet(s, budget)
			if !ok || len(out)+len(l) > maxRegexpLiterals {
				return nil, false
			}
			out = append(out, l...)
		}
		return out, true
	case syntax.OpConcat:
		out := []string{""}
		for _, s := range t.Sub {
			l, ok := literalSet(s, budget)
			if !ok || len(out)*len(l) > maxRegexpLiterals {
				return nil, false
			}
			next := make([]string, 0, len(out)*len(l))
			for _, a := range out {
				for _, b := range l {
					if len(a)+len(b) > maxRegexpLiteralLen {
						return nil, false
					}
					next = append(next, a+b)
				}
			}
			out = next
		}
		return out, true
	}
	return nil, false
}

// match reports whether re matches b somewhere.
func (n *regexpNode) match(b []byte) bool {
	if n.lits == nil {
		return n.re.Match(b)
	}
	return n.matchLits(b)
}

func (n *regexpNode) matchLits(b []byte) bool {
	for _, l := range n.lits {
		if containsStr(b, l) {
			return true
		}
	}
	return false
}

func (n *regexpNode) eval(body []byte) tri {
	v, ok := chunk.Lookup(body, n.path)
	if !ok {
		return triUnknown
	}
	var m bool
	if v.Kind == chunk.KindStr {
		m = n.match(v.Str)
	} else if m, ok = n.matchText(&v); !ok {
		return triUnknown
	}
	return triOf(m != n.neg)
}

// matchText matches the text of a non-string scalar.
func (n *regexpNode) matchText(v *chunk.Value) (bool, bool) {
	if n.lits == nil {
		return n.matchTextRE(v)
	}
	var buf [32]byte
	s, ok := valueText(buf[:0], v)
	if !ok {
		return false, false
	}
	return n.matchLits(s), true
}

// matchTextRE is matchText for a real regexp. It is apart because its
// buffer escapes into the regexp machine and is allocated.
func (n *regexpNode) matchTextRE(v *chunk.Value) (bool, bool) {
	var buf [32]byte
	s, ok := valueText(buf[:0], v)
	if !ok {
		return false, false
	}
	return n.re.Match(s), true
}

// valueText returns the text LIKE and REGEXP match: a string's bytes, or a
// number or boolean formatted into buf. Other kinds have none.
func valueText(buf []byte, v *chunk.Value) ([]byte, bool) {
	switch v.Kind {
	case chunk.KindStr:
		return v.Str, true
	case chunk.KindInt:
		return strconv.AppendInt(buf, v.Int, 10), true
	case chunk.KindUint:
		return strconv.AppendUint(buf, v.Uint, 10), true
	case chunk.KindFloat:
		return strconv.AppendFloat(buf, v.Float, 'g', -1, 64), true
	case chunk.KindBool:
		return strconv.AppendBool(buf, v.Bool), true
	}
	return nil, false
}
