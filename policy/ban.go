package policy

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/dosguard/dosguard/ban"
)

// Escalate returns the offence count and length of a new ban of a prefix
// at now whose history is o (zero if none), with base the first ban's
// length: base * EscalationFactor^(n-1), at most BlockDurationMax.
func (c Config) Escalate(o ban.Offence, now time.Time, base time.Duration) (int, time.Duration) {
	n := 1
	if o.Count > 0 && now.Sub(o.LastEnd) <= c.EscalationWindow {
		n = o.Count + 1
	}
	d := base
	for i := 1; i < n && d > 0 && d < c.BlockDurationMax; i++ {
		d = time.Duration(float64(d) * c.EscalationFactor)
	}
	return n, min(d, c.BlockDurationMax)
}

// ExpiresAt is when a ban of length d written at now ends: never for d 0;
// an aggregate lasts as long as its longest member.
func ExpiresAt(now time.Time, d time.Duration, members []ban.Ban) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	end := now.Add(d)
	for _, m := range members {
		if m.ExpiresAt.IsZero() {
			return time.Time{}
		}
		if m.ExpiresAt.After(end) {
			end = m.ExpiresAt
		}
	}
	return end
}

// Ended returns o after a ban b ended at now: its planned end, or now if
// it ended earlier.
func Ended(o ban.Offence, b ban.Ban, now time.Time) ban.Offence {
	o.LastEnd = now
	if !b.ExpiresAt.IsZero() && b.ExpiresAt.Before(now) {
		o.LastEnd = b.ExpiresAt
	}
	return o
}

// Started returns the history of a ban b begun at now.
func Started(b ban.Ban, now time.Time) ban.Offence {
	end := b.ExpiresAt
	if end.IsZero() {
		end = now
	}
	return ban.Offence{LastEnd: end, Count: b.Offences}
}

// Stale reports whether the history o no longer counts at now.
func (c Config) Stale(o ban.Offence, now time.Time) bool {
	return now.Sub(o.LastEnd) > c.EscalationWindow
}

// Aggregate returns what blocking addr should deny given the bans: the
// aggregate prefix and its banned members when addr completes one, else
// addr's own prefix. vetoed reports an aggregate refused by the Guardrail.
func (c Config) Aggregate(bans []ban.Ban, addr netip.Addr) (p netip.Prefix, members []ban.Ban, vetoed bool) {
	host := netip.PrefixFrom(addr, addr.BitLen())
	if c.AggregateAfter < 2 || c.Guardrail == nil {
		return host, nil, false
	}
	bits := c.AggregatePrefixV4
	if addr.Is6() {
		bits = c.AggregatePrefixV6
	}
	p = netip.PrefixFrom(addr, bits).Masked()
	for _, b := range bans {
		if b.Prefix.Bits() > bits && p.Contains(b.Prefix.Addr()) {
			members = append(members, b)
		}
	}
	if len(members)+1 < c.AggregateAfter {
		return host, nil, false
	}
	if c.Guardrail.Overlaps(p) {
		return host, nil, true
	}
	return p, members, false
}

// Victim picks the ban to evict to make room for p: one with an entry of
// dosguard's own, of p's address family, not p itself nor one of the
// members about to be aggregated, expiring soonest; bans that never
// expire go last, ties go to the oldest.
func Victim(bans []ban.Ban, p netip.Prefix, members []ban.Ban) (ban.Ban, bool) {
	var best ban.Ban
	found := false
	for _, b := range bans {
		if !b.Owned() || b.Prefix == p || b.Prefix.Addr().Is6() != p.Addr().Is6() ||
			slices.ContainsFunc(members, func(m ban.Ban) bool { return m.Prefix == b.Prefix }) {
			continue
		}
		if !found || sooner(b, best) {
			best, found = b, true
		}
	}
	return best, found
}

func sooner(a, b ban.Ban) bool {
	switch {
	case a.ExpiresAt.IsZero() != b.ExpiresAt.IsZero():
		return b.ExpiresAt.IsZero()
	case !a.ExpiresAt.Equal(b.ExpiresAt):
		return a.ExpiresAt.Before(b.ExpiresAt)
	}
	return a.Since.Before(b.Since)
}

// Due returns the bans whose time is up at now, in the order given.
func Due(bans []ban.Ban, now time.Time) []ban.Ban {
	var out []ban.Ban
	for _, b := range bans {
		if !b.ExpiresAt.IsZero() && !now.Before(b.ExpiresAt) {
			out = append(out, b)
		}
	}
	return out
}

// CheckHost refuses every prefix dosguard may not block on its own: anything
// but a single, specified address.
func CheckHost(p netip.Prefix) error {
	a := p.Addr()
	switch {
	case !p.IsValid():
		return errors.New("invalid prefix")
	case p.Bits() != a.BitLen():
		return fmt.Errorf("prefix length /%d: only single addresses (/32, /128) are blocked", p.Bits())
	case a.IsUnspecified():
		return errors.New("unspecified address")
	case a.Is4In6():
		return errors.New("IPv4-mapped IPv6 address: use the IPv4 form")
	case a.Zone() != "":
		return errors.New("address with a zone")
	}
	return nil
}
