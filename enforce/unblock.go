package enforce

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/policy"
)

// end ends ban b at now for cause: its own entries are deleted (another
// writer's stay), its offence history records the end, and it is
// forgotten. On error b stays, minus the entries deleted.
func (e *Enforcer) end(ctx context.Context, b ban.Ban, now time.Time, cause ban.Cause) (ban.Event, error) {
	gone, err := e.removeEntries(ctx, b, b.Own(), now)
	if err != nil {
		return ban.Event{}, err
	}
	if o, ok := e.history[b.Prefix]; ok {
		e.history[b.Prefix] = policy.Ended(o, b, now)
	}
	return e.ended(b, gone, cause), nil
}

// lift ends ban b by hand: every entry is deleted, another writer's too
// (but never one of a shared target: an IP set's foreign member stays),
// and the offence history is forgiven.
func (e *Enforcer) lift(ctx context.Context, b ban.Ban, now time.Time) (ban.Event, error) {
	want := slices.DeleteFunc(slices.Clone(b.Entries), func(en ban.Entry) bool { return en.Foreign && e.isShared(en.Target) })
	gone, err := e.removeEntries(ctx, b, want, now)
	if err != nil {
		return ban.Event{}, err
	}
	delete(e.history, b.Prefix)
	return e.ended(b, gone, ban.ByHand), nil
}

// ended forgets b and returns its unblocked event listing the entries gone.
func (e *Enforcer) ended(b ban.Ban, gone []ban.Entry, cause ban.Cause) ban.Event {
	e.drop(b.Prefix)
	ev := b.Event(ban.Unblocked, cause)
	ev.Entries = gone
	e.log.Info("enforce: unblocked", "prefix", b.Prefix, "reason", ev.Text())
	return ev
}

// removeEntries deletes want, entries of b, from their targets. When a
// delete fails, the entries deleted are struck from b, which stays (or is
// dropped if none is left), so the bans match the targets, and the error
// is returned.
func (e *Enforcer) removeEntries(ctx context.Context, b ban.Ban, want []ban.Entry, now time.Time) ([]ban.Entry, error) {
	if err := e.paced(ctx, now, e.unstaged(want)); err != nil {
		return nil, fmt.Errorf("enforce: unblock %s: %w", b.Prefix, err)
	}
	var (
		gone []ban.Entry
		errs []error
	)
	for _, en := range want {
		t := e.target(en.Target)
		if t == nil {
			e.log.Warn("enforce: entry of a target no longer configured forgotten", "target", en.Target, "rule", en.Rule, "prefix", b.Prefix)
		} else if err := t.Remove(ctx, b.Prefix, en.Rule); err != nil {
			errs = append(errs, err)
			continue
		}
		gone = append(gone, en)
	}
	if len(errs) == 0 {
		return gone, nil
	}
	b.Entries = slices.DeleteFunc(slices.Clone(b.Entries), func(en ban.Entry) bool { return slices.Contains(gone, en) })
	if len(b.Entries) == 0 {
		e.drop(b.Prefix)
	} else {
		e.put(b)
	}
	e.save(now)
	return nil, errors.Join(errs...)
}

// Expire ends every ban whose time is up at now and returns an unblocked
// event (cause Expired) for each whose entries were deleted. A ban of
// another writer's entries is forgotten without an event, its entries left
// to their owner. A failed delete keeps the ban (minus what was deleted)
// and is retried policy.UnblockRetry later. The removals from IP sets go
// out as one batch.
func (e *Enforcer) Expire(ctx context.Context, now time.Time) []ban.Event {
	return e.batched(ctx, now, func() []ban.Event { return e.expire(ctx, now) })
}

func (e *Enforcer) expire(ctx context.Context, now time.Time) []ban.Event {
	var events []ban.Event
	due := policy.Due(e.Bans(), now)
	for _, b := range due {
		if now.Before(e.retryAt[b.Prefix]) {
			continue
		}
		if !b.Owned() {
			e.drop(b.Prefix)
			e.log.Info("enforce: ban of another writer's entry ended; entry left in place", "prefix", b.Prefix)
			continue
		}
		if !e.claimEnd(b) { // shared store: another instance ends it
			continue
		}
		ev, err := e.end(ctx, b, now, ban.Expired)
		if err != nil {
			e.retryAt[b.Prefix] = now.Add(policy.UnblockRetry)
			e.log.Error("enforce: unblock failed, will retry", "prefix", b.Prefix, "retry_at", e.retryAt[b.Prefix], "err", err)
			continue
		}
		events = append(events, ev)
	}
	if len(due) > 0 {
		e.save(now)
	}
	return events
}

// Unblock lifts, by hand, every ban overlapping p: the ban of p itself, an
// aggregate covering p (a target cannot make an exception inside it), and
// bans inside p when p is a prefix. It deletes every entry of those bans,
// other writers' included, and an entry for exactly p in a managed range
// that no ban knows; it forgets their offence history. Events have cause
// ByHand. On errors the bans not fully removed stay.
func (e *Enforcer) Unblock(ctx context.Context, p netip.Prefix, now time.Time) ([]ban.Event, error) {
	if !p.IsValid() {
		return nil, fmt.Errorf("enforce: unblock %s: invalid prefix", p)
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	p = p.Masked()
	var (
		events []ban.Event
		errs   []error
		known  bool
	)
	lift := func(b ban.Ban) {
		ev, err := e.lift(ctx, b, now)
		if err != nil {
			errs = append(errs, err)
			return
		}
		events = append(events, ev)
	}
	for _, b := range e.Bans() {
		if b.Prefix.Overlaps(p) {
			known = known || b.Prefix == p
			lift(b)
		}
	}
	if !known {
		stray, err := e.stray(ctx, p)
		errs = append(errs, err)
		if len(stray.Entries) > 0 {
			lift(stray)
		}
	}
	e.save(now)
	return events, errors.Join(errs...)
}

// stray is a ban of the entries for exactly p that the targets hold.
func (e *Enforcer) stray(ctx context.Context, p netip.Prefix) (ban.Ban, error) {
	b := ban.Ban{Prefix: p}
	var errs []error
	for _, t := range e.targets {
		if e.isShared(t.ID()) {
			continue // its members no ban knows are other writers'
		}
		held, err := t.List(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, h := range held {
			if h.Prefix == p {
				b.Entries = append(b.Entries, ban.Entry{Target: h.Target, Rule: h.Rule, Foreign: true})
			}
		}
	}
	return b, errors.Join(errs...)
}

// Flush removes every entry dosguard owns and forgets every ban; other
// writers' entries stay. Events have cause Flushed. The removals from IP
// sets go out as one batch.
func (e *Enforcer) Flush(ctx context.Context, now time.Time) ([]ban.Event, error) {
	var err error
	events := e.batched(ctx, now, func() []ban.Event {
		var evs []ban.Event
		evs, err = e.flush(ctx, now)
		return evs
	})
	if left := slices.DeleteFunc(e.Bans(), func(b ban.Ban) bool { return !b.Owned() }); len(left) > 0 && err == nil {
		err = fmt.Errorf("enforce: flush: %d bans not removed (first %s); run it again", len(left), left[0].Prefix)
	}
	return events, err
}

func (e *Enforcer) flush(ctx context.Context, now time.Time) ([]ban.Event, error) {
	var (
		events []ban.Event
		errs   []error
	)
	for _, b := range e.Bans() {
		if !b.Owned() {
			e.drop(b.Prefix)
			continue
		}
		ev, err := e.end(ctx, b, now, ban.Flushed)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		events = append(events, ev)
	}
	e.save(now)
	return events, errors.Join(errs...)
}

// Listing is one entry of a managed range, for the CLI's list.
type Listing struct {
	ban.Held
	// Ban is the ban the entry belongs to; nil means unmanaged.
	Ban *ban.Ban
}

// Entries lists every target and returns the entries of the managed range,
// each with the ban it belongs to, if any. It changes nothing.
func (e *Enforcer) Entries(ctx context.Context) ([]Listing, error) {
	bans := e.Bans()
	var out []Listing
	for _, t := range e.targets {
		held, err := t.List(ctx)
		if err != nil {
			return out, err
		}
		for _, h := range held {
			li := Listing{Held: h}
			for i := range bans {
				if bans[i].Prefix == h.Prefix && slices.ContainsFunc(bans[i].Entries, func(en ban.Entry) bool {
					return en.Target == h.Target && en.Rule == h.Rule
				}) {
					li.Ban = &bans[i]
				}
			}
			out = append(out, li)
		}
	}
	return out, nil
}
