package detector

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

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
