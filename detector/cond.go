package detector

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dosguard/dosguard/chunk"
)

// A Cond is a compiled condition, the WHERE of a query or the where of a
// structured rule. Its language is a small SQL:
//
//	code >= 400 AND path LIKE '/wp-%'
//	method IN ('POST', 'PUT') OR NOT (agent REGEXP 'curl|wget')
//	request.path = '/login' AND $kubernetes['labels']['app'] IS NOT NULL
//
// Predicates compare one field with literals: =, != and <> (the same), <,
// <=, >, >=, [NOT] LIKE (SQL wildcards % and _, case-sensitive, whole
// value, no escapes), [NOT] REGEXP (Go RE2 syntax, matching anywhere in
// the value: anchor with ^ and $ for a whole match, which Esper's regexp
// implies), [NOT] IN (list), IS [NOT] NULL. They combine with AND, OR, NOT
// and parentheses; NOT binds tighter than AND, AND tighter than OR.
// Keywords are case-insensitive. Literals are strings in single quotes (or
// double quotes; a doubled quote stands for itself and backslashes are
// plain characters), numbers (-12, 3.5, 1e3), TRUE and FALSE. A field is a
// name, dotted for nested maps (request.path), or a Fluent Bit record
// accessor ($kubernetes['labels']['app']), see chunk.ParsePath; a field
// named like a keyword is written in accessor form ($count). // and /* */
// comments are skipped.
//
// # Comparisons and coercion
//
// If either side of a comparison is a number, both compare as numbers: a
// field holding the string "404" equals the literal 404 and a field holding
// the number 404 equals '404' (log parsers often leave code and size as
// strings). Otherwise, if either side is a boolean, both compare as
// booleans (the strings true and false, in any case). Otherwise both are
// strings and compare byte by byte. LIKE and REGEXP match strings; a
// numeric or boolean field is matched against its decimal text.
//
// # NULL
//
// A missing field, or one holding nil, is NULL. The logic is SQL's
// three-valued one: a comparison with NULL is unknown, and so is a
// comparison whose sides cannot be converted (a non-numeric string against
// a number, a map or array against anything). NOT unknown is unknown; AND is
// false if any side is false, OR true if any side is true, otherwise
// unknown wins over the remaining sides. x IN (...) is true if x equals one
// element, unknown if none does but some comparison was unknown. IS NULL
// and IS NOT NULL are never unknown. A record is counted only when the
// whole condition is true, so both code = 404 and NOT (code = 404) skip a
// record without a code.
//
// A Cond is immutable and safe for concurrent use. A nil *Cond, like the
// one compiled from "", holds for every record.
type Cond struct {
	root condNode // nil: always true
}

// CompileCond compiles a condition; "" (or only space and comments) gives
// a Cond that holds for every record. Errors are *SyntaxError values naming
// the line and column of the offending part.
func CompileCond(src string) (*Cond, error) {
	p, err := newParser("where", src, false)
	if err != nil {
		return nil, err
	}
	if p.peek().kind == tokEOF {
		return &Cond{}, nil
	}
	root, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, p.errAt(t, "unexpected %s after the condition", t.describe())
	}
	return &Cond{root: root}, nil
}

// Eval reports whether the record body, an encoded msgpack map such as
// chunk.Event.Body, meets the condition: whether it evaluates to true,
// unknown counting as false. It does not allocate, save in rare cases:
// a REGEXP that is not a plain set of literals matching the text of a
// numeric or boolean field, or a numeric string of more than 32 bytes or at
// the edge of float64's range.
func (c *Cond) Eval(body []byte) bool {
	if c == nil || c.root == nil {
		return true
	}
	return c.root.eval(body) == triTrue
}

// String returns the condition in a canonical form that CompileCond
// accepts and compiles to the same condition: keywords upper-case, single
// quotes, parentheses only where needed. It is "" for the empty condition.
func (c *Cond) String() string {
	if c == nil || c.root == nil {
		return ""
	}
	var b strings.Builder
	c.root.format(&b, 0)
	return b.String()
}

// SyntaxError is a query or condition that cannot be compiled, with the
// position of the offending part.
type SyntaxError struct {
	// What is "query" or "where".
	What string
	// Source is the whole query or condition.
	Source string
	// Offset is the byte offset of the offending part in Source.
	Offset int
	// Line and Column are its 1-based position; Column counts characters.
	Line, Column int
	// Msg says what is wrong.
	Msg string
}

// Error returns e.g. `detector: query "SELECT ..." line 1 column 14:
// unsupported aggregate AVG: want COUNT(*) or COUNT(DISTINCT field)`.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("detector: %s %q line %d column %d: %s", e.What, e.Source, e.Line, e.Column, e.Msg)
}

// tri is a truth value of three-valued logic.
type tri uint8

const (
	triFalse tri = iota
	triTrue
	triUnknown
)

func (t tri) not() tri {
	switch t {
	case triTrue:
		return triFalse
	case triFalse:
		return triTrue
	}
	return triUnknown
}

func triOf(b bool) tri {
	if b {
		return triTrue
	}
	return triFalse
}

// Rendering precedences: a node is parenthesised when its own precedence is
// lower than its context's.
const (
	precOr = iota + 1
	precAnd
	precNot
	precPred
)

// condNode is one node of a compiled condition.
type condNode interface {
	eval(body []byte) tri
	format(b *strings.Builder, ctx int)
}

type andNode struct{ kids []condNode }

func (n *andNode) eval(body []byte) tri {
	r := triTrue
	for _, k := range n.kids {
		switch k.eval(body) {
		case triFalse:
			return triFalse
		case triUnknown:
			r = triUnknown
		}
	}
	return r
}

func (n *andNode) format(b *strings.Builder, ctx int) {
	formatList(b, ctx, precAnd, " AND ", n.kids)
}

type orNode struct{ kids []condNode }

func (n *orNode) eval(body []byte) tri {
	r := triFalse
	for _, k := range n.kids {
		switch k.eval(body) {
		case triTrue:
			return triTrue
		case triUnknown:
			r = triUnknown
		}
	}
	return r
}

func (n *orNode) format(b *strings.Builder, ctx int) {
	formatList(b, ctx, precOr, " OR ", n.kids)
}

func formatList(b *strings.Builder, ctx, prec int, sep string, kids []condNode) {
	if ctx > prec {
		b.WriteByte('(')
	}
	for i, k := range kids {
		if i > 0 {
			b.WriteString(sep)
		}
		// A nested list of the same kind is parenthesised so that the
		// rendering re-parses to the same tree.
		k.format(b, prec+1)
	}
	if ctx > prec {
		b.WriteByte(')')
	}
}

type notNode struct{ x condNode }

func (n *notNode) eval(body []byte) tri { return n.x.eval(body).not() }

func (n *notNode) format(b *strings.Builder, ctx int) {
	if ctx > precNot {
		b.WriteByte('(')
	}
	b.WriteString("NOT ")
	n.x.format(b, precNot)
	if ctx > precNot {
		b.WriteByte(')')
	}
}

// cmpOp is a comparison operator.
type cmpOp uint8

const (
	opEq cmpOp = iota
	opNe
	opLt
	opLe
	opGt
	opGe
)

var cmpOpNames = [...]string{"=", "!=", "<", "<=", ">", ">="}

// holds reports whether c, the sign of left minus right, satisfies o.
func (o cmpOp) holds(c int) bool {
	switch o {
	case opEq:
		return c == 0
	case opNe:
		return c != 0
	case opLt:
		return c < 0
	case opLe:
		return c <= 0
	case opGt:
		return c > 0
	}
	return c >= 0
}

// flip returns the operator with its sides swapped: 1 < x is x > 1.
func (o cmpOp) flip() cmpOp {
	switch o {
	case opLt:
		return opGt
	case opLe:
		return opGe
	case opGt:
		return opLt
	case opGe:
		return opLe
	}
	return o
}

// cmpNode is field op literal.
type cmpNode struct {
	path chunk.Path
	op   cmpOp
	lit  literal
}

func (n *cmpNode) eval(body []byte) tri {
	v, ok := chunk.Lookup(body, n.path)
	if !ok {
		return triUnknown
	}
	c, ok := compare(&v, &n.lit)
	if !ok {
		return triUnknown
	}
	return triOf(n.op.holds(c))
}

func (n *cmpNode) format(b *strings.Builder, ctx int) {
	formatPath(b, n.path)
	b.WriteByte(' ')
	b.WriteString(cmpOpNames[n.op])
	b.WriteByte(' ')
	n.lit.format(b)
}

// inNode is field [NOT] IN (literals).
type inNode struct {
	path chunk.Path
	lits []literal
	neg  bool
}

func (n *inNode) eval(body []byte) tri {
	v, ok := chunk.Lookup(body, n.path)
	if !ok {
		return triUnknown
	}
	r := triFalse
	for i := range n.lits {
		c, ok := compare(&v, &n.lits[i])
		if !ok {
			r = triUnknown
		} else if c == 0 {
			r = triTrue
			break
		}
	}
	if n.neg {
		return r.not()
	}
	return r
}

func (n *inNode) format(b *strings.Builder, ctx int) {
	formatPath(b, n.path)
	if n.neg {
		b.WriteString(" NOT")
	}
	b.WriteString(" IN (")
	for i := range n.lits {
		if i > 0 {
			b.WriteString(", ")
		}
		n.lits[i].format(b)
	}
	b.WriteByte(')')
}

// nullNode is field IS [NOT] NULL.
type nullNode struct {
	path chunk.Path
	neg  bool
}

func (n *nullNode) eval(body []byte) tri {
	v, ok := chunk.Lookup(body, n.path)
	null := !ok || v.Kind == chunk.KindNil
	return triOf(null != n.neg)
}

func (n *nullNode) format(b *strings.Builder, ctx int) {
	formatPath(b, n.path)
	if n.neg {
		b.WriteString(" IS NOT NULL")
	} else {
		b.WriteString(" IS NULL")
	}
}

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

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
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

func (n *likeNode) format(b *strings.Builder, ctx int) {
	formatPath(b, n.path)
	if n.neg {
		b.WriteString(" NOT")
	}
	b.WriteString(" LIKE ")
	formatString(b, n.pat)
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

func (n *regexpNode) format(b *strings.Builder, ctx int) {
	formatPath(b, n.path)
	if n.neg {
		b.WriteString(" NOT")
	}
	b.WriteString(" REGEXP ")
	formatString(b, n.re.String())
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

// litKind is the type of a literal.
type litKind uint8

const (
	litStr litKind = iota
	litNum
	litBool
)

// literal is a constant of a condition, with its conversions computed once.
type literal struct {
	kind    litKind
	text    string // the source text of a number; the value of a string
	str     []byte // a string's value as bytes, for bytes.Compare
	num     number // a number's value, or a numeric string's
	hasNum  bool
	boolean bool // a boolean's value, or a boolean string's
	hasBool bool
}

func (l *literal) format(b *strings.Builder) {
	switch l.kind {
	case litNum:
		b.WriteString(l.text)
	case litBool:
		if l.boolean {
			b.WriteString("TRUE")
		} else {
			b.WriteString("FALSE")
		}
	default:
		formatString(b, l.text)
	}
}

func stringLiteral(s string) literal {
	l := literal{kind: litStr, text: s, str: []byte(s)}
	l.num, l.hasNum = parseNumber(l.str)
	l.boolean, l.hasBool = parseBool(l.str)
	return l
}

// compare compares a field value with a literal under the coercion rules of
// Cond and returns the sign of value minus literal; ok is false when the
// comparison is unknown.
func compare(v *chunk.Value, l *literal) (c int, ok bool) {
	switch v.Kind {
	case chunk.KindInt, chunk.KindUint, chunk.KindFloat:
		if !l.hasNum {
			return 0, false
		}
		return compareNumbers(valueNumber(v), l.num)
	case chunk.KindStr:
		switch l.kind {
		case litNum:
			n, ok := parseNumber(v.Str)
			if !ok {
				return 0, false
			}
			return compareNumbers(n, l.num)
		case litBool:
			b, ok := parseBool(v.Str)
			if !ok {
				return 0, false
			}
			return compareBools(b, l.boolean), true
		}
		return bytes.Compare(v.Str, l.str), true
	case chunk.KindBool:
		if !l.hasBool {
			return 0, false
		}
		return compareBools(v.Bool, l.boolean), true
	}
	return 0, false
}

func compareBools(a, b bool) int {
	return btoi(a) - btoi(b)
}

// parseBool parses true or false in any case.
func parseBool(b []byte) (value, ok bool) {
	switch {
	case len(b) == 4 && b[0]|0x20 == 't' && b[1]|0x20 == 'r' && b[2]|0x20 == 'u' && b[3]|0x20 == 'e':
		return true, true
	case len(b) == 5 && b[0]|0x20 == 'f' && b[1]|0x20 == 'a' && b[2]|0x20 == 'l' && b[3]|0x20 == 's' && b[4]|0x20 == 'e':
		return false, true
	}
	return false, false
}

// number is a numeric value: an int64, a uint64 above math.MaxInt64, or a
// float64. Integers compare exactly, anything with a float as float64.
type number struct {
	kind numKind
	i    int64
	u    uint64
	f    float64
}

type numKind uint8

const (
	numInt numKind = iota
	numBig
	numFloat
)

func (n number) float() float64 {
	switch n.kind {
	case numInt:
		return float64(n.i)
	case numBig:
		return float64(n.u)
	}
	return n.f
}

func valueNumber(v *chunk.Value) number {
	switch v.Kind {
	case chunk.KindInt:
		return number{kind: numInt, i: v.Int}
	case chunk.KindUint:
		if v.Uint > math.MaxInt64 {
			return number{kind: numBig, u: v.Uint}
		}
		return number{kind: numInt, i: int64(v.Uint)}
	}
	return number{kind: numFloat, f: v.Float}
}

// compareNumbers returns the sign of a-b; ok is false if either is NaN.
func compareNumbers(a, b number) (int, bool) {
	if a.kind != numFloat && b.kind != numFloat {
		switch {
		case a.kind == numBig && b.kind == numBig:
			return cmpOrdered(a.u, b.u), true
		case a.kind == numBig:
			return 1, true
		case b.kind == numBig:
			return -1, true
		}
		return cmpOrdered(a.i, b.i), true
	}
	x, y := a.float(), b.float()
	if x != x || y != y {
		return 0, false
	}
	return cmpOrdered(x, y), true
}

func cmpOrdered[T int64 | uint64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// pow10 holds the powers of ten a float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseNumber parses a whole decimal number, [+-]digits[.digits][e[+-]digits]
// (digits on at least one side of the point), without allocating in the
// usual cases: integers become int64 (or uint64 beyond), other numbers of
// up to 19 significant digits and small exponents are computed exactly
// (Clinger's fast path); the rest goes through strconv.
func parseNumber(b []byte) (number, bool) {
	i := 0
	neg := false
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	var mant uint64
	exp := 0           // decimal exponent to apply to mant
	truncated := false // digits beyond what mant holds were dropped
	ndigits := 0
	isInt := true
	digits := func(frac bool) {
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			ndigits++
			if mant < (math.MaxUint64-9)/10 {
				mant = mant*10 + uint64(b[i]-'0')
				if frac {
					exp--
				}
			} else {
				if b[i] != '0' {
					truncated = true
				}
				if !frac {
					exp++
				}
			}
		}
	}
	digits(false)
	if i < len(b) && b[i] == '.' {
		isInt = false
		i++
		digits(true)
	}
	if ndigits == 0 {
		return number{}, false
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		isInt = false
		i++
		eneg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		start := i
		e := 0
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if e < 100000 {
				e = e*10 + int(b[i]-'0')
			}
		}
		if i == start {
			return number{}, false
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	if i != len(b) {
		return number{}, false
	}
	if isInt && exp == 0 && !truncated {
		switch {
		case !neg && mant > math.MaxInt64:
			return number{kind: numBig, u: mant}, true
		case !neg:
			return number{kind: numInt, i: int64(mant)}, true
		case mant <= 1<<63:
			return number{kind: numInt, i: int64(-mant)}, true // -2^63 wraps correctly
		}
	}
	var f float64
	switch {
	case mant == 0:
		f = 0
	case !truncated && mant <= 1<<53 && exp >= -22 && exp <= 22:
		f = float64(mant)
		if exp < 0 {
			f /= pow10[-exp]
		} else {
			f *= pow10[exp]
		}
	case exp > 330:
		f = math.Inf(1)
	case exp < -360:
		f = 0
	default:
		// Syntax is checked, so only a range error is possible, and
		// ParseFloat then returns the right ±Inf or 0 with it.
		f, _ = strconv.ParseFloat(string(b[btoi(b[0] == '+' || b[0] == '-'):]), 64)
	}
	if neg {
		f = -f
	}
	return number{kind: numFloat, f: f}, true
}

// formatString writes s as a single-quoted literal.
func formatString(b *strings.Builder, s string) {
	b.WriteByte('\'')
	b.WriteString(strings.ReplaceAll(s, "'", "''"))
	b.WriteByte('\'')
}

// formatPath writes a field: dotted when every element is a plain name and
// the first is no keyword, else as a record accessor.
func formatPath(b *strings.Builder, p chunk.Path) {
	plain := len(p) > 0 && !isKeyword(p[0], true)
	for i, k := range p {
		if !plain {
			break
		}
		plain = k != "" && (i > 0 || !isDigit(k[0]))
		for j := 0; j < len(k) && plain; j++ {
			plain = isIdentByte(k[j])
		}
	}
	if plain {
		b.WriteString(strings.Join(p, "."))
		return
	}
	b.WriteString(p.String())
}

// Keywords. Words are reserved only where a field could stand; a field of
// that name is written $name.
var (
	condKeywords  = []string{"AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "REGEXP", "TRUE", "FALSE", "BETWEEN"}
	queryKeywords = []string{"SELECT", "FROM", "WHERE", "GROUP", "BY", "HAVING", "AS", "COUNT", "DISTINCT", "ORDER", "LIMIT", "JOIN", "ON", "OUTPUT", "INSERT", "INTO", "UNION"}
)

// isKeyword reports whether w is a condition keyword or, with query, a
// query keyword too.
func isKeyword(w string, query bool) bool {
	for _, k := range condKeywords {
		if strings.EqualFold(w, k) {
			return true
		}
	}
	if query {
		for _, k := range queryKeywords {
			if strings.EqualFold(w, k) {
				return true
			}
		}
	}
	return false
}

// The parser below is shared by CompileCond and ParseQuery.

// tokKind is the kind of a token.
type tokKind uint8

const (
	tokEOF    tokKind = iota
	tokWord           // a bare name: a keyword or a one-element field
	tokField          // a dotted name, a record accessor, or a name with brackets
	tokNumber         // -12, 3.5, 1e3
	tokString         // 'text' or "text"; val holds the value
	tokPunct          // ( ) , * : ; . # = != <> < <= > >=
)

type token struct {
	kind tokKind
	text string // the source text
	val  string // the value of a string
	off  int    // byte offset in the source
}

// describe names t for an error message.
func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of input"
	case tokString:
		return "string " + t.text
	case tokNumber:
		return "number " + t.text
	case tokPunct:
		return "'" + t.text + "'"
	}
	return t.text
}

// is reports whether t is the keyword or punctuation s (keywords in any
// case).
func (t token) is(s string) bool {
	switch t.kind {
	case tokWord:
		return strings.EqualFold(t.text, s)
	case tokPunct:
		return t.text == s
	}
	return false
}

type parser struct {
	what  string // "query" or "where", for errors
	src   string
	toks  []token
	i     int
	query bool // query keywords are reserved too
}

func newParser(what, src string, query bool) (*parser, error) {
	p := &parser{what: what, src: src, query: query}
	if err := p.lex(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

// peekAt returns the token n places ahead, EOF past the end.
func (p *parser) peekAt(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

// accept consumes the next token if it is s.
func (p *parser) accept(s string) bool {
	if p.peek().is(s) {
		p.i++
		return true
	}
	return false
}

// expect consumes s or fails naming what was wanted.
func (p *parser) expect(s, want string) error {
	if p.accept(s) {
		return nil
	}
	t := p.peek()
	return p.errAt(t, "unexpected %s, want %s", t.describe(), want)
}

// errAt returns a *SyntaxError at the start of t.
func (p *parser) errAt(t token, format string, args ...any) error {
	return p.errAtOffset(t.off, format, args...)
}

func (p *parser) errAtOffset(off int, format string, args ...any) error {
	line := 1 + strings.Count(p.src[:off], "\n")
	lineStart := strings.LastIndexByte(p.src[:off], '\n') + 1
	return &SyntaxError{
		What:   p.what,
		Source: p.src,
		Offset: off,
		Line:   line,
		Column: 1 + utf8.RuneCountInString(p.src[lineStart:off]),
		Msg:    fmt.Sprintf(format, args...),
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdentStart(c byte) bool {
	return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

func isIdentByte(c byte) bool { return isIdentStart(c) || isDigit(c) }

// isAccessorByte reports whether c may appear in the top key of a $field.
func isAccessorByte(c byte) bool {
	return c > ' ' && c != 0x7f && !strings.ContainsRune("()[],;'\"=<>!*#", rune(c))
}

// lex splits the source into tokens, ending with a tokEOF.
func (p *parser) lex() error {
	s := p.src
	for i := 0; ; {
		// Skip space and comments.
		for i < len(s) {
			c := s[i]
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' {
				i++
			} else if strings.HasPrefix(s[i:], "//") {
				j := strings.IndexByte(s[i:], '\n')
				if j < 0 {
					i = len(s)
				} else {
					i += j + 1
				}
			} else if strings.HasPrefix(s[i:], "/*") {
				j := strings.Index(s[i+2:], "*/")
				if j < 0 {
					return p.errAtOffset(i, "unterminated comment")
				}
				i += j + 4
			} else {
				break
			}
		}
		if i == len(s) {
			p.toks = append(p.toks, token{kind: tokEOF, off: i})
			return nil
		}
		start := i
		c := s[i]
		switch {
		case c == '\'' || c == '"':
			var val strings.Builder
			i++
			for {
				if i >= len(s) {
					return p.errAtOffset(start, "unterminated string")
				}
				if s[i] == c {
					if i+1 < len(s) && s[i+1] == c {
						val.WriteByte(c)
						i += 2
						continue
					}
					i++
					break
				}
				val.WriteByte(s[i])
				i++
			}
			p.toks = append(p.toks, token{kind: tokString, text: s[start:i], val: val.String(), off: start})
		case isDigit(c) || (c == '-' && i+1 < len(s) && isDigit(s[i+1])):
			i++
			for i < len(s) && isDigit(s[i]) {
				i++
			}
			if i+1 < len(s) && s[i] == '.' && isDigit(s[i+1]) {
				i += 2
				for i < len(s) && isDigit(s[i]) {
					i++
				}
			}
			if i < len(s) && s[i]|0x20 == 'e' {
				j := i + 1
				if j < len(s) && (s[j] == '+' || s[j] == '-') {
					j++
				}
				if j < len(s) && isDigit(s[j]) {
					for i = j; i < len(s) && isDigit(s[i]); i++ {
					}
				}
			}
			p.toks = append(p.toks, token{kind: tokNumber, text: s[start:i], off: start})
		case isIdentStart(c) || c == '$':
			kind := tokWord
			if c == '$' {
				kind = tokField
				i++
				for i < len(s) && isAccessorByte(s[i]) {
					i++
				}
			} else {
				for i < len(s) && isIdentByte(s[i]) {
					i++
				}
				for i+1 < len(s) && s[i] == '.' && isIdentByte(s[i+1]) {
					kind = tokField
					for i++; i < len(s) && isIdentByte(s[i]); i++ {
					}
				}
			}
			for i < len(s) && s[i] == '[' {
				kind = tokField
				n, ok := bracketLen(s[i:])
				if !ok {
					return p.errAtOffset(i, "unterminated '['")
				}
				i += n
			}
			p.toks = append(p.toks, token{kind: kind, text: s[start:i], off: start})
		default:
			n := 1
			if i+1 < len(s) {
				switch s[i : i+2] {
				case "!=", "<>", "<=", ">=":
					n = 2
				}
			}
			if n == 1 && !strings.ContainsRune("(),*:;.#=<>", rune(c)) {
				r, _ := utf8.DecodeRuneInString(s[i:])
				return p.errAtOffset(i, "unexpected character %q", r)
			}
			i += n
			p.toks = append(p.toks, token{kind: tokPunct, text: s[start:i], off: start})
		}
	}
}

// bracketLen returns the length of the [...] group at the start of s: a
// quoted key (a doubled quote stands for itself) or anything up to ']'.
func bracketLen(s string) (int, bool) {
	if len(s) > 1 && (s[1] == '\'' || s[1] == '"') {
		q := s[1]
		for i := 2; i < len(s); i++ {
			if s[i] != q {
				continue
			}
			if i+1 < len(s) && s[i+1] == q {
				i++
				continue
			}
			if i+1 < len(s) && s[i+1] == ']' {
				return i + 2, true
			}
			return i + 1, true // chunk.ParsePath reports the missing ']'
		}
		return 0, false
	}
	j := strings.IndexByte(s, ']')
	return j + 1, j >= 0
}

// isField reports whether t can name a field here.
func (p *parser) isField(t token) bool {
	return t.kind == tokField || (t.kind == tokWord && !isKeyword(t.text, p.query))
}

// field parses a field token into a path.
func (p *parser) field(want string) (chunk.Path, error) {
	t := p.peek()
	if !p.isField(t) {
		if t.kind == tokWord {
			return nil, p.errAt(t, "unexpected keyword %s, want %s (write $%s for a field of that name)", strings.ToUpper(t.text), want, t.text)
		}
		return nil, p.errAt(t, "unexpected %s, want %s", t.describe(), want)
	}
	path, err := chunk.ParsePath(t.text)
	if err != nil {
		return nil, p.errAt(t, "field %s: %v", t.text, err)
	}
	p.i++
	return path, nil
}

// parseOr parses a whole condition.
func (p *parser) parseOr() (condNode, error) {
	return p.parseList("OR", p.parseAnd, func(k []condNode) condNode { return &orNode{k} })
}

func (p *parser) parseAnd() (condNode, error) {
	return p.parseList("AND", p.parseNot, func(k []condNode) condNode { return &andNode{k} })
}

func (p *parser) parseList(op string, sub func() (condNode, error), mk func([]condNode) condNode) (condNode, error) {
	x, err := sub()
	if err != nil {
		return nil, err
	}
	if !p.peek().is(op) {
		return x, nil
	}
	kids := []condNode{x}
	for p.accept(op) {
		if x, err = sub(); err != nil {
			return nil, err
		}
		kids = append(kids, x)
	}
	return mk(kids), nil
}

func (p *parser) parseNot() (condNode, error) {
	if p.accept("NOT") {
		x, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return &notNode{x}, nil
	}
	return p.parsePred()
}

// parsePred parses a parenthesised condition or one predicate.
func (p *parser) parsePred() (condNode, error) {
	t := p.peek()
	if p.accept("(") {
		x, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if err := p.expect(")", "')' or AND or OR"); err != nil {
			return nil, err
		}
		return x, nil
	}
	if lit, ok, err := p.literal(); ok || err != nil {
		// literal op field
		if err != nil {
			return nil, err
		}
		o, ok := p.cmpOp()
		if !ok {
			u := p.peek()
			return nil, p.errAt(u, "unexpected %s after %s, want a comparison operator and a field", u.describe(), t.text)
		}
		path, err := p.field("a field: a comparison needs one field and one literal")
		if err != nil {
			return nil, err
		}
		return &cmpNode{path: path, op: o.flip(), lit: lit}, nil
	}
	if t.is("NULL") {
		return nil, p.errAt(t, "NULL is only valid in IS NULL and IS NOT NULL")
	}
	path, err := p.field("a field, a literal, NOT or '('")
	if err != nil {
		return nil, err
	}
	if o, ok := p.cmpOp(); ok {
		u := p.peek()
		if u.is("NULL") {
			return nil, p.errAt(u, "comparison with NULL is never true: use IS NULL or IS NOT NULL")
		}
		lit, ok, err := p.literal()
		if err != nil {
			return nil, err
		}
		if !ok {
			if p.isField(u) {
				return nil, p.errAt(u, "comparing two fields is not supported: want a literal")
			}
			return nil, p.errAt(u, "unexpected %s, want a string, number, TRUE or FALSE", u.describe())
		}
		if lit.kind == litBool && o != opEq && o != opNe {
			return nil, p.errAt(u, "%s on a boolean: want = or !=", cmpOpNames[o])
		}
		return &cmpNode{path: path, op: o, lit: lit}, nil
	}
	if p.accept("IS") {
		neg := p.accept("NOT")
		if err := p.expect("NULL", "NULL after IS"); err != nil {
			return nil, err
		}
		return &nullNode{path: path, neg: neg}, nil
	}
	neg := false
	if u := p.peek(); u.is("NOT") {
		neg = true
		p.i++
	}
	u := p.peek()
	switch {
	case p.accept("LIKE"):
		s, err := p.stringLit("a string pattern after LIKE")
		if err != nil {
			return nil, err
		}
		return newLikeNode(path, s.val, neg), nil
	case p.accept("REGEXP"):
		s, err := p.stringLit("a string pattern after REGEXP")
		if err != nil {
			return nil, err
		}
		re, err := regexp.Compile(s.val)
		if err != nil {
			return nil, p.errAt(s, "invalid regular expression: %v", err)
		}
		return newRegexpNode(path, re, neg), nil
	case p.accept("IN"):
		if err := p.expect("(", "'(' after IN"); err != nil {
			return nil, err
		}
		var lits []literal
		for {
			v := p.peek()
			lit, ok, err := p.literal()
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, p.errAt(v, "unexpected %s in IN list, want a string, number, TRUE or FALSE", v.describe())
			}
			lits = append(lits, lit)
			if !p.accept(",") {
				break
			}
		}
		if err := p.expect(")", "',' or ')' in IN list"); err != nil {
			return nil, err
		}
		return &inNode{path: path, lits: lits, neg: neg}, nil
	case u.is("BETWEEN"):
		return nil, p.errAt(u, "unsupported BETWEEN: write x >= a AND x <= b")
	}
	if neg {
		return nil, p.errAt(u, "unexpected %s after NOT, want LIKE, REGEXP or IN", u.describe())
	}
	return nil, p.errAt(u, "unexpected %s after field %s, want a comparison, LIKE, REGEXP, IN or IS", u.describe(), t.text)
}

// cmpOp consumes a comparison operator.
func (p *parser) cmpOp() (cmpOp, bool) {
	t := p.peek()
	if t.kind != tokPunct {
		return 0, false
	}
	var o cmpOp
	switch t.text {
	case "=":
		o = opEq
	case "!=", "<>":
		o = opNe
	case "<":
		o = opLt
	case "<=":
		o = opLe
	case ">":
		o = opGt
	case ">=":
		o = opGe
	default:
		return 0, false
	}
	p.i++
	return o, true
}

// literal consumes a string, number, TRUE or FALSE; ok is false, with
// nothing consumed, if the next token is none of those.
func (p *parser) literal() (literal, bool, error) {
	t := p.peek()
	switch {
	case t.kind == tokString:
		p.i++
		return stringLiteral(t.val), true, nil
	case t.kind == tokNumber:
		n, ok := parseNumber([]byte(t.text))
		if !ok || (n.kind == numFloat && math.IsInf(n.f, 0)) {
			return literal{}, false, p.errAt(t, "number %s out of range", t.text)
		}
		p.i++
		return literal{kind: litNum, text: t.text, num: n, hasNum: true}, true, nil
	case t.is("TRUE"), t.is("FALSE"):
		p.i++
		b := t.is("TRUE")
		return literal{kind: litBool, boolean: b, hasBool: true}, true, nil
	}
	return literal{}, false, nil
}

// stringLit consumes a string literal.
func (p *parser) stringLit(want string) (token, error) {
	t := p.peek()
	if t.kind != tokString {
		return t, p.errAt(t, "unexpected %s, want %s", t.describe(), want)
	}
	p.i++
	return t, nil
}
