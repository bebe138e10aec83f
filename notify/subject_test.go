package notify_test

import (
	"github.com/dosguard/dosguard/ban"
	"strings"
	"testing"

	"github.com/dosguard/dosguard/notify"
)

func TestSubject(t *testing.T) {
	d := blocked()
	tests := []struct {
		name string
		tmpl string
		d    func(d *notify.Decision)
		want string
	}{
		{name: "default", tmpl: "", want: "dosguard: blocked 203.0.113.7 (block.flood)"},
		{name: "default spelled out", tmpl: notify.DefaultSubject, want: "dosguard: blocked 203.0.113.7 (block.flood)"},
		{name: "all placeholders", tmpl: "[{rule}] {status}: {host} made {requests} requests", want: "[block.flood] blocked: 203.0.113.7 made 1000 requests"},
		{name: "failed status", tmpl: "", d: func(d *notify.Decision) { d.Status = ban.Failed }, want: "dosguard: failed to block 203.0.113.7 (block.flood)"},
		{name: "unknown placeholder kept", tmpl: "{time} {host}", want: "{time} 203.0.113.7"},
		{name: "env syntax is not ours", tmpl: "${host}", want: "$203.0.113.7"},
		{name: "unclosed brace", tmpl: "{host", want: "{host"},
		{name: "braces around placeholder", tmpl: "{{host}}", want: "{203.0.113.7}"},
		{name: "control characters dropped", tmpl: "dos\nguard\t{host}\r\x7f", want: "dosguard203.0.113.7"},
		{name: "C1 and line separators dropped", tmpl: "a\u0085b\u2028c\u2029d", want: "abcd"},
		{name: "non-ASCII replaced", tmpl: "攻撃 {host}", want: "?? 203.0.113.7"},
		{name: "invalid byte replaced", tmpl: "\xff{host}", want: "?203.0.113.7"},
		{name: "header injection through host", tmpl: "", d: func(d *notify.Decision) { d.Host = "1.2.3.4\r\nBcc: x" }, want: "dosguard: blocked 1.2.3.4Bcc: x (block.flood)"},
		{name: "trimmed", tmpl: "  \t {host}  ", want: "203.0.113.7"},
		{name: "many leading spaces", tmpl: strings.Repeat(" ", 500) + "x", want: "x"},
		{name: "cut to 99", tmpl: strings.Repeat("a", 300), want: strings.Repeat("a", 99)},
		{name: "cut then trimmed", tmpl: strings.Repeat("a", 98) + " b", want: strings.Repeat("a", 98)},
		{name: "long host cut", tmpl: "", d: func(d *notify.Decision) { d.Host = strings.Repeat("h", 200) }, want: "dosguard: blocked " + strings.Repeat("h", 81)},
		{name: "only control characters", tmpl: "\n\r\t", want: "dosguard"},
		{name: "only spaces", tmpl: "   ", want: "dosguard"},
		{name: "empty values", tmpl: "{status}{host}{rule}", d: func(d *notify.Decision) { *d = notify.Decision{} }, want: "dosguard"},
		{name: "negative requests", tmpl: "{requests}", d: func(d *notify.Decision) { d.Requests = -5 }, want: "-5"},
	}
	for _, tt := range tests {
		dd := d
		if tt.d != nil {
			tt.d(&dd)
		}
		if got := notify.Subject(tt.tmpl, dd); got != tt.want {
			t.Errorf("%s: Subject(%q) = %q, want %q", tt.name, tt.tmpl, got, tt.want)
		}
	}
}

// FuzzSubject checks that any template and values give a subject SNS
// accepts: 1 to 99 printable ASCII characters, not starting or ending with a
// space.
func FuzzSubject(f *testing.F) {
	f.Add("", "203.0.113.7", "block.flood", 1000)
	f.Add("{status} {host} {rule} {requests}", "\n\xff日本", "\u2028", -1)
	f.Add(strings.Repeat("{host}", 50), strings.Repeat(" ", 120), "", 0)
	f.Fuzz(func(t *testing.T, tmpl, host, rule string, requests int) {
		d := notify.Decision{Host: host, Rule: rule, Requests: requests, Status: ban.Blocked}
		s := notify.Subject(tmpl, d)
		if len(s) < 1 || len(s) > notify.MaxSubjectLen {
			t.Fatalf("Subject(%q) = %q: %d characters, want 1..99", tmpl, s, len(s))
		}
		for i := 0; i < len(s); i++ {
			if s[i] < 0x20 || s[i] > 0x7e {
				t.Fatalf("Subject(%q) = %q: byte %d is %#x, want printable ASCII", tmpl, s, i, s[i])
			}
		}
		if s[0] == ' ' || s[len(s)-1] == ' ' {
			t.Fatalf("Subject(%q) = %q: not trimmed", tmpl, s)
		}
	})
}

func BenchmarkSubject(b *testing.B) {
	d := blocked()
	b.ReportAllocs()
	for b.Loop() {
		if notify.Subject("", d) == "" {
			b.Fatal("empty subject")
		}
	}
}
