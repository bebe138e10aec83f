package detector

import (
	"strings"

	"github.com/dosguard/dosguard/chunk"
)

// The canonical rendering of a condition, Cond.String: keywords upper-case,
// single quotes, parentheses only where needed, so that it compiles back to
// the same tree.

// Rendering precedences: a node is parenthesised when its own precedence is
// lower than its context's.
const (
	precOr = iota + 1
	precAnd
	precNot
	precPred
)

func (n *andNode) format(b *strings.Builder, ctx int) {
	formatList(b, ctx, precAnd, " AND ", n.kids)
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

func (n *cmpNode) format(b *strings.Builder, ctx int) {
	formatPath(b, n.path)
	b.WriteByte(' ')
	b.WriteString(cmpOpNames[n.op])
	b.WriteByte(' ')
	n.lit.format(b)
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

func (n *nullNode) format(b *strings.Builder, ctx int) {
	formatPath(b, n.path)
	if n.neg {
		b.WriteString(" IS NOT NULL")
	} else {
		b.WriteString(" IS NULL")
	}
}

func (n *likeNode) format(b *strings.Builder, ctx int) {
	formatPath(b, n.path)
	if n.neg {
		b.WriteString(" NOT")
	}
	b.WriteString(" LIKE ")
	formatString(b, n.pat)
}

func (n *regexpNode) format(b *strings.Builder, ctx int) {
	formatPath(b, n.path)
	if n.neg {
		b.WriteString(" NOT")
	}
	b.WriteString(" REGEXP ")
	formatString(b, n.re.String())
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
