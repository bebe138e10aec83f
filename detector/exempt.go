package detector

import (
	"fmt"
	"net/netip"
)

// Reasons returned by Exemptions.Exempt.
const (
	// ReasonAllowlist means the address is inside an allowlisted prefix.
	ReasonAllowlist = "allowlist"
	// ReasonInvalid means the zero netip.Addr, which names no client.
	ReasonInvalid = "invalid"
	// ReasonUnspecified means 0.0.0.0 or ::.
	ReasonUnspecified = "unspecified"
	// ReasonThisNetwork means 0.0.0.0/8, "this network" (RFC 791).
	ReasonThisNetwork = "this-network"
	// ReasonLoopback means 127.0.0.0/8 or ::1.
	ReasonLoopback = "loopback"
	// ReasonLinkLocal means 169.254.0.0/16 or fe80::/10.
	ReasonLinkLocal = "link-local"
	// ReasonMulticast means 224.0.0.0/4 or ff00::/8.
	ReasonMulticast = "multicast"
	// ReasonBroadcast means 255.255.255.255.
	ReasonBroadcast = "broadcast"
	// ReasonPrivate means RFC 1918 (10/8, 172.16/12, 192.168/16) or IPv6 unique
	// local fc00::/7.
	ReasonPrivate = "private"
	// ReasonCGNAT means 100.64.0.0/10, shared address space (RFC 6598), where
	// carrier NAT and often EKS pod networks live.
	ReasonCGNAT = "cgnat"
)

// ExemptionsConfig lists the addresses that must never be blocked.
type ExemptionsConfig struct {
	// Allowlist holds prefixes that are always exempt. IPv4-mapped IPv6
	// prefixes (::ffff:10.0.0.0/104) are treated as their IPv4 prefix.
	Allowlist []netip.Prefix
	// BlockPrivate lifts the exemption of private (RFC 1918, fc00::/7) and
	// shared (100.64.0.0/10) addresses, for deployments whose attackers can
	// sit inside the VPC or behind a private load balancer.
	BlockPrivate bool
}

// Exemptions decides which addresses are never reported or blocked.
//
// Always exempt, whatever BlockPrivate says: allowlisted prefixes, and
// addresses that cannot be the source of traffic crossing a Network ACL, so a
// deny entry for them would only spend one of a NACL's few rule slots:
// unspecified, 0.0.0.0/8, loopback, link-local, multicast and the IPv4
// broadcast address. Exempt unless BlockPrivate: private and shared (CGNAT)
// addresses. Everything else is blockable.
//
// The zero Exemptions has an empty allowlist and exempts private addresses.
// An Exemptions is immutable after NewExemptions and safe for concurrent use.
type Exemptions struct {
	allow4       []netip.Prefix
	allow6       []netip.Prefix
	blockPrivate bool
	v4           []v4Prefix // allow4 as integers, for exempt4
}

// v4Prefix is an IPv4 prefix as a masked address and its mask.
type v4Prefix struct{ addr, mask uint32 }

// NewExemptions checks cfg and builds its Exemptions. An invalid (zero)
// prefix in the allowlist is an error naming its position.
func NewExemptions(cfg ExemptionsConfig) (*Exemptions, error) {
	e := &Exemptions{blockPrivate: cfg.BlockPrivate}
	for i, p := range cfg.Allowlist {
		if !p.IsValid() {
			return nil, fmt.Errorf("detector: allowlist entry %d %q: invalid prefix", i, p.String())
		}
		p = normPrefix(p)
		if p.Addr().Is4() {
			e.allow4 = append(e.allow4, p)
			e.v4 = append(e.v4, v4Prefix{addr: be32(p.Addr().As4()), mask: ^uint32(0) << (32 - p.Bits())})
		} else {
			e.allow6 = append(e.allow6, p)
		}
	}
	return e, nil
}

// Exempt reports whether a must never be blocked, and why; the reason is one
// of the Reason constants. IPv4-mapped addresses are judged as IPv4 and zones
// are ignored. Allowlist entries are checked one by one, so keep the list to
// tens of prefixes. Exempt does not allocate.
func (e *Exemptions) Exempt(a netip.Addr) (reason string, exempt bool) {
	if !a.IsValid() {
		return ReasonInvalid, true
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return e.exempt4(a.As4())
	}
	for _, p := range e.allow6 {
		if p.Contains(a) {
			return ReasonAllowlist, true
		}
	}
	switch {
	case a.IsUnspecified():
		return ReasonUnspecified, true
	case a.IsLoopback():
		return ReasonLoopback, true
	case a.IsLinkLocalUnicast():
		return ReasonLinkLocal, true
	case a.IsMulticast():
		return ReasonMulticast, true
	case !e.blockPrivate && a.IsPrivate():
		return ReasonPrivate, true
	}
	return "", false
}

// exempt4 is Exempt for the IPv4 address ip, on ip as one 32-bit integer:
// the flush's hot path calls it without building a netip.Addr.
func (e *Exemptions) exempt4(ip [4]byte) (reason string, exempt bool) {
	u := be32(ip)
	for _, p := range e.v4 {
		if u&p.mask == p.addr {
			return ReasonAllowlist, true
		}
	}
	switch {
	case u == 0:
		return ReasonUnspecified, true
	case ip[0] == 127:
		return ReasonLoopback, true
	case ip[0] == 169 && ip[1] == 254:
		return ReasonLinkLocal, true
	case ip[0]&0xf0 == 224:
		return ReasonMulticast, true
	case u == 0xffffffff:
		return ReasonBroadcast, true
	case ip[0] == 0:
		return ReasonThisNetwork, true
	case e.blockPrivate:
		return "", false
	case ip[0] == 10, ip[0] == 172 && ip[1]&0xf0 == 16, ip[0] == 192 && ip[1] == 168:
		return ReasonPrivate, true
	case ip[0] == 100 && ip[1]&0xc0 == 64:
		return ReasonCGNAT, true
	}
	return "", false
}

// be32 is ip as a big-endian integer.
func be32(ip [4]byte) uint32 {
	return uint32(ip[0])<<24 | uint32(ip[1])<<16 | uint32(ip[2])<<8 | uint32(ip[3])
}

// normPrefix masks p and turns an IPv4-mapped prefix (::ffff:10.0.0.0/104)
// into its IPv4 prefix, zone dropped.
func normPrefix(p netip.Prefix) netip.Prefix {
	p = p.Masked()
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// Special ranges, for Overlaps: always exempt, and exempt unless
// BlockPrivate. They match the checks of Exempt.
var (
	special4 = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),          // this network, unspecified
		netip.MustParsePrefix("127.0.0.0/8"),        // loopback
		netip.MustParsePrefix("169.254.0.0/16"),     // link-local
		netip.MustParsePrefix("224.0.0.0/4"),        // multicast
		netip.MustParsePrefix("255.255.255.255/32"), // broadcast
	}
	special6 = []netip.Prefix{
		netip.MustParsePrefix("::/128"),        // unspecified
		netip.MustParsePrefix("::1/128"),       // loopback
		netip.MustParsePrefix("fe80::/10"),     // link-local
		netip.MustParsePrefix("ff00::/8"),      // multicast
		netip.MustParsePrefix("::ffff:0:0/96"), // IPv4-mapped: judged as IPv4, which has special ranges
	}
	private4 = []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("100.64.0.0/10"), // shared address space, CGNAT
	}
	private6 = []netip.Prefix{
		netip.MustParsePrefix("fc00::/7"), // unique local
	}
)

// Overlaps reports whether the prefix p holds any address that Exempt would
// exempt: whether p overlaps (contains, or lies inside) an allowlisted
// prefix or a special range (loopback, link-local, multicast and the rest
// of Exempt's list; private and shared ranges unless BlockPrivate). A deny
// entry for p, such as a /24 or /64 aggregate, is safe only when Overlaps
// is false. IPv4-mapped prefixes are judged as IPv4; an IPv6 prefix wide
// enough to hold ::ffff:0:0/96 overlaps, since it holds every IPv4-mapped
// address. An invalid (zero) prefix overlaps everything. Overlaps does not
// allocate.
func (e *Exemptions) Overlaps(p netip.Prefix) bool {
	if !p.IsValid() {
		return true
	}
	p = normPrefix(p)
	allow, special, private := e.allow6, special6, private6
	if p.Addr().Is4() {
		allow, special, private = e.allow4, special4, private4
	}
	return overlapsAny(p, allow) || overlapsAny(p, special) || !e.blockPrivate && overlapsAny(p, private)
}

func overlapsAny(p netip.Prefix, list []netip.Prefix) bool {
	for _, q := range list {
		if p.Overlaps(q) {
			return true
		}
	}
	return false
}
