package metrics_test

import (
	"strings"
	"testing"

	"github.com/dosguard/dosguard/wafipset/waftest"
)

// TestSharedAndIPSetSeries: with Redis and an IPv4 and an IPv6 WAF IP set
// beside the NACL, /metrics serves the IP sets' bans and capacity (target:
// the set's ARN), the WAFv2 calls the local WAF endpoint received, and the
// shared state's series; without Redis none of the latter.
func TestSharedAndIPSetSeries(t *testing.T) {
	e := newEnv(t, withShared)
	e.flush(t)
	s := scrape(t, e.addr)
	out := "output=dosguard.0"
	wafCalls := func(op string) float64 { return float64(e.waf.CallCount(op)) }
	checkSeries(t, s, out, []seriesCheck{
		{"dosguard_decisions_total", []string{"status=blocked"}, 2},
		{"dosguard_bans_active", []string{"target=" + e.set4, "family=ipv4"}, 1},
		{"dosguard_bans_active", []string{"target=" + e.set4, "family=ipv6"}, 0},
		{"dosguard_bans_active", []string{"target=" + e.set6, "family=ipv6"}, 1},
		{"dosguard_bans_active", []string{"target=" + testACL}, 2},
		{"dosguard_target_capacity", []string{"target=" + e.set4, "family=ipv4"}, waftest.Limit},
		{"dosguard_target_capacity", []string{"target=" + e.set6, "family=ipv6"}, waftest.Limit},
		// The WAFv2 client is built from the AWS config that carries the
		// middleware: every call the endpoint received is counted.
		{"dosguard_aws_calls_total", []string{"service=WAFV2"}, wafCalls("*")},
		{"dosguard_aws_calls_total", []string{"service=WAFV2", "operation=GetIPSet", "outcome=ok"}, wafCalls(waftest.GetIPSet)},
		{"dosguard_aws_calls_total", []string{"service=WAFV2", "operation=UpdateIPSet", "outcome=ok"}, wafCalls(waftest.UpdateIPSet)},
		{"dosguard_aws_call_duration_seconds", []string{"service=WAFV2"}, wafCalls("*")},
		{"dosguard_redis_sync_rounds_total", []string{"outcome=error"}, 0},
		{"dosguard_redis_up", nil, 1},
		{"dosguard_redis_counts_dropped_total", nil, 0},
		// One claim per block, both won: this instance is alone.
		{"dosguard_redis_claims_total", []string{"outcome=won"}, 2},
		{"dosguard_redis_claims_total", []string{"outcome=lost"}, 0},
		{"dosguard_redis_claims_total", []string{"outcome=error"}, 0},
		{"dosguard_redis_bans_merged_total", nil, 0},
	})
	if n := wafCalls(waftest.UpdateIPSet); n < 2 {
		t.Errorf("WAF received %v UpdateIPSet, want at least one per set", n)
	}
	if s.Has("dosguard_target_capacity", "target="+e.set4, "family=ipv6") {
		t.Error("the IPv4 set has an IPv6 capacity series, want none")
	}
	// Three ticks: the first two rounds are over, the third may have been
	// cut short by Close.
	ok := s.Value("dosguard_redis_sync_rounds_total", out, "outcome=ok")
	if ok < 2 || ok > 3 {
		t.Errorf("sync rounds ok = %v after three ticks, want 2 or 3", ok)
	}
	if n := s.Value("dosguard_redis_sync_duration_seconds", out); n != ok {
		t.Errorf("sync round durations observed = %v, want one per round (%v)", n, ok)
	}

	plain := newEnv(t)
	plain.flush(t)
	for name := range scrape(t, plain.addr).Families {
		if strings.HasPrefix(name, "dosguard_redis_") {
			t.Errorf("without Redis_URL: %s served, want no Redis series", name)
		}
	}
}
