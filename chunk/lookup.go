package chunk

import (
	"fmt"
	"strconv"
	"strings"
)

// Path names a field in a record: each element is a map key to descend
// into, or, where the value is an array, a decimal index into it.
type Path []string

// ParsePath parses a field path. Three spellings are accepted:
//
//	host                 one top-level key
//	request.path         plain keys separated by dots: nested maps
//	$kubernetes['labels']['app']
//	                     Fluent Bit's record accessor: after '$' the top key
//	                     is taken literally up to the first '[' (dots
//	                     included, as Fluent Bit does), then each ['key'] or
//	                     ["key"] descends one level ('' inside single quotes
//	                     is a literal quote) and [N] indexes an array.
//
// The bracket suffixes may follow a plain dotted prefix too. Surrounding
// white space is ignored. An empty path, an empty dotted segment, an
// unterminated quote or bracket, or anything after a closing bracket other
// than another '[' is an error naming the input.
func ParsePath(s string) (Path, error) {
	in := s
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("chunk: parse path %q: empty", in)
	}
	var p Path
	head, rest := s, ""
	if j := strings.IndexByte(s, '['); j >= 0 {
		head, rest = s[:j], s[j:]
	}
	if head, ok := strings.CutPrefix(head, "$"); ok {
		if head == "" {
			return nil, fmt.Errorf("chunk: parse path %q: no key after '$'", in)
		}
		p = append(p, head)
	} else {
		if head == "" {
			return nil, fmt.Errorf("chunk: parse path %q: no key before '['", in)
		}
		for seg := range strings.SplitSeq(head, ".") {
			if seg == "" {
				return nil, fmt.Errorf("chunk: parse path %q: empty key between dots", in)
			}
			p = append(p, seg)
		}
	}
	pos := len(s) - len(rest)
	for rest != "" {
		if rest[0] != '[' {
			return nil, fmt.Errorf("chunk: parse path %q: unexpected %q at offset %d, want '['", in, rest[0], pos)
		}
		key, n, err := bracket(rest)
		if err != "" {
			return nil, fmt.Errorf("chunk: parse path %q: %s at offset %d", in, err, pos)
		}
		p = append(p, key)
		rest, pos = rest[n:], pos+n
	}
	return p, nil
}

// bracket parses one "['key']", "[\"key\"]" or "[N]" at the start of s and
// returns the key, the bytes consumed, and a reason when it is invalid.
func bracket(s string) (key string, n int, err string) {
	if len(s) < 2 {
		return "", 0, "unbalanced '['"
	}
	q := s[1]
	if q != '\'' && q != '"' {
		j := strings.IndexByte(s, ']')
		if j < 0 {
			return "", 0, "unbalanced '['"
		}
		idx := s[1:j]
		if idx == "" || strings.Trim(idx, "0123456789") != "" {
			return "", 0, fmt.Sprintf("index %q is not a quoted key or a number", idx)
		}
		return idx, j + 1, ""
	}
	var b strings.Builder
	for i := 2; i < len(s); i++ {
		if s[i] != q {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == q { // doubled quote: a literal one
			b.WriteByte(q)
			i++
			continue
		}
		if i+1 >= len(s) || s[i+1] != ']' {
			return "", 0, "missing ']' after quoted key"
		}
		return b.String(), i + 2, ""
	}
	return "", 0, "unterminated quote"
}

// String returns p in record accessor form, e.g. $request['path'].
func (p Path) String() string {
	if len(p) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('$')
	b.WriteString(p[0])
	for _, k := range p[1:] {
		b.WriteString("['")
		b.WriteString(strings.ReplaceAll(k, "'", "''"))
		b.WriteString("']")
	}
	return b.String()
}

// Kind is the msgpack type of a Value.
type Kind uint8

// The kinds of Value. KindInvalid is the zero Kind, used only by the zero
// Value.
const (
	KindInvalid Kind = iota
	KindNil
	KindBool
	KindInt   // a signed encoding (negative fixint, int8..int64)
	KindUint  // an unsigned encoding (positive fixint, uint8..uint64)
	KindFloat // float32 or float64
	KindStr   // str or bin
	KindArray
	KindMap
	KindExt
)

var kindNames = [...]string{"invalid", "nil", "bool", "int", "uint", "float", "str", "array", "map", "ext"}

// String returns the kind's name, e.g. "str".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is one decoded msgpack object. Only the fields of its Kind are set:
// Str for str and bin (and the payload of an ext), Int for signed integers,
// Uint for unsigned ones, Float, Bool. For KindArray and KindMap, Int is the
// number of elements (of key/value pairs for a map); for KindExt, Int is the
// ext type. Raw is always the whole encoded object. Str and Raw alias the
// chunk.
type Value struct {
	Kind  Kind
	Str   []byte
	Int   int64
	Uint  uint64
	Float float64
	Bool  bool
	Raw   []byte
}

// AsBytes returns the payload of a str or bin value.
func (v Value) AsBytes() ([]byte, bool) {
	return v.Str, v.Kind == KindStr
}

// Lookup finds the field p in body, an encoded map such as Event.Body, and
// decodes it. It walks nested maps (and arrays, for decimal elements of p)
// without allocating. Keys match str or bin map keys byte for byte. An empty
// p returns body itself. ok is false if a key is missing, an intermediate
// value is not a map or array, or the bytes are malformed.
func Lookup(body []byte, p Path) (Value, bool) {
	i, ok := locate(body, p)
	if !ok {
		return Value{}, false
	}
	return decode(body, i)
}

// Field is what LookupStr found.
type Field uint8

// The results of LookupStr.
const (
	// FieldMissing: no such field (or malformed bytes on the way to it).
	FieldMissing Field = iota
	// FieldNil: the field is nil.
	FieldNil
	// FieldStr: the field is a str or bin; its payload is returned.
	FieldStr
	// FieldOther: the field holds another kind of value.
	FieldOther
)

// LookupStr is Lookup for a field read as a string: its payload if it is a
// str or bin, and otherwise only what it is. It is Lookup without decoding
// a Value, for the hot path that reads each record's client address.
func LookupStr(body []byte, p Path) ([]byte, Field) {
	i, ok := locate(body, p)
	if !ok {
		return nil, FieldMissing
	}
	if body[i] == 0xc0 {
		return nil, FieldNil
	}
	if s, _, ok := strAt(body, i); ok {
		return s, FieldStr
	}
	if _, ok := decode(body, i); !ok {
		return nil, FieldMissing // as Lookup: malformed is not found
	}
	return nil, FieldOther
}

// locate returns the offset in body of the first byte of field p, which is
// within body when ok.
func locate(body []byte, p Path) (int, bool) {
	i := 0
	for _, seg := range p {
		if n, next, ok := containerLen(body, i, true); ok {
			i = next
			found := false
			for ; n > 0; n-- {
				key, kend, ok := strAt(body, i)
				if !ok { // a key of another type: skip it
					if kend, ok = skip(body, i); !ok {
						return 0, false
					}
				} else if string(key) == seg {
					i, found = kend, true
					break
				}
				if i, ok = skip(body, kend); !ok {
					return 0, false
				}
			}
			if !found {
				return 0, false
			}
			continue
		}
		n, next, ok := containerLen(body, i, false)
		if !ok {
			return 0, false
		}
		idx, ok := index(seg)
		if !ok || idx >= n {
			return 0, false
		}
		i = next
		for ; idx > 0; idx-- {
			if i, ok = skip(body, i); !ok {
				return 0, false
			}
		}
	}
	return i, i < len(body)
}

// index parses a decimal array index without allocating.
func index(s string) (int, bool) {
	if s == "" || len(s) > 10 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// decode decodes the object at b[i]. Scalars are read directly; only arrays
// and maps are skipped to find their end.
func decode(b []byte, i int) (Value, bool) {
	if i >= len(b) {
		return Value{}, false
	}
	var v Value
	var end int
	ok := true
	c := b[i]
	switch {
	case c&0xe0 == 0xa0 || (c >= 0xd9 && c <= 0xdb) || (c >= 0xc4 && c <= 0xc6):
		v.Kind = KindStr
		v.Str, end, ok = strAt(b, i)
	case c <= 0x7f || (c >= 0xcc && c <= 0xcf):
		v.Kind = KindUint
		v.Uint, end, ok = uintAt(b, i)
	case c >= 0xe0 || (c >= 0xd0 && c <= 0xd3):
		v.Kind = KindInt
		v.Int, end, ok = intAt(b, i)
	case c == 0xc0:
		v.Kind, end = KindNil, i+1
	case c == 0xc2 || c == 0xc3:
		v.Kind, v.Bool, end = KindBool, c == 0xc3, i+1
	case c == 0xca || c == 0xcb:
		v.Kind = KindFloat
		v.Float, end, ok = floatAt(b, i)
	case (c >= 0xd4 && c <= 0xd8) || (c >= 0xc7 && c <= 0xc9):
		v.Kind = KindExt
		var typ int8
		typ, v.Str, end, ok = extAt(b, i)
		v.Int = int64(typ)
	case c&0xf0 == 0x90 || c == 0xdc || c == 0xdd:
		v.Kind = KindArray
		var n int
		n, _, ok = containerLen(b, i, false)
		v.Int = int64(n)
		if ok {
			end, ok = skip(b, i)
		}
	case c&0xf0 == 0x80 || c == 0xde || c == 0xdf:
		v.Kind = KindMap
		var n int
		n, _, ok = containerLen(b, i, true)
		v.Int = int64(n)
		if ok {
			end, ok = skip(b, i)
		}
	default: // 0xc1, never used
		ok = false
	}
	if !ok {
		return Value{}, false
	}
	v.Raw = b[i:end:end]
	return v, true
}
