package detector

import (
	"math"
	"strconv"
	"testing"

	"github.com/dosguard/dosguard/chunk"
)

func TestParseNumber(t *testing.T) {
	tests := []struct {
		in   string
		ok   bool
		kind numKind
		i    int64
	}{
		{"0", true, numInt, 0},
		{"404", true, numInt, 404},
		{"+404", true, numInt, 404},
		{"-404", true, numInt, -404},
		{"007", true, numInt, 7},
		{"9223372036854775807", true, numInt, math.MaxInt64},
		{"-9223372036854775808", true, numInt, math.MinInt64},
		{"9223372036854775808", true, numBig, 0},
		{"-9223372036854775809", true, numFloat, 0},
		{"99999999999999999999999", true, numFloat, 0},
		{"1.5", true, numFloat, 0},
		{".5", true, numFloat, 0},
		{"5.", true, numFloat, 0},
		{"1e3", true, numFloat, 0},
		{"1E-3", true, numFloat, 0},
		{"1e+400", true, numFloat, 0},
		{"", false, 0, 0},
		{"-", false, 0, 0},
		{".", false, 0, 0},
		{"1e", false, 0, 0},
		{"1e+", false, 0, 0},
		{"e3", false, 0, 0},
		{" 1", false, 0, 0},
		{"1 ", false, 0, 0},
		{"0x1f", false, 0, 0},
		{"1_000", false, 0, 0},
		{"NaN", false, 0, 0},
		{"Inf", false, 0, 0},
		{"--1", false, 0, 0},
		{"1.2.3", false, 0, 0},
	}
	for _, tt := range tests {
		n, ok := parseNumber([]byte(tt.in))
		if ok != tt.ok || (ok && n.kind != tt.kind) || (ok && n.kind == numInt && n.i != tt.i) {
			t.Errorf("parseNumber(%q) = %+v, %v; want kind %d i %d, %v", tt.in, n, ok, tt.kind, tt.i, tt.ok)
			continue
		}
		if ok && n.kind == numFloat {
			want, _ := strconv.ParseFloat(tt.in, 64)
			if n.f != want {
				t.Errorf("parseNumber(%q) = %v, want %v", tt.in, n.f, want)
			}
		}
	}
	// Floats agree with strconv on the fast and the slow path.
	for _, s := range []string{"0.1", "0.3", "123.456", "1e22", "1e23", "9007199254740993.5", "4.9e-324", "1e-400",
		"2.2250738585072014e-308", "1.7976931348623157e308", "0.000000000000000000000000000001", "-0.0", "12345678901234567890.5"} {
		n, ok := parseNumber([]byte(s))
		want, _ := strconv.ParseFloat(s, 64)
		if !ok || n.float() != want || math.Signbit(n.float()) != math.Signbit(want) {
			t.Errorf("parseNumber(%q) = %v, %v; want %v", s, n.float(), ok, want)
		}
	}
}

func TestCompareNumbers(t *testing.T) {
	i := func(v int64) number { return number{kind: numInt, i: v} }
	u := func(v uint64) number { return number{kind: numBig, u: v} }
	f := func(v float64) number { return number{kind: numFloat, f: v} }
	tests := []struct {
		a, b number
		c    int
		ok   bool
	}{
		{i(1), i(2), -1, true},
		{i(2), i(2), 0, true},
		{i(math.MaxInt64), i(math.MaxInt64 - 1), 1, true}, // exact beyond 2^53
		{u(1 << 63), i(math.MaxInt64), 1, true},
		{i(-1), u(1 << 63), -1, true},
		{u(1<<63 + 1), u(1 << 63), 1, true},
		{i(2), f(2.5), -1, true},
		{f(-0.0), i(0), 0, true},
		{f(math.NaN()), i(0), 0, false},
		{i(0), f(math.NaN()), 0, false},
		{f(math.Inf(1)), u(math.MaxUint64), 1, true},
	}
	for _, tt := range tests {
		if c, ok := compareNumbers(tt.a, tt.b); c != tt.c || ok != tt.ok {
			t.Errorf("compareNumbers(%+v, %+v) = %d, %v; want %d, %v", tt.a, tt.b, c, ok, tt.c, tt.ok)
		}
	}
}

func TestCondNaNField(t *testing.T) {
	body := chunk.AppendValue(nil, map[string]any{"f": math.NaN()})
	for _, src := range []string{"f = 1", "f != 1", "f < 1", "f IN (1)"} {
		if got := evalTri(mustCond(t, src), body); got != triUnknown {
			t.Errorf("%s with f NaN: %v, want unknown", src, got)
		}
	}
}
