package detector

import (
	"strings"
	"unicode/utf8"
)

// The lexer of conditions and queries: it splits the source into tokens and
// knows the reserved words.

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
