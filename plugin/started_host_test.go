package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dosguard/dosguard/shared/redistest"
	"github.com/dosguard/dosguard/wafipset/waftest"
)

// TestHostStartedLine: the "started" line lists the IP sets as it lists
// the NACLs, and says whether counts and bans are shared on Redis.
func TestHostStartedLine(t *testing.T) {
	so, _ := buildAll(t)
	redis := redistest.Start(t)
	waf := waftest.NewServer(t)
	v4 := waf.AddSet(waftest.Regional, "dosguard-v4", "id4", "IPV4")
	script := fmt.Sprintf(`
load %s
register
prop 0 Threshold 20
prop 0 WAF_IP_Set_ARN %s
prop 0 WAF_Endpoint %s
prop 0 Redis_URL %s
init 0
expect rc 1
exit 0
expect rc 1
unregister
`, so, v4, waf.URL(), redis.URL())
	run := runHost(t, script)
	if run.err != nil {
		t.Fatalf("host: %v\nstdout:\n%s\nstderr:\n%s", run.err, run.stdout, run.stderr)
	}
	var line string
	for _, l := range strings.Split(run.stderr, "\n") {
		if strings.Contains(l, "[output:dosguard:dosguard.0] started") {
			line = l
		}
	}
	for _, want := range []string{"ip_sets=[" + v4 + "]", "redis=true", "acl_ids=[]"} {
		if !strings.Contains(line, want) {
			t.Errorf("started line %q: no %s\nstderr:\n%s", line, want, run.stderr)
		}
	}
	if strings.Contains(line, redis.Addr()) {
		t.Errorf("started line %q shows Redis_URL, want only whether Redis is on", line)
	}
}
