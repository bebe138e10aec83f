package chunk

import (
	"encoding/binary"
	"math"
)

// This file holds the msgpack primitives shared by the Reader and Lookup.
// Every function takes the whole buffer and an offset, never reads past
// len(b), and reports ok=false instead of panicking when the bytes run out.

// skip returns the offset just past the msgpack object that starts at b[i].
// It is iterative: pending counts the objects still to be skipped, and since
// every object takes at least one byte, a declared container size larger than
// the bytes left is rejected at once. Nesting therefore costs no stack, and
// the loop ends after at most len(b) objects.
func skip(b []byte, i int) (int, bool) {
	pending := 1
	for pending > 0 {
		if i >= len(b) {
			return i, false
		}
		c := b[i]
		pending--
		var n int // payload bytes after the header, or elements added
		// Strings first: a record's keys and most of its values are.
		if c&0xe0 == 0xa0 { // fixstr
			i++
			if n = int(c & 0x1f); n > len(b)-i {
				return i, false
			}
			i += n
			continue
		}
		if c == 0xd9 && len(b)-i >= 2 { // str8
			i, n = i+2, int(b[i+1])
			if n > len(b)-i {
				return i, false
			}
			i += n
			continue
		}
		switch {
		case c <= 0x7f, c >= 0xe0: // positive and negative fixint
			i++
			continue
		case c <= 0x8f: // fixmap
			i++
			n = 2 * int(c&0x0f)
			if n > len(b)-i-pending {
				return i, false
			}
			pending += n
			continue
		case c <= 0x9f: // fixarray
			i++
			n = int(c & 0x0f)
			if n > len(b)-i-pending {
				return i, false
			}
			pending += n
			continue
		case c <= 0xbf: // fixstr
			i++
			n = int(c & 0x1f)
		default:
			var hdr int
			switch c {
			case 0xc0, 0xc2, 0xc3: // nil, false, true
				i++
				continue
			case 0xcc, 0xd0: // uint8, int8
				hdr, n = 1, 1
			case 0xcd, 0xd1: // uint16, int16
				hdr, n = 1, 2
			case 0xca, 0xce, 0xd2: // float32, uint32, int32
				hdr, n = 1, 4
			case 0xcb, 0xcf, 0xd3: // float64, uint64, int64
				hdr, n = 1, 8
			case 0xd4: // fixext1: type byte + 1
				hdr, n = 1, 2
			case 0xd5:
				hdr, n = 1, 3
			case 0xd6:
				hdr, n = 1, 5
			case 0xd7:
				hdr, n = 1, 9
			case 0xd8:
				hdr, n = 1, 17
			case 0xc4, 0xd9: // bin8, str8
				if len(b)-i < 2 {
					return i, false
				}
				hdr, n = 2, int(b[i+1])
			case 0xc5, 0xda: // bin16, str16
				if len(b)-i < 3 {
					return i, false
				}
				hdr, n = 3, int(binary.BigEndian.Uint16(b[i+1:]))
			case 0xc6, 0xdb: // bin32, str32
				if len(b)-i < 5 {
					return i, false
				}
				hdr, n = 5, int(binary.BigEndian.Uint32(b[i+1:]))
			case 0xc7: // ext8: length, type, data
				if len(b)-i < 2 {
					return i, false
				}
				hdr, n = 2, int(b[i+1])+1
			case 0xc8: // ext16
				if len(b)-i < 3 {
					return i, false
				}
				hdr, n = 3, int(binary.BigEndian.Uint16(b[i+1:]))+1
			case 0xc9: // ext32
				if len(b)-i < 5 {
					return i, false
				}
				hdr, n = 5, int(binary.BigEndian.Uint32(b[i+1:]))+1
			case 0xdc, 0xde: // array16, map16
				if len(b)-i < 3 {
					return i, false
				}
				i += 3
				n = int(binary.BigEndian.Uint16(b[i-2:]))
				if c == 0xde {
					n *= 2
				}
				if n > len(b)-i-pending {
					return i, false
				}
				pending += n
				continue
			case 0xdd, 0xdf: // array32, map32
				if len(b)-i < 5 {
					return i, false
				}
				i += 5
				m := uint64(binary.BigEndian.Uint32(b[i-4:]))
				if c == 0xdf {
					m *= 2
				}
				if len(b)-i-pending < 0 || m > uint64(len(b)-i-pending) {
					return i, false
				}
				pending += int(m)
				continue
			default: // 0xc1 is never used
				return i, false
			}
			i += hdr
		}
		// A payload of n bytes follows; n is at most 2^32, so comparing
		// before adding keeps i from overflowing on 32-bit platforms.
		if n < 0 || n > len(b)-i {
			return i, false
		}
		i += n
	}
	return i, true
}

// containerLen reads an array header (wantMap=false) or a map header
// (wantMap=true) at b[i] and returns the element (pair) count and the offset
// of the first element. ok is false if b[i] is not that kind of header, or the
// header is truncated.
func containerLen(b []byte, i int, wantMap bool) (n, next int, ok bool) {
	if i >= len(b) {
		return 0, i, false
	}
	c := b[i]
	fix, c16, c32 := byte(0x90), byte(0xdc), byte(0xdd)
	if wantMap {
		fix, c16, c32 = 0x80, 0xde, 0xdf
	}
	switch {
	case c&0xf0 == fix:
		return int(c & 0x0f), i + 1, true
	case c == c16 && len(b)-i >= 3:
		return checkLen(uint64(binary.BigEndian.Uint16(b[i+1:])), b, i, i+3)
	case c == c32 && len(b)-i >= 5:
		return checkLen(uint64(binary.BigEndian.Uint32(b[i+1:])), b, i, i+5)
	}
	return 0, i, false
}

// checkLen rejects a container of n elements starting at next that the bytes
// left could not hold, one byte per element at least.
func checkLen(n uint64, b []byte, i, next int) (int, int, bool) {
	if n > uint64(len(b)-next) {
		return 0, i, false
	}
	return int(n), next, true
}

// isMap reports whether the object at b[i] starts with a map header.
func isMap(b []byte, i int) bool {
	if i >= len(b) {
		return false
	}
	c := b[i]
	return c&0xf0 == 0x80 || c == 0xde || c == 0xdf
}

// strAt reads a str or bin object at b[i] and returns its payload and the
// offset past it. ok is false for any other type or when truncated.
func strAt(b []byte, i int) (s []byte, next int, ok bool) {
	if i >= len(b) {
		return nil, i, false
	}
	c := b[i]
	var hdr, n int
	switch {
	case c&0xe0 == 0xa0:
		hdr, n = 1, int(c&0x1f)
	case (c == 0xd9 || c == 0xc4) && len(b)-i >= 2:
		hdr, n = 2, int(b[i+1])
	case (c == 0xda || c == 0xc5) && len(b)-i >= 3:
		hdr, n = 3, int(binary.BigEndian.Uint16(b[i+1:]))
	case (c == 0xdb || c == 0xc6) && len(b)-i >= 5:
		hdr, n = 5, int(binary.BigEndian.Uint32(b[i+1:]))
	default:
		return nil, i, false
	}
	i += hdr
	if n < 0 || n > len(b)-i {
		return nil, i, false
	}
	return b[i : i+n : i+n], i + n, true
}

// uintAt reads an unsigned integer encoding (positive fixint, uint8..uint64)
// at b[i]. It does not accept signed encodings; see intAt.
func uintAt(b []byte, i int) (v uint64, next int, ok bool) {
	if i >= len(b) {
		return 0, i, false
	}
	switch c := b[i]; {
	case c <= 0x7f:
		return uint64(c), i + 1, true
	case c == 0xcc && len(b)-i >= 2:
		return uint64(b[i+1]), i + 2, true
	case c == 0xcd && len(b)-i >= 3:
		return uint64(binary.BigEndian.Uint16(b[i+1:])), i + 3, true
	case c == 0xce && len(b)-i >= 5:
		return uint64(binary.BigEndian.Uint32(b[i+1:])), i + 5, true
	case c == 0xcf && len(b)-i >= 9:
		return binary.BigEndian.Uint64(b[i+1:]), i + 9, true
	}
	return 0, i, false
}

// intAt reads a signed integer encoding (negative fixint, int8..int64) at b[i].
func intAt(b []byte, i int) (v int64, next int, ok bool) {
	if i >= len(b) {
		return 0, i, false
	}
	switch c := b[i]; {
	case c >= 0xe0:
		return int64(int8(c)), i + 1, true
	case c == 0xd0 && len(b)-i >= 2:
		return int64(int8(b[i+1])), i + 2, true
	case c == 0xd1 && len(b)-i >= 3:
		return int64(int16(binary.BigEndian.Uint16(b[i+1:]))), i + 3, true
	case c == 0xd2 && len(b)-i >= 5:
		return int64(int32(binary.BigEndian.Uint32(b[i+1:]))), i + 5, true
	case c == 0xd3 && len(b)-i >= 9:
		return int64(binary.BigEndian.Uint64(b[i+1:])), i + 9, true
	}
	return 0, i, false
}

// floatAt reads a float32 or float64 at b[i].
func floatAt(b []byte, i int) (v float64, next int, ok bool) {
	if i >= len(b) {
		return 0, i, false
	}
	switch c := b[i]; {
	case c == 0xca && len(b)-i >= 5:
		return float64(math.Float32frombits(binary.BigEndian.Uint32(b[i+1:]))), i + 5, true
	case c == 0xcb && len(b)-i >= 9:
		return math.Float64frombits(binary.BigEndian.Uint64(b[i+1:])), i + 9, true
	}
	return 0, i, false
}

// extAt reads an ext object (fixext1..16, ext8/16/32) at b[i] and returns its
// type and payload.
func extAt(b []byte, i int) (typ int8, data []byte, next int, ok bool) {
	if i >= len(b) {
		return 0, nil, i, false
	}
	var hdr, n int
	switch c := b[i]; {
	case c >= 0xd4 && c <= 0xd8:
		hdr, n = 1, 1<<(c-0xd4)
	case c == 0xc7 && len(b)-i >= 2:
		hdr, n = 2, int(b[i+1])
	case c == 0xc8 && len(b)-i >= 3:
		hdr, n = 3, int(binary.BigEndian.Uint16(b[i+1:]))
	case c == 0xc9 && len(b)-i >= 5:
		hdr, n = 5, int(binary.BigEndian.Uint32(b[i+1:]))
	default:
		return 0, nil, i, false
	}
	i += hdr
	if len(b)-i < 1 || n < 0 || n > len(b)-i-1 {
		return 0, nil, i, false
	}
	typ = int8(b[i])
	i++
	return typ, b[i : i+n : i+n], i + n, true
}
