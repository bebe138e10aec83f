package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dosguard/dosguard/acl/acltest"
	"github.com/dosguard/dosguard/wafipset/waftest"
)

// TestHostWAF: the real .so in the C host with WAF_IP_Set_ARN (an IPv4 and
// an IPv6 set) beside a NACL: the attackers end up in the set of their IP
// version, another writer's member stays, and the stop line counts them.
func TestHostWAF(t *testing.T) {
	so, _ := buildAll(t)
	ec2 := acltest.NewServer()
	defer ec2.Close()
	ec2.DefaultACL(hostACL)
	waf := waftest.NewServer(t)
	v4 := waf.AddSet(waftest.Regional, "dosguard-v4", "id4", "IPV4", "192.0.2.50/32")
	v6 := waf.AddSet(waftest.Regional, "dosguard-v6", "id6", "IPV6")
	dir := t.TempDir()
	var a []byte
	for i := 1; i <= 30; i++ {
		a = v2(a, fmt.Sprintf("203.0.113.%d", i), 20, hostT0, time.Millisecond)
	}
	a = v2(a, "2001:db8::bad", 20, hostT0, time.Millisecond)
	a = v2(a, "198.51.100.1", 5, hostT0, time.Second) // below the threshold
	path := writeChunk(t, dir, "a.chunk", a)
	script := fmt.Sprintf(`
load %s
register
prop 0 Threshold 20
prop 0 Network_ACL_ID %s
prop 0 EC2_Endpoint %s
prop 0 WAF_IP_Set_ARN %s,%s
prop 0 WAF_Endpoint %s
prop 0 Max_Blocks_Per_Minute 100
init 0
expect rc 1
flush 0 %s access
expect rc 1
exit 0
expect rc 1
unregister
`, so, hostACL, ec2.URL(), v4, v6, waf.URL(), path)
	run := runHost(t, script)
	if run.err != nil {
		t.Fatalf("host: %v\nstdout:\n%s\nstderr:\n%s", run.err, run.stdout, run.stderr)
	}
	want4 := []string{"192.0.2.50/32"}
	for i := 1; i <= 30; i++ {
		want4 = append(want4, fmt.Sprintf("203.0.113.%d/32", i))
	}
	slices.Sort(want4)
	if got := waf.Addresses(waftest.Regional, "dosguard-v4", "id4"); !slices.Equal(got, want4) {
		t.Errorf("IPv4 set = %v, want %v\nstderr:\n%s", got, want4, run.stderr)
	}
	if got := waf.Addresses(waftest.Regional, "dosguard-v6", "id6"); !slices.Equal(got, []string{"2001:db8::bad/128"}) {
		t.Errorf("IPv6 set = %v, want the IPv6 attacker as /128", got)
	}
	var denies int
	for _, e := range ec2.Entries(hostACL) {
		if !e.Egress && e.RuleAction == "deny" && e.RuleNumber < 100 {
			denies++
		}
	}
	if denies != 19 { // the NACL's 18 IPv4 entries, and the IPv6 attacker
		t.Errorf("NACL deny entries = %d, want 19", denies)
	}
	updates := waf.CallCount(waftest.UpdateIPSet) - 2 // the start-up check of each set
	t.Logf("31 attackers from one chunk: %d UpdateIPSet calls", updates)
	if updates < 2 || updates > 10 {
		t.Errorf("UpdateIPSet calls = %d, want a few (batched; at least one per set)", updates)
	}
	stopped := regexp.MustCompile(`stopped records=\d+ blocked=(\d+) detected=0 failed=(\d+)`)
	sm := stopped.FindStringSubmatch(run.stderr)
	if sm == nil || sm[1] != "31" || sm[2] != "0" {
		t.Errorf("stop line %v, want blocked=31 failed=0\nstderr:\n%s", sm, run.stderr)
	}
}

// TestHostWAFStartupCheck: an IP set that does not exist, or credentials
// that may not update it, stop Init with one line naming the set.
func TestHostWAFStartupCheck(t *testing.T) {
	so, _ := buildAll(t)
	waf := waftest.NewServer(t)
	v4 := waf.AddSet(waftest.Regional, "dosguard-v4", "id4", "IPV4")
	gone := waftest.ARN("us-east-1", waftest.Regional, "gone", "id0")
	for _, tt := range []struct {
		arn, want string
		deny      bool
	}{
		{gone, "IP set " + gone + " not found", false},
		{v4, "credentials may not write IP set " + v4 + ": AccessDeniedException", true},
	} {
		waf.DenyWrites(tt.deny)
		script := fmt.Sprintf("load %s\nregister\nprop 0 Threshold 10\nprop 0 WAF_IP_Set_ARN %s\nprop 0 WAF_Endpoint %s\ninit 0\nexpect rc 0\nunregister\n",
			so, tt.arn, waf.URL())
		run := runHost(t, script)
		if run.err != nil {
			t.Errorf("%s: host: %v\n%s%s", tt.arn, run.err, run.stdout, run.stderr)
			continue
		}
		lines := errorLines(run.stderr)
		if len(lines) != 1 || !strings.Contains(lines[0], tt.want) {
			t.Errorf("%s: error lines = %q, want one containing %q", tt.arn, lines, tt.want)
		}
	}
}
