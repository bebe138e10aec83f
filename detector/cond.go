package detector

import (
	"fmt"
	"strings"
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
