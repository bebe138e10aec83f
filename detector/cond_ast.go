package detector

import (
	"strings"

	"github.com/dosguard/dosguard/chunk"
)

// The tree of a compiled condition and its evaluation in SQL's three-valued
// logic. The LIKE and REGEXP nodes are in cond_match.go, literals and the
// coercion of values in cond_number.go and the rendering of every node in
// cond_format.go.

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

type notNode struct{ x condNode }

func (n *notNode) eval(body []byte) tri { return n.x.eval(body).not() }

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
