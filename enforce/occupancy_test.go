package enforce_test

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/dosguard/dosguard/acl/acltest"
	"github.com/dosguard/dosguard/enforce"
)

// TestOccupancy counts the entries of the bans per target and family, as
// the NACLs hold them, and drops them when the bans end.
func TestOccupancy(t *testing.T) {
	srv := acltest.NewServer()
	defer srv.Close()
	srv.DefaultACL("acl-1")
	srv.DefaultACL("acl-2")
	m := newManager(t, srv, config{ACLIDs: []string{"acl-1", "acl-2"}, EntryLimit: 20, BlockDuration: time.Hour})
	ctx := context.Background()
	for i, a := range []string{"198.51.100.1", "198.51.100.2", "2001:db8::1"} {
		m.Block(ctx, netip.MustParseAddr(a), at(time.Duration(i)*time.Second))
	}
	want := []enforce.Occupancy{
		{Target: "acl-1", Entries: 2, Capacity: 20}, {Target: "acl-1", V6: true, Entries: 1, Capacity: 20},
		{Target: "acl-2", Entries: 2, Capacity: 20}, {Target: "acl-2", V6: true, Entries: 1, Capacity: 20},
	}
	if got := m.Occupancy(); !slices.Equal(got, want) {
		t.Errorf("Occupancy() after 3 blocks =\n%+v\nwant\n%+v", got, want)
	}
	for _, o := range want {
		if n := len(naclState(srv, o.Target)); n != 3 {
			t.Errorf("%s holds %d entries, want 3", o.Target, n)
		}
	}
	m.Expire(ctx, at(2*time.Hour))
	for _, o := range m.Occupancy() {
		if o.Entries != 0 {
			t.Errorf("Occupancy() after expiry: %+v, want 0 entries", o)
		}
	}
}
