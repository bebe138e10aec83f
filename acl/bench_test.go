package acl

import (
	"net/netip"
	"testing"

	"github.com/dosguard/dosguard/acl/acltest"
)

// BenchmarkCovers asks about an unbanned address with a full ACL (18 bans).
func BenchmarkCovers(b *testing.B) {
	srv := acltest.NewServer()
	defer srv.Close()
	m, err := NewManager(ManagerConfig{Blocker: Config{ACLIDs: []string{"acl-1"}}}, srv.Client(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := 1; i <= 18; i++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), 32)
		m.put(&ban{Ban: Ban{Prefix: p, Entries: []Entry{{ACLID: "acl-1", RuleNumber: i}}}})
	}
	a := netip.MustParseAddr("203.0.113.7")
	b.ReportAllocs()
	for b.Loop() {
		if m.Covers(a) {
			b.Fatal("covered")
		}
	}
}
