package conf

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseDefaults(t *testing.T) {
	c, err := Parse(Props{"threshold": "1000"})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Subject: DefaultSubject,
		DryRun:  true, MaxTrackedKeys: DefaultMaxTrackedKeys, QueueSize: DefaultQueueSize,
		AWSTimeout: DefaultAWSTimeout, ExitTimeout: DefaultExitTimeout,
		NACLEntryLimit: 20, OnFull: OnFullEvict, AggregatePrefixV4: 24, AggregatePrefixV6: 64,
		EscalationWindow: 24 * time.Hour, EscalationFactor: 2, BlockDurationMax: 7 * 24 * time.Hour,
		StartupCheck: true, MaxBlocksPerMinute: 30, NotifyInterval: 10 * time.Second, ReconcileInterval: time.Minute,
		WAFEntryLimit: 10000,
	}
	want.Rules = c.Rules
	if len(c.Rules) != 1 || c.Rules[0].Name != "block.default" || c.Rules[0].Threshold != 1000 ||
		c.Rules[0].Window != time.Minute || c.Rules[0].Action != ActionBlock || c.Rules[0].BlockDuration != time.Hour {
		t.Fatalf("Rules = %+v, want the one flat rule", c.Rules)
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Parse(defaults) =\n%+v\nwant\n%+v", c, want)
	}
	if got := []string(c.Rules[0].Key); !reflect.DeepEqual(got, []string{"host"}) {
		t.Errorf("Key path = %q, want [host]", got)
	}
	if !c.Blocks() || c.AdoptDuration() != time.Hour {
		t.Errorf("Blocks() = %v, AdoptDuration() = %v; want true, 1h", c.Blocks(), c.AdoptDuration())
	}
}

func TestParseValues(t *testing.T) {
	c, err := Parse(Props{
		"KEY": "$request['client']", "window": "1m", "Threshold": "60", "action": "Detect",
		"Rule_Name": "detect.login", "Network_ACL_ID": "acl-0123456789abcdef0, acl-01234567,acl-01234567",
		"rule_number_range": "1-18", "block_duration": "0", "allowlist": "198.51.100.0/24 2001:db8::1",
		"block_private": "on", "region": "ap-northeast-1",
		"sns_topic_arn": "arn:aws:sns:ap-northeast-1:123456789012:dosguard",
		"SNS_Subject":   "DoS {host}", "ec2_endpoint": "http://127.0.0.1:4566", "dry_run": "off",
		"max_tracked_keys": "5000", "queue_size": "10", "aws_timeout": "2s", "exit_timeout": "1s",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Rules) != 1 {
		t.Fatalf("Rules = %+v, want the one flat rule", c.Rules)
	}
	r := c.Rules[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"Key", []string(r.Key), []string{"request", "client"}},
		{"Window", r.Window, time.Minute},
		{"Threshold", r.Threshold, 60},
		{"Action", r.Action, ActionDetect},
		{"RuleName", r.Name, "detect.login"},
		{"Blocks", c.Blocks(), false},
		{"ACLIDs", c.ACLIDs, []string{"acl-0123456789abcdef0", "acl-01234567"}},
		{"RuleRange", [2]int{c.RuleMin, c.RuleMax}, [2]int{1, 18}},
		{"BlockDuration", r.BlockDuration, time.Duration(0)},
		{"Allowlist", c.Allowlist, []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001:db8::1/128")}},
		{"BlockPrivate", c.BlockPrivate, true},
		{"Region", c.Region, "ap-northeast-1"},
		{"TopicARN", c.TopicARN, "arn:aws:sns:ap-northeast-1:123456789012:dosguard"},
		{"Subject", c.Subject, "DoS {host}"},
		{"EC2Endpoint", c.EC2Endpoint, "http://127.0.0.1:4566"},
		{"DryRun", c.DryRun, false},
		{"MaxTrackedKeys", c.MaxTrackedKeys, 5000},
		{"QueueSize", c.QueueSize, 10},
		{"AWSTimeout", c.AWSTimeout, 2 * time.Second},
		{"ExitTimeout", c.ExitTimeout, time.Second},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

// TestParseErrors gives every key a bad value: each error is one line that
// names the key and quotes the value.
func TestParseErrors(t *testing.T) {
	base := func(kv ...string) Props {
		p := Props{"Threshold": "10"}
		for i := 0; i < len(kv); i += 2 {
			p[kv[i]] = kv[i+1]
		}
		return p
	}
	long257 := "arn:aws:sns:us-east-1:123456789012:" + strings.Repeat("t", 257) // names are 1 to 256 characters
	tests := []struct {
		props     Props
		key, val  string
		wantInMsg string
	}{
		{base("Key", "$a['b"), "Key", "$a['b", "record accessor"},
		{base("Window", "soon"), "Window", "soon", "duration"},
		{base("Window", "10ms"), "Window", "10ms", "at least 1s"},
		{Props{}, "Threshold", "", "required"},
		{base("Threshold", "0"), "Threshold", "0", ">= 1"},
		{base("Threshold", "ten"), "Threshold", "ten", ">= 1"},
		{base("Action", "ban"), "Action", "ban", "block or detect"},
		{base("Rule_Name", "bad\nname"), "Rule_Name", "bad\nname", "printable"},
		{base("Network_ACL_ID", "acl-1,sg-123"), "Network_ACL_ID", "acl-1", "Network ACL id"},
		{base("Rule_Number_Range", "18-1"), "Rule_Number_Range", "18-1", "range"},
		{base("Rule_Number_Range", "0-18"), "Rule_Number_Range", "0-18", "range"},
		{base("Rule_Number_Range", "1-40000"), "Rule_Number_Range", "1-40000", "range"},
		{base("Block_Duration", "-1h"), "Block_Duration", "-1h", "duration"},
		{base("Block_Duration", "forever"), "Block_Duration", "forever", "duration"},
		{base("Allowlist", "10.0.0.0/8, 300.1.1.1"), "Allowlist", "300.1.1.1", "CIDR"},
		{base("Block_Private", "maybe"), "Block_Private", "maybe", "on or off"},
		{base("Region", "Tokyo"), "Region", "Tokyo", "region"},
		{base("SNS_Topic_ARN", "arn:aws:sqs:us-east-1:123456789012:q"), "SNS_Topic_ARN", "arn:aws:sqs:us-east-1:123456789012:q", "topic ARN"},
		{base("SNS_Topic_ARN", long257), "SNS_Topic_ARN", long257, "topic ARN"},
		{base("SNS_Topic_ARN", "arn:aws:sns:us-east-1:123456789012:"), "SNS_Topic_ARN", "arn:aws:sns:us-east-1:123456789012:", "topic ARN"},
		{base("SNS_Subject", "blocked\u00e9"), "SNS_Subject", "blocked\u00e9", "ASCII"},
		{base("EC2_Endpoint", "localhost:4566"), "EC2_Endpoint", "localhost:4566", "URL"},
		{base("SNS_Endpoint", "ftp://x"), "SNS_Endpoint", "ftp://x", "URL"},
		{base("Dry_Run", "perhaps"), "Dry_Run", "perhaps", "on or off"},
		{base("Dry_Run", "off"), "Dry_Run", "off", "Network_ACL_ID"},
		{base("Max_Tracked_Keys", "10"), "Max_Tracked_Keys", "10", "integer"},
		{base("Queue_Size", "-5"), "Queue_Size", "-5", "integer"},
		{base("AWS_Timeout", "1h"), "AWS_Timeout", "1h", "duration"},
		{base("Exit_Timeout", "x"), "Exit_Timeout", "x", "duration"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.props)
		if err == nil {
			t.Errorf("Parse(%s=%q) succeeded, want an error", tt.key, tt.val)
			continue
		}
		msg := err.Error()
		wantPrefix := "dosguard: " + tt.key + ": "
		if !strings.HasPrefix(msg, wantPrefix) || !strings.Contains(msg, tt.wantInMsg) {
			t.Errorf("Parse(%s=%q) error = %q, want prefix %q containing %q", tt.key, tt.val, msg, wantPrefix, tt.wantInMsg)
		}
		if tt.val != "" && !strings.Contains(msg, strings.ReplaceAll(tt.val, "\n", `\n`)) {
			t.Errorf("Parse(%s=%q) error = %q does not quote the value", tt.key, tt.val, msg)
		}
		if strings.Contains(msg, "\n") {
			t.Errorf("Parse(%s=%q) error spans several lines: %q", tt.key, tt.val, msg)
		}
	}
}

// TestUnsetWords: "none" and "auto" mean "not set" for the keys whose default
// is nothing or computed, whatever their case, so an image can default every
// variable: the result equals leaving the keys out.
func TestUnsetWords(t *testing.T) {
	want, err := Parse(Props{"Threshold": "5"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(Props{"Threshold": "5", "Network_ACL_ID": "none", "SNS_Topic_ARN": "None",
		"Allowlist": "NONE", "Dry_Run": "auto", "Rule_Number_Range": " auto "})
	if err != nil {
		t.Fatal(err)
	}
	want.Rules, got.Rules = nil, nil // compiled conditions differ by pointer
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse(unset words) =\n%+v\nwant, as without them,\n%+v", got, want)
	}
	withACL, err := Parse(Props{"Threshold": "5", "Network_ACL_ID": "acl-01234567", "Dry_Run": "auto"})
	if err != nil || withACL.DryRun {
		t.Errorf("Dry_Run auto with a NACL: DryRun = %v, %v; want off", withACL.DryRun, err)
	}
	// The words are not values elsewhere: "none" is no region, "auto" no window.
	for _, p := range []Props{{"Threshold": "5", "Region": "none"}, {"Threshold": "5", "Window": "auto"}} {
		if _, err := Parse(p); err == nil {
			t.Errorf("Parse(%v) = nil error, want the key refused", p)
		}
	}
}

func TestDryRunDefault(t *testing.T) {
	tests := []struct {
		props Props
		want  bool
	}{
		{Props{"Threshold": "5"}, true},
		{Props{"Threshold": "5", "Network_ACL_ID": "acl-01234567"}, false},
		{Props{"Threshold": "5", "Network_ACL_ID": "acl-01234567", "Dry_Run": "on"}, true},
		{Props{"Threshold": "5", "Action": "detect", "Dry_Run": "off"}, false},
	}
	for i, tt := range tests {
		c, err := Parse(tt.props)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if c.DryRun != tt.want {
			t.Errorf("case %d: DryRun = %v, want %v", i, c.DryRun, tt.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"60s", time.Minute, true}, {"1m", time.Minute, true}, {"1h", time.Hour, true},
		{"90", 90 * time.Second, true}, {"0", 0, true}, {"7d", 7 * 24 * time.Hour, true},
		{"1.5d", 36 * time.Hour, true}, {"", 0, false}, {"x", 0, false}, {"-5", 0, false},
		{"99999999999999999", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadClassic(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "outputs.conf", `
[OUTPUT]
    Name          dosguard
    Match         access
    Threshold     ${LIMIT}
    Network_ACL_ID ${NACL}
    Rule_Name     block.flood
    Block_Duration ${DURATION:-2h}
    Window        ${WINDOW:-90s}
`)
	p := write(t, dir, "fluent-bit.conf", `
# comment
@SET LIMIT=1000
[SERVICE]
    Flush 1
[INPUT]
    Name   tail
    Path   /var/log/apache2/access.log
    Parser apache2
@INCLUDE outputs.conf
[OUTPUT]
    Name stdout
    Match *
`)
	env := func(k string) (string, bool) {
		switch k {
		case "NACL":
			return "acl-0123456789abcdef0", true
		case "WINDOW":
			return "45s", true
		}
		return "", false
	}
	f, err := LoadFile(p, env)
	if err != nil {
		t.Fatal(err)
	}
	outs := f.Outputs("dosguard")
	if len(outs) != 1 {
		t.Fatalf("Outputs(dosguard) = %d sections, want 1", len(outs))
	}
	c, err := Parse(outs[0])
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Rules[0]; len(c.Rules) != 1 || r.Threshold != 1000 || r.Name != "block.flood" || len(c.ACLIDs) != 1 || c.DryRun ||
		r.BlockDuration != 2*time.Hour || r.Window != 45*time.Second {
		t.Errorf("config from classic file = %+v", c)
	}
	if got := len(f.Sections("output")); got != 2 {
		t.Errorf("outputs = %d, want 2", got)
	}
	if got := f.Sections("input")[0].Get("path"); got != "/var/log/apache2/access.log" {
		t.Errorf("input path = %q", got)
	}
}

func TestLoadYAML(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "fluent-bit.yaml", `
env:
  LIMIT: 500
service:
  flush: 1
plugins:
  - ./out_dosguard.so
pipeline:
  inputs:
    - name: tail
      path: /var/log/nginx/access.log
      parser: nginx
  outputs:
    - name: dosguard
      match: '*'
      key: remote
      threshold: ${LIMIT}
      dry_run: true
      processors:
        logs:
          - name: content_modifier
`)
	f, err := LoadFile(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	outs := f.Outputs("dosguard")
	if len(outs) != 1 {
		t.Fatalf("Outputs(dosguard) = %d, want 1", len(outs))
	}
	c, err := Parse(outs[0])
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Rules[0]; len(c.Rules) != 1 || r.Threshold != 500 || r.Key.String() != "$remote" || !c.DryRun {
		t.Errorf("config from YAML = %+v", c)
	}
	if !reflect.DeepEqual(f.Plugins, []string{"./out_dosguard.so"}) {
		t.Errorf("Plugins = %q", f.Plugins)
	}
	if u := Unknown(outs[0]); len(u) != 0 {
		t.Errorf("Unknown = %q, want none", u)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, body, want string }{
		{"a.conf", "Name x\n", "outside a section"},
		{"b.conf", "[OUTPUT\n", "bad section header"},
		{"c.conf", "@INCLUDE nothere.conf\n", "no such file"},
		{"d.conf", "@FOO bar\n", "unknown command"},
		{"e.yaml", "pipeline: [\n", "e.yaml"},
	}
	for _, tt := range tests {
		_, err := LoadFile(write(t, dir, tt.name, tt.body), nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("LoadFile(%s) error = %v, want %q", tt.name, err, tt.want)
		}
	}
	self := write(t, dir, "loop.conf", "@INCLUDE loop.conf\n")
	if _, err := LoadFile(self, nil); err == nil || !strings.Contains(err.Error(), "nested") {
		t.Errorf("LoadFile(self-include) error = %v, want nesting error", err)
	}
}

func TestUnknown(t *testing.T) {
	got := Unknown(Props{"Name": "dosguard", "Match": "*", "Threshhold": "5", "Threshold": "5", "storage.total_limit_size": "1M", "Workers": "2"})
	if !reflect.DeepEqual(got, []string{"Threshhold"}) {
		t.Errorf("Unknown = %q, want [Threshhold]", got)
	}
}

// TestLoadYAMLEnvOrder: the env of a YAML file is expanded in document
// order, so each variable sees the ones above it. A map loses the order:
// with the three variables of the issue, C came out "x/y/z" in only 155 of
// 200 loads; a chain of 26 almost never comes out whole.
func TestLoadYAMLEnvOrder(t *testing.T) {
	dir := t.TempDir()
	var chain strings.Builder
	chain.WriteString("env:\n  V00: x\n")
	want := "x"
	for i := 1; i < 26; i++ {
		fmt.Fprintf(&chain, "  V%02d: ${V%02d}/%c\n", i, i-1, 'a'+i)
		want += "/" + string(rune('a'+i))
	}
	chain.WriteString("pipeline:\n  outputs:\n    - name: dosguard\n      rule_name: ${V25}\n")
	tests := []struct {
		name, body, want string
	}{
		{"abc.yaml", "env:\n  A: x\n  B: ${A}/y\n  C: ${B}/z\n  ON: true\n  N: 500\npipeline:\n  outputs:\n    - name: dosguard\n      rule_name: ${C} ${ON} ${N}\n", "x/y/z on 500"},
		// A variable used above its definition is not set yet (the
		// environment's value, here none).
		{"later.yaml", "env:\n  A: ${B}/x\n  B: y\npipeline:\n  outputs:\n    - name: dosguard\n      rule_name: ${A}\n", "/x"},
		{"chain.yaml", chain.String(), want},
	}
	for _, tt := range tests {
		p := write(t, dir, tt.name, tt.body)
		for i := range 200 {
			f, err := LoadFile(p, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Outputs("dosguard")[0].Get("rule_name"); got != tt.want {
				t.Fatalf("%s: load %d: rule_name = %q, want %q", tt.name, i+1, got, tt.want)
			}
		}
	}
	if _, err := LoadFile(write(t, dir, "seq.yaml", "env:\n  - A\n"), nil); err == nil || !strings.Contains(err.Error(), "seq.yaml") {
		t.Errorf("env as a list: error = %v, want one naming the file", err)
	}
	if _, err := LoadFile(write(t, dir, "empty.yaml", "env:\npipeline:\n  outputs: []\n"), nil); err != nil {
		t.Errorf("empty env: %v", err)
	}
}

func TestParseWAF(t *testing.T) {
	v4 := "arn:aws:wafv2:eu-west-1:123456789012:regional/ipset/dosguard-v4/1111"
	v6 := "arn:aws:wafv2:eu-west-1:123456789012:regional/ipset/dosguard-v6/2222"
	c, err := Parse(Props{"threshold": "10", KeyWAFIPSetARN: v4 + ", " + v6 + "," + v4, KeyWAFEndpoint: "http://127.0.0.1:9", KeyWAFEntryLimit: "500"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.WAFIPSetARNs, []string{v4, v6}) || c.WAFEndpoint != "http://127.0.0.1:9" || c.WAFEntryLimit != 500 || c.DryRun {
		t.Errorf("Parse = ARNs %q, endpoint %q, limit %d, dry run %v", c.WAFIPSetARNs, c.WAFEndpoint, c.WAFEntryLimit, c.DryRun)
	}
	if c, err := Parse(Props{"threshold": "10", KeyWAFIPSetARN: "none"}); err != nil || len(c.WAFIPSetARNs) != 0 || !c.DryRun {
		t.Errorf("none: %+v, %v", c.WAFIPSetARNs, err)
	}
	for _, tt := range []struct{ key, value, want string }{
		{KeyWAFIPSetARN, "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/x/1", `dosguard: WAF_IP_Set_ARN: "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/x/1" is not a WAFv2 IP set ARN`},
		{KeyWAFIPSetARN, "acl-0123456789abcdef0", `dosguard: WAF_IP_Set_ARN: "acl-0123456789abcdef0" is not a WAFv2 IP set ARN`},
		{KeyWAFEndpoint, "localhost:80", `dosguard: WAF_Endpoint: "localhost:80" is not an http(s) URL`},
		{KeyWAFEntryLimit, "10001", `dosguard: WAF_Entry_Limit: "10001" is not an integer from 1 to 10000`},
		{KeyWAFEntryLimit, "0", `dosguard: WAF_Entry_Limit: "0" is not an integer from 1 to 10000`},
	} {
		_, err := Parse(Props{"threshold": "10", tt.key: tt.value})
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Parse(%s=%s) = %v, want one line starting %q", tt.key, tt.value, err, tt.want)
		}
	}
}

// TestLoadWAF: the IP set keys in classic and YAML configs.
func TestLoadWAF(t *testing.T) {
	dir := t.TempDir()
	arn := "arn:aws:wafv2:us-east-1:123456789012:global/ipset/edge-v4/abcd"
	for name, body := range map[string]string{
		"fluent-bit.conf": "[OUTPUT]\n    Name            dosguard\n    Match           *\n    Threshold       10\n    WAF_IP_Set_ARN  " + arn + "\n    WAF_Entry_Limit 5000\n",
		"fluent-bit.yaml": "pipeline:\n  outputs:\n    - name: dosguard\n      match: '*'\n      threshold: 10\n      waf_ip_set_arn: " + arn + "\n      waf_entry_limit: 5000\n",
	} {
		f, err := LoadFile(write(t, dir, name, body), nil)
		if err != nil {
			t.Fatal(err)
		}
		outs := f.Outputs("dosguard")
		if len(outs) != 1 {
			t.Fatalf("%s: %d outputs", name, len(outs))
		}
		c, err := Parse(outs[0])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(c.WAFIPSetARNs, []string{arn}) || c.WAFEntryLimit != 5000 || c.DryRun {
			t.Errorf("%s: IP sets %q, limit %d, dry run %v", name, c.WAFIPSetARNs, c.WAFEntryLimit, c.DryRun)
		}
		if u := Unknown(outs[0]); len(u) != 0 {
			t.Errorf("%s: Unknown = %q", name, u)
		}
	}
}

// TestTopicARNNameLength accepts topic names of 1 to 256 characters, with or
// without the .fifo suffix.
func TestTopicARNNameLength(t *testing.T) {
	for _, name := range []string{"t", strings.Repeat("t", 256), strings.Repeat("t", 256) + ".fifo", "dos-guard_1.fifo"} {
		arn := "arn:aws:sns:us-east-1:123456789012:" + name
		c, err := Parse(Props{"Threshold": "5", "SNS_Topic_ARN": arn})
		if err != nil || c.TopicARN != arn {
			t.Errorf("SNS_Topic_ARN with a %d-character name: %v", len(name), err)
		}
	}
}
