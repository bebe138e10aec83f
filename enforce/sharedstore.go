package enforce

import (
	"net/netip"

	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/store"
)

// Shared bans: with a store shared by several instances (store.Claimer),
// each instance's Enforcer holds every instance's bans (Merge) and exactly
// one instance ends a ban that is due (claimEnd).

// Merge makes the bans those of view, the shared store as just read, and
// returns the bans it added (made by another instance) and those it
// forgot (ended by another instance, or by hand with the CLI). It calls no
// target and writes nothing to the store.
func (e *Enforcer) Merge(view []ban.Ban) (added, gone []ban.Ban) {
	in := make(map[netip.Prefix]ban.Ban, len(view))
	for _, b := range view {
		in[b.Prefix] = b
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for p, b := range e.bans {
		if _, ok := in[p]; !ok {
			delete(e.bans, p)
			delete(e.retryAt, p)
			gone = append(gone, b)
		}
	}
	for p, b := range in {
		old, ok := e.bans[p]
		if !ok {
			added = append(added, b.Clone())
		}
		if !ok || !old.Since.Equal(b.Since) || !old.ExpiresAt.Equal(b.ExpiresAt) {
			e.bans[p] = b.Clone()
		}
	}
	return added, gone
}

// claimEnd reports whether this instance ends b: always with a store of
// its own; with a shared store, only if it wins the claim. A store that
// does not answer lets it end b (the instance keeps working alone).
func (e *Enforcer) claimEnd(b ban.Ban) bool {
	c, ok := e.store.(store.Claimer)
	if !ok {
		return true
	}
	won, err := c.ClaimEnd(b)
	if err != nil {
		e.log.Warn("enforce: shared store did not answer; ending the ban here", "prefix", b.Prefix, "err", err)
		return true
	}
	if !won {
		e.drop(b.Prefix)
		e.elsewhere = append(e.elsewhere, b.Prefix)
		e.log.Debug("enforce: ban ended by another instance", "prefix", b.Prefix)
	}
	return won
}

// EndedElsewhere returns, once, the prefixes of the bans another instance
// ended (found when this one wanted to end or reconcile them): the caller
// lets them go as for an unblocked event, without reporting them.
func (e *Enforcer) EndedElsewhere() []netip.Prefix {
	out := e.elsewhere
	e.elsewhere = nil
	return out
}

// endedElsewhere reports whether b, whose entries are gone from the
// targets, was ended by another instance: the shared store no longer holds
// it. Then it is forgotten without an event.
func (e *Enforcer) endedElsewhere(b ban.Ban) bool {
	shared, ok := e.sharedBans()
	if !ok {
		return false
	}
	for _, sb := range shared {
		if sb.Prefix == b.Prefix && sb.Since.Equal(b.Since) {
			return false
		}
	}
	e.drop(b.Prefix)
	e.elsewhere = append(e.elsewhere, b.Prefix)
	return true
}

// madeElsewhere reports whether an entry of p that this instance does not
// know belongs to another instance's ban in the shared store; it takes
// that ban instead of adopting the entry. While the shared store does not
// answer nothing is adopted (the entry may be another instance's): a later
// reconcile decides.
func (e *Enforcer) madeElsewhere(p netip.Prefix) bool {
	if _, ok := e.store.(store.Claimer); !ok {
		return false
	}
	shared, ok := e.sharedBans()
	if !ok {
		e.log.Warn("enforce: shared store unreachable: unknown entry not adopted yet", "prefix", p)
		return true
	}
	for _, sb := range shared {
		if sb.Prefix == p {
			e.put(sb)
			return true
		}
	}
	return false
}

// sharedBans reads the bans of a shared store now; false without one, or
// when it does not answer.
func (e *Enforcer) sharedBans() ([]ban.Ban, bool) {
	if _, ok := e.store.(store.Claimer); !ok {
		return nil, false
	}
	st, err := e.store.Load()
	if err != nil || st == nil {
		return nil, false
	}
	return st.Bans, true
}
