package detector

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

func TestExempt(t *testing.T) {
	allow := []netip.Prefix{
		netip.MustParsePrefix("203.0.113.0/24"),
		netip.MustParsePrefix("2001:db8:aaaa::/48"),
		netip.MustParsePrefix("::ffff:198.51.100.7/128"), // mapped: becomes 198.51.100.7/32
		netip.MustParsePrefix("192.0.2.77/24"),           // unmasked: becomes 192.0.2.0/24
	}
	tests := []struct {
		addr         string
		reason       string // with BlockPrivate false; "" means not exempt
		reasonStrict string // with BlockPrivate true
	}{
		{"203.0.113.9", ReasonAllowlist, ReasonAllowlist},
		{"::ffff:203.0.113.9", ReasonAllowlist, ReasonAllowlist},
		{"2001:db8:aaaa:1::5", ReasonAllowlist, ReasonAllowlist},
		{"2001:db8:aaab::5", "", ""},
		{"198.51.100.7", ReasonAllowlist, ReasonAllowlist},
		{"198.51.100.8", "", ""},
		{"192.0.2.200", ReasonAllowlist, ReasonAllowlist},
		{"10.1.2.3", ReasonPrivate, ""},
		{"172.16.0.1", ReasonPrivate, ""},
		{"172.31.255.255", ReasonPrivate, ""},
		{"172.32.0.1", "", ""},
		{"192.168.1.1", ReasonPrivate, ""},
		{"::ffff:192.168.1.1", ReasonPrivate, ""},
		{"fd00::1", ReasonPrivate, ""},
		{"fc00::1", ReasonPrivate, ""},
		{"100.64.0.1", ReasonCGNAT, ""},
		{"100.127.255.255", ReasonCGNAT, ""},
		{"100.128.0.1", "", ""},
		{"100.63.255.255", "", ""},
		{"127.0.0.1", ReasonLoopback, ReasonLoopback},
		{"127.9.9.9", ReasonLoopback, ReasonLoopback},
		{"::1", ReasonLoopback, ReasonLoopback},
		{"169.254.169.254", ReasonLinkLocal, ReasonLinkLocal},
		{"fe80::1", ReasonLinkLocal, ReasonLinkLocal},
		{"fe80::1%eth0", ReasonLinkLocal, ReasonLinkLocal},
		{"0.0.0.0", ReasonUnspecified, ReasonUnspecified},
		{"::", ReasonUnspecified, ReasonUnspecified},
		{"0.1.2.3", ReasonThisNetwork, ReasonThisNetwork},
		{"224.0.0.1", ReasonMulticast, ReasonMulticast},
		{"239.255.255.250", ReasonMulticast, ReasonMulticast},
		{"ff02::1", ReasonMulticast, ReasonMulticast},
		{"255.255.255.255", ReasonBroadcast, ReasonBroadcast},
		{"54.199.254.150", "", ""},
		{"1.1.1.1", "", ""},
		{"2600:1f18::1", "", ""},
	}
	lax, err := NewExemptions(ExemptionsConfig{Allowlist: allow})
	if err != nil {
		t.Fatal(err)
	}
	strict, err := NewExemptions(ExemptionsConfig{Allowlist: allow, BlockPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		a := netip.MustParseAddr(tt.addr)
		for _, c := range []struct {
			name string
			e    *Exemptions
			want string
		}{{"BlockPrivate=false", lax, tt.reason}, {"BlockPrivate=true", strict, tt.reasonStrict}} {
			reason, exempt := c.e.Exempt(a)
			if reason != c.want || exempt != (c.want != "") {
				t.Errorf("%s: Exempt(%s) = %q, %v; want %q, %v", c.name, tt.addr, reason, exempt, c.want, c.want != "")
			}
		}
	}
}

func TestExemptZeroValueAndInvalid(t *testing.T) {
	var e Exemptions
	if r, ok := e.Exempt(netip.MustParseAddr("10.0.0.1")); !ok || r != ReasonPrivate {
		t.Errorf("zero Exemptions: Exempt(10.0.0.1) = %q, %v; want %q, true", r, ok, ReasonPrivate)
	}
	if r, ok := e.Exempt(netip.MustParseAddr("8.8.8.8")); ok {
		t.Errorf("zero Exemptions: Exempt(8.8.8.8) = %q, true; want not exempt", r)
	}
	if r, ok := e.Exempt(netip.Addr{}); !ok || r != ReasonInvalid {
		t.Errorf("Exempt(zero Addr) = %q, %v; want %q, true", r, ok, ReasonInvalid)
	}
}

func TestNewExemptionsErrors(t *testing.T) {
	_, err := NewExemptions(ExemptionsConfig{Allowlist: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), {}}})
	if err == nil {
		t.Fatal("NewExemptions with a zero prefix: nil error, want one naming entry 1")
	}
	if got, want := err.Error(), `detector: allowlist entry 1 "invalid Prefix": invalid prefix`; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
}

func TestExemptAllocs(t *testing.T) {
	e, err := NewExemptions(ExemptionsConfig{Allowlist: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}})
	if err != nil {
		t.Fatal(err)
	}
	addrs := []netip.Addr{
		netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("10.0.0.1"),
		netip.MustParseAddr("fe80::1%eth0"), netip.MustParseAddr("2600:1f18::1"),
	}
	for _, a := range addrs {
		if n := testing.AllocsPerRun(100, func() { _, _ = e.Exempt(a) }); n != 0 {
			t.Errorf("Exempt(%v) allocates %v times, want 0", a, n)
		}
	}
}

// allow20 returns Exemptions with 20 allowlisted /24s, 198.51.0.0 to
// 198.51.19.0.
func allow20(tb testing.TB) *Exemptions {
	tb.Helper()
	allow := make([]netip.Prefix, 0, 20)
	for i := range 20 {
		allow = append(allow, netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, byte(i), 0}), 24))
	}
	e, err := NewExemptions(ExemptionsConfig{Allowlist: allow})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

func BenchmarkExempt(b *testing.B) {
	e := allow20(b)
	a := netip.MustParseAddr("54.199.254.150") // public: walks the whole list
	b.ReportAllocs()
	for b.Loop() {
		_, _ = e.Exempt(a)
	}
}

func TestOverlaps(t *testing.T) {
	allow := []netip.Prefix{
		netip.MustParsePrefix("203.0.113.128/25"),
		netip.MustParsePrefix("2001:db8:aaaa:1::/64"),
		netip.MustParsePrefix("::ffff:198.51.100.7/128"), // mapped: 198.51.100.7/32
	}
	tests := []struct {
		prefix      string
		lax, strict bool // BlockPrivate false, true
		whyOverlaps string
	}{
		{"203.0.113.0/24", true, true, "contains the allowlisted /25"},
		{"203.0.113.0/25", false, false, "the other half"},
		{"203.0.113.200/32", true, true, "inside the allowlisted /25"},
		{"198.51.100.0/24", true, true, "contains the allowlisted 198.51.100.7"},
		{"::ffff:198.51.100.0/120", true, true, "mapped: the same /24"},
		{"198.51.101.0/24", false, false, ""},
		{"2001:db8:aaaa::/48", true, true, "contains the allowlisted /64"},
		{"2001:db8:aaaa:2::/64", false, false, ""},
		{"10.9.0.0/16", true, false, "private"},
		{"172.16.5.0/24", true, false, "private"},
		{"172.32.0.0/24", false, false, ""},
		{"172.0.0.0/8", true, false, "contains 172.16.0.0/12"},
		{"100.64.0.0/24", true, false, "shared address space"},
		{"100.0.0.0/8", true, false, "contains 100.64.0.0/10"},
		{"192.168.1.0/24", true, false, "private"},
		{"fd12:3456::/64", true, false, "unique local"},
		{"2600:1f18::/64", false, false, ""},
		{"127.0.0.0/24", true, true, "loopback"},
		{"169.254.169.0/24", true, true, "link-local"},
		{"224.1.2.0/24", true, true, "multicast"},
		{"255.255.255.0/24", true, true, "holds the broadcast address"},
		{"0.1.2.0/24", true, true, "this network"},
		{"fe80::/64", true, true, "link-local"},
		{"ff02::/64", true, true, "multicast"},
		{"::/64", true, true, "holds :: and ::1, and every IPv4-mapped address"},
		{"::ffff:0:0/96", true, true, "all of IPv4"},
		{"0.0.0.0/0", true, true, "everything"},
		{"::/0", true, true, "everything"},
		{"54.199.254.0/24", false, false, ""},
		{"54.199.254.150/32", false, false, ""},
	}
	lax, err := NewExemptions(ExemptionsConfig{Allowlist: allow})
	if err != nil {
		t.Fatal(err)
	}
	strict, err := NewExemptions(ExemptionsConfig{Allowlist: allow, BlockPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		p := netip.MustParsePrefix(tt.prefix)
		if got := lax.Overlaps(p); got != tt.lax {
			t.Errorf("BlockPrivate=false: Overlaps(%s) = %v, want %v %s", p, got, tt.lax, tt.whyOverlaps)
		}
		if got := strict.Overlaps(p); got != tt.strict {
			t.Errorf("BlockPrivate=true: Overlaps(%s) = %v, want %v %s", p, got, tt.strict, tt.whyOverlaps)
		}
	}
	if !lax.Overlaps(netip.Prefix{}) {
		t.Error("Overlaps(zero Prefix) = false, want true")
	}
	var zero Exemptions
	if !zero.Overlaps(netip.MustParsePrefix("10.0.0.0/24")) || zero.Overlaps(netip.MustParsePrefix("8.8.8.0/24")) {
		t.Error("zero Exemptions: Overlaps(10.0.0.0/24) = false or Overlaps(8.8.8.0/24) = true")
	}
}

// TestOverlapsAgreesWithExempt checks Overlaps against Exempt: a single
// address prefix overlaps exactly when its address is exempt, and every
// wider prefix around an exempt address overlaps.
func TestOverlapsAgreesWithExempt(t *testing.T) {
	addrs := []string{
		"203.0.113.9", "198.51.100.7", "198.51.100.8", "10.1.2.3", "172.31.255.255", "172.32.0.1",
		"100.64.0.1", "100.128.0.1", "127.9.9.9", "169.254.169.254", "0.1.2.3", "224.0.0.1",
		"255.255.255.255", "54.199.254.150", "::1", "::", "fe80::1", "fd00::1", "ff02::1",
		"2001:db8:aaaa::5", "2600:1f18::1", "::ffff:192.168.1.1", "::ffff:8.8.8.8",
	}
	allow := []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8:aaaa::/48"), netip.MustParsePrefix("198.51.100.7/32")}
	for _, blockPrivate := range []bool{false, true} {
		e, err := NewExemptions(ExemptionsConfig{Allowlist: allow, BlockPrivate: blockPrivate})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range addrs {
			a := netip.MustParseAddr(s)
			reason, exempt := e.Exempt(a)
			if got := e.Overlaps(netip.PrefixFrom(a, a.BitLen())); got != exempt {
				t.Errorf("BlockPrivate=%v: Overlaps(%s/%d) = %v, but Exempt(%s) = %q, %v", blockPrivate, a, a.BitLen(), got, a, reason, exempt)
			}
			if !exempt {
				continue
			}
			for bits := range a.BitLen() {
				if p, _ := a.Prefix(bits); !e.Overlaps(p) {
					t.Errorf("BlockPrivate=%v: Overlaps(%s) = false, but it holds exempt %s (%s)", blockPrivate, p, a, reason)
				}
			}
		}
	}
}

func TestOverlapsAllocs(t *testing.T) {
	e, err := NewExemptions(ExemptionsConfig{Allowlist: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}})
	if err != nil {
		t.Fatal(err)
	}
	p := netip.MustParsePrefix("54.199.254.0/24")
	if n := testing.AllocsPerRun(100, func() { _ = e.Overlaps(p) }); n != 0 {
		t.Errorf("Overlaps(%s) allocates %v times, want 0", p, n)
	}
}

var cgnat4 = netip.MustParsePrefix("100.64.0.0/10")

// exempt4Oracle is exempt4 written with netip's own predicates (IsLoopback,
// IsPrivate, Prefix.Contains and the rest): the reference TestExempt4 holds
// the integer arithmetic to.
func exempt4Oracle(e *Exemptions, a netip.Addr) (string, bool) {
	for _, p := range e.allow4 {
		if p.Contains(a) {
			return ReasonAllowlist, true
		}
	}
	v4 := a.As4()
	switch {
	case a.IsUnspecified():
		return ReasonUnspecified, true
	case a.IsLoopback():
		return ReasonLoopback, true
	case a.IsLinkLocalUnicast():
		return ReasonLinkLocal, true
	case a.IsMulticast():
		return ReasonMulticast, true
	case v4 == [4]byte{255, 255, 255, 255}:
		return ReasonBroadcast, true
	case v4[0] == 0:
		return ReasonThisNetwork, true
	case e.blockPrivate:
		return "", false
	case a.IsPrivate():
		return ReasonPrivate, true
	case cgnat4.Contains(a):
		return ReasonCGNAT, true
	}
	return "", false
}

// TestExempt4 holds the flush's integer check to netip's predicates: on every boundary
// of every exempt range and allowlist prefix (the first and last address in
// it, and the neighbours outside), on random addresses, with and without
// BlockPrivate, with an allowlist of /0, /32 and odd lengths, and without one.
func TestExempt4(t *testing.T) {
	lists := [][]netip.Prefix{
		nil,
		{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("198.51.100.7/32"),
			netip.MustParsePrefix("::ffff:192.0.2.0/120"), netip.MustParsePrefix("2001:db8::/32"),
			netip.MustParsePrefix("100.100.0.0/13"), netip.MustParsePrefix("45.0.0.1/7")},
		{netip.MustParsePrefix("0.0.0.0/0")},
	}
	edges := []string{"0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "255.255.255.255/32",
		"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
		"203.0.113.0/24", "198.51.100.7/32", "192.0.2.0/24", "100.96.0.0/13", "44.0.0.0/7"}
	var addrs [][4]byte
	for _, e := range edges {
		p := netip.MustParsePrefix(e)
		first := be32(p.Addr().As4())
		last := first | ^(^uint32(0) << (32 - p.Bits()))
		for _, u := range []uint32{first - 1, first, first + 1, last - 1, last, last + 1} {
			addrs = append(addrs, [4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)})
		}
	}
	r := rand.New(rand.NewPCG(4, 4))
	for range 100_000 {
		u := r.Uint32()
		addrs = append(addrs, [4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)})
	}
	for _, allow := range lists {
		for _, strict := range []bool{false, true} {
			e, err := NewExemptions(ExemptionsConfig{Allowlist: allow, BlockPrivate: strict})
			if err != nil {
				t.Fatal(err)
			}
			for _, ip := range addrs {
				wantReason, want := exempt4Oracle(e, netip.AddrFrom4(ip))
				if reason, got := e.exempt4(ip); got != want || reason != wantReason {
					t.Fatalf("allowlist %v, BlockPrivate %v: exempt4(%v) = %q, %v; netip's classification says %q, %v", allow, strict, netip.AddrFrom4(ip), reason, got, wantReason, want)
				}
			}
		}
	}
}
