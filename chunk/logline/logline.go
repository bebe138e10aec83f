// Package logline turns access-log lines into Fluent Bit records, as the
// tail input with Fluent Bit's stock apache2, nginx or json parser would: the
// same field names, the time taken out of the record and used as its
// timestamp. The CLI's replay and the rule fixtures use it, so a log file
// meets the detector exactly as the plugin would see it.
package logline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dosguard/dosguard/chunk"
)

// The regular expressions of Fluent Bit's stock apache2 and nginx parsers
// (conf/parsers.conf), so a replayed line yields the record Fluent Bit's tail
// input would have produced.
var (
	apache2Re = regexp.MustCompile(`^(?P<host>[^ ]*) [^ ]* (?P<user>[^ ]*) \[(?P<time>[^\]]*)\] "(?P<method>\S+)(?: +(?P<path>[^\"]*?)(?: +\S*)?)?" (?P<code>[^ ]*) (?P<size>[^ ]*)(?: "(?P<referer>[^\"]*)" "(?P<agent>[^\"]*)")?$`)
	nginxRe   = regexp.MustCompile(`^(?P<remote>[^ ]*) (?P<host>[^ ]*) (?P<user>[^ ]*) \[(?P<time>[^\]]*)\] "(?P<method>\S+)(?: +(?P<path>[^\"]*?)(?: +\S*)?)?" (?P<code>[^ ]*) (?P<size>[^ ]*)(?: "(?P<referer>[^\"]*)" "(?P<agent>[^\"]*)")`)
)

const clfTime = "02/Jan/2006:15:04:05 -0700"

// Parser turns one log line into a msgpack record body and its time.
type Parser struct {
	// Format is auto, apache2, nginx or json (JSON lines); auto picks json
	// for lines starting with '{' and apache2 otherwise.
	Format string
	// TimeKey is the JSON field holding the record time (default "time").
	TimeKey string
}

// Parse appends the record body of line to dst. ok is false for a line the
// format does not match (for json: anything but exactly one JSON object, as
// Fluent Bit's json parser requires); hasTime is false when the line carries
// no time, or one a chunk cannot carry (see chunkTime), and the record is then
// counted at arrival.
func (p Parser) Parse(dst []byte, line []byte) (out []byte, t time.Time, hasTime, ok bool) {
	line = bytes.TrimRight(line, "\r\n")
	if len(bytes.TrimSpace(line)) == 0 {
		return dst, t, false, false
	}
	format := p.Format
	if format == "auto" {
		format = "apache2"
		if bytes.HasPrefix(bytes.TrimSpace(line), []byte("{")) {
			format = "json"
		}
	}
	switch format {
	case "json":
		return p.parseJSON(dst, line)
	case "nginx":
		return parseRegex(dst, nginxRe, line)
	default:
		return parseRegex(dst, apache2Re, line)
	}
}

func parseRegex(dst []byte, re *regexp.Regexp, line []byte) ([]byte, time.Time, bool, bool) {
	m := re.FindSubmatch(line)
	if m == nil {
		return dst, time.Time{}, false, false
	}
	names := re.SubexpNames()
	var t time.Time
	hasTime := false
	n := 0
	for i, name := range names {
		if i > 0 && name != "time" && m[i] != nil {
			n++
		}
	}
	dst = chunk.AppendMapHeader(dst, n)
	for i, name := range names {
		if i == 0 || m[i] == nil {
			continue
		}
		if name == "time" {
			if tt, err := time.Parse(clfTime, string(m[i])); err == nil && chunkTime(tt) {
				t, hasTime = tt, true
			}
			continue
		}
		dst = chunk.AppendStr(dst, name)
		dst = chunk.AppendStrBytes(dst, m[i])
	}
	return dst, t, hasTime, true
}

// jsonTimeLayouts are tried in order for a string time field; the second is
// WOWHoneypot's (2026-11-22T04:04:16+0900).
var jsonTimeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05-0700", "2006-01-02 15:04:05", clfTime}

func (p Parser) parseJSON(dst, line []byte) ([]byte, time.Time, bool, bool) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil { // m is nil for "null"
		return dst, time.Time{}, false, false
	}
	if rest := line[dec.InputOffset():]; len(bytes.Trim(rest, " \t\r\n")) > 0 { // a second value, or junk
		return dst, time.Time{}, false, false
	}
	var t time.Time
	hasTime := false
	key := p.TimeKey
	if key == "" {
		key = "time"
	}
	if v, ok := m[key]; ok {
		t, hasTime = jsonTime(v)
		if hasTime {
			delete(m, key)
		}
	}
	return chunk.AppendValue(dst, normalize(m)), t, hasTime, true
}

// chunkTime reports whether t can be a record time: an EventTime holds the
// seconds as a uint32 and Fluent Bit (like chunk.Reader) reads them back as an
// int32, so only 1970-01-01T00:00:00Z..2038-01-19T03:14:07Z survive. Any
// other time would come back from the chunk as another time or as none.
func chunkTime(t time.Time) bool {
	s := t.Unix()
	return s >= 0 && s <= math.MaxInt32
}

func jsonTime(v any) (time.Time, bool) {
	switch v := v.(type) {
	case string:
		for _, l := range jsonTimeLayouts {
			if t, err := time.Parse(l, v); err == nil {
				if !chunkTime(t) {
					break // a time the chunk cannot carry: none
				}
				return t, true
			}
		}
	case json.Number:
		if f, err := v.Float64(); err == nil && f > 0 && f < math.MaxInt32+1 {
			sec := int64(f)
			return time.Unix(sec, int64((f-float64(sec))*1e9)), true
		}
	}
	return time.Time{}, false
}

// normalize turns json.Number into int64 or float64 for the encoder.
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = normalize(e)
		}
		return v
	case []any:
		for i, e := range v {
			v[i] = normalize(e)
		}
		return v
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	}
	return v
}

// CheckFormat reports whether f is a format Parse knows.
func CheckFormat(f string) error {
	switch f {
	case "auto", "apache2", "nginx", "json":
		return nil
	}
	return fmt.Errorf("--format %q: want one of auto, apache2, nginx, json", strings.TrimSpace(f))
}

// Chunk builds Fluent Bit chunks from lines: v2 events with the line's time,
// or with a nil time (counted at arrival, as Fluent Bit would stamp it).
type Chunk struct {
	Parser  Parser
	buf     []byte
	body    []byte
	records int
}

// Add parses line and appends its record; false when the line is unparsed.
func (c *Chunk) Add(line []byte) bool {
	var t time.Time
	var hasTime, ok bool
	c.body, t, hasTime, ok = c.Parser.Parse(c.body[:0], line)
	if !ok {
		return false
	}
	if hasTime {
		c.buf = chunk.AppendEventHeader(c.buf, t)
	} else {
		c.buf = chunk.AppendArrayHeader(c.buf, 2)
		c.buf = chunk.AppendNil(c.buf)
	}
	c.buf = append(c.buf, c.body...)
	c.records++
	return true
}

// Records is the number of records in the chunk.
func (c *Chunk) Records() int { return c.records }

// Bytes returns the chunk; valid until the next Add or Reset.
func (c *Chunk) Bytes() []byte { return c.buf }

// Reset empties the chunk, keeping its memory.
func (c *Chunk) Reset() { c.buf, c.records = c.buf[:0], 0 }
