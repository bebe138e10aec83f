package notify

import (
	"github.com/dosguard/dosguard/ban"
	"strconv"
	"time"
	"unicode/utf8"
)

// MaxMessageBytes is the largest message SNS accepts from Publish by default
// (256 KiB, message body and attributes together). AppendJSON keeps every
// message well below it.
const MaxMessageBytes = 262144

// Limits that keep a message below MaxMessageBytes even when every byte of
// every field needs a six-byte \u00XX escape: 6*(256+256+16384) +
// 100*(6*64+3) + 100*21 + fixed keys is under 150 KB.
const (
	maxRuleBytes    = 256
	maxHostBytes    = 256
	maxReasonBytes  = 16384
	maxACLIDBytes   = 64
	maxACLIDs       = 100
	maxRuleNumbers  = 100
	truncatedSuffix = "..."
)

// Decision is one thing dosguard decided about one client, the content of
// one notification.
type Decision struct {
	// Rule is the name of the rule that tripped, e.g. "block.flood".
	Rule string
	// Host is the client address (or prefix) the decision is about.
	Host string
	// Requests is how many requests the client made in Window.
	Requests int
	// Window is the length of the sliding window the rule counts in.
	Window time.Duration
	// Status is what was done.
	Status ban.Status
	// ACLIDs are the network ACLs that got (or lost) a deny entry.
	ACLIDs []string
	// RuleNumbers are the NACL rule numbers used, in the order of ACLIDs.
	RuleNumbers []int
	// Reason explains a failure (or anything else worth saying); optional.
	Reason string
	// ExpiresAt is when the ban ends; zero means never or not applicable.
	ExpiresAt time.Time
	// ProcessedAt is when dosguard made the decision.
	ProcessedAt time.Time
	// Time is the timestamp of the record that tripped the rule.
	Time time.Time
	// DryRun is true when nothing was changed in AWS.
	DryRun bool
}

// MarshalJSON returns AppendJSON(nil); see AppendJSON for the format. Note
// that json.Marshal(d) then HTML-escapes <, > and &, which AppendJSON does
// not; both decode to the same values.
func (d Decision) MarshalJSON() ([]byte, error) {
	return d.AppendJSON(make([]byte, 0, 384)), nil
}

// AppendJSON appends the notification message for d to dst and returns the
// extended buffer. The object has this fixed field order:
//
//	{"rule":"block.flood","host":"203.0.113.7","requests":1000,"window":"60s",
//	 "status":"blocked","acl_ids":["acl-0abc"],"rule_numbers":[17],
//	 "reason":"...","expires_at":"2024-05-01T13:00:00Z",
//	 "processed_at":"2024-05-01T12:00:01Z","proccessed_at":"2024-05-01T12:00:01Z",
//	 "time":"2024-05-01T12:00:00Z","dry_run":false}
//
// The fields requests, host, status, proccessed_at and time are those of the
// Fluentd/Norikra pipeline dosguard replaces. "proccessed_at" (sic) is a
// legacy alias that always equals "processed_at", kept so existing
// subscribers keep working; new subscribers should read "processed_at".
//
// window is the window in seconds with an "s" suffix ("60s", "1.5s"), which
// time.ParseDuration also reads. acl_ids and rule_numbers are [] when empty.
// reason is present only when set. Times are RFC 3339 in UTC with as many
// fractional digits as needed, and null when zero (expires_at is null for a
// ban that never expires and for decisions without a ban).
//
// Strings are escaped as encoding/json does, except that <, > and & are not
// HTML-escaped; invalid UTF-8 becomes U+FFFD. Over-long values are cut so a
// message never exceeds MaxMessageBytes: rule and host at 256 bytes, reason
// at 16 KiB, each ACL ID at 64 bytes (cut strings end in "..."), and at most
// 100 ACL IDs and 100 rule numbers.
func (d Decision) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"rule":`...)
	dst = appendString(dst, truncate(d.Rule, maxRuleBytes))
	dst = append(dst, `,"host":`...)
	dst = appendString(dst, truncate(d.Host, maxHostBytes))
	dst = append(dst, `,"requests":`...)
	dst = strconv.AppendInt(dst, int64(d.Requests), 10)
	dst = append(dst, `,"window":"`...)
	dst = appendSeconds(dst, d.Window)
	dst = append(dst, `s","status":`...)
	dst = appendString(dst, truncate(string(d.Status), maxRuleBytes))
	dst = append(dst, `,"acl_ids":[`...)
	for i, id := range d.ACLIDs {
		if i == maxACLIDs {
			break
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, truncate(id, maxACLIDBytes))
	}
	dst = append(dst, `],"rule_numbers":[`...)
	for i, n := range d.RuleNumbers {
		if i == maxRuleNumbers {
			break
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendInt(dst, int64(n), 10)
	}
	dst = append(dst, ']')
	if d.Reason != "" {
		dst = append(dst, `,"reason":`...)
		dst = appendString(dst, truncate(d.Reason, maxReasonBytes))
	}
	dst = append(dst, `,"expires_at":`...)
	dst = appendTime(dst, d.ExpiresAt)
	dst = append(dst, `,"processed_at":`...)
	dst = appendTime(dst, d.ProcessedAt)
	dst = append(dst, `,"proccessed_at":`...)
	dst = appendTime(dst, d.ProcessedAt)
	dst = append(dst, `,"time":`...)
	dst = appendTime(dst, d.Time)
	dst = append(dst, `,"dry_run":`...)
	dst = strconv.AppendBool(dst, d.DryRun)
	return append(dst, '}')
}

// appendSeconds appends w in seconds without the unit (the caller adds
// "s"): 60, 1.5, 0.001, -2.
func appendSeconds(dst []byte, w time.Duration) []byte {
	if w%time.Second == 0 {
		return strconv.AppendInt(dst, int64(w/time.Second), 10)
	}
	return strconv.AppendFloat(dst, w.Seconds(), 'f', -1, 64)
}

// appendTime appends t as a quoted RFC 3339 UTC time, or null when t is zero.
func appendTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(dst, "null"...)
	}
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

// truncate cuts s to at most max bytes on a rune boundary, ending the cut
// string with truncatedSuffix.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max - len(truncatedSuffix)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + truncatedSuffix
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. It escapes like encoding/json
// without HTML escaping: quotes, backslashes, control characters, U+2028 and
// U+2029; each byte of invalid UTF-8 becomes U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
