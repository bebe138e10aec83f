// Package quiet is the one place that knows which client addresses are
// quiet: addresses a rule must not fire for again yet, until when and why.
//
// The model: an address becomes quiet for a rule when the rule trips
// (Pending, set by the flush that saw the hit, so the same address cannot
// fire twice while its decision is under way). The worker then replaces
// Pending with the decision's outcome: a ban (Banned, for every blocking
// rule, by prefix, so an aggregate quiets its members), a detect cool-down
// (Cooldown) or a failed block's back-off (Backoff), or clears it. Bans end
// when the worker is told so (Unban); cool-downs and back-offs lapse when
// the worker calls Lapse with a time at or after their end.
//
// The detector asks (Quiet, through a per-rule View) whenever an address it
// has fired for records again; the worker updates. A Table is safe for
// concurrent use: the flush reads while the worker writes. It holds one
// entry per pending, cooling or backing-off (rule, address) pair and one per
// ban; the detectors bound the first kind (an address is only tripped once
// per rule while it is tracked), the enforcement quota the second.
package quiet

import (
	"net/netip"
	"sync"
	"time"
)

// Why says why an address is quiet.
type Why uint8

// The reasons an address is quiet.
const (
	// Pending: the rule tripped; the worker has not decided yet.
	Pending Why = iota + 1
	// Banned: a ban (the address's own or an aggregate's) denies it.
	Banned
	// Cooldown: a detect rule reported it and waits before reporting again.
	Cooldown
	// Backoff: blocking it failed; the rule waits before trying again.
	Backoff
)

var whyNames = [...]string{Pending: "pending", Banned: "banned", Cooldown: "cooldown", Backoff: "backoff"}

// String returns the lower-case name of w.
func (w Why) String() string {
	if int(w) < len(whyNames) && whyNames[w] != "" {
		return whyNames[w]
	}
	return "none"
}

// State is why an address is quiet and until when.
type State struct {
	Why Why
	// Until is when it stops being quiet; zero means until told (a
	// pending decision, a ban that never expires).
	Until time.Time
	// Ban is the banned prefix, for Banned: the address itself or an
	// aggregate covering it.
	Ban netip.Prefix
	// lapses says whether Lapse ends it at Until; a ban made with Ban
	// ends only at Unban, its Until being the ban's planned end.
	lapses bool
}

type key struct {
	rule int
	addr netip.Addr
}

// Table answers whether an address is quiet for a rule. Create it with New.
type Table struct {
	blocking []bool // per rule: whether bans quiet it

	mu    sync.Mutex
	rules map[key]State          // Pending, Cooldown, Backoff
	bans  map[netip.Prefix]State // Banned, by prefix
}

// New returns an empty Table for rules numbered 0..len(blocking)-1;
// blocking[i] says whether bans quiet rule i (detect rules go on reporting
// banned addresses).
func New(blocking []bool) *Table {
	return &Table{
		blocking: append([]bool(nil), blocking...),
		rules:    make(map[key]State),
		bans:     make(map[netip.Prefix]State),
	}
}

func norm(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }

// Quiet reports whether rule must stay quiet for a.
func (t *Table) Quiet(rule int, a netip.Addr) bool {
	_, ok := t.State(rule, a)
	return ok
}

// State reports whether rule is quiet for a, why and until when. A rule's
// own state (pending, cool-down, back-off) comes before a ban.
func (t *Table) State(rule int, a netip.Addr) (State, bool) {
	a = norm(a)
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.rules[key{rule, a}]; ok {
		return s, true
	}
	if rule < 0 || rule >= len(t.blocking) || !t.blocking[rule] {
		return State{}, false
	}
	return t.banOf(a)
}

// banOf finds a ban covering a: the address's own first, then any prefix.
func (t *Table) banOf(a netip.Addr) (State, bool) {
	if s, ok := t.bans[netip.PrefixFrom(a, a.BitLen())]; ok {
		return s, true
	}
	for p, s := range t.bans {
		if p.Contains(a) {
			return s, true
		}
	}
	return State{}, false
}

// Trip marks a pending for rule: the flush calls it when the rule fires.
func (t *Table) Trip(rule int, a netip.Addr) {
	t.Hold(rule, a, Pending, time.Time{})
}

// Hold makes rule quiet for a, for why, until until (zero: until Clear).
func (t *Table) Hold(rule int, a netip.Addr, why Why, until time.Time) {
	t.mu.Lock()
	t.rules[key{rule, norm(a)}] = State{Why: why, Until: until, lapses: true}
	t.mu.Unlock()
}

// Clear ends rule's own quiet state for a (pending, cool-down, back-off).
func (t *Table) Clear(rule int, a netip.Addr) {
	t.mu.Lock()
	delete(t.rules, key{rule, norm(a)})
	t.mu.Unlock()
}

// Ban makes every blocking rule quiet for the addresses of p until Unban;
// until is the ban's planned end (zero: never), for State. The worker
// calls Unban when the enforcement side reports the ban ended.
func (t *Table) Ban(p netip.Prefix, until time.Time) {
	t.ban(p, until, false)
}

// BanUntil is Ban for a ban nobody will report ending (a dry run without
// targets): Lapse ends it at until; zero means never.
func (t *Table) BanUntil(p netip.Prefix, until time.Time) {
	t.ban(p, until, !until.IsZero())
}

func (t *Table) ban(p netip.Prefix, until time.Time, lapses bool) {
	p = p.Masked()
	t.mu.Lock()
	t.bans[p] = State{Why: Banned, Until: until, Ban: p, lapses: lapses}
	t.mu.Unlock()
}

// Unban ends the ban of exactly p. Addresses still covered by another ban
// (an aggregate) stay quiet.
func (t *Table) Unban(p netip.Prefix) {
	t.mu.Lock()
	delete(t.bans, p.Masked())
	t.mu.Unlock()
}

// Lapse ends every cool-down, back-off and BanUntil ban whose Until is at
// or before now, and returns how many ended.
func (t *Table) Lapse(now time.Time) int {
	n := 0
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, s := range t.rules {
		if s.lapses && !s.Until.IsZero() && !now.Before(s.Until) {
			delete(t.rules, k)
			n++
		}
	}
	for p, s := range t.bans {
		if s.lapses && !now.Before(s.Until) {
			delete(t.bans, p)
			n++
		}
	}
	return n
}

// Len returns the number of rule states and bans held.
func (t *Table) Len() (states, bans int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.rules), len(t.bans)
}

// View is the Table as one rule's detector sees it.
type View struct {
	t    *Table
	rule int
}

// For returns rule's view of t.
func (t *Table) For(rule int) View { return View{t, rule} }

// Quiet reports whether the view's rule is quiet for a.
func (v View) Quiet(a netip.Addr) bool { return v.t.Quiet(v.rule, a) }
