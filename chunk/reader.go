// Package chunk decodes the msgpack chunks Fluent Bit hands to an output
// plugin, and looks fields up in the decoded records, without allocating.
//
// # The model
//
// A chunk is a run of msgpack objects written back to back, with no outer
// array. Each object is one event, in one of two shapes:
//
//	[[ts, metadata{}], body{}]   Fluent Bit v2 (native) event
//	[ts, body{}]                 legacy (forward) event
//
// ts is the ext type 0 EventTime (8 bytes: seconds and nanoseconds, both
// big-endian uint32), an integer number of seconds, or a float number of
// seconds. Events whose seconds are 0xFFFFFFFF or 0xFFFFFFFE (−1 and −2 read
// as int32, as Fluent Bit's own decoder reads them) are group start and group
// end markers: they are counted in Stats.Groups and never returned.
//
// A Reader walks a chunk one event at a time. It hands out Events whose Meta
// and Body are sub-slices of the chunk, so they are valid only as long as the
// chunk is: in a plugin, until the flush callback returns. Lookup then finds a
// field in a Body, following a Path through nested maps, again returning
// slices of the chunk.
//
// # Bad input
//
// Nothing here panics, reads out of bounds or loops forever, whatever the
// bytes. An object that is well-framed msgpack but not a valid event (a
// string, an array of the wrong size, a body that is not a map) is counted in
// Stats.Malformed and skipped, and reading goes on with the next object. When
// the framing itself is broken (the chunk is truncated, or uses the reserved
// byte 0xc1) nothing after that point can be trusted: the Reader counts one
// malformed event and stops. Nesting is walked iteratively, so deep nesting
// costs no stack; a container cannot declare more elements than there are
// bytes left.
//
// A well-framed event whose ts is not a usable time (a negative integer other
// than −1/−2, a string, nil, an ext of another type or size, a NaN or
// negative float, nanoseconds ≥ 1e9, or seconds that are negative as int32
// like Fluent Bit reads them) is still a record: it is returned with
// HasTime=false and the caller substitutes the arrival time. This is more
// lenient than Fluent Bit, which drops such records; a counter of requests
// loses less by keeping them. Group markers are recognised, as by Fluent
// Bit, from the seconds alone (the nanoseconds are not checked), whether the
// ts is an EventTime, the unsigned integer 0xFFFFFFFF/0xFFFFFFFE, or the
// negative integer −1/−2 (which Fluent Bit would reject; a marker's body is
// group attributes, never a request, so it is skipped either way).
//
// # Encoding
//
// The Append functions write the same shapes, for tests, for the CLI that
// turns log lines into records, and for the C host tests. Each appends to dst
// and returns the extended slice, like strconv's. Integers take their
// shortest encoding, non-negative ones the unsigned forms, as msgpack-c
// writes them; map keys are sorted so the output is deterministic. The
// fixed-shape helpers allocate nothing beyond growing dst, so a hot path can
// build records with them:
//
//	dst = chunk.AppendEventHeader(dst, t) // [[t, {}], ...
//	dst = chunk.AppendMapHeader(dst, 2)   // ... body{}]
//	dst = chunk.AppendStr(dst, "host")
//	dst = chunk.AppendStrBytes(dst, hostField)
//	dst = chunk.AppendStr(dst, "code")
//	dst = chunk.AppendUint(dst, 200)
package chunk

import (
	"encoding/binary"
	"math"
	"time"
)

// Event is one log record of a chunk.
//
// Meta and Body alias the chunk passed to the Reader: they are valid only as
// long as that memory is, and must be copied to be kept.
type Event struct {
	// Time is the event's own timestamp, in UTC; zero when HasTime is false.
	Time time.Time
	// HasTime reports whether the event carried a usable timestamp.
	HasTime bool
	// Meta is the encoded metadata map of a v2 event; nil for a legacy event.
	Meta []byte
	// Body is the encoded record map.
	Body []byte
}

// Stats counts what a Reader has seen since its last Reset.
type Stats struct {
	// Records is the number of events returned by Next.
	Records int
	// Groups is the number of group start and end markers skipped.
	Groups int
	// Malformed is the number of objects that were not valid events,
	// plus one if the chunk ended in broken framing.
	Malformed int
}

// Reader iterates over the events of a chunk. The zero value reads an empty
// chunk; Reset points it at another. A Reader is not safe for concurrent use,
// but it is a small value: use one per flush.
type Reader struct {
	data  []byte
	off   int
	stats Stats
}

// NewReader returns a Reader over data.
func NewReader(data []byte) Reader {
	return Reader{data: data}
}

// Reset points r at data and clears its Stats.
func (r *Reader) Reset(data []byte) {
	*r = Reader{data: data}
}

// Stats returns the counts so far.
func (r *Reader) Stats() Stats {
	return r.stats
}

// Next returns the next record of the chunk, skipping group markers and
// malformed objects. It returns false when the chunk is exhausted or its
// framing is broken.
func (r *Reader) Next() (Event, bool) {
	var ev Event
	ok := r.Read(&ev)
	return ev, ok
}

// Read is Next into ev, which it overwrites: the flush's loop, which spares
// copying an Event per record.
func (r *Reader) Read(ev *Event) bool {
	for r.off < len(r.data) {
		start := r.off
		group, end, ok := parseEvent(r.data, start, ev)
		if ok {
			r.off = end
			if group {
				r.stats.Groups++
				continue
			}
			r.stats.Records++
			return true
		}
		r.stats.Malformed++
		end, ok = skip(r.data, start)
		if !ok {
			r.off = len(r.data)
			break
		}
		r.off = end
	}
	*ev = Event{}
	return false
}

// Group marker seconds, as Fluent Bit writes them: int32 −1 and −2 stored in
// the uint32 seconds field of an EventTime.
const (
	groupStartSec = 0xFFFFFFFF
	groupEndSec   = 0xFFFFFFFE
)

// parseEvent decodes the event at b[i]. ok is false if the object there is
// not a valid event or is truncated; the caller then tells those apart by
// skipping the object.
func parseEvent(b []byte, i int, ev *Event) (group bool, end int, ok bool) {
	*ev = Event{}
	var sec, nsec int64
	var tsOK bool
	// Fast path: 92 92 d7 00 <sec> <nsec>, the shape Fluent Bit writes.
	if len(b)-i >= 13 && b[i] == 0x92 && b[i+1] == 0x92 && b[i+2] == 0xd7 && b[i+3] == 0x00 {
		sec = int64(binary.BigEndian.Uint32(b[i+4:]))
		nsec = int64(binary.BigEndian.Uint32(b[i+8:]))
		tsOK = true
		i += 12
		metaEnd, mok := skipMap(b, i)
		if !mok {
			return false, i, false
		}
		ev.Meta = b[i:metaEnd:metaEnd]
		i = metaEnd
	} else {
		n, next, aok := containerLen(b, i, false)
		if !aok || n != 2 {
			return false, i, false
		}
		i = next
		if hn, hnext, hok := containerLen(b, i, false); hok {
			// v2 header [ts, meta]
			if hn != 2 {
				return false, i, false
			}
			i = hnext
			sec, nsec, tsOK, i, ok = parseTime(b, i)
			if !ok {
				return false, i, false
			}
			metaEnd, mok := skipMap(b, i)
			if !mok {
				return false, i, false
			}
			ev.Meta = b[i:metaEnd:metaEnd]
			i = metaEnd
		} else {
			sec, nsec, tsOK, i, ok = parseTime(b, i)
			if !ok {
				return false, i, false
			}
		}
	}
	bodyEnd, bok := skipMap(b, i)
	if !bok {
		return false, i, false
	}
	ev.Body = b[i:bodyEnd:bodyEnd]
	if sec == groupStartSec || sec == groupEndSec || sec == -1 || sec == -2 {
		return true, bodyEnd, true
	}
	// Fluent Bit reads the seconds as int32 and rejects negative ones.
	if tsOK && sec >= 0 && sec <= math.MaxInt32 && nsec >= 0 && nsec < 1e9 {
		ev.Time = time.Unix(sec, nsec).UTC()
		ev.HasTime = true
	}
	return false, bodyEnd, true
}

// skipMap skips the object at b[i], which must be a map.
func skipMap(b []byte, i int) (int, bool) {
	if !isMap(b, i) {
		return i, false
	}
	return skip(b, i)
}

// parseTime reads the ts object at b[i]. ok is false only if the object is
// truncated; an object of another type is skipped with tsOK=false. Negative
// integers are returned as such in sec (so −1 and −2 can mark groups) with
// tsOK=true; the caller range-checks sec.
func parseTime(b []byte, i int) (sec, nsec int64, tsOK bool, next int, ok bool) {
	if i >= len(b) {
		return 0, 0, false, i, false
	}
	c := b[i]
	switch {
	case c <= 0x7f || (c >= 0xcc && c <= 0xcf):
		v, next, ok := uintAt(b, i)
		if !ok {
			return 0, 0, false, i, false
		}
		if v > math.MaxInt32 && v != groupStartSec && v != groupEndSec {
			return 0, 0, false, next, true
		}
		return int64(v), 0, true, next, true
	case c >= 0xe0 || (c >= 0xd0 && c <= 0xd3):
		v, next, ok := intAt(b, i)
		if !ok {
			return 0, 0, false, i, false
		}
		return v, 0, true, next, true
	case c == 0xca || c == 0xcb:
		f, next, ok := floatAt(b, i)
		if !ok {
			return 0, 0, false, i, false
		}
		if !(f >= 0 && f < math.MaxInt32+1) { // also false for NaN
			return 0, 0, false, next, true
		}
		s := math.Floor(f)
		ns := int64((f - s) * 1e9)
		if ns >= 1e9 { // rounding at the top of a second
			ns = 1e9 - 1
		}
		return int64(s), ns, true, next, true
	case c == 0xd7 || c == 0xc7:
		typ, data, next, ok := extAt(b, i)
		if !ok {
			return 0, 0, false, i, false
		}
		if typ != 0 || len(data) != 8 {
			return 0, 0, false, next, true
		}
		return int64(binary.BigEndian.Uint32(data)), int64(binary.BigEndian.Uint32(data[4:])), true, next, true
	}
	next, ok = skip(b, i)
	return 0, 0, false, next, ok
}
