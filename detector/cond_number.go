package detector

import (
	"bytes"
	"math"
	"strconv"

	"github.com/dosguard/dosguard/chunk"
)

// Literals and comparison under the coercion rules of Cond: a literal
// carries its numeric and boolean readings, computed once; field values are
// converted per record without allocating.

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

// btoi is 1 for true and 0 for false.
func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
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
