package ban

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Entry is where a target holds a ban: the target's id (a network ACL such
// as "acl-0abc", an IP set's ARN) and the rule number there.
type Entry struct {
	// Target is the id of the target holding the entry.
	Target string
	// Rule is the entry's rule number in the target.
	Rule int
	// Foreign marks another writer's entry: it denies the prefix, but
	// dosguard did not make it and never deletes it unless by hand.
	Foreign bool
}

// IsIPSet reports whether a target id (Entry.Target) is an AWS WAF IP
// set's: an IP set's id is its ARN, a network ACL's is "acl-...".
func IsIPSet(id string) bool { return strings.HasPrefix(id, "arn:") }

// Ban is one prefix denied by dosguard: one address, or an aggregate such
// as a /24, with its entry in each target, when it began, when it ends
// (zero: never), and how it escalated.
type Ban struct {
	Prefix netip.Prefix
	// Entries holds one entry per target.
	Entries []Entry
	// Since is when the ban began.
	Since time.Time
	// ExpiresAt is when the ban ends; zero means never.
	ExpiresAt time.Time
	// Offences counts the bans of Prefix within the escalation window,
	// this one included.
	Offences int
	// Duration is the ban's length; 0 means it never expires.
	Duration time.Duration
}

// Owned reports whether any of b's entries is dosguard's own, to delete
// when the ban ends.
func (b Ban) Owned() bool {
	return slices.ContainsFunc(b.Entries, func(e Entry) bool { return !e.Foreign })
}

// Own returns b's entries that dosguard made.
func (b Ban) Own() []Entry {
	return slices.DeleteFunc(slices.Clone(b.Entries), func(e Entry) bool { return e.Foreign })
}

// Clone returns a copy of b that shares no memory with it.
func (b Ban) Clone() Ban {
	b.Entries = slices.Clone(b.Entries)
	return b
}

// Event returns the event of status and cause about b: the one place an
// Event is built from a ban.
func (b Ban) Event(s Status, c Cause) Event {
	return Event{Status: s, Cause: c, Ban: b.Clone()}
}

// ComparePrefix orders prefixes by address, then by length; bans are
// listed in this order.
func ComparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return cmp.Compare(a.Bits(), b.Bits())
}

// Offence is the escalation history of one prefix.
type Offence struct {
	// LastEnd is the end of the latest ban (planned, or actual if earlier).
	LastEnd time.Time
	// Count is the number of bans chained within the escalation window.
	Count int
}
