package detector

import (
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

func BenchmarkExempt(b *testing.B) {
	allow := make([]netip.Prefix, 0, 20)
	for i := range 20 {
		allow = append(allow, netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, byte(i), 0}), 24))
	}
	e, err := NewExemptions(ExemptionsConfig{Allowlist: allow})
	if err != nil {
		b.Fatal(err)
	}
	a := netip.MustParseAddr("54.199.254.150") // public: walks the whole list
	b.ReportAllocs()
	for b.Loop() {
		_, _ = e.Exempt(a)
	}
}
