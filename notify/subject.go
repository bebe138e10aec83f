package notify

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// DefaultSubject is the subject template used when Config.Subject is empty.
const DefaultSubject = "dosguard: {status} {host} ({rule})"

// MaxSubjectLen is the longest subject Subject returns. SNS wants fewer than
// 100 characters.
const MaxSubjectLen = 99

// fallbackSubject is returned when a template expands to nothing printable.
const fallbackSubject = "dosguard"

// Subject expands the subject template tmpl for d and makes the result
// acceptable to SNS. The placeholders {status}, {host}, {rule} and
// {requests} are replaced by the decision's values; any other text,
// including unknown {names}, is kept as is. Braces are used rather than
// ${...} because Fluent Bit expands ${NAME} from the environment in plugin
// properties. An empty tmpl means DefaultSubject.
//
// The result contains only printable ASCII: control characters (line
// breaks included) are dropped, every other non-ASCII character or invalid
// byte becomes '?'. It is trimmed of spaces, cut to MaxSubjectLen
// characters, and never empty: "dosguard" stands in for an empty result.
func Subject(tmpl string, d Decision) string {
	if tmpl == "" {
		tmpl = DefaultSubject
	}
	buf := make([]byte, 0, 2*MaxSubjectLen)
	for len(tmpl) > 0 && len(buf) <= MaxSubjectLen {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			buf = appendPrintable(buf, tmpl)
			break
		}
		buf = appendPrintable(buf, tmpl[:i])
		tmpl = tmpl[i:]
		switch {
		case strings.HasPrefix(tmpl, "{status}"):
			buf = appendPrintable(buf, string(d.Status))
			tmpl = tmpl[len("{status}"):]
		case strings.HasPrefix(tmpl, "{host}"):
			buf = appendPrintable(buf, d.Host)
			tmpl = tmpl[len("{host}"):]
		case strings.HasPrefix(tmpl, "{rule}"):
			buf = appendPrintable(buf, d.Rule)
			tmpl = tmpl[len("{rule}"):]
		case strings.HasPrefix(tmpl, "{requests}"):
			buf = strconv.AppendInt(buf, int64(d.Requests), 10)
			tmpl = tmpl[len("{requests}"):]
		default:
			buf = append(buf, '{')
			tmpl = tmpl[1:]
		}
	}
	if len(buf) > MaxSubjectLen {
		buf = buf[:MaxSubjectLen]
	}
	s := strings.TrimRight(string(buf), " ")
	if s == "" {
		return fallbackSubject
	}
	return s
}

// appendPrintable appends s to dst keeping printable ASCII, dropping control
// characters (C0, DEL, C1, U+2028 and U+2029) and replacing every other rune
// or invalid byte with '?'. Leading spaces are not appended, and it stops
// once dst is longer than MaxSubjectLen, as the rest would be cut anyway.
func appendPrintable(dst []byte, s string) []byte {
	for i := 0; i < len(s) && len(dst) <= MaxSubjectLen; {
		c := s[i]
		if c < utf8.RuneSelf {
			if c > 0x20 && c < 0x7f || c == ' ' && len(dst) > 0 {
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r >= 0x80 && r <= 0x9f, r == '\u2028', r == '\u2029':
			// control characters and line separators: dropped
		default:
			dst = append(dst, '?')
		}
	}
	return dst
}
