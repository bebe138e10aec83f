package chunk

import (
	"bytes"
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ugorji/go/codec"
)

// This file is a differential oracle for the Reader and Lookup: it decodes
// the same bytes with github.com/ugorji/go/codec, the msgpack decoder that
// fluent-bit-go's output package uses and that shares no code with this
// package, and derives from what that decoder reads, by the rules of the
// package doc, what the Reader and Lookup must return.
//
// Where ugorji and this package may differ, and how the oracle treats it:
//
//   - An ext of type −1 (the msgpack timestamp) whose length is not 4, 8 or
//     12: ugorji refuses it ("invalid length of bytes for decoding time"),
//     this package reads any ext as opaque bytes, as msgpack-c and Fluent Bit
//     do. Nothing from that top-level object on is compared.
//   - Nesting deeper than ugorji's MaxDepth (set to its maximum, 32767):
//     ugorji refuses, this package walks nesting without a stack. Nothing
//     from that object on is compared.
//   - ugorji reads positive fixints as int64 and uint8..uint64 as uint64;
//     Lookup reads every unsigned encoding as KindUint. Values are compared
//     as numbers.
//   - An EventTime (ext type 0 of 8 bytes) in the ext16 or ext32 encoding:
//     ugorji, like msgpack-c, reads the same ext as from fixext8 or ext8;
//     this package reads a time only from fixext8 (what Fluent Bit writes)
//     and ext8, and returns the record without a time (TestReaderTimestamps
//     pins this). The oracle expects no time there.
//   - A map with repeated keys: Lookup returns the first, as Fluent Bit's
//     record accessor does. The oracle reads maps as ordered pairs (ugorji
//     decodes a map into a slice in stream order), so it expects the first.
//
// Everything else must agree: the object boundaries, which objects are
// records, group markers or malformed, each record's time, metadata and body
// bytes, and what Lookup finds.

// ugorji returns the msgpack handle: str decodes to string, bin to []byte,
// an ext to codec.RawExt (type −1 to time.Time). It is built once, as a
// handle is costly to set up and safe for concurrent use once configured.
var ugorji = sync.OnceValue(func() *codec.MsgpackHandle {
	h := new(codec.MsgpackHandle)
	h.RawToString = true
	h.MaxDepth = math.MaxInt16
	return h
})

// uDecode decodes one object from b into v and returns the bytes it read.
func uDecode(b []byte, v any) (n int, err error) {
	dec := codec.NewDecoderBytes(b, ugorji())
	err = dec.Decode(v)
	return dec.NumBytesRead(), err
}

// allowedDifference reports whether err is one of the refusals listed above,
// where ugorji rejects msgpack that this package reads.
func allowedDifference(err error) bool {
	s := err.Error()
	return strings.Contains(s, "invalid length of bytes for decoding time") ||
		strings.Contains(s, "maximum decoding depth exceeded")
}

// uObject returns the first object of b as ugorji frames it. ok is false if
// ugorji cannot read one; allowed then tells if that is an allowed difference.
func uObject(b []byte) (obj []byte, ok, allowed bool) {
	var raw codec.Raw
	n, err := uDecode(b, &raw)
	if err != nil {
		return nil, false, allowedDifference(err)
	}
	if n != len(raw) || n == 0 || !bytes.Equal(raw, b[:n]) {
		panic("ugorji: Raw of " + strconv.Itoa(len(raw)) + " bytes after reading " + strconv.Itoa(n))
	}
	return b[:n:n], true, false
}

// uElems returns the elements of the array obj, or the keys and values of
// the map obj in stream order, as ugorji frames them.
func uElems(tb testing.TB, obj []byte) []codec.Raw {
	tb.Helper()
	var elems []codec.Raw
	if _, err := uDecode(obj, &elems); err != nil {
		tb.Fatalf("ugorji cannot split % x, which it framed: %v", obj, err)
	}
	return elems
}

// uScalar decodes the scalar obj; containers are reported as nil, false
// (their keys need not be hashable, so ugorji could not build them).
func uScalar(tb testing.TB, obj []byte) (any, bool) {
	tb.Helper()
	if isArrayByte(obj[0]) || isMapByte(obj[0]) {
		return nil, false
	}
	var v any
	if _, err := uDecode(obj, &v); err != nil {
		tb.Fatalf("ugorji cannot decode % x, which it framed: %v", obj, err)
	}
	return v, true
}

// isArrayByte and isMapByte tell a container from the first byte of an
// object (msgpack spec: fixarray/array16/array32, fixmap/map16/map32).
func isArrayByte(c byte) bool { return c&0xf0 == 0x90 || c == 0xdc || c == 0xdd }
func isMapByte(c byte) bool   { return c&0xf0 == 0x80 || c == 0xde || c == 0xdf }

// wantEvent is what the oracle says one top-level object is.
type wantEvent struct {
	kind    string // "record", "group" or "malformed"
	meta    []byte // nil for a legacy event
	body    []byte
	hasTime bool
	sec     int64
	nsec    int64
	float   bool // the time came from a float: nsec may differ by 1
}

// oracleChunk splits data into objects with ugorji and classifies each. n is
// the length of the prefix the oracle can judge: all of data, unless an
// allowed difference stops it; broken is true if ugorji found the framing of
// that prefix broken at its last object.
func oracleChunk(tb testing.TB, data []byte) (events []wantEvent, n int, broken bool) {
	tb.Helper()
	for n < len(data) {
		obj, ok, allowed := uObject(data[n:])
		if allowed {
			return events, n, false
		}
		if !ok {
			return events, len(data), true
		}
		events = append(events, oracleEvent(tb, obj))
		n += len(obj)
	}
	return events, n, false
}

// oracleEvent classifies one well-framed object by the rules of the package
// doc, reading it with ugorji.
func oracleEvent(tb testing.TB, obj []byte) wantEvent {
	tb.Helper()
	bad := wantEvent{kind: "malformed"}
	if !isArrayByte(obj[0]) {
		return bad
	}
	ev := uElems(tb, obj)
	if len(ev) != 2 {
		return bad
	}
	w := wantEvent{kind: "record", body: ev[1]}
	ts := []byte(ev[0])
	if isArrayByte(ts[0]) { // v2 header [ts, meta]
		hdr := uElems(tb, ts)
		if len(hdr) != 2 || !isMapByte(hdr[1][0]) {
			return bad
		}
		ts, w.meta = hdr[0], hdr[1]
	}
	if !isMapByte(w.body[0]) {
		return bad
	}
	v, _ := uScalar(tb, ts)
	var sec uint64 // the seconds, when integral and not negative
	var nsec int64
	switch v := v.(type) {
	case int64:
		if v == -1 || v == -2 {
			return wantEvent{kind: "group"}
		}
		if v < 0 {
			return w
		}
		sec = uint64(v)
	case uint64:
		sec = v
	case float64:
		if v >= 0 && v < 1<<31 {
			s := math.Floor(v)
			w.hasTime, w.sec, w.nsec, w.float = true, int64(s), int64((v-s)*1e9), true
		}
		return w
	case codec.RawExt: // an EventTime: ext type 0 of 8 bytes, as fixext8 or ext8
		if v.Tag != 0 || len(v.Data) != 8 || (ts[0] != 0xd7 && ts[0] != 0xc7) {
			return w
		}
		sec = uint64(binary.BigEndian.Uint32(v.Data))
		nsec = int64(binary.BigEndian.Uint32(v.Data[4:]))
	default: // nil, bool, str, bin, timestamp ext, container
		return w
	}
	if sec == 0xFFFFFFFF || sec == 0xFFFFFFFE { // −1 and −2 as uint32
		return wantEvent{kind: "group"}
	}
	if sec <= math.MaxInt32 && nsec < 1e9 {
		w.hasTime, w.sec, w.nsec = true, int64(sec), nsec
	}
	return w
}

// checkEvent fails unless got is the record w.
func checkEvent(tb testing.TB, i int, got Event, w wantEvent) {
	tb.Helper()
	if w.kind != "record" {
		tb.Fatalf("record %d: Reader returned an event; ugorji reads a %s object", i, w.kind)
	}
	if !bytes.Equal(got.Body, w.body) || !bytes.Equal(got.Meta, w.meta) || (got.Meta == nil) != (w.meta == nil) {
		tb.Fatalf("record %d: Meta % x Body % x; ugorji reads Meta % x Body % x", i, got.Meta, got.Body, w.meta, w.body)
	}
	if got.HasTime != w.hasTime {
		tb.Fatalf("record %d: HasTime %v (%v); ugorji reads a time: %v (%d.%09d)", i, got.HasTime, got.Time, w.hasTime, w.sec, w.nsec)
	}
	if !w.hasTime {
		return
	}
	d := got.Time.Sub(time.Unix(w.sec, w.nsec))
	if got.Time.Location() != time.UTC || got.Time.Unix() != w.sec || d > 1 || d < -1 || (!w.float && d != 0) {
		tb.Fatalf("record %d: Time %v; ugorji reads %d.%09d", i, got.Time, w.sec, w.nsec)
	}
}

// oracleLookup walks p through the first object of body with ugorji: the
// encoded value found, found=false if the path leads nowhere, or
// known=false if ugorji cannot judge the object (broken framing there, or
// an allowed difference).
func oracleLookup(tb testing.TB, body []byte, p Path) (val []byte, found, known bool) {
	tb.Helper()
	obj, ok, _ := uObject(body)
	if !ok {
		return nil, false, false
	}
	for _, seg := range p {
		switch {
		case isMapByte(obj[0]):
			kv := uElems(tb, obj)
			next := []byte(nil)
			for j := 0; j+1 < len(kv); j += 2 {
				k, _ := uScalar(tb, kv[j])
				if s, isStr := k.(string); isStr && s == seg {
					next = kv[j+1]
				} else if b, isBin := k.([]byte); isBin && string(b) == seg {
					next = kv[j+1]
				}
				if next != nil {
					break
				}
			}
			if next == nil {
				return nil, false, true
			}
			obj = next
		case isArrayByte(obj[0]):
			// An index is a decimal of at most 10 digits (no sign).
			idx, err := strconv.ParseUint(seg, 10, 64)
			if err != nil || len(seg) > 10 || strings.TrimLeft(seg, "0123456789") != "" {
				return nil, false, true
			}
			elems := uElems(tb, obj)
			if idx >= uint64(len(elems)) {
				return nil, false, true
			}
			obj = elems[idx]
		default:
			return nil, false, true
		}
	}
	return obj, true, true
}

// checkValue fails unless v is what ugorji reads from raw, the encoded
// object Lookup should have found.
func checkValue(tb testing.TB, v Value, raw []byte) {
	tb.Helper()
	if !bytes.Equal(v.Raw, raw) {
		tb.Fatalf("Lookup Raw % x; ugorji frames % x", v.Raw, raw)
	}
	if isArrayByte(raw[0]) || isMapByte(raw[0]) {
		n := len(uElems(tb, raw))
		if isMapByte(raw[0]) {
			n /= 2
		}
		want := KindArray
		if isMapByte(raw[0]) {
			want = KindMap
		}
		if v.Kind != want || v.Int != int64(n) {
			tb.Fatalf("Lookup = %v of %d; ugorji reads a %v of %d", v.Kind, v.Int, want, n)
		}
		return
	}
	x, _ := uScalar(tb, raw)
	if !sameScalar(v, x) {
		tb.Fatalf("Lookup = %+v; ugorji reads %#v", v, x)
	}
}

// sameScalar reports whether v holds the scalar x that ugorji decoded.
func sameScalar(v Value, x any) bool {
	switch x := x.(type) {
	case nil:
		return v.Kind == KindNil
	case bool:
		return v.Kind == KindBool && v.Bool == x
	case int64: // a signed encoding or a positive fixint
		return (v.Kind == KindInt && v.Int == x) || (v.Kind == KindUint && x >= 0 && v.Uint == uint64(x))
	case uint64:
		return v.Kind == KindUint && v.Uint == x
	case float64:
		return v.Kind == KindFloat && (v.Float == x || (math.IsNaN(v.Float) && math.IsNaN(x)))
	case string: // str
		return v.Kind == KindStr && string(v.Str) == x
	case []byte: // bin
		return v.Kind == KindStr && bytes.Equal(v.Str, x)
	case codec.RawExt:
		return v.Kind == KindExt && v.Int == int64(int8(uint8(x.Tag))) && bytes.Equal(v.Str, x.Data)
	case time.Time: // ext −1 of length 4, 8 or 12
		n := len(v.Str)
		return v.Kind == KindExt && v.Int == -1 && (n == 4 || n == 8 || n == 12)
	}
	return false
}
