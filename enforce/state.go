package enforce

import (
	"context"
	"net/netip"
	"slices"
	"time"

	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/policy"
	"github.com/dosguard/dosguard/store"
)

// Load reads the store into the Enforcer without calling a target. Nothing
// stored is an empty state; an unusable store is logged and ignored, never
// an error: the targets stay the truth and Start rebuilds from them.
func (e *Enforcer) Load() {
	bans := make(map[netip.Prefix]ban.Ban)
	e.history = make(map[netip.Prefix]ban.Offence)
	st, err := e.store.Load()
	switch {
	case err != nil:
		e.log.Error("enforce: state unusable; rebuilding it from the targets", "err", err)
	case st == nil:
		e.log.Info("enforce: no state yet; starting from the targets")
	default:
		for _, b := range st.Bans {
			bans[b.Prefix] = b.Clone()
		}
		for p, o := range st.History {
			e.history[p] = o
		}
	}
	e.mu.Lock()
	e.bans = bans
	e.mu.Unlock()
	e.retryAt = make(map[netip.Prefix]time.Time)
	e.unseen = nil
}

// save drops offence history older than the escalation window and writes
// the state to the store (in a batch: once, at Commit). A write error is
// logged: the targets stay the truth and Start rebuilds from them.
func (e *Enforcer) save(now time.Time) {
	if e.batch {
		e.dirty = true // saved once, at Commit
		return
	}
	bans := e.Bans()
	for p, o := range e.history {
		active := slices.ContainsFunc(bans, func(b ban.Ban) bool { return b.Prefix == p })
		if e.cfg.Stale(o, now) && !active {
			delete(e.history, p)
		}
	}
	if err := e.store.Save(store.State{Bans: bans, History: e.history}); err != nil {
		e.log.Error("enforce: state not saved", "err", err)
	}
}

// Start loads the store and reconciles it with the targets at now. With
// check it first verifies that every target exists and may be written,
// and returns a one-line error naming the target and the problem if not.
// An error matching ErrUnavailable (timeout, throttling, 5xx) is worth
// retrying; any other is a misconfiguration. Reconciling is Reconcile's.
func (e *Enforcer) Start(ctx context.Context, now time.Time, check bool) ([]ban.Event, error) {
	e.Load()
	for _, t := range e.targets {
		if err := t.Check(ctx, check); err != nil {
			return nil, unavailable(err)
		}
	}
	return e.Reconcile(ctx, now)
}

// Reconcile lists every target once and repairs drift between the bans and
// what the targets hold (policy.Reconcile): a ban whose entries are all
// gone was removed by hand and is forgotten (event unblocked, cause
// RemovedByHand); the missing entry of a live ban, or one never seen since
// it was written, is written again; rule numbers are taken from the
// targets; unknown entries of the managed range are adopted as dosguard's
// own, expiring BlockDuration after now (event blocked, cause Adopted),
// unless NoAdopt. A listing failure is returned (matching ErrUnavailable
// when transient) and nothing changes. The IP sets' entries written again
// go out as one batch.
func (e *Enforcer) Reconcile(ctx context.Context, now time.Time) ([]ban.Event, error) {
	var err error
	events := e.batched(ctx, now, func() []ban.Event {
		var evs []ban.Event
		evs, err = e.reconcile(ctx, now)
		return evs
	})
	return events, err
}

func (e *Enforcer) reconcile(ctx context.Context, now time.Time) ([]ban.Event, error) {
	var live []ban.Held
	for _, t := range e.targets {
		held, err := t.List(ctx)
		if err != nil {
			return nil, unavailable(err)
		}
		live = append(live, held...)
	}
	live = e.ownedLive(live)
	actions := e.cfg.Reconcile(e.Bans(), live, policy.Inputs{Targets: e.Targets(), Unseen: e.unseen, Now: now})
	e.unseen = nil
	var events []ban.Event
	for _, a := range actions {
		if ev, ok := e.apply(ctx, a, now); ok {
			events = append(events, ev)
		}
	}
	e.save(now)
	return events, nil
}

// apply carries out one reconcile action; ok reports an event.
func (e *Enforcer) apply(ctx context.Context, a policy.Action, now time.Time) (ban.Event, bool) {
	b := a.Ban
	switch a.Kind {
	case policy.Forget:
		if e.endedElsewhere(b) {
			return ban.Event{}, false
		}
		e.drop(b.Prefix)
		e.log.Warn("enforce: entries of a ban are gone from the targets: removed by hand", "prefix", b.Prefix, "entries", b.Entries)
		return b.Event(ban.Unblocked, ban.RemovedByHand), true
	case policy.Adopt:
		if e.madeElsewhere(b.Prefix) {
			return ban.Event{}, false
		}
		e.put(b)
		e.log.Info("enforce: adopted entry", "prefix", b.Prefix, "entries", b.Entries, "expires_at", b.ExpiresAt)
		return b.Event(ban.Blocked, ban.Adopted), true
	case policy.Update:
		e.put(b)
		e.log.Info("enforce: entries of a ban updated from the targets", "prefix", b.Prefix, "entries", b.Entries)
	case policy.Readd:
		e.readd(ctx, b.Prefix, a.Entry, now)
	}
	return ban.Event{}, false
}

// readd writes the missing entry en of the ban of p again.
func (e *Enforcer) readd(ctx context.Context, p netip.Prefix, en ban.Entry, now time.Time) {
	t := e.target(en.Target)
	if t == nil {
		return
	}
	if err := e.paced(ctx, now, e.unstaged([]ban.Entry{en})); err != nil {
		e.log.Error("enforce: missing entry not written again", "target", en.Target, "prefix", p, "err", err)
		return
	}
	got, err := t.Add(ctx, p)
	if err != nil {
		e.log.Error("enforce: missing entry not written again", "target", en.Target, "prefix", p, "err", err)
		return
	}
	e.mu.Lock()
	b, ok := e.bans[p]
	if ok {
		b.Entries = slices.DeleteFunc(slices.Clone(b.Entries), func(x ban.Entry) bool { return x.Target == en.Target })
		b.Entries = append(b.Entries, got)
		e.bans[p] = b
	}
	e.mu.Unlock()
	if !got.Foreign {
		e.unseen = append(e.unseen, ban.Held{Target: got.Target, Rule: got.Rule, Prefix: p})
	}
	e.log.Warn("enforce: missing entry of a ban written again", "target", got.Target, "rule", got.Rule, "prefix", p)
}
