package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/dosguard/dosguard/ban"
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
	maxIPSets       = 10
	maxIPSetBytes   = 256
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
	// IPSets are the ARNs of the AWS WAF IP sets that got (or lost) the
	// address.
	IPSets []string
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
// ip_sets, the WAF IP set ARNs, follows rule_numbers and is present only
// when set (at most 10, each cut at 256 bytes).
// reason is present only when set. Times are RFC 3339 in UTC with as many
// fractional digits as needed, and null when zero (expires_at is null for a
// ban that never expires and for decisions without a ban).
//
// The message is d's decisionJSON through encoding/json without HTML
// escaping (<, > and & stay as they are); invalid UTF-8 becomes U+FFFD.
// Over-long values are cut so a message never exceeds MaxMessageBytes: rule
// and host at 256 bytes, reason at 16 KiB, each ACL ID at 64 bytes (cut
// strings end in "..."), and at most 100 ACL IDs and 100 rule numbers.
func (d Decision) AppendJSON(dst []byte) []byte {
	ids := make([]string, min(len(d.ACLIDs), maxACLIDs))
	for i := range ids {
		ids[i] = truncate(d.ACLIDs[i], maxACLIDBytes)
	}
	var sets []string
	for _, s := range d.IPSets[:min(len(d.IPSets), maxIPSets)] {
		sets = append(sets, truncate(s, maxIPSetBytes))
	}
	nums := d.RuleNumbers[:min(len(d.RuleNumbers), maxRuleNumbers)]
	if nums == nil {
		nums = []int{}
	}
	return appendJSON(dst, decisionJSON{
		Rule:         truncate(d.Rule, maxRuleBytes),
		Host:         truncate(d.Host, maxHostBytes),
		Requests:     d.Requests,
		Window:       seconds(d.Window),
		Status:       truncate(string(d.Status), maxRuleBytes),
		ACLIDs:       ids,
		RuleNumbers:  nums,
		IPSets:       sets,
		Reason:       truncate(d.Reason, maxReasonBytes),
		ExpiresAt:    jsonTime(d.ExpiresAt),
		ProcessedAt:  jsonTime(d.ProcessedAt),
		ProccessedAt: jsonTime(d.ProcessedAt),
		Time:         jsonTime(d.Time),
		DryRun:       d.DryRun,
	})
}

// decisionJSON is the message for one decision, its fields in the order of
// the message (see AppendJSON).
type decisionJSON struct {
	Rule         string   `json:"rule"`
	Host         string   `json:"host"`
	Requests     int      `json:"requests"`
	Window       string   `json:"window"`
	Status       string   `json:"status"`
	ACLIDs       []string `json:"acl_ids"`
	RuleNumbers  []int    `json:"rule_numbers"`
	IPSets       []string `json:"ip_sets,omitempty"`
	Reason       string   `json:"reason,omitempty"`
	ExpiresAt    jsonTime `json:"expires_at"`
	ProcessedAt  jsonTime `json:"processed_at"`
	ProccessedAt jsonTime `json:"proccessed_at"`
	Time         jsonTime `json:"time"`
	DryRun       bool     `json:"dry_run"`
}

// jsonTime is a time in a message: RFC 3339 in UTC with as many fractional
// digits as needed, or null when zero.
type jsonTime time.Time

// MarshalJSON implements json.Marshaler. Unlike time.Time's, it accepts
// any year.
func (t jsonTime) MarshalJSON() ([]byte, error) {
	tt := time.Time(t)
	if tt.IsZero() {
		return []byte("null"), nil
	}
	b := make([]byte, 0, len(time.RFC3339Nano)+2)
	b = append(b, '"')
	b = tt.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

// appendJSON appends v encoded by encoding/json without HTML escaping (and
// without the newline an Encoder ends with).
func appendJSON(dst []byte, v any) []byte {
	buf := bytes.NewBuffer(dst)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Unreachable: the message types hold only strings, numbers,
		// booleans, lists of them and jsonTime, which always encode.
		panic(fmt.Sprintf("notify: encode %T: %v", v, err))
	}
	b := buf.Bytes()
	return b[:len(b)-1]
}

// seconds formats w in seconds with an "s" suffix: 60s, 1.5s, 0.001s, -2s.
func seconds(w time.Duration) string {
	if w%time.Second == 0 {
		return strconv.FormatInt(int64(w/time.Second), 10) + "s"
	}
	return strconv.FormatFloat(w.Seconds(), 'f', -1, 64) + "s"
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
