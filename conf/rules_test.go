package conf

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dosguard/dosguard/detector"
)

func TestRulesFile(t *testing.T) {
	dir := t.TempDir()
	path := write(t, dir, "rules.yaml", `
rules:
  - name: block.flood
    query: SELECT host, COUNT(*) as requests FROM access.win:time_batch(1 min) GROUP BY host HAVING COUNT(*) >= 1000
  - name: block.login
    key: $request['client']
    window: 5m
    window_type: tumbling
    where: auth = 'failed' AND code >= 400
    threshold: 60
    block_duration: 6h
  - name: detect.scanner
    distinct: path
    threshold: 50
  - name: noisy
    action: detect
    threshold: 5000
`)
	c, err := Parse(Props{"Rules_File": path, "Window": "2m", "Block_Duration": "30m"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Rules) != 4 {
		t.Fatalf("rules = %d, want 4", len(c.Rules))
	}
	tests := []struct {
		name      string
		action    Action
		key       string
		window    time.Duration
		wt        detector.WindowType
		threshold int
		block     time.Duration
		distinct  string
	}{
		{"block.flood", ActionBlock, "$host", time.Minute, detector.Tumbling, 1000, 30 * time.Minute, ""},
		{"block.login", ActionBlock, "$request['client']", 5 * time.Minute, detector.Tumbling, 60, 6 * time.Hour, ""},
		{"detect.scanner", ActionDetect, "$host", 2 * time.Minute, detector.Sliding, 50, 30 * time.Minute, "$path"},
		{"noisy", ActionDetect, "$host", 2 * time.Minute, detector.Sliding, 5000, 30 * time.Minute, ""},
	}
	for i, tt := range tests {
		r := c.Rules[i]
		distinct := ""
		if r.Distinct != nil {
			distinct = r.Distinct.String()
		}
		if r.Name != tt.name || r.Action != tt.action || r.ResolvedKey().String() != tt.key || r.Window != tt.window ||
			r.WindowType != tt.wt || r.Threshold != tt.threshold || r.BlockDuration != tt.block || distinct != tt.distinct {
			t.Errorf("rule %d = %s %s key=%s window=%v/%v threshold=%d block=%v distinct=%s; want %+v",
				i, r.Name, r.Action, r.ResolvedKey(), r.Window, r.WindowType, r.Threshold, r.BlockDuration, distinct, tt)
		}
	}
	if c.Rules[0].Target != "access" {
		t.Errorf("query target = %q, want access", c.Rules[0].Target)
	}
}

func TestRulesFileErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ body, want string }{
		{"- name: a\n  threshold: 5\n- name: a\n  threshold: 6\n", `rule "a": name used twice`},
		{"- threshold: 5\n", "rule 1: name is required"},
		{"- name: a\n  treshold: 5\n", "treshold"},
		{"- name: a\n", "threshold is required"},
		{"- name: a\n  threshold: 5\n  where: code >> 4\n", "column"},
		{"- name: a\n  query: SELECT host, AVG(size) FROM access.win:time(1 min) GROUP BY host HAVING COUNT(*) >= 1\n  threshold: 5\n", "not allowed with query"},
		{"- name: a\n  query: SELECT host, AVG(size) FROM access.win:time(1 min) GROUP BY host HAVING COUNT(*) >= 1\n", "AVG"},
		{"- name: a\n  threshold: 5\n  window_type: hopping\n", "window_type"},
		{"- name: a\n  threshold: 5\n  block_duration: soon\n", "block_duration"},
		{"- name: a\n  threshold: 5\n  action: ban\n", "action"},
		{"[]\n", "no rules"},
	}
	for i, tt := range tests {
		path := write(t, dir, "rules.yaml", tt.body)
		_, err := Parse(Props{"Rules_File": path})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "dosguard: Rules_File: ") {
			t.Errorf("case %d: error = %v, want Rules_File error containing %q", i, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("case %d: error spans lines: %q", i, err)
		}
	}
	path := write(t, dir, "ok.yaml", "- name: a\n  threshold: 5\n")
	if _, err := Parse(Props{"Rules_File": path, "Threshold": "10"}); err == nil || !strings.Contains(err.Error(), "Threshold") {
		t.Errorf("Rules_File with Threshold: error = %v, want a one-rule key error", err)
	}
	if _, err := Parse(Props{"Rules_File": "/nonexistent/rules.yaml"}); err == nil || !strings.Contains(err.Error(), "Rules_File") {
		t.Errorf("missing rules file: error = %v", err)
	}
}

func TestFlatRuleKeys(t *testing.T) {
	c, err := Parse(Props{"Query": "SELECT host, COUNT(*) AS login_failed FROM access.win:time_batch(1 min) WHERE auth = 'failed' GROUP BY host HAVING COUNT(*) >= 60"})
	if err != nil {
		t.Fatal(err)
	}
	r := c.Rules[0]
	if r.Threshold != 60 || r.WindowType != detector.Tumbling || r.Where == "" || r.Name != "block.default" {
		t.Errorf("query rule = %+v", r)
	}
	c, err = Parse(Props{"Threshold": "5", "Rule_Name": "detect.scan", "Distinct": "path", "Where": "code = 404", "Window_Type": "tumbling"})
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Rules[0]; r.Action != ActionDetect || r.Distinct.String() != "$path" || r.WindowType != detector.Tumbling || c.Blocks() {
		t.Errorf("flat rule = %+v (a detect.* name without Action detects)", r)
	}
	bad := []struct {
		props Props
		want  string
	}{
		{Props{"Query": "SELECT host FROM x"}, "dosguard: Query: "},
		{Props{"Query": "SELECT host, COUNT(*) FROM a.win:time(1 min) GROUP BY host HAVING COUNT(*) >= 5", "Threshold": "5"}, "dosguard: Threshold: "},
		{Props{"Threshold": "5", "Where": "code =="}, "dosguard: Where: "},
		{Props{"Threshold": "5", "Window_Type": "hopping"}, "dosguard: Window_Type: "},
		{Props{"Threshold": "5", "Distinct": "$a['"}, "dosguard: Distinct: "},
		{Props{"Threshold": "5", "Key_Fallback": "$a['"}, "dosguard: Key_Fallback: "},
		{Props{"Threshold": "5", "Trusted_Proxies": "10.0.0.0/8, nope"}, "dosguard: Trusted_Proxies: \"nope\""},
		{Props{"Threshold": "5", "Trusted_Proxies": "0.0.0.0/0"}, "dosguard: Trusted_Proxies: "},
	}
	for _, tt := range bad {
		if _, err := Parse(tt.props); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Parse(%v) error = %v, want prefix %q", tt.props, err, tt.want)
		}
	}
}

func TestProductionKeys(t *testing.T) {
	c, err := Parse(Props{"Threshold": "5", "NACL_Entry_Limit": "40", "On_Full": "Refuse", "Aggregate_After": "3",
		"Aggregate_Prefix_V4": "25", "Aggregate_Prefix_V6": "56", "Escalation_Window": "12h", "Escalation_Factor": "1.5",
		"Block_Duration_Max": "2d", "State_File": "/var/lib/dosguard/state.json", "Startup_Check": "off",
		"Max_Blocks_Per_Minute": "10", "Notify_Interval": "0"})
	if err != nil {
		t.Fatal(err)
	}
	if c.NACLEntryLimit != 40 || c.OnFull != OnFullRefuse || c.AggregateAfter != 3 || c.AggregatePrefixV4 != 25 ||
		c.AggregatePrefixV6 != 56 || c.EscalationWindow != 12*time.Hour || c.EscalationFactor != 1.5 ||
		c.BlockDurationMax != 48*time.Hour || c.StateFile != "/var/lib/dosguard/state.json" || c.StartupCheck ||
		c.MaxBlocksPerMinute != 10 || c.NotifyInterval != 0 {
		t.Errorf("production keys = %+v", c)
	}
	bad := map[string]string{
		"NACL_Entry_Limit": "41", "On_Full": "drop", "Aggregate_After": "1", "Aggregate_Prefix_V4": "8",
		"Aggregate_Prefix_V6": "16", "Escalation_Window": "x", "Escalation_Factor": "0.5",
		"Block_Duration_Max": "30m", "Startup_Check": "sometimes", "Max_Blocks_Per_Minute": "0",
		"Notify_Interval": "2h",
	}
	for k, v := range bad {
		_, err := Parse(Props{"Threshold": "5", k: v})
		if err == nil || !strings.HasPrefix(err.Error(), "dosguard: "+k+": ") || !strings.Contains(err.Error(), v) {
			t.Errorf("Parse(%s=%s) error = %v, want one naming the key and value", k, v, err)
		}
	}
}

// TestRulesAreTheTruth: Config keeps no one-rule field beside Rules, and
// what is derived from the configuration comes from the rules.
func TestRulesAreTheTruth(t *testing.T) {
	ct := reflect.TypeOf(Config{})
	for _, name := range []string{"KeyField", "Key", "Window", "Threshold", "Action", "RuleName", "BlockDuration", "Where", "Query"} {
		if _, ok := ct.FieldByName(name); ok {
			t.Errorf("Config has a flat %s field beside Rules", name)
		}
	}
	dir := t.TempDir()
	detectOnly := write(t, dir, "detect.yaml", "- name: scan\n  action: detect\n  threshold: 5\n  block_duration: 2d\n")
	mixed := write(t, dir, "mixed.yaml", "- name: a\n  threshold: 5\n  block_duration: 10m\n- name: b\n  threshold: 5\n  block_duration: 6h\n"+
		"- name: detect.c\n  threshold: 5\n  block_duration: 3d\n")
	forever := write(t, dir, "forever.yaml", "- name: a\n  threshold: 5\n  block_duration: 0\n- name: b\n  threshold: 5\n")
	tests := []struct {
		props  Props
		blocks bool
		adopt  time.Duration
		err    string
	}{
		{Props{"Threshold": "5"}, true, time.Hour, ""},
		{Props{"Threshold": "5", "Block_Duration": "0"}, true, 0, ""},
		{Props{"Threshold": "5", "Action": "detect", "Block_Duration": "5m"}, false, 5 * time.Minute, ""},
		// A rule that only detects needs no Network ACL, however its action is said.
		{Props{"Threshold": "5", "Action": "detect", "Dry_Run": "off"}, false, time.Hour, ""},
		{Props{"Threshold": "5", "Rule_Name": "detect.x", "Dry_Run": "off"}, false, time.Hour, ""},
		{Props{"Rules_File": detectOnly, "Dry_Run": "off"}, false, 48 * time.Hour, ""},
		{Props{"Threshold": "5", "Rule_Name": "block.x", "Dry_Run": "off"}, true, 0, "dosguard: Dry_Run: \"off\" needs Network_ACL_ID"},
		{Props{"Rules_File": mixed, "Dry_Run": "off"}, true, 0, "dosguard: Dry_Run: \"off\" needs Network_ACL_ID"},
		// Adopted entries get the longest ban of the blocking rules.
		{Props{"Rules_File": mixed, "Block_Duration": "1m"}, true, 6 * time.Hour, ""},
		{Props{"Rules_File": forever}, true, 0, ""},
	}
	for i, tt := range tests {
		c, err := Parse(tt.props)
		if tt.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
				t.Errorf("%d: Parse(%v) error = %v, want prefix %q", i, tt.props, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%d: Parse(%v): %v", i, tt.props, err)
			continue
		}
		if c.Blocks() != tt.blocks || c.AdoptDuration() != tt.adopt {
			t.Errorf("%d: Parse(%v): Blocks() = %v, AdoptDuration() = %v; want %v, %v", i, tt.props, c.Blocks(), c.AdoptDuration(), tt.blocks, tt.adopt)
		}
	}
}
