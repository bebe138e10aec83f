package notify_test

import (
	"bytes"
	"encoding/json"
	"github.com/dosguard/dosguard/ban"
	"strings"
	"testing"
	"time"

	"github.com/dosguard/dosguard/notify"
)

// A fixed timeline: t0 is the record that trips the rule, t1 the decision,
// t2 the expiry.
var (
	t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	t1 = t0.Add(5 * time.Second)
	t2 = t1.Add(time.Hour)
)

func blocked() notify.Decision {
	return notify.Decision{
		Rule: "block.flood", Host: "203.0.113.7", Requests: 1000, Window: time.Minute,
		Status: ban.Blocked, ACLIDs: []string{"acl-0abc", "acl-0def"}, RuleNumbers: []int{17, 18},
		ExpiresAt: t2, ProcessedAt: t1, Time: t0,
	}
}

func TestDecisionJSON(t *testing.T) {
	tokyo := time.FixedZone("JST", 9*3600)
	tests := []struct {
		name string
		d    func(d *notify.Decision)
		want string
	}{
		{
			name: "blocked",
			d:    func(d *notify.Decision) {},
			want: `{"rule":"block.flood","host":"203.0.113.7","requests":1000,"window":"60s","status":"blocked","acl_ids":["acl-0abc","acl-0def"],"rule_numbers":[17,18],"expires_at":"2024-05-01T13:00:05Z","processed_at":"2024-05-01T12:00:05Z","proccessed_at":"2024-05-01T12:00:05Z","time":"2024-05-01T12:00:00Z","dry_run":false}`,
		},
		{
			name: "detected",
			d: func(d *notify.Decision) {
				d.Rule, d.Status, d.ACLIDs, d.RuleNumbers, d.ExpiresAt = "detect.scan", ban.Detected, nil, nil, time.Time{}
			},
			want: `{"rule":"detect.scan","host":"203.0.113.7","requests":1000,"window":"60s","status":"detected","acl_ids":[],"rule_numbers":[],"expires_at":null,"processed_at":"2024-05-01T12:00:05Z","proccessed_at":"2024-05-01T12:00:05Z","time":"2024-05-01T12:00:00Z","dry_run":false}`,
		},
		{
			name: "failed",
			d: func(d *notify.Decision) {
				d.Status, d.ACLIDs, d.RuleNumbers, d.ExpiresAt = ban.Failed, []string{"acl-0abc"}, nil, time.Time{}
				d.Reason = `acl: create entry 17 in acl-0abc: NetworkAclEntryLimitExceeded`
			},
			want: `{"rule":"block.flood","host":"203.0.113.7","requests":1000,"window":"60s","status":"failed to block","acl_ids":["acl-0abc"],"rule_numbers":[],"reason":"acl: create entry 17 in acl-0abc: NetworkAclEntryLimitExceeded","expires_at":null,"processed_at":"2024-05-01T12:00:05Z","proccessed_at":"2024-05-01T12:00:05Z","time":"2024-05-01T12:00:00Z","dry_run":false}`,
		},
		{
			name: "unblocked",
			d: func(d *notify.Decision) {
				d.Status, d.ProcessedAt = ban.Unblocked, t2
			},
			want: `{"rule":"block.flood","host":"203.0.113.7","requests":1000,"window":"60s","status":"unblocked","acl_ids":["acl-0abc","acl-0def"],"rule_numbers":[17,18],"expires_at":"2024-05-01T13:00:05Z","processed_at":"2024-05-01T13:00:05Z","proccessed_at":"2024-05-01T13:00:05Z","time":"2024-05-01T12:00:00Z","dry_run":false}`,
		},
		{
			name: "dry run, IPv6 prefix, local zone, fractions",
			d: func(d *notify.Decision) {
				d.Host, d.Window, d.DryRun = "2001:db8::/64", 1500*time.Millisecond, true
				d.Time = t0.Add(123 * time.Millisecond).In(tokyo)
				d.ProcessedAt = t1.In(tokyo)
			},
			want: `{"rule":"block.flood","host":"2001:db8::/64","requests":1000,"window":"1.5s","status":"blocked","acl_ids":["acl-0abc","acl-0def"],"rule_numbers":[17,18],"expires_at":"2024-05-01T13:00:05Z","processed_at":"2024-05-01T12:00:05Z","proccessed_at":"2024-05-01T12:00:05Z","time":"2024-05-01T12:00:00.123Z","dry_run":true}`,
		},
		{
			name: "zero value",
			d:    func(d *notify.Decision) { *d = notify.Decision{} },
			want: `{"rule":"","host":"","requests":0,"window":"0s","status":"","acl_ids":[],"rule_numbers":[],"expires_at":null,"processed_at":null,"proccessed_at":null,"time":null,"dry_run":false}`,
		},
		{
			name: "escaping",
			d: func(d *notify.Decision) {
				*d = notify.Decision{Rule: "a\"b\\c<&>", Host: "\x00\x1f\n\t\u2028é\xff", Reason: "日本"}
			},
			want: `{"rule":"a\"b\\c<&>","host":"\u0000\u001f\n\t\u2028é\ufffd","requests":0,"window":"0s","status":"","acl_ids":[],"rule_numbers":[],"reason":"日本","expires_at":null,"processed_at":null,"proccessed_at":null,"time":null,"dry_run":false}`,
		},
	}
	for _, tt := range tests {
		d := blocked()
		tt.d(&d)
		got := string(d.AppendJSON(nil))
		if got != tt.want {
			t.Errorf("%s: AppendJSON =\n%s\nwant\n%s", tt.name, got, tt.want)
		}
		m, err := d.MarshalJSON()
		if err != nil || string(m) != tt.want {
			t.Errorf("%s: MarshalJSON = %s, %v; want AppendJSON's output", tt.name, m, err)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("%s: output is not valid JSON: %s", tt.name, got)
		}
	}
}

func TestDecisionJSONAppends(t *testing.T) {
	got := string(blocked().AppendJSON([]byte("prefix ")))
	if !strings.HasPrefix(got, `prefix {"rule":"block.flood",`) || !strings.HasSuffix(got, `"dry_run":false}`) {
		t.Errorf("AppendJSON(prefix) = %s, want the prefix kept and one object after it", got)
	}
}

// TestDecisionJSONLimits feeds the worst case (every byte needs a six-byte
// escape, lists far too long) and checks the message stays under the SNS
// limit, stays valid, and says it was cut.
func TestDecisionJSONLimits(t *testing.T) {
	huge := strings.Repeat("\x01", 1<<20)
	ids := make([]string, 1000)
	nums := make([]int, 1000)
	for i := range ids {
		ids[i] = huge[:100]
		nums[i] = -1 << 62
	}
	d := notify.Decision{Rule: huge, Host: huge, Status: ban.Status(huge), Reason: huge, ACLIDs: ids, RuleNumbers: nums,
		Requests: -1 << 62, ExpiresAt: t2, ProcessedAt: t1, Time: t0}
	msg := d.AppendJSON(nil)
	if len(msg) > notify.MaxMessageBytes/2+notify.MaxMessageBytes/4 {
		t.Errorf("worst-case message is %d bytes, want well under %d", len(msg), notify.MaxMessageBytes)
	}
	var got struct {
		Rule        string   `json:"rule"`
		Host        string   `json:"host"`
		Reason      string   `json:"reason"`
		ACLIDs      []string `json:"acl_ids"`
		RuleNumbers []int    `json:"rule_numbers"`
	}
	if err := json.Unmarshal(msg, &got); err != nil {
		t.Fatalf("worst-case message does not decode: %v", err)
	}
	checks := []struct {
		field     string
		got, want int
	}{
		{"len(rule)", len(got.Rule), 256},
		{"len(host)", len(got.Host), 256},
		{"len(reason)", len(got.Reason), 16384},
		{"len(acl_ids)", len(got.ACLIDs), 100},
		{"len(acl_ids[0])", len(got.ACLIDs[0]), 64},
		{"len(rule_numbers)", len(got.RuleNumbers), 100},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.field, c.got, c.want)
		}
	}
	if !strings.HasSuffix(got.Reason, "...") {
		t.Errorf("cut reason ends in %q, want ...", got.Reason[len(got.Reason)-5:])
	}
}

func TestDecisionJSONCutsOnRuneBoundary(t *testing.T) {
	// 'é' is two bytes; 16384-3 is odd, so a byte cut would split one.
	d := notify.Decision{Reason: "x" + strings.Repeat("é", 10000)}
	var got struct{ Reason string }
	if err := json.Unmarshal(d.AppendJSON(nil), &got); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsRune(got.Reason, '\uFFFD') || !strings.HasSuffix(got.Reason, "é...") {
		t.Errorf("cut reason ends in %q, want whole runes then ...", got.Reason[len(got.Reason)-8:])
	}
}

// FuzzDecisionJSON checks that any strings give valid JSON that decodes to
// what encoding/json would have encoded.
func FuzzDecisionJSON(f *testing.F) {
	f.Add("block.flood", "203.0.113.7", "reason", "acl-0abc", int64(60e9))
	f.Add("a\"\\", "\x00\xff\u2029", "日本\n", "\xe2\x80", int64(-1))
	f.Fuzz(func(t *testing.T, rule, host, reason, acl string, window int64) {
		d := notify.Decision{Rule: rule, Host: host, Reason: reason, ACLIDs: []string{acl}, Window: time.Duration(window), Time: t0}
		msg := d.AppendJSON(nil)
		if !json.Valid(msg) {
			t.Fatalf("invalid JSON: %q", msg)
		}
		var got struct {
			Rule, Host, Reason string
			ACLIDs             []string `json:"acl_ids"`
			Window             string
		}
		if err := json.Unmarshal(msg, &got); err != nil {
			t.Fatal(err)
		}
		dur, err := time.ParseDuration(got.Window)
		w := time.Duration(window)
		diff := max(dur-w, w-dur)
		// Whole seconds are exact; fractions go through a float64.
		if err != nil || w%time.Second == 0 && diff != 0 || diff > 1+max(w, -w)/1e15 {
			t.Errorf("window %q parses to %v, %v; want %v", got.Window, dur, err, w)
		}
		for _, c := range []struct{ name, in, got string }{{"rule", rule, got.Rule}, {"host", host, got.Host}, {"reason", reason, got.Reason}, {"acl", acl, got.ACLIDs[0]}} {
			if len(c.in) > 64 {
				continue // may be cut
			}
			if want := viaEncodingJSON(t, c.in); c.got != want {
				t.Errorf("%s %q decodes to %q, want %q", c.name, c.in, c.got, want)
			}
		}
	})
}

func viaEncodingJSON(t *testing.T, s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out string
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func BenchmarkAppendJSON(b *testing.B) {
	d := blocked()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = d.AppendJSON(buf[:0])
	}
	if !bytes.HasSuffix(buf, []byte("}")) {
		b.Fatal("no object")
	}
}

func TestIPSetsJSON(t *testing.T) {
	arn := "arn:aws:wafv2:eu-west-1:123456789012:regional/ipset/dosguard-v4/1111"
	d := notify.Decision{Rule: "r", Host: "203.0.113.7", Status: ban.Blocked, ACLIDs: []string{"acl-1"}, RuleNumbers: []int{3}, IPSets: []string{arn}}
	got := string(d.AppendJSON(nil))
	if want := `"acl_ids":["acl-1"],"rule_numbers":[3],"ip_sets":["` + arn + `"],`; !strings.Contains(got, want) {
		t.Errorf("AppendJSON = %s, want it to contain %s", got, want)
	}
	d.IPSets = nil
	if got := string(d.AppendJSON(nil)); strings.Contains(got, "ip_sets") {
		t.Errorf("AppendJSON without IP sets = %s", got)
	}
}
