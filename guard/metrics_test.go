package guard

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/enforce"
)

// TestMetricsCounters walks a block, a detection and an expiry with two
// rules and reads what a metrics collector reads: hits and decisions per
// rule, the expiry under "dosguard" (no single rule caused it), and the
// NACL's occupancy.
func TestMetricsCounters(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rules, []byte(`rules:
  - name: block.flood
    threshold: 10
    block_duration: 5m
  - name: detect.busy
    action: detect
    threshold: 6
`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newRig(t, conf.Props{"Rules_File": rules})
	r.g.Flush(records(nil, "203.0.113.9", 10, t0, time.Second), "access")
	r.g.Flush(records(nil, "198.51.100.7", 7, t0, time.Second), "access")
	got := map[ban.Status]int{}
	for i := 0; i < 3; i++ { // 203.0.113.9: detected and blocked; 198.51.100.7: detected
		got[r.decision().Status]++
	}
	if got[ban.Blocked] != 1 || got[ban.Detected] != 2 {
		t.Fatalf("decisions = %v, want 1 blocked, 2 detected", got)
	}
	want := []enforce.Occupancy{{Target: acl1, Entries: 1, Capacity: 20}, {Target: acl1, V6: true, Capacity: 20}}
	if occ := r.g.Occupancy(); len(occ) != 2 || occ[0] != want[0] || occ[1] != want[1] {
		t.Errorf("Occupancy() = %+v, want %+v", occ, want)
	}
	r.clock.Set(t0.Add(5 * time.Minute))
	r.tick <- t0.Add(5 * time.Minute)
	if d := r.decision(); d.Status != ban.Unblocked || d.Rule != "dosguard" {
		t.Fatalf("decision = %s rule %s, want unblocked by dosguard", d.Status, d.Rule)
	}
	settle(r.g)
	if occ := r.g.Occupancy(); occ[0].Entries != 0 {
		t.Errorf("Occupancy() after expiry = %+v, want 0 entries", occ)
	}
	hits := map[string]int64{}
	for _, rs := range r.g.RuleStats() {
		hits[rs.Name] = rs.Hits
		if rs.Tracked != 2 {
			t.Errorf("rule %s tracks %d addresses, want 2", rs.Name, rs.Tracked)
		}
	}
	if hits["block.flood"] != 1 || hits["detect.busy"] != 2 {
		t.Errorf("hits = %v, want block.flood 1, detect.busy 2", hits)
	}
	dec := map[string]int64{}
	for _, d := range r.g.Decisions() {
		dec[d.Rule+" "+string(d.Status)] += d.N
	}
	wantDec := map[string]int64{
		"block.flood blocked": 1, "detect.busy detected": 2, "dosguard unblocked": 1,
		"block.flood failed to block": 0, "detect.busy blocked": 0, "dosguard blocked": 0,
	}
	for k, v := range wantDec {
		if dec[k] != v {
			t.Errorf("decisions[%s] = %d, want %d", k, dec[k], v)
		}
	}
	if len(dec) != 3*4 {
		t.Errorf("%d (rule, status) pairs, want 12: every status of 2 rules and dosguard", len(dec))
	}
}
