package chunk

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"
)

// AppendEventHeader appends the start of a v2 event with time t and empty
// metadata, 92 92 d7 00 <sec> <nsec> 80: exactly one map, the body, must be
// appended after it.
func AppendEventHeader(dst []byte, t time.Time) []byte {
	dst = append(dst, 0x92, 0x92)
	dst = AppendTimestampExt(dst, t)
	return append(dst, 0x80)
}

// AppendEventV2 appends the v2 event [[t, meta], body]. A nil meta is written
// as an empty map.
func AppendEventV2(dst []byte, t time.Time, meta, body map[string]any) []byte {
	dst = append(dst, 0x92, 0x92)
	dst = AppendTimestampExt(dst, t)
	dst = appendMap(dst, meta)
	return appendMap(dst, body)
}

// AppendEventLegacy appends the legacy event [ts, body]. ts is encoded by
// AppendValue: a time.Time becomes an EventTime ext, an integer or float is
// written as such, and any other value too (which lets tests build events
// with unusable timestamps).
func AppendEventLegacy(dst []byte, ts any, body map[string]any) []byte {
	dst = append(dst, 0x92)
	dst = AppendValue(dst, ts)
	return appendMap(dst, body)
}

// AppendGroupStart appends a group start marker [[-1, meta], attrs], the way
// Fluent Bit's encoder writes it: EventTime seconds 0xFFFFFFFF, nanoseconds 0.
func AppendGroupStart(dst []byte, meta, attrs map[string]any) []byte {
	dst = append(dst, 0x92, 0x92)
	dst = appendEventTime(dst, groupStartSec, 0)
	dst = appendMap(dst, meta)
	return appendMap(dst, attrs)
}

// AppendGroupEnd appends a group end marker [[-2, {}], {}]: EventTime seconds
// 0xFFFFFFFE, nanoseconds 0.
func AppendGroupEnd(dst []byte) []byte {
	dst = append(dst, 0x92, 0x92)
	dst = appendEventTime(dst, groupEndSec, 0)
	return append(dst, 0x80, 0x80)
}

// AppendTimestampExt appends t as a Fluent Bit EventTime: fixext8 of type 0
// holding the seconds and nanoseconds as big-endian uint32. Seconds outside
// 1970..2106 wrap, as they do in Fluent Bit.
func AppendTimestampExt(dst []byte, t time.Time) []byte {
	return appendEventTime(dst, uint32(t.Unix()), uint32(t.Nanosecond()))
}

func appendEventTime(dst []byte, sec, nsec uint32) []byte {
	dst = append(dst, 0xd7, 0x00)
	dst = binary.BigEndian.AppendUint32(dst, sec)
	return binary.BigEndian.AppendUint32(dst, nsec)
}

// AppendValue appends v as msgpack. Supported: nil, bool, all int and uint
// types, float32, float64, string, []byte (as bin), time.Time (as an EventTime
// ext), map[string]any, map[string]string, []any, []string, and Value (its Raw
// bytes, or nil for the zero Value). Any other value is written as the str
// fmt.Sprint(v) gives.
func AppendValue(dst []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return AppendNil(dst)
	case bool:
		return AppendBool(dst, x)
	case int:
		return AppendInt(dst, int64(x))
	case int8:
		return AppendInt(dst, int64(x))
	case int16:
		return AppendInt(dst, int64(x))
	case int32:
		return AppendInt(dst, int64(x))
	case int64:
		return AppendInt(dst, x)
	case uint:
		return AppendUint(dst, uint64(x))
	case uint8:
		return AppendUint(dst, uint64(x))
	case uint16:
		return AppendUint(dst, uint64(x))
	case uint32:
		return AppendUint(dst, uint64(x))
	case uint64:
		return AppendUint(dst, x)
	case float32:
		dst = append(dst, 0xca)
		return binary.BigEndian.AppendUint32(dst, math.Float32bits(x))
	case float64:
		return AppendFloat(dst, x)
	case string:
		return AppendStr(dst, x)
	case []byte:
		return AppendBin(dst, x)
	case time.Time:
		return AppendTimestampExt(dst, x)
	case map[string]any:
		return appendMap(dst, x)
	case map[string]string:
		dst = AppendMapHeader(dst, len(x))
		for _, k := range slices.Sorted(maps.Keys(x)) {
			dst = AppendStr(dst, k)
			dst = AppendStr(dst, x[k])
		}
		return dst
	case []any:
		dst = AppendArrayHeader(dst, len(x))
		for _, e := range x {
			dst = AppendValue(dst, e)
		}
		return dst
	case []string:
		dst = AppendArrayHeader(dst, len(x))
		for _, e := range x {
			dst = AppendStr(dst, e)
		}
		return dst
	case Value:
		if x.Kind == KindInvalid {
			return AppendNil(dst)
		}
		return append(dst, x.Raw...)
	default:
		return AppendStr(dst, fmt.Sprint(v))
	}
}

// appendMap appends m with its keys sorted; a nil m is an empty map.
func appendMap(dst []byte, m map[string]any) []byte {
	dst = AppendMapHeader(dst, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		dst = AppendStr(dst, k)
		dst = AppendValue(dst, m[k])
	}
	return dst
}

// AppendNil appends msgpack nil.
func AppendNil(dst []byte) []byte {
	return append(dst, 0xc0)
}

// AppendBool appends a msgpack boolean.
func AppendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, 0xc3)
	}
	return append(dst, 0xc2)
}

// AppendInt appends v in its shortest encoding: the unsigned forms when v is
// not negative, else negative fixint or int8..int64.
func AppendInt(dst []byte, v int64) []byte {
	switch {
	case v >= 0:
		return AppendUint(dst, uint64(v))
	case v >= -32:
		return append(dst, byte(int8(v)))
	case v >= math.MinInt8:
		return append(dst, 0xd0, byte(int8(v)))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(dst, 0xd1), uint16(int16(v)))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(dst, 0xd2), uint32(int32(v)))
	default:
		return binary.BigEndian.AppendUint64(append(dst, 0xd3), uint64(v))
	}
}

// AppendUint appends v in its shortest encoding: positive fixint or
// uint8..uint64.
func AppendUint(dst []byte, v uint64) []byte {
	switch {
	case v <= 0x7f:
		return append(dst, byte(v))
	case v <= math.MaxUint8:
		return append(dst, 0xcc, byte(v))
	case v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xcd), uint16(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, 0xce), uint32(v))
	default:
		return binary.BigEndian.AppendUint64(append(dst, 0xcf), v)
	}
}

// AppendFloat appends v as a float64.
func AppendFloat(dst []byte, v float64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, 0xcb), math.Float64bits(v))
}

// AppendStr appends s as a msgpack str.
func AppendStr(dst []byte, s string) []byte {
	dst = appendStrHeader(dst, len(s))
	return append(dst, s...)
}

// AppendStrBytes appends s as a msgpack str (not bin).
func AppendStrBytes(dst []byte, s []byte) []byte {
	dst = appendStrHeader(dst, len(s))
	return append(dst, s...)
}

func appendStrHeader(dst []byte, n int) []byte {
	switch {
	case n <= 31:
		return append(dst, 0xa0|byte(n))
	case n <= math.MaxUint8:
		return append(dst, 0xd9, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xda), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(dst, 0xdb), uint32(n))
	}
}

// AppendBin appends b as msgpack bin.
func AppendBin(dst []byte, b []byte) []byte {
	switch n := len(b); {
	case n <= math.MaxUint8:
		dst = append(dst, 0xc4, byte(n))
	case n <= math.MaxUint16:
		dst = binary.BigEndian.AppendUint16(append(dst, 0xc5), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint32(append(dst, 0xc6), uint32(n))
	}
	return append(dst, b...)
}

// AppendExt appends an ext object of type typ holding data, in the fixext
// form when len(data) is 1, 2, 4, 8 or 16.
func AppendExt(dst []byte, typ int8, data []byte) []byte {
	switch n := len(data); n {
	case 1, 2, 4, 8, 16:
		code := byte(0xd4)
		for s := n; s > 1; s >>= 1 {
			code++
		}
		dst = append(dst, code)
	default:
		switch {
		case n <= math.MaxUint8:
			dst = append(dst, 0xc7, byte(n))
		case n <= math.MaxUint16:
			dst = binary.BigEndian.AppendUint16(append(dst, 0xc8), uint16(n))
		default:
			dst = binary.BigEndian.AppendUint32(append(dst, 0xc9), uint32(n))
		}
	}
	dst = append(dst, byte(typ))
	return append(dst, data...)
}

// AppendArrayHeader appends the header of an array of n elements; the n
// elements must follow. n must not be negative.
func AppendArrayHeader(dst []byte, n int) []byte {
	switch {
	case n <= 15:
		return append(dst, 0x90|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xdc), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(dst, 0xdd), uint32(n))
	}
}

// AppendMapHeader appends the header of a map of n key/value pairs; the 2n
// keys and values must follow. n must not be negative.
func AppendMapHeader(dst []byte, n int) []byte {
	switch {
	case n <= 15:
		return append(dst, 0x80|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xde), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(dst, 0xdf), uint32(n))
	}
}
