package enforce

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/policy"
	"github.com/dosguard/dosguard/target"
)

// Block bans addr at now for base (a rule's block duration; 0: never
// expires), escalated by the policy. Every call ends in at least one
// event: blocked or failed, preceded by the evictions it made and
// followed, when it completes an aggregate, by the members the aggregate
// replaced. An address already covered by a ban gives blocked, cause
// Covered, without calling a target. The ban expires counting from when
// its writes succeeded.
func (e *Enforcer) Block(ctx context.Context, addr netip.Addr, now time.Time, base time.Duration) []ban.Event {
	addr = addr.Unmap()
	host := netip.PrefixFrom(addr, addr.BitLen())
	if err := policy.CheckHost(host); err != nil {
		ev := ban.Ban{Prefix: host}.Event(ban.Failed, ban.Refused)
		ev.Reason = "refused"
		return []ban.Event{ev}
	}
	if c, ok := e.Covering(addr); ok {
		ev := c.Event(ban.Blocked, ban.Covered)
		ev.Prefix, ev.Via = host, c.Prefix
		return []ban.Event{ev}
	}
	if !e.limits.AllowBlock(now) {
		e.log.Warn("enforce: Max_Blocks_Per_Minute reached, block refused", "prefix", host, "max", e.cfg.MaxBlocksPerMinute)
		return []ban.Event{ban.Ban{Prefix: host}.Event(ban.Failed, ban.RateLimit)}
	}
	p, members, vetoed := e.cfg.Aggregate(e.Bans(), addr)
	if vetoed {
		e.log.Info("enforce: aggregate vetoed: overlaps an allowlisted or private range", "prefix", host)
	}
	entries, events, err := e.addEvicting(ctx, p, members, now)
	if err != nil {
		e.log.Error("enforce: block failed", "prefix", p, "err", err)
		return append(events, failed(p, err))
	}
	b := e.begin(p, entries, members, now, base)
	ev := b.Event(ban.Blocked, ban.CauseNone)
	switch {
	case !b.Owned():
		ev.Cause = ban.AlreadyDenied
	case len(members) > 0:
		ev.Cause, ev.Members = ban.Aggregate, len(members)+1
	}
	events = append(events, ev)
	for _, mb := range members {
		mev, err := e.end(ctx, mb, now, ban.Aggregated)
		if err != nil {
			e.log.Error("enforce: aggregate: member entry left in place", "member", mb.Prefix, "aggregate", p, "err", err)
			continue
		}
		mev.Via = p
		events = append(events, mev)
	}
	e.save(now)
	return events
}

// begin records the ban of p held by entries, written just now.
func (e *Enforcer) begin(p netip.Prefix, entries []ban.Entry, members []ban.Ban, now time.Time, base time.Duration) ban.Ban {
	at := e.written(now)
	offences, d := e.cfg.Escalate(e.history[p], now, base)
	b := ban.Ban{Prefix: p, Entries: entries, Since: at, ExpiresAt: policy.ExpiresAt(at, d, members), Offences: offences, Duration: d}
	e.put(b)
	if e.batch {
		if _, seen := e.before[p]; !seen {
			o, had := e.history[p]
			e.before[p] = offence{o, had}
		}
	}
	e.history[p] = policy.Started(b, at)
	for _, en := range entries {
		if !en.Foreign {
			e.unseen = append(e.unseen, ban.Held{Target: en.Target, Rule: en.Rule, Prefix: p})
		}
	}
	return b
}

// addEvicting adds p to every target; a full target makes room by
// evicting (OnFull evict, at most policy.MaxEvictions times). It returns
// the entries and the eviction events.
func (e *Enforcer) addEvicting(ctx context.Context, p netip.Prefix, members []ban.Ban, now time.Time) ([]ban.Entry, []ban.Event, error) {
	if len(e.shared) > 0 {
		return e.addEach(ctx, p, members, now)
	}
	var events []ban.Event
	for evictions := 0; ; evictions++ {
		if err := e.paced(ctx, now, len(e.targets)); err != nil {
			return nil, events, err
		}
		entries, err := e.addAll(ctx, p)
		if err == nil || !errors.Is(err, target.ErrFull) || e.cfg.OnFull != policy.OnFullEvict || evictions == policy.MaxEvictions {
			return entries, events, err
		}
		v, ok := policy.Victim(e.Bans(), p, members)
		if !ok {
			return nil, events, err
		}
		ev, derr := e.end(ctx, v, now, ban.Evicted)
		if derr != nil {
			e.log.Error("enforce: eviction failed", "victim", v.Prefix, "prefix", p, "err", derr)
			return nil, events, derr
		}
		events = append(events, ev)
	}
}

// addAll adds p to every target, all or nothing: when one fails, the
// entries made in the others are deleted again (best effort, logged, with
// a context detached from ctx's cancellation).
func (e *Enforcer) addAll(ctx context.Context, p netip.Prefix) ([]ban.Entry, error) {
	var entries []ban.Entry
	for _, t := range e.targets {
		en, err := t.Add(ctx, p)
		if err == nil {
			entries = append(entries, en)
			continue
		}
		for _, done := range entries {
			if done.Foreign {
				continue
			}
			if rerr := e.target(done.Target).Remove(context.WithoutCancel(ctx), p, done.Rule); rerr != nil {
				e.log.Error("enforce: rollback: delete failed, entry left in place", "target", done.Target, "rule", done.Rule, "prefix", p, "err", rerr)
				continue
			}
			e.log.Warn("enforce: rollback: deleted entry", "target", done.Target, "rule", done.Rule, "prefix", p)
		}
		return nil, err
	}
	return entries, nil
}

func (e *Enforcer) target(id string) target.Target {
	for _, t := range e.targets {
		if t.ID() == id {
			return t
		}
	}
	return nil
}
