package detector

import (
	"testing"
)

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
