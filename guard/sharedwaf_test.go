package guard

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/wafipset"
	"github.com/dosguard/dosguard/wafipset/waftest"
)

// TestFleetIPSetOnly: replicas blocking into an IP set alone (no NACL)
// share the ban through Redis as with a NACL: one block, one member, and
// every replica holds the ban.
func TestFleetIPSetOnly(t *testing.T) {
	waf := waftest.NewServer(t)
	arn := waf.AddSet(waftest.Regional, "dosguard-v4", "id4", "IPV4")
	f := newFleet(t, 0, conf.Props{"Threshold": "100", "WAF_IP_Set_ARN": arn})
	delete(f.props, "Network_ACL_ID")
	f.waf = func(region string) wafipset.WAFAPI { return waf.Client(t, region) }
	f.add()
	f.add()
	f.spread("203.0.113.60", 120, 6, t0)
	if got := statuses(f.decisions()); len(got) != 1 || got["blocked 203.0.113.60"] != 1 {
		t.Fatalf("decisions = %v, want one block", got)
	}
	f.syncAll()
	if got := waf.Addresses(waftest.Regional, "dosguard-v4", "id4"); !slices.Equal(got, []string{"203.0.113.60/32"}) {
		t.Fatalf("IP set holds %v, want the one member", got)
	}
	a := netip.MustParseAddr("203.0.113.60")
	for i, m := range f.gs {
		if _, ok := m.g.enf.Covering(a); !ok || !m.g.quiet.Quiet(0, a) {
			t.Errorf("replica %d: does not hold the ban", i)
		}
	}
}
