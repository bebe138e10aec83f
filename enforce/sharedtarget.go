package enforce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/policy"
	"github.com/dosguard/dosguard/target"
)

// Shared targets (AWS WAF IP sets, target.Shared) change three things:
//   - Blocking: each target is tried on its own, only those that take the
//     prefix's IP version; a ban needs one target to hold it (a full NACL
//     beside an IP set is skipped, or makes room in itself only, per
//     OnFull). With NACLs alone, blocking stays all or nothing.
//   - Ownership: an entry of a shared target is dosguard's only if the
//     store says so. Reconcile ignores members no ban knows (never
//     adopted), and nothing removes a member dosguard did not add, not
//     even Unblock by hand.
//   - Batching (target.Batcher): between Stage and Commit, adds to such
//     targets are staged and written in one go; Commit corrects the bans
//     and the events of the batch with what became of them.

// isShared reports whether the target id is shared.
func (e *Enforcer) isShared(id string) bool {
	_, ok := e.shared[id]
	return ok
}

// takes reports whether t takes p (a shared target holds one IP version).
func (e *Enforcer) takes(t target.Target, p netip.Prefix) bool {
	s, ok := e.shared[t.ID()]
	return !ok || s.Takes(p)
}

// addEach adds p to every target taking it, each on its own; a full target
// makes room in itself (OnFull evict). It fails only when no target holds
// p, with the targets' errors joined.
func (e *Enforcer) addEach(ctx context.Context, p netip.Prefix, members []ban.Ban, now time.Time) ([]ban.Entry, []ban.Event, error) {
	var (
		entries []ban.Entry
		events  []ban.Event
		errs    []error
	)
	for _, t := range e.targets {
		if !e.takes(t, p) {
			continue
		}
		en, evs, err := e.addOne(ctx, t, p, members, now)
		events = append(events, evs...)
		if err != nil {
			level := slog.LevelWarn
			if errors.Is(err, target.ErrFull) {
				level = slog.LevelDebug // expected beside an IP set; a ban no target holds fails, logged then
			}
			e.log.Log(ctx, level, "enforce: target does not hold the ban", "target", t.ID(), "prefix", p, "err", err)
			errs = append(errs, err)
			continue
		}
		entries = append(entries, en)
	}
	if len(entries) > 0 {
		return entries, events, nil
	}
	if len(errs) == 0 {
		errs = append(errs, fmt.Errorf("enforce: no target takes %s", p))
	}
	return nil, events, errors.Join(errs...)
}

// addOne adds p to t; a full t makes room by evicting, from t only, the
// entry of the ban that expires soonest (OnFull evict, at most
// policy.MaxEvictions times) among those evictable.
func (e *Enforcer) addOne(ctx context.Context, t target.Target, p netip.Prefix, members []ban.Ban, now time.Time) (ban.Entry, []ban.Event, error) {
	var events []ban.Event
	full := ban.Held{Target: t.ID(), Prefix: netip.PrefixFrom(p.Addr(), 0).Masked()} // t, in p's family
	if err, ok := e.full[full]; ok {
		return ban.Entry{}, nil, fmt.Errorf("enforce: %s found full earlier in this batch: %w", t.ID(), err)
	}
	for evictions := 0; ; evictions++ {
		giveBack := func() {}
		if !e.staging(t) {
			d, cancel, ok := e.limits.ReserveWrites(now, 1)
			if !ok {
				return ban.Entry{}, events, fmt.Errorf("enforce: a write exceeds MutateBurst %d", e.cfg.MutateBurst)
			}
			if err := e.wait(ctx, d); err != nil {
				cancel()
				return ban.Entry{}, events, err
			}
			giveBack = cancel
		}
		en, err := t.Add(ctx, p)
		if errors.Is(err, target.ErrFull) {
			giveBack() // nothing was written
		}
		if err == nil || !errors.Is(err, target.ErrFull) || evictions == policy.MaxEvictions {
			return en, events, err
		}
		var (
			v  ban.Ban
			ok bool
		)
		if e.cfg.OnFull == policy.OnFullEvict {
			v, ok = policy.Victim(e.evictable(t.ID()), p, members)
		}
		if !ok {
			if e.batch {
				e.full[full] = err
			}
			return ban.Entry{}, events, err
		}
		ev, evicted, derr := e.evictFrom(ctx, t.ID(), v, now)
		if derr != nil {
			e.log.Error("enforce: eviction failed", "target", t.ID(), "victim", v.Prefix, "prefix", p, "err", derr)
			return ban.Entry{}, events, derr
		}
		if evicted {
			events = append(events, ev)
		}
	}
}

// evictable returns the bans whose entry in target id may be evicted: an
// own entry, and, unless id is shared (an IP set), no entry in another
// target. A NACL beside an IP set thus keeps the entries it has rather
// than churning them for bans the IP set holds anyway; it evicts only for
// what no other target takes (the other family, an IP set full).
func (e *Enforcer) evictable(id string) []ban.Ban {
	return slices.DeleteFunc(e.Bans(), func(b ban.Ban) bool {
		if !slices.ContainsFunc(b.Own(), func(en ban.Entry) bool { return en.Target == id }) {
			return true
		}
		return !e.isShared(id) && slices.ContainsFunc(b.Entries, func(en ban.Entry) bool { return en.Target != id })
	})
}

// evictFrom makes room in target id by removing v's entry there: v ends
// (evicted, an event) when no other target holds it, else it stays banned
// by the others.
func (e *Enforcer) evictFrom(ctx context.Context, id string, v ban.Ban, now time.Time) (ban.Event, bool, error) {
	in := slices.DeleteFunc(slices.Clone(v.Entries), func(en ban.Entry) bool { return en.Target != id })
	if len(in) == len(v.Entries) {
		ev, err := e.end(ctx, v, now, ban.Evicted)
		return ev, err == nil, err
	}
	if _, err := e.removeEntries(ctx, v, in, now); err != nil {
		return ban.Event{}, false, err
	}
	v.Entries = slices.DeleteFunc(slices.Clone(v.Entries), func(en ban.Entry) bool { return en.Target == id })
	e.put(v)
	e.log.Info("enforce: evicted from a full target; still blocked by the others", "target", id, "prefix", v.Prefix, "entries", v.Entries)
	return ban.Event{}, false, nil
}

// unstaged counts the entries whose target writes at once (paced).
func (e *Enforcer) unstaged(entries []ban.Entry) int {
	n := 0
	for _, en := range entries {
		if t := e.target(en.Target); t == nil || !e.staging(t) {
			n++
		}
	}
	return n
}

// staging reports whether t's writes are staged now.
func (e *Enforcer) staging(t target.Target) bool {
	_, ok := t.(target.Batcher)
	return ok && e.batch
}

// Stage begins a batch: until Commit, writes to batching targets (IP
// sets) are staged and Block, Expire and Flush report them as made.
func (e *Enforcer) Stage() {
	e.batch = true
	e.full = make(map[ban.Held]error)
	e.before = make(map[netip.Prefix]offence)
	for _, t := range e.targets {
		if b, ok := t.(target.Batcher); ok {
			b.Stage()
		}
	}
}

// Commit ends a batch begun by Stage at now: the staged writes are made,
// and the bans and evs (the events of the batch, one slice per call made
// in it) are corrected with what became of them: an entry whose add
// failed is struck, a ban left with none fails (its blocked event becomes
// failed, with the reason), an entry another writer added meanwhile
// becomes Foreign; an entry whose removal failed stays, its ban kept (and
// retried policy.UnblockRetry later), struck from its unblocked event,
// which is dropped when nothing else went. It returns the corrected
// events.
func (e *Enforcer) Commit(ctx context.Context, now time.Time, evs [][]ban.Event) [][]ban.Event {
	before := e.before
	e.batch, e.full, e.before = false, nil, nil
	failedAdd := make(map[ban.Held]error)
	failedRemove := make(map[ban.Held]error)
	foreign := make(map[ban.Held]bool)
	for _, t := range e.targets {
		b, ok := t.(target.Batcher)
		if !ok {
			continue
		}
		for _, o := range b.Commit(ctx) {
			h := ban.Held{Target: t.ID(), Prefix: o.Prefix}
			switch {
			case !o.Add && o.Err != nil:
				failedRemove[h] = o.Err
				e.log.Error("enforce: batched removal failed, will retry", "target", t.ID(), "prefix", o.Prefix, "err", o.Err)
			case !o.Add:
			case o.Err != nil:
				failedAdd[h] = o.Err
				e.log.Error("enforce: batched write failed", "target", t.ID(), "prefix", o.Prefix, "err", o.Err)
			case o.Entry.Foreign:
				foreign[h] = true
			}
		}
	}
	if len(failedAdd) == 0 && len(foreign) == 0 && len(failedRemove) == 0 {
		if e.dirty {
			e.dirty = false
			e.save(now)
		}
		return evs
	}
	evs = e.keepFailedRemovals(evs, failedRemove, now)
	gone := make(map[netip.Prefix]error) // bans left without an entry
	for _, b := range e.Bans() {
		fixed, err := fixEntries(b.Prefix, b.Entries, failedAdd, foreign)
		switch {
		case len(fixed) == 0:
			gone[b.Prefix] = err
			e.drop(b.Prefix)
			if o, ok := before[b.Prefix]; ok { // a ban that never was: no offence
				if o.had {
					e.history[b.Prefix] = o.o
				} else {
					delete(e.history, b.Prefix)
				}
			}
		case !slices.Equal(fixed, b.Entries):
			b.Entries = fixed
			e.put(b)
		}
	}
	e.unseen = slices.DeleteFunc(e.unseen, func(h ban.Held) bool { _, f := failedAdd[ban.Held{Target: h.Target, Prefix: h.Prefix}]; return f })
	out := make([][]ban.Event, len(evs))
	for i, list := range evs {
		for _, ev := range list {
			out[i] = append(out[i], fixEvent(ev, failedAdd, foreign, gone))
		}
	}
	e.dirty = false
	e.save(now)
	return out
}

// keepFailedRemovals puts back the entries whose removal failed: their ban
// is remembered again (merged with a ban of its prefix made meanwhile)
// and retried later; they are struck from the unblocked events, an event
// left with none dropped.
func (e *Enforcer) keepFailedRemovals(evs [][]ban.Event, failedRemove map[ban.Held]error, now time.Time) [][]ban.Event {
	if len(failedRemove) == 0 {
		return evs
	}
	out := make([][]ban.Event, len(evs))
	for i, list := range evs {
		for _, ev := range list {
			if ev.Status != ban.Unblocked {
				out[i] = append(out[i], ev)
				continue
			}
			var kept, gone []ban.Entry
			for _, en := range ev.Entries {
				if _, f := failedRemove[ban.Held{Target: en.Target, Prefix: ev.Prefix}]; f {
					kept = append(kept, en)
				} else {
					gone = append(gone, en)
				}
			}
			if len(kept) > 0 {
				b := ev.Ban.Clone()
				b.Entries = kept
				e.mu.Lock()
				if cur, ok := e.bans[b.Prefix]; ok {
					b.Entries = append(slices.Clone(cur.Entries), kept...)
				}
				e.bans[b.Prefix] = b
				e.mu.Unlock()
				e.retryAt[b.Prefix] = now.Add(policy.UnblockRetry)
			}
			if len(gone) == 0 {
				continue
			}
			ev.Entries = gone
			out[i] = append(out[i], ev)
		}
	}
	return out
}

// batched runs f as a batch when a target writes in batches (and no batch
// is under way), committing its writes and correcting its events.
func (e *Enforcer) batched(ctx context.Context, now time.Time, f func() []ban.Event) []ban.Event {
	if e.batch || !slices.ContainsFunc(e.targets, func(t target.Target) bool { _, ok := t.(target.Batcher); return ok }) {
		return f()
	}
	e.Stage()
	events := f()
	return e.Commit(ctx, now, [][]ban.Event{events})[0]
}

// fixEntries strikes from entries of p those whose staged add failed (with
// the last such error) and marks Foreign those another writer made.
func fixEntries(p netip.Prefix, entries []ban.Entry, failedAdd map[ban.Held]error, foreign map[ban.Held]bool) ([]ban.Entry, error) {
	var (
		out  []ban.Entry
		last error
	)
	for _, en := range entries {
		h := ban.Held{Target: en.Target, Prefix: p}
		if err, ok := failedAdd[h]; ok && !en.Foreign {
			last = err
			continue
		}
		if foreign[h] {
			en.Foreign = true
		}
		out = append(out, en)
	}
	return out, last
}

// fixEvent corrects one event of a batch.
func fixEvent(ev ban.Event, failedAdd map[ban.Held]error, foreign map[ban.Held]bool, gone map[netip.Prefix]error) ban.Event {
	if ev.Status != ban.Blocked {
		return ev
	}
	if ev.Cause == ban.Covered {
		if err, ok := gone[ev.Via]; ok {
			return failed(ev.Prefix, err)
		}
		return ev
	}
	fixed, err := fixEntries(ev.Prefix, ev.Entries, failedAdd, foreign)
	if len(fixed) == 0 && err != nil {
		f := failed(ev.Prefix, err)
		f.Members = ev.Members
		return f
	}
	ev.Entries = fixed
	return ev
}

// ownedLive keeps, of what the targets hold, the entries of shared
// targets that a remembered ban knows: the rest are other writers'.
func (e *Enforcer) ownedLive(live []ban.Held) []ban.Held {
	if len(e.shared) == 0 {
		return live
	}
	known := make(map[ban.Held]bool)
	for _, b := range e.Bans() {
		for _, en := range b.Entries {
			known[ban.Held{Target: en.Target, Prefix: b.Prefix}] = true
		}
	}
	return slices.DeleteFunc(live, func(h ban.Held) bool {
		return e.isShared(h.Target) && !known[ban.Held{Target: h.Target, Prefix: h.Prefix}]
	})
}
