package ban

import (
	"fmt"
	"net/netip"
)

// Cause says why an Event happened. The guard and the notifier switch on
// it; Event.Text renders it for people.
type Cause int

// The causes. A plain block has CauseNone.
const (
	// CauseNone is a plain block, or a failure whose Reason says why.
	CauseNone Cause = iota
	// Covered (blocked): an aggregate, Via, already denies the address.
	Covered
	// AlreadyDenied (blocked): every target already denied the prefix
	// with another writer's entry.
	AlreadyDenied
	// Aggregate (blocked): the prefix replaces Members banned addresses.
	Aggregate
	// Adopted (blocked): an unknown entry of the managed range was taken
	// over as dosguard's own.
	Adopted
	// Expired (unblocked): the ban's time was up.
	Expired
	// Evicted (unblocked): the ban made room for a new one.
	Evicted
	// Aggregated (unblocked): the address stays denied through the
	// aggregate Via.
	Aggregated
	// ByHand (unblocked): an operator lifted the ban.
	ByHand
	// Flushed (unblocked): an operator removed every ban.
	Flushed
	// RemovedByHand (unblocked): the entries were deleted from the target
	// by someone else; dosguard forgot the ban.
	RemovedByHand
	// RateLimit (failed): Max_Blocks_Per_Minute was reached.
	RateLimit
	// Refused (failed): the target or the address refused the block;
	// Reason says why (an EC2 error code, "no free rule number", ...).
	Refused
)

// Event is one outcome of enforcing: what the guard logs and notifies.
type Event struct {
	// Status is Blocked, Failed or Unblocked.
	Status Status
	// Cause says why.
	Cause Cause
	// Ban is the ban concerned (for a failure, its prefix at least).
	Ban
	// Via is the aggregate of Covered and Aggregated.
	Via netip.Prefix
	// Members is the number of addresses an Aggregate replaces, itself
	// included.
	Members int
	// Reason is the cause of a failure: an EC2 error code or a target's
	// reason such as "no free rule number" or "timeout".
	Reason string
	// Transient marks a failure that may pass soon (timeout, throttling,
	// a 5xx answer): worth retrying within seconds.
	Transient bool
}

// Text is the operator-facing reason of e, as notifications and logs show
// it: "expired", "aggregated 5 addresses", "covered by 203.0.113.0/24",
// an EC2 error code...; "" for a plain block.
func (e Event) Text() string {
	switch e.Cause {
	case Covered:
		return "covered by " + e.Via.String()
	case AlreadyDenied:
		return "already denied"
	case Aggregate:
		return fmt.Sprintf("aggregated %d addresses", e.Members)
	case Adopted:
		return "adopted"
	case Expired:
		return "expired"
	case Evicted:
		return "evicted"
	case Aggregated:
		return "aggregated into " + e.Via.String()
	case ByHand:
		return "by hand"
	case Flushed:
		return "flushed"
	case RemovedByHand:
		return "removed by hand from " + e.targetKinds()
	case RateLimit:
		return "rate limit"
	}
	return e.Reason
}

// targetKinds names the kinds of target e's entries were in: "the NACL",
// "the IP set" or "the NACL and the IP set" (a ban without entries: "the
// NACL").
func (e Event) targetKinds() string {
	var nacl, set bool
	for _, en := range e.Entries {
		if IsIPSet(en.Target) {
			set = true
		} else {
			nacl = true
		}
	}
	switch {
	case set && nacl:
		return "the NACL and the IP set"
	case set:
		return "the IP set"
	}
	return "the NACL"
}
