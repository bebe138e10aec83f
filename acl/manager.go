package acl

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// Manager keeps the list of bans dosguard owns on top of a Blocker: how
// long each lasts, how many rule slots are left, which addresses to fold
// into one prefix entry, and what survives a restart.
//
// The model: a ban is a prefix (one address, or an aggregate such as a /24)
// denied in every configured ACL, with its rule number per ACL, when it
// began, when it expires (zero: never) and how many times the prefix has
// offended within the escalation window. An entry is the Manager's when it
// created it or adopted it at Start; an entry another writer made (Block
// finding the prefix "already denied") is recorded but never deleted. Every
// change is saved to ManagerConfig.StateFile, and Start reconciles that file
// with what the ACLs really hold, which stay the source of truth.
//
// Time is an argument of every method; the Manager starts no goroutines.
// Start, Block, ExpireAt, Unblock and Flush must be called one at a time
// (the guard's worker does); they hold no lock while calling AWS. Bans and
// Covers may be called from any goroutine at any time. Two Fluent Bit
// outputs (or pods) must not share one StateFile: each would overwrite the
// other's bans. They may share the ACLs.
type Manager struct {
	cfg  ManagerConfig
	b    *Blocker
	log  *slog.Logger
	wait func(ctx context.Context, d time.Duration) error

	mu      sync.Mutex // guards bans, for Bans and Covers
	bans    map[netip.Prefix]*ban
	history map[netip.Prefix]offence
	limit   minuteLimit
	pace    *pacer
	dryGone map[string]bool // dry run: "acl/rule/prefix" pretended deleted
}

// Guardrail says whether a prefix touches an address that must never be
// blocked (allowlisted, private); *detector.Exemptions implements it.
type Guardrail interface {
	Overlaps(p netip.Prefix) bool
}

// OnFull values.
const (
	// OnFullEvict replaces the ban that expires soonest.
	OnFullEvict = "evict"
	// OnFullRefuse fails the new block with ReasonNoFreeRule.
	OnFullRefuse = "refuse"
)

// Defaults of ManagerConfig's zero fields.
const (
	DefaultEntryLimit         = 20
	DefaultAggregatePrefixV4  = 24
	DefaultAggregatePrefixV6  = 64
	DefaultEscalationWindow   = 24 * time.Hour
	DefaultEscalationFactor   = 2
	DefaultBlockDurationMax   = 7 * 24 * time.Hour
	DefaultMaxBlocksPerMinute = 30
	DefaultMutateRate         = 5
	DefaultMutateBurst        = 50
)

// Status values of Event: the same strings as notify's statuses.
const (
	StatusBlocked   = "blocked"
	StatusFailed    = "failed to block"
	StatusUnblocked = "unblocked"
)

// Reasons of Event besides the Reason of a failed call's *Error. Aggregation
// reasons are built: "aggregated 5 addresses" (blocked), "aggregated into
// 203.0.113.0/24" (unblocked), "covered by 203.0.113.0/24" (blocked).
const (
	ReasonExpired       = "expired"
	ReasonEvicted       = "evicted"
	ReasonByHand        = "by hand"
	ReasonFlushed       = "flushed"
	ReasonRemovedByHand = "removed by hand from the NACL"
	ReasonAlreadyDenied = "already denied"
	ReasonAdopted       = "adopted"
	ReasonRateLimit     = "rate limit"
)

// unblockRetry is how long ExpireAt waits before retrying a failed unblock.
const unblockRetry = 30 * time.Second

// maxEvictions bounds the evictions one Block may make when other writers
// keep filling the slots it frees.
const maxEvictions = 3

// ManagerConfig configures a Manager. Zero fields take the defaults.
type ManagerConfig struct {
	// Blocker configures the ACLs, managed range, DryRun and CallTimeout.
	Blocker Config
	// EntryLimit is the most ingress entries one address family of an ACL
	// may hold, counting the rules already there (allow-all, default "*"):
	// NACL_Entry_Limit, default 20, at most 40. The Manager never asks AWS
	// for more: a full ACL is handled by OnFull without calling Create.
	EntryLimit int
	// OnFull is OnFullEvict (default) or OnFullRefuse.
	OnFull string
	// AggregateAfter, when >= 2, replaces that many banned addresses of one
	// /AggregatePrefixV4 (default 24) or /AggregatePrefixV6 (default 64)
	// by one prefix entry; 0 is off. Needs a Guardrail.
	AggregateAfter                       int
	AggregatePrefixV4, AggregatePrefixV6 int
	// Guardrail vetoes aggregates that overlap an allowlisted or private
	// range; nil disables aggregation.
	Guardrail Guardrail
	// BlockDuration is the first ban's length; 0 means bans never expire.
	BlockDuration time.Duration
	// EscalationWindow (default 24h): a new ban of a prefix within this
	// time of its previous ban's end lasts EscalationFactor (default 2)
	// times the previous one, up to BlockDurationMax (default 7 days, or
	// BlockDuration if longer).
	EscalationWindow time.Duration
	EscalationFactor float64
	BlockDurationMax time.Duration
	// MaxBlocksPerMinute (default 30) bounds the blocks that reach AWS in
	// any sliding minute; above it Block fails with ReasonRateLimit.
	// Negative means unlimited.
	MaxBlocksPerMinute int
	// MutateRate and MutateBurst pace mutating EC2 calls with a token
	// bucket (default 5/s, burst 50, as AWS's own bucket); a call waits for
	// its token, bounded by the context. A negative MutateRate is unpaced.
	MutateRate  float64
	MutateBurst int
	// StateFile is where bans survive restarts; "" keeps them in memory.
	StateFile string
	// NoAdopt makes Start leave unknown entries of the managed range alone
	// instead of adopting them (the CLI uses it).
	NoAdopt bool
}

// Event is one outcome of the Manager: what the guard logs and notifies.
type Event struct {
	// Status is StatusBlocked, StatusFailed or StatusUnblocked.
	Status string
	// Prefix is the address or aggregate concerned.
	Prefix netip.Prefix
	// Entries are the rule numbers per ACL created, kept or deleted.
	Entries []Entry
	// Reason says why, see the Reason constants; "" for a plain block.
	Reason string
	// ExpiresAt is when the ban ends; zero means never.
	ExpiresAt time.Time
	// Offences counts the bans of Prefix within the escalation window,
	// this one included.
	Offences int
	// Duration is the length of this ban; 0 means it never expires.
	Duration time.Duration
}

// Ban is one prefix denied by the Manager's bookkeeping.
type Ban struct {
	Prefix netip.Prefix
	// Entries holds one entry per ACL; Existing marks another writer's
	// entry, which the Manager never deletes.
	Entries   []Entry
	Since     time.Time
	ExpiresAt time.Time // zero: never
	Offences  int
	Duration  time.Duration
}

// Owned reports whether the Manager deletes any of b's entries when the
// ban ends.
func (b Ban) Owned() bool {
	return slices.ContainsFunc(b.Entries, func(e Entry) bool { return !e.Existing })
}

type ban struct {
	Ban
	retryAt time.Time // after a failed unblock
}

// NewManager returns a Manager for cfg calling api. It reads nothing and
// calls nothing: Start does. A nil logger discards logs.
func NewManager(cfg ManagerConfig, api EC2API, logger *slog.Logger) (*Manager, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	b, err := New(cfg.Blocker, api, logger)
	if err != nil {
		return nil, err
	}
	setDefault(&cfg.EntryLimit, DefaultEntryLimit)
	setDefault(&cfg.OnFull, OnFullEvict)
	setDefault(&cfg.AggregatePrefixV4, DefaultAggregatePrefixV4)
	setDefault(&cfg.AggregatePrefixV6, DefaultAggregatePrefixV6)
	setDefault(&cfg.EscalationWindow, DefaultEscalationWindow)
	setDefault(&cfg.EscalationFactor, DefaultEscalationFactor)
	setDefault(&cfg.BlockDurationMax, max(DefaultBlockDurationMax, cfg.BlockDuration))
	setDefault(&cfg.MaxBlocksPerMinute, DefaultMaxBlocksPerMinute)
	setDefault(&cfg.MutateRate, DefaultMutateRate)
	setDefault(&cfg.MutateBurst, DefaultMutateBurst)
	switch {
	case cfg.EntryLimit < 3 || cfg.EntryLimit > 40:
		err = fmt.Errorf("EntryLimit %d: want 3..40 (AWS's quota, allow-all and default rules included)", cfg.EntryLimit)
	case cfg.OnFull != OnFullEvict && cfg.OnFull != OnFullRefuse:
		err = fmt.Errorf("OnFull %q: want %s or %s", cfg.OnFull, OnFullEvict, OnFullRefuse)
	case cfg.AggregateAfter < 0 || cfg.AggregateAfter == 1:
		err = fmt.Errorf("AggregateAfter %d: want 0 (off) or at least 2", cfg.AggregateAfter)
	case cfg.AggregatePrefixV4 < 16 || cfg.AggregatePrefixV4 > 31:
		err = fmt.Errorf("AggregatePrefixV4 %d: want 16..31", cfg.AggregatePrefixV4)
	case cfg.AggregatePrefixV6 < 32 || cfg.AggregatePrefixV6 > 127:
		err = fmt.Errorf("AggregatePrefixV6 %d: want 32..127", cfg.AggregatePrefixV6)
	case cfg.BlockDuration < 0:
		err = fmt.Errorf("BlockDuration %v: negative", cfg.BlockDuration)
	case cfg.EscalationWindow < 0:
		err = fmt.Errorf("EscalationWindow %v: negative", cfg.EscalationWindow)
	case cfg.EscalationFactor < 1:
		err = fmt.Errorf("EscalationFactor %v: want at least 1", cfg.EscalationFactor)
	case cfg.BlockDurationMax < cfg.BlockDuration:
		err = fmt.Errorf("BlockDurationMax %v: shorter than BlockDuration %v", cfg.BlockDurationMax, cfg.BlockDuration)
	case cfg.MutateBurst < 1:
		err = fmt.Errorf("MutateBurst %d: want at least 1", cfg.MutateBurst)
	}
	if err != nil {
		return nil, fmt.Errorf("acl: config %w", err)
	}
	m := &Manager{
		cfg: cfg, b: b, log: logger, wait: sleepCtx,
		bans:    make(map[netip.Prefix]*ban),
		history: make(map[netip.Prefix]offence),
		limit:   minuteLimit{max: max(cfg.MaxBlocksPerMinute, 0)},
		pace:    newPacer(max(cfg.MutateRate, 0), cfg.MutateBurst),
		dryGone: make(map[string]bool),
	}
	return m, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return context.DeadlineExceeded // waiting would outlast the caller
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Bans returns a copy of the current bans, ordered by prefix.
func (m *Manager) Bans() []Ban {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Ban, 0, len(m.bans))
	for _, b := range m.bans {
		c := b.Ban
		c.Entries = slices.Clone(c.Entries)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Ban) int { return cmpPrefix(a.Prefix, b.Prefix) })
	return out
}

func cmpPrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return cmp.Compare(a.Bits(), b.Bits())
}

// Covers reports whether a is denied by a ban, its own or an aggregate's.
func (m *Manager) Covers(a netip.Addr) bool {
	_, ok := m.covering(a.Unmap())
	return ok
}

func (m *Manager) covering(a netip.Addr) (Ban, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range m.bans {
		if b.Prefix.Contains(a) {
			return b.Ban, true
		}
	}
	return Ban{}, false
}

func (m *Manager) put(b *ban) {
	m.mu.Lock()
	m.bans[b.Prefix] = b
	m.mu.Unlock()
}

func (m *Manager) drop(p netip.Prefix) {
	m.mu.Lock()
	delete(m.bans, p)
	m.mu.Unlock()
}

// sorted returns the bans in a fixed order (prefix), for deterministic walks.
func (m *Manager) sorted() []*ban {
	m.mu.Lock()
	out := make([]*ban, 0, len(m.bans))
	for _, b := range m.bans {
		out = append(out, b)
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b *ban) int { return cmpPrefix(a.Prefix, b.Prefix) })
	return out
}

// Block bans addr at now. Every call ends in at least one event: blocked or
// failed to block, preceded by the evictions it made and followed, when it
// completes an aggregate, by the members the aggregate replaced. An
// address already covered by a ban gives "blocked", reason "covered by P",
// without calling AWS.
func (m *Manager) Block(ctx context.Context, addr netip.Addr, now time.Time) []Event {
	return m.BlockFor(ctx, addr, now, m.cfg.BlockDuration)
}

// BlockFor is Block with the first ban's length given (a rule's own
// block_duration; 0 = never expires); escalation multiplies it as it does
// BlockDuration, up to BlockDurationMax.
func (m *Manager) BlockFor(ctx context.Context, addr netip.Addr, now time.Time, base time.Duration) []Event {
	addr = addr.Unmap()
	host := netip.PrefixFrom(addr, addr.BitLen())
	if err := checkPrefix(host); err != nil {
		return []Event{{Status: StatusFailed, Prefix: host, Reason: ReasonRefused}}
	}
	if c, ok := m.covering(addr); ok {
		return []Event{{Status: StatusBlocked, Prefix: host, Entries: slices.Clone(c.Entries),
			Reason: "covered by " + c.Prefix.String(), ExpiresAt: c.ExpiresAt, Offences: c.Offences, Duration: c.Duration}}
	}
	if !m.limit.allow(now) {
		m.log.Warn("acl: Max_Blocks_Per_Minute reached, block refused", "prefix", host, "max", m.cfg.MaxBlocksPerMinute)
		return []Event{{Status: StatusFailed, Prefix: host, Reason: ReasonRateLimit}}
	}

	target, members := m.aggregateFor(addr)
	offences, dur := m.escalate(target, now, base)
	var expires time.Time
	if dur > 0 {
		expires = now.Add(dur)
		for _, mb := range members {
			if mb.ExpiresAt.IsZero() {
				expires = time.Time{}
				break
			}
			if mb.ExpiresAt.After(expires) {
				expires = mb.ExpiresAt
			}
		}
	}

	var events []Event
	var res Result
	for evictions := 0; ; evictions++ {
		n := len(m.cfg.Blocker.ACLIDs)
		if err := m.paced(ctx, now, n); err != nil {
			return append(events, Event{Status: StatusFailed, Prefix: target, Reason: reasonOf(ctx, err)})
		}
		var err error
		res, err = m.b.block(ctx, target, m.opts())
		if err == nil {
			break
		}
		reason := errReason(err)
		if reason == ReasonNoFreeRule && m.cfg.OnFull == OnFullEvict && evictions < maxEvictions {
			if v := m.victim(target, members); v != nil {
				ev, derr := m.remove(ctx, v, now, ReasonEvicted, false)
				if derr != nil {
					m.log.Error("acl: eviction failed", "victim", v.Prefix, "prefix", target, "err", derr)
					return append(events, Event{Status: StatusFailed, Prefix: target, Reason: errReason(derr)})
				}
				events = append(events, ev)
				continue
			}
		}
		m.log.Error("acl: block failed", "prefix", target, "err", err)
		return append(events, Event{Status: StatusFailed, Prefix: target, Reason: reason})
	}

	b := &ban{Ban: Ban{Prefix: target, Entries: res.Entries, Since: now, ExpiresAt: expires, Offences: offences, Duration: dur}}
	m.put(b)
	m.history[target] = offence{lastEnd: endOf(expires, now), count: offences}
	ev := Event{Status: StatusBlocked, Prefix: target, Entries: slices.Clone(res.Entries), ExpiresAt: expires, Offences: offences, Duration: dur}
	switch {
	case res.Existing:
		ev.Reason = ReasonAlreadyDenied
	case len(members) > 0:
		ev.Reason = fmt.Sprintf("aggregated %d addresses", len(members)+1)
	}
	events = append(events, ev)
	for _, mb := range members {
		mev, err := m.remove(ctx, mb, now, "aggregated into "+target.String(), false)
		if err != nil {
			m.log.Error("acl: aggregate: member entry left in place", "member", mb.Prefix, "aggregate", target, "err", err)
			continue
		}
		events = append(events, mev)
	}
	m.save(now)
	return events
}

// endOf is the planned end of a ban, or now for one that never expires.
func endOf(expires, now time.Time) time.Time {
	if expires.IsZero() {
		return now
	}
	return expires
}

// errReason is the Reason of an *Error, else the error text.
func errReason(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Reason != "" {
		return e.Reason
	}
	return err.Error()
}

// paced waits for n tokens of the mutating-call bucket.
func (m *Manager) paced(ctx context.Context, now time.Time, n int) error {
	if n == 0 || m.cfg.Blocker.DryRun {
		return nil
	}
	if err := m.wait(ctx, m.pace.reserve(now, n)); err != nil {
		m.pace.cancel(n)
		return err
	}
	return nil
}

// aggregateFor returns what blocking addr should deny: the aggregate prefix
// and its banned members when addr completes one, else addr alone.
func (m *Manager) aggregateFor(addr netip.Addr) (netip.Prefix, []*ban) {
	host := netip.PrefixFrom(addr, addr.BitLen())
	if m.cfg.AggregateAfter < 2 || m.cfg.Guardrail == nil {
		return host, nil
	}
	bits := m.cfg.AggregatePrefixV4
	if addr.Is6() {
		bits = m.cfg.AggregatePrefixV6
	}
	p := netip.PrefixFrom(addr, bits).Masked()
	var members []*ban
	for _, b := range m.sorted() {
		if b.Prefix.Bits() > bits && p.Contains(b.Prefix.Addr()) {
			members = append(members, b)
		}
	}
	if len(members)+1 < m.cfg.AggregateAfter {
		return host, nil
	}
	if m.cfg.Guardrail.Overlaps(p) {
		m.log.Info("acl: aggregate vetoed: overlaps an allowlisted or private range", "prefix", p)
		return host, nil
	}
	return p, members
}

// escalate returns the offence count and length of a new ban of p at now.
func (m *Manager) escalate(p netip.Prefix, now time.Time, base time.Duration) (int, time.Duration) {
	n := 1
	if o, ok := m.history[p]; ok && now.Sub(o.lastEnd) <= m.cfg.EscalationWindow {
		n = o.count + 1
	}
	return n, m.durationFor(n, base)
}

// durationFor is the length of the nth ban within the escalation window:
// base * EscalationFactor^(n-1), at most BlockDurationMax.
func (m *Manager) durationFor(n int, base time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d > 0 && d < m.cfg.BlockDurationMax; i++ {
		d = time.Duration(float64(d) * m.cfg.EscalationFactor)
	}
	return min(d, m.cfg.BlockDurationMax)
}

// victim picks the ban to evict for target: the Manager's own, of target's
// address family, not a member about to be aggregated, that expires
// soonest; bans that never expire go last, ties go to the oldest.
func (m *Manager) victim(target netip.Prefix, members []*ban) *ban {
	var best *ban
	for _, b := range m.sorted() {
		if !b.Owned() || b.Prefix == target || b.Prefix.Addr().Is6() != target.Addr().Is6() || slices.Contains(members, b) {
			continue
		}
		if best == nil || sooner(b, best) {
			best = b
		}
	}
	return best
}

func sooner(a, b *ban) bool {
	switch {
	case a.ExpiresAt.IsZero() != b.ExpiresAt.IsZero():
		return b.ExpiresAt.IsZero()
	case !a.ExpiresAt.Equal(b.ExpiresAt):
		return a.ExpiresAt.Before(b.ExpiresAt)
	}
	return a.Since.Before(b.Since)
}

// remove deletes b's entries (its own only, or all with byHand) and forgets
// it. When a delete fails, the entries deleted are struck from b, which
// stays, so the bookkeeping matches the ACLs, and the error is returned.
func (m *Manager) remove(ctx context.Context, b *ban, now time.Time, reason string, byHand bool) (Event, error) {
	var del []Entry
	for _, e := range b.Entries {
		if byHand || !e.Existing {
			del = append(del, e)
		}
	}
	if err := m.paced(ctx, now, len(del)); err != nil {
		return Event{}, &Error{Op: OpDelete, Prefix: b.Prefix, Reason: reasonOf(ctx, err), Err: err}
	}
	gone, err := m.b.deleteEntries(ctx, b.Prefix, del)
	if m.cfg.Blocker.DryRun {
		for _, e := range gone {
			m.dryGone[dryKey(e.ACLID, e.RuleNumber, b.Prefix)] = true
		}
	}
	if err != nil {
		m.mu.Lock()
		b.Entries = slices.DeleteFunc(b.Entries, func(e Entry) bool {
			return slices.ContainsFunc(gone, func(g Entry) bool { return g.ACLID == e.ACLID && g.RuleNumber == e.RuleNumber })
		})
		empty := len(b.Entries) == 0
		m.mu.Unlock()
		if empty {
			m.drop(b.Prefix)
		}
		m.save(now)
		return Event{}, err
	}
	m.drop(b.Prefix)
	if byHand {
		delete(m.history, b.Prefix) // an operator's unblock forgives
	} else if o, ok := m.history[b.Prefix]; ok {
		end := now
		if !b.ExpiresAt.IsZero() && b.ExpiresAt.Before(now) {
			end = b.ExpiresAt
		}
		o.lastEnd = end
		m.history[b.Prefix] = o
	}
	m.log.Info("acl: unblocked", "prefix", b.Prefix, "reason", reason)
	return Event{Status: StatusUnblocked, Prefix: b.Prefix, Entries: gone, Reason: reason,
		ExpiresAt: b.ExpiresAt, Offences: b.Offences, Duration: b.Duration}, nil
}

func dryKey(id string, n int, p netip.Prefix) string {
	return fmt.Sprintf("%s/%d/%s", id, n, p)
}

// opts are the Blocker options of the Manager: its entry limit and, in dry
// run, the overlay of its pretended writes.
func (m *Manager) opts() blockOpts {
	o := blockOpts{limit: m.cfg.EntryLimit}
	if m.cfg.Blocker.DryRun {
		o.overlay = m.overlay
	}
	return o
}

// overlay shows an ACL as the dry run pretends it is: entries pretended
// deleted removed, entries pretended created added.
func (m *Manager) overlay(id string, entries []types.NetworkAclEntry) []types.NetworkAclEntry {
	out := make([]types.NetworkAclEntry, 0, len(entries))
	for _, e := range entries {
		if cidr, ok := entryPrefix(&e); ok && !aws.ToBool(e.Egress) && m.dryGone[dryKey(id, int(aws.ToInt32(e.RuleNumber)), cidr)] {
			continue
		}
		out = append(out, e)
	}
	for _, b := range m.sorted() {
		for _, be := range b.Entries {
			if be.ACLID != id || holds(out, be.RuleNumber, b.Prefix) {
				continue
			}
			e := types.NetworkAclEntry{RuleNumber: aws.Int32(int32(be.RuleNumber)), Egress: aws.Bool(false),
				Protocol: aws.String("-1"), RuleAction: types.RuleActionDeny}
			if b.Prefix.Addr().Is6() {
				e.Ipv6CidrBlock = aws.String(b.Prefix.String())
			} else {
				e.CidrBlock = aws.String(b.Prefix.String())
			}
			out = append(out, e)
		}
	}
	return out
}

// ExpireAt ends every ban whose time is up at now and returns an
// "unblocked" event (reason "expired") for each whose entries were deleted.
// A ban of another writer's entries is forgotten without an event, its
// entries left to their owner. A failed delete keeps the ban (minus what
// was deleted) and is retried 30s later.
func (m *Manager) ExpireAt(ctx context.Context, now time.Time) []Event {
	var events []Event
	changed := false
	for _, b := range m.sorted() {
		if b.ExpiresAt.IsZero() || now.Before(b.ExpiresAt) || now.Before(b.retryAt) {
			continue
		}
		changed = true
		if !b.Owned() {
			m.drop(b.Prefix)
			m.log.Info("acl: ban of another writer's entry ended; entry left in place", "prefix", b.Prefix)
			continue
		}
		ev, err := m.remove(ctx, b, now, ReasonExpired, false)
		if err != nil {
			b.retryAt = now.Add(unblockRetry)
			m.log.Error("acl: unblock failed, will retry", "prefix", b.Prefix, "retry_at", b.retryAt, "err", err)
			continue
		}
		events = append(events, ev)
	}
	if changed {
		m.save(now)
	}
	return events
}

// Unblock lifts, by hand, every ban overlapping p: the ban of p itself, an
// aggregate covering p (the ACL cannot make an exception inside it), and
// bans inside p when p is a prefix. It deletes every entry of those bans,
// other writers' included, and an entry for exactly p in the managed range
// that no ban knows; it forgets their offence history. reason "" means
// ReasonByHand. On errors the bans not fully removed stay.
func (m *Manager) Unblock(ctx context.Context, p netip.Prefix, now time.Time, reason string) ([]Event, error) {
	if !p.IsValid() {
		return nil, fmt.Errorf("acl: unblock %s: invalid prefix", p)
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	p = p.Masked()
	if reason == "" {
		reason = ReasonByHand
	}
	var (
		events []Event
		errs   []error
		known  bool
	)
	for _, b := range m.sorted() {
		if !b.Prefix.Overlaps(p) {
			continue
		}
		known = known || b.Prefix == p
		ev, err := m.remove(ctx, b, now, reason, true)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		events = append(events, ev)
	}
	if !known {
		var stray []Entry
		for _, id := range m.cfg.Blocker.ACLIDs {
			listed, _, err := m.b.managedEntries(ctx, id)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, l := range listed {
				if l.Prefix == p {
					stray = append(stray, Entry{ACLID: id, RuleNumber: l.RuleNumber, Existing: true})
				}
			}
		}
		if len(stray) > 0 {
			ev, err := m.remove(ctx, &ban{Ban: Ban{Prefix: p, Entries: stray}}, now, reason, true)
			if err != nil {
				errs = append(errs, err)
			} else {
				events = append(events, ev)
			}
		}
	}
	m.save(now)
	return events, errors.Join(errs...)
}

// Flush removes every entry the Manager owns and forgets every ban; other
// writers' entries stay. Events have reason ReasonFlushed.
func (m *Manager) Flush(ctx context.Context, now time.Time) ([]Event, error) {
	var (
		events []Event
		errs   []error
	)
	for _, b := range m.sorted() {
		if !b.Owned() {
			m.drop(b.Prefix)
			continue
		}
		ev, err := m.remove(ctx, b, now, ReasonFlushed, false)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		events = append(events, ev)
	}
	m.save(now)
	return events, errors.Join(errs...)
}

// Listing is one entry of the managed range, for the CLI's list.
type Listing struct {
	Listed
	// Ban is the ban the entry belongs to; nil means unmanaged.
	Ban *Ban
}

// Entries describes every ACL and returns the ingress deny entries of the
// managed range, each with the ban it belongs to, if any. It changes
// nothing.
func (m *Manager) Entries(ctx context.Context) ([]Listing, error) {
	bans := m.Bans()
	var out []Listing
	for _, id := range m.cfg.Blocker.ACLIDs {
		listed, _, err := m.b.managedEntries(ctx, id)
		if err != nil {
			return out, err
		}
		for _, l := range listed {
			li := Listing{Listed: l}
			for i := range bans {
				if bans[i].Prefix == l.Prefix && slices.ContainsFunc(bans[i].Entries, func(e Entry) bool {
					return e.ACLID == id && e.RuleNumber == l.RuleNumber
				}) {
					li.Ban = &bans[i]
				}
			}
			out = append(out, li)
		}
	}
	return out, nil
}

// Load reads StateFile into the Manager without calling AWS. A missing file
// is an empty state; a corrupt one is logged and ignored, never an error.
func (m *Manager) Load() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bans = make(map[netip.Prefix]*ban)
	m.history = make(map[netip.Prefix]offence)
	if m.cfg.StateFile == "" {
		return
	}
	st, err := readState(m.cfg.StateFile)
	if err != nil {
		m.log.Error("acl: state file unusable; rebuilding it from the network ACLs", "file", m.cfg.StateFile, "err", err)
		return
	}
	if st == nil {
		m.log.Info("acl: no state file yet; starting from the network ACLs", "file", m.cfg.StateFile)
		return
	}
	for _, sb := range st.Bans {
		b := &ban{Ban: Ban{Prefix: sb.Prefix.Masked(), Since: sb.Since, ExpiresAt: sb.ExpiresAt, Offences: sb.Offences, Duration: sb.Duration}}
		for _, e := range sb.Entries {
			b.Entries = append(b.Entries, Entry{ACLID: e.ACLID, RuleNumber: e.RuleNumber, Existing: e.NotOurs})
		}
		m.bans[b.Prefix] = b
	}
	for _, h := range st.History {
		m.history[h.Prefix.Masked()] = offence{lastEnd: h.LastEnd, count: h.Count}
	}
}

// save writes the state file, unless in dry run or without one; offence
// history older than the escalation window is dropped. A write error is
// logged: the ACLs stay the truth and Start rebuilds from them.
func (m *Manager) save(now time.Time) {
	for p, o := range m.history {
		if now.Sub(o.lastEnd) > m.cfg.EscalationWindow {
			if _, active := m.bans[p]; !active {
				delete(m.history, p)
			}
		}
	}
	if m.cfg.StateFile == "" || m.cfg.Blocker.DryRun {
		return
	}
	st := &stateFile{Version: stateVersion, Bans: []stateBan{}}
	for _, b := range m.Bans() {
		sb := stateBan{Prefix: b.Prefix, Since: b.Since, ExpiresAt: b.ExpiresAt, Offences: b.Offences, Duration: b.Duration}
		for _, e := range b.Entries {
			sb.Entries = append(sb.Entries, stateEntry{ACLID: e.ACLID, RuleNumber: e.RuleNumber, NotOurs: e.Existing})
		}
		st.Bans = append(st.Bans, sb)
	}
	for p, o := range m.history {
		st.History = append(st.History, stateHistory{Prefix: p, LastEnd: o.lastEnd, Count: o.count})
	}
	slices.SortFunc(st.History, func(a, b stateHistory) int { return cmpPrefix(a.Prefix, b.Prefix) })
	if err := writeState(m.cfg.StateFile, st); err != nil {
		m.log.Error("acl: state not saved", "err", err)
	}
}

// Start loads StateFile and reconciles it with the ACLs at now. With check
// it first verifies that every ACL exists and that the credentials may
// write it (CreateNetworkAclEntry with DryRun), and returns a one-line error
// naming the ACL and the problem if not. Reconciling: a ban whose entries
// are all gone was removed by hand and is forgotten (event "unblocked",
// ReasonRemovedByHand); rule numbers are taken from the ACL; entries of the
// managed range that no ban knows are adopted as the Manager's own,
// expiring BlockDuration after now (event "blocked", ReasonAdopted), unless
// NoAdopt. Nothing is created or deleted. A Describe failure is returned;
// the loaded state is then kept as it was.
func (m *Manager) Start(ctx context.Context, now time.Time, check bool) ([]Event, error) {
	m.Load()
	live := make(map[netip.Prefix]map[string]int) // prefix -> ACL -> rule
	for _, id := range m.cfg.Blocker.ACLIDs {
		listed, _, err := m.b.managedEntries(ctx, id)
		if err != nil {
			if aclGone(err) {
				return nil, fmt.Errorf("acl: network ACL %s not found (Network_ACL_ID)", id)
			}
			return nil, fmt.Errorf("acl: describe network ACL %s: %s", id, errReason(err))
		}
		if check {
			if err := m.b.checkWrite(ctx, id); err != nil {
				return nil, fmt.Errorf("acl: credentials may not write network ACL %s: %s (need ec2:CreateNetworkAclEntry and ec2:DeleteNetworkAclEntry on it)", id, errReason(err))
			}
		}
		for _, l := range listed {
			if live[l.Prefix] == nil {
				live[l.Prefix] = make(map[string]int)
			}
			if _, dup := live[l.Prefix][id]; !dup {
				live[l.Prefix][id] = l.RuleNumber
			}
		}
	}

	var events []Event
	for _, b := range m.sorted() {
		var kept []Entry
		at := live[b.Prefix]
		for _, e := range b.Entries {
			if n, ok := at[e.ACLID]; ok {
				e.RuleNumber = n
				kept = append(kept, e)
				delete(at, e.ACLID)
			} else {
				m.log.Warn("acl: entry of a ban is gone from the network ACL", "prefix", b.Prefix, "acl", e.ACLID, "rule", e.RuleNumber)
			}
		}
		for _, id := range m.cfg.Blocker.ACLIDs { // entries the state missed
			if n, ok := at[id]; ok && !m.cfg.NoAdopt {
				kept = append(kept, Entry{ACLID: id, RuleNumber: n})
			}
		}
		delete(live, b.Prefix)
		if len(kept) == 0 {
			m.drop(b.Prefix)
			events = append(events, Event{Status: StatusUnblocked, Prefix: b.Prefix, Entries: b.Entries,
				Reason: ReasonRemovedByHand, ExpiresAt: b.ExpiresAt, Offences: b.Offences, Duration: b.Duration})
			continue
		}
		m.mu.Lock()
		b.Entries = kept
		m.mu.Unlock()
	}
	if !m.cfg.NoAdopt {
		prefixes := make([]netip.Prefix, 0, len(live))
		for p := range live {
			prefixes = append(prefixes, p)
		}
		slices.SortFunc(prefixes, cmpPrefix)
		for _, p := range prefixes {
			b := &ban{Ban: Ban{Prefix: p, Since: now, Offences: 1, Duration: m.cfg.BlockDuration}}
			if m.cfg.BlockDuration > 0 {
				b.ExpiresAt = now.Add(m.cfg.BlockDuration)
			}
			for _, id := range m.cfg.Blocker.ACLIDs {
				if n, ok := live[p][id]; ok {
					b.Entries = append(b.Entries, Entry{ACLID: id, RuleNumber: n})
				}
			}
			m.put(b)
			m.log.Info("acl: adopted entry", "prefix", p, "entries", b.Entries, "expires_at", b.ExpiresAt)
			events = append(events, Event{Status: StatusBlocked, Prefix: p, Entries: slices.Clone(b.Entries),
				Reason: ReasonAdopted, ExpiresAt: b.ExpiresAt, Offences: 1, Duration: b.Duration})
		}
	}
	m.save(now)
	return events, nil
}
