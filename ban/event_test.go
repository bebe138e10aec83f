package ban_test

import (
	"net/netip"
	"testing"

	"github.com/dosguard/dosguard/ban"
)

// TestText: the operator-facing reasons stay the strings notifications
// and their golden tests carry.
func TestText(t *testing.T) {
	agg := netip.MustParsePrefix("203.0.113.0/24")
	const set = "arn:aws:wafv2:us-east-1:123456789012:regional/ipset/dosguard-v4/id4"
	gone := func(targets ...string) ban.Event {
		e := ban.Event{Status: ban.Unblocked, Cause: ban.RemovedByHand}
		for _, t := range targets {
			e.Entries = append(e.Entries, ban.Entry{Target: t})
		}
		return e
	}
	tests := []struct {
		e    ban.Event
		want string
	}{
		{ban.Event{Status: ban.Blocked}, ""},
		{ban.Event{Status: ban.Blocked, Cause: ban.Covered, Via: agg}, "covered by 203.0.113.0/24"},
		{ban.Event{Status: ban.Blocked, Cause: ban.AlreadyDenied}, "already denied"},
		{ban.Event{Status: ban.Blocked, Cause: ban.Aggregate, Members: 5}, "aggregated 5 addresses"},
		{ban.Event{Status: ban.Blocked, Cause: ban.Adopted}, "adopted"},
		{ban.Event{Status: ban.Unblocked, Cause: ban.Expired}, "expired"},
		{ban.Event{Status: ban.Unblocked, Cause: ban.Evicted}, "evicted"},
		{ban.Event{Status: ban.Unblocked, Cause: ban.Aggregated, Via: agg}, "aggregated into 203.0.113.0/24"},
		{ban.Event{Status: ban.Unblocked, Cause: ban.ByHand}, "by hand"},
		{ban.Event{Status: ban.Unblocked, Cause: ban.Flushed}, "flushed"},
		{ban.Event{Status: ban.Unblocked, Cause: ban.RemovedByHand}, "removed by hand from the NACL"},
		{gone("acl-1", "acl-2"), "removed by hand from the NACL"},
		{gone(set), "removed by hand from the IP set"},
		{gone("acl-1", set), "removed by hand from the NACL and the IP set"},
		{ban.Event{Status: ban.Failed, Cause: ban.RateLimit}, "rate limit"},
		{ban.Event{Status: ban.Failed, Cause: ban.Refused, Reason: "NetworkAclEntryLimitExceeded"}, "NetworkAclEntryLimitExceeded"},
		{ban.Event{Status: ban.Failed, Cause: ban.Refused, Reason: "no free rule number"}, "no free rule number"},
	}
	for _, tt := range tests {
		if got := tt.e.Text(); got != tt.want {
			t.Errorf("%+v.Text() = %q, want %q", tt.e, got, tt.want)
		}
	}
}

// TestEvent: an Event built from a ban carries its fields and shares no
// memory with it.
func TestEvent(t *testing.T) {
	b := ban.Ban{Prefix: netip.MustParsePrefix("198.51.100.1/32"), Entries: []ban.Entry{{Target: "acl-1", Rule: 1}}, Offences: 2}
	e := b.Event(ban.Unblocked, ban.Expired)
	b.Entries[0].Rule = 9
	if e.Status != ban.Unblocked || e.Cause != ban.Expired || e.Prefix != b.Prefix || e.Offences != 2 || e.Entries[0].Rule != 1 {
		t.Errorf("Event = %+v", e)
	}
	if !b.Owned() || (ban.Ban{Entries: []ban.Entry{{Foreign: true}}}).Owned() {
		t.Error("Owned: want true with an own entry, false with another writer's only")
	}
}
