package detector

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/dosguard/dosguard/chunk"
)

// The recursive-descent parser of conditions, shared by CompileCond and
// ParseQuery (query.go parses the other clauses of a query with it). Tokens
// come from lex.go; the nodes it builds are in cond_ast.go and
// cond_match.go.

// parser reads a condition or a query from its tokens.
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
