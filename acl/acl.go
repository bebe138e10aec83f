// Package acl blocks single client addresses by adding deny entries to EC2
// Network ACLs, and unblocks them by deleting those entries.
//
// The model: a network ACL's inbound (ingress) entries are evaluated in
// ascending rule-number order and the first match wins, so a deny entry only
// takes effect below the ACL's allow-all rule (protocol -1 from 0.0.0.0/0
// for IPv4, from ::/0 for IPv6). The Blocker owns a managed range of rule
// numbers per ACL and address family: Config.RuleMin..RuleMax, or, when
// both are 0, 1 up to one below the lowest ingress allow-all rule of the
// prefix's family; a configured range reaching the allow-all rule is capped
// below it. Block asks DescribeNetworkAcls for the ACL's entries, reports an
// ingress deny entry (protocol -1) for exactly the prefix in the managed
// range as already there, and otherwise creates one at the lowest free number
// of the range, taking the next free number if someone takes it meanwhile.
// Unblock deletes the ingress deny entries (protocol -1) in the managed range
// whose CIDR is exactly the prefix. Nothing outside the managed range, and no
// entry for another CIDR, action, protocol or direction, is ever changed.
// The Blocker keeps no record of its entries: the ACL itself is the state,
// so a restarted process finds and removes what an earlier one created.
//
// Only single addresses are accepted (/32 for IPv4, /128 for IPv6, not the
// unspecified address): nothing can make the Blocker deny the world.
//
// With several ACLs (an ALB spans several subnets) Block is all-or-nothing:
// when one ACL fails, the entries this call created in the others are
// deleted again (best effort, logged) and the error is returned. Every AWS
// call is bounded by Config.CallTimeout. Retrying throttled (RequestLimitExceeded)
// and 5xx answers with backoff and jitter is left to the SDK's standard
// retryer configured on the client.
//
// The Manager (manager.go) builds the bans dosguard owns on top of the
// Blocker: expiry and escalation, the NACL quota and eviction, prefix
// aggregation, a rate limit and pacing, and a state file reconciled with the
// ACLs at start.
//
// A Blocker is safe for concurrent use; it holds no lock while calling AWS
// and starts no goroutines. Concurrent Block calls for the same address are
// not merged (each may add an entry); callers serialise per address.
package acl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// EC2API lists the EC2 client methods the Blocker calls, and nothing more:
// the IAM policy in docker/eks/iam-policy.json is checked against it.
type EC2API interface {
	DescribeNetworkAcls(ctx context.Context, in *ec2.DescribeNetworkAclsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeNetworkAclsOutput, error)
	CreateNetworkAclEntry(ctx context.Context, in *ec2.CreateNetworkAclEntryInput, optFns ...func(*ec2.Options)) (*ec2.CreateNetworkAclEntryOutput, error)
	DeleteNetworkAclEntry(ctx context.Context, in *ec2.DeleteNetworkAclEntryInput, optFns ...func(*ec2.Options)) (*ec2.DeleteNetworkAclEntryOutput, error)
}

var _ EC2API = (*ec2.Client)(nil)

// DefaultCallTimeout bounds each AWS call when Config.CallTimeout is 0.
const DefaultCallTimeout = 10 * time.Second

// MaxRuleNumber is the highest rule number an ACL entry can have.
const MaxRuleNumber = 32766

// maxCreateAttempts bounds Describe+Create rounds lost to racers.
const maxCreateAttempts = 5

// Config configures a Blocker.
type Config struct {
	// ACLIDs are the network ACLs ("acl-..."); every one gets each entry.
	ACLIDs []string
	// RuleMin and RuleMax bound the managed rule numbers, inclusive. Both 0
	// means automatic: 1 up to one below the lowest ingress allow-all rule
	// of the prefix's address family.
	RuleMin, RuleMax int
	// DryRun makes Block and Unblock only describe the ACLs and report the
	// entries they would create or delete.
	DryRun bool
	// CallTimeout bounds each AWS call; 0 means DefaultCallTimeout.
	CallTimeout time.Duration
}

// Validate reports the first invalid field of c, naming it and its value.
func (c Config) Validate() error {
	if len(c.ACLIDs) == 0 {
		return errors.New("acl: config ACLIDs: no network ACL given")
	}
	for i, id := range c.ACLIDs {
		if !strings.HasPrefix(id, "acl-") || len(id) == len("acl-") {
			return fmt.Errorf("acl: config ACLIDs[%d] %q: want a network ACL ID like acl-0abc", i, id)
		}
		if slices.Contains(c.ACLIDs[:i], id) {
			return fmt.Errorf("acl: config ACLIDs[%d] %q: listed twice", i, id)
		}
	}
	if c.RuleMin != 0 || c.RuleMax != 0 {
		if c.RuleMin < 1 || c.RuleMax > MaxRuleNumber || c.RuleMin > c.RuleMax {
			return fmt.Errorf("acl: config RuleMin %d, RuleMax %d: want 1 <= RuleMin <= RuleMax <= %d, or both 0 for automatic", c.RuleMin, c.RuleMax, MaxRuleNumber)
		}
	}
	if c.CallTimeout < 0 {
		return fmt.Errorf("acl: config CallTimeout %v: negative", c.CallTimeout)
	}
	return nil
}

// Entry is one deny entry: the network ACL and its rule number.
type Entry struct {
	ACLID      string
	RuleNumber int
	// Existing is true if the entry was there before the call.
	Existing bool
}

// Result tells what Block or Unblock did (or, with DryRun, would do).
type Result struct {
	// Entries holds one entry per ACL for Block (in Config.ACLIDs order),
	// and the deleted entries for Unblock.
	Entries []Entry
	// Existing is true for Block if every ACL already denied the address
	// (nothing was added), and for Unblock if anything was deleted.
	Existing bool
}

// Blocker adds and removes deny entries. Create it with New.
type Blocker struct {
	cfg Config
	api EC2API
	log *slog.Logger

	mu     sync.Mutex
	warned map[string]bool // "acl-id/family" whose range cap was logged
}

// New returns a Blocker for cfg calling api. A nil logger discards logs.
func New(cfg Config, api EC2API, logger *slog.Logger) (*Blocker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if api == nil {
		return nil, errors.New("acl: EC2API is nil")
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg.ACLIDs = slices.Clone(cfg.ACLIDs)
	return &Blocker{cfg: cfg, api: api, log: logger, warned: make(map[string]bool)}, nil
}

// checkPrefix refuses every prefix the Blocker may not deny: anything but a
// single, specified address.
func checkPrefix(p netip.Prefix) error {
	a := p.Addr()
	switch {
	case !p.IsValid():
		return errors.New("invalid prefix")
	case p.Bits() != a.BitLen():
		return fmt.Errorf("prefix length /%d: only single addresses (/32, /128) are blocked", p.Bits())
	case a.IsUnspecified():
		return errors.New("unspecified address")
	case a.Is4In6():
		return errors.New("IPv4-mapped IPv6 address: use the IPv4 form")
	case a.Zone() != "":
		return errors.New("address with a zone")
	}
	return nil
}

// Block denies inbound traffic from p in every configured ACL.
func (b *Blocker) Block(ctx context.Context, p netip.Prefix) (Result, error) {
	if err := checkPrefix(p); err != nil {
		return Result{}, &Error{Op: OpBlock, Prefix: p, Reason: ReasonRefused, Err: err}
	}
	return b.block(ctx, p, blockOpts{})
}

// blockOpts are the Manager's extensions of Block.
type blockOpts struct {
	// limit is the most ingress entries, the default rule included, that
	// one address family may hold; 0 means no limit but AWS's.
	limit int
	// overlay, if set, edits the described entries of an ACL before they
	// are read: in dry-run the Manager adds the entries it pretends to have
	// created and drops those it pretends to have deleted.
	overlay func(id string, entries []types.NetworkAclEntry) []types.NetworkAclEntry
}

// block is Block without the single-address check: the Manager also blocks
// aggregate prefixes, which it validates itself.
func (b *Blocker) block(ctx context.Context, p netip.Prefix, o blockOpts) (Result, error) {
	if !p.IsValid() || p.Bits() == 0 {
		return Result{}, &Error{Op: OpBlock, Prefix: p, Reason: ReasonRefused, Err: errors.New("prefix would deny everyone")}
	}
	res := Result{Existing: true}
	for _, id := range b.cfg.ACLIDs {
		e, unsure, err := b.blockOne(ctx, id, p, o)
		if err != nil {
			b.rollback(ctx, p, res.Entries, unsure)
			return Result{}, err
		}
		res.Entries = append(res.Entries, e)
		res.Existing = res.Existing && e.Existing
	}
	return res, nil
}

// blockOne blocks p in one ACL. When Create fails in a way that leaves its
// outcome unknown (timeout, 5xx), unsure names the entry it tried.
func (b *Blocker) blockOne(ctx context.Context, id string, p netip.Prefix, o blockOpts) (e Entry, unsure *Entry, err error) {
	for attempt := 1; ; attempt++ {
		entries, err := b.describe(ctx, id, p)
		if err != nil {
			return Entry{}, nil, err
		}
		if o.overlay != nil {
			entries = o.overlay(id, entries)
		}
		v, err := b.inspect(OpBlock, id, entries, p)
		if err != nil {
			return Entry{}, nil, err
		}
		if len(v.matches) > 0 {
			b.log.Debug("acl: already denied", "acl", id, "rule", v.matches[0], "prefix", p)
			return Entry{ACLID: id, RuleNumber: v.matches[0], Existing: true}, nil, nil
		}
		if n := familyCount(entries, p.Addr().Is6()); o.limit > 0 && n >= o.limit {
			return Entry{}, nil, &Error{Op: OpBlock, ACLID: id, Prefix: p, Reason: ReasonNoFreeRule,
				Err: fmt.Errorf("%d of %d ingress entries of the family used (EntryLimit)", n, o.limit)}
		}
		if v.free == 0 {
			return Entry{}, nil, &Error{Op: OpBlock, ACLID: id, Prefix: p, Reason: ReasonNoFreeRule,
				Err: fmt.Errorf("rules %d..%d all taken", v.lo, v.hi)}
		}
		e := Entry{ACLID: id, RuleNumber: v.free}
		if b.cfg.DryRun {
			b.log.Info("acl: dry run: would create deny entry", "acl", id, "rule", v.free, "prefix", p)
			return e, nil, nil
		}
		err = b.create(ctx, id, v.free, p)
		if err == nil {
			b.log.Info("acl: created deny entry", "acl", id, "rule", v.free, "prefix", p)
			return e, nil, nil
		}
		if errorCode(err) != "NetworkAclEntryAlreadyExists" || attempt == maxCreateAttempts {
			if outcomeUnknown(err) {
				return Entry{}, &e, err
			}
			return Entry{}, nil, err
		}
		b.log.Warn("acl: rule number taken meanwhile, retrying", "acl", id, "rule", v.free, "prefix", p, "attempt", attempt)
	}
}

// rollback deletes the entries Block created before failing, and an entry
// whose creation may have happened unseen, if the ACL shows it. It uses a
// context detached from ctx's cancellation, each call still bounded by
// CallTimeout, so that a caller's expired deadline leaves nothing half-done.
func (b *Blocker) rollback(ctx context.Context, p netip.Prefix, done []Entry, unsure *Entry) {
	ctx = context.WithoutCancel(ctx)
	var undo []Entry
	for _, e := range done {
		if !e.Existing && !b.cfg.DryRun {
			undo = append(undo, e)
		}
	}
	if unsure != nil {
		entries, err := b.describe(ctx, unsure.ACLID, p)
		if err != nil {
			b.log.Error("acl: rollback: cannot check entry", "acl", unsure.ACLID, "rule", unsure.RuleNumber, "prefix", p, "err", err)
		} else if v, err := b.inspect(OpBlock, unsure.ACLID, entries, p); err == nil && slices.Contains(v.matches, unsure.RuleNumber) {
			undo = append(undo, *unsure)
		}
	}
	for _, e := range undo {
		if err := b.deleteEntry(ctx, e.ACLID, e.RuleNumber, p); err != nil {
			b.log.Error("acl: rollback: delete failed, entry left in place", "acl", e.ACLID, "rule", e.RuleNumber, "prefix", p, "err", err)
			continue
		}
		b.log.Warn("acl: rollback: deleted entry", "acl", e.ACLID, "rule", e.RuleNumber, "prefix", p)
	}
}

// outcomeUnknown reports whether a failed call may still have taken effect:
// anything but a 4xx answer.
func outcomeUnknown(err error) bool {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		s := re.HTTPStatusCode()
		return s < http.StatusBadRequest || s >= http.StatusInternalServerError
	}
	return true
}

// Unblock deletes the deny entries for exactly p in the managed range of
// every configured ACL. A prefix denied nowhere is not an error. On errors
// it still tries every ACL and returns what it deleted with the errors.
func (b *Blocker) Unblock(ctx context.Context, p netip.Prefix) (Result, error) {
	if err := checkPrefix(p); err != nil {
		return Result{}, &Error{Op: OpUnblock, Prefix: p, Reason: ReasonRefused, Err: err}
	}
	var (
		res  Result
		errs []error
	)
	for _, id := range b.cfg.ACLIDs {
		entries, err := b.describe(ctx, id, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		v, err := b.inspect(OpUnblock, id, entries, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, n := range v.matches {
			if b.cfg.DryRun {
				b.log.Info("acl: dry run: would delete deny entry", "acl", id, "rule", n, "prefix", p)
			} else if err := b.deleteEntry(ctx, id, n, p); err != nil {
				if errorCode(err) != "InvalidNetworkAclEntry.NotFound" { // else gone meanwhile
					errs = append(errs, err)
				}
				continue
			} else {
				b.log.Info("acl: deleted deny entry", "acl", id, "rule", n, "prefix", p)
			}
			res.Entries = append(res.Entries, Entry{ACLID: id, RuleNumber: n, Existing: true})
		}
	}
	res.Existing = len(res.Entries) > 0
	if len(errs) == 1 {
		return res, errs[0]
	}
	return res, errors.Join(errs...)
}

// view is what one ACL's entries mean for one prefix.
type view struct {
	lo, hi  int   // managed range, inclusive; empty if lo > hi
	matches []int // ingress deny -1 entries for exactly the prefix in range, ascending
	free    int   // lowest free ingress number in range, 0 if none
}

// inspect reads an ACL's entries for prefix p: the managed range, the
// entries denying exactly p in it, and the lowest free number.
func (b *Blocker) inspect(op, id string, entries []types.NetworkAclEntry, p netip.Prefix) (view, error) {
	v6 := p.Addr().Is6()
	allow := 0
	var used []int
	var denies []int
	for i := range entries {
		e := &entries[i]
		if aws.ToBool(e.Egress) {
			continue
		}
		n := int(aws.ToInt32(e.RuleNumber))
		used = append(used, n)
		cidr, ok := entryPrefix(e)
		if !ok || cidr.Addr().Is6() != v6 || aws.ToString(e.Protocol) != "-1" {
			continue
		}
		switch {
		case e.RuleAction == types.RuleActionAllow && cidr.Bits() == 0:
			if allow == 0 || n < allow {
				allow = n
			}
		case e.RuleAction == types.RuleActionDeny && cidr == p:
			denies = append(denies, n)
		}
	}

	var v view
	if b.cfg.RuleMin == 0 {
		if allow == 0 {
			return v, &Error{Op: op, ACLID: id, Prefix: p, Reason: ReasonNoAllowAll}
		}
		v.lo, v.hi = 1, allow-1
	} else {
		v.lo, v.hi = b.cfg.RuleMin, b.cfg.RuleMax
		if allow != 0 && v.hi >= allow {
			v.hi = allow - 1
			b.warnCap(id, v6, allow)
		}
		if v.lo > v.hi {
			return v, &Error{Op: op, ACLID: id, Prefix: p, Reason: ReasonRangeAboveAllow,
				Err: fmt.Errorf("RuleMin %d, allow-all rule %d", b.cfg.RuleMin, allow)}
		}
	}

	slices.Sort(denies)
	for _, n := range denies {
		if n >= v.lo && n <= v.hi {
			v.matches = append(v.matches, n)
		}
	}
	slices.Sort(used)
	free := v.lo
	for _, n := range used {
		if n == free {
			free++
		} else if n > free {
			break
		}
	}
	if free <= v.hi {
		v.free = free
	}
	return v, nil
}

// entryPrefix returns the canonical CIDR of an entry.
func entryPrefix(e *types.NetworkAclEntry) (netip.Prefix, bool) {
	s := aws.ToString(e.CidrBlock)
	if e.Ipv6CidrBlock != nil {
		s = *e.Ipv6CidrBlock
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	return p.Masked(), true
}

// warnCap logs once per ACL and family that the configured range reaches
// the allow-all rule and was capped below it.
func (b *Blocker) warnCap(id string, v6 bool, allow int) {
	family := "IPv4"
	if v6 {
		family = "IPv6"
	}
	key := id + "/" + family
	b.mu.Lock()
	seen := b.warned[key]
	b.warned[key] = true
	b.mu.Unlock()
	if !seen {
		b.log.Warn("acl: RuleMax reaches the allow-all rule; entries there would never match, range capped below it",
			"acl", id, "family", family, "rule_min", b.cfg.RuleMin, "rule_max", b.cfg.RuleMax, "allow_rule", allow)
	}
}

func (b *Blocker) describe(ctx context.Context, id string, p netip.Prefix) ([]types.NetworkAclEntry, error) {
	cctx, cancel := context.WithTimeout(ctx, b.cfg.CallTimeout)
	defer cancel()
	out, err := b.api.DescribeNetworkAcls(cctx, &ec2.DescribeNetworkAclsInput{NetworkAclIds: []string{id}})
	if err != nil {
		return nil, callError(OpDescribe, id, 0, p, cctx, err)
	}
	for _, a := range out.NetworkAcls {
		if aws.ToString(a.NetworkAclId) == id {
			return a.Entries, nil
		}
	}
	return nil, &Error{Op: OpDescribe, ACLID: id, Prefix: p, Reason: ReasonACLNotFound}
}

func (b *Blocker) create(ctx context.Context, id string, n int, p netip.Prefix) error {
	cctx, cancel := context.WithTimeout(ctx, b.cfg.CallTimeout)
	defer cancel()
	in := &ec2.CreateNetworkAclEntryInput{
		NetworkAclId: aws.String(id),
		RuleNumber:   aws.Int32(int32(n)),
		Protocol:     aws.String("-1"),
		RuleAction:   types.RuleActionDeny,
		Egress:       aws.Bool(false),
	}
	if p.Addr().Is6() {
		in.Ipv6CidrBlock = aws.String(p.String())
	} else {
		in.CidrBlock = aws.String(p.String())
	}
	if _, err := b.api.CreateNetworkAclEntry(cctx, in); err != nil {
		return callError(OpCreate, id, n, p, cctx, err)
	}
	return nil
}

func (b *Blocker) deleteEntry(ctx context.Context, id string, n int, p netip.Prefix) error {
	cctx, cancel := context.WithTimeout(ctx, b.cfg.CallTimeout)
	defer cancel()
	_, err := b.api.DeleteNetworkAclEntry(cctx, &ec2.DeleteNetworkAclEntryInput{
		NetworkAclId: aws.String(id),
		RuleNumber:   aws.Int32(int32(n)),
		Egress:       aws.Bool(false),
	})
	if err != nil {
		return callError(OpDelete, id, n, p, cctx, err)
	}
	return nil
}

// familyCount counts the ingress entries of one address family, the default
// rule included: what AWS counts against the per-family quota.
func familyCount(entries []types.NetworkAclEntry, v6 bool) int {
	n := 0
	for i := range entries {
		e := &entries[i]
		if aws.ToBool(e.Egress) {
			continue
		}
		if cidr, ok := entryPrefix(e); ok && cidr.Addr().Is6() == v6 {
			n++
		}
	}
	return n
}

// deleteEntries deletes the given entries of p, each only if its ACL still
// holds an ingress deny entry (protocol -1) for exactly p at that number: a
// number reused for anything else is left alone, and an entry already gone
// counts as deleted. It returns the entries that are gone, and the errors of
// the others (which are still in place).
func (b *Blocker) deleteEntries(ctx context.Context, p netip.Prefix, want []Entry) (gone []Entry, err error) {
	var errs []error
	for _, e := range want {
		entries, derr := b.describe(ctx, e.ACLID, p)
		if derr != nil {
			if aclGone(derr) {
				gone = append(gone, e)
				continue
			}
			errs = append(errs, derr)
			continue
		}
		if !holds(entries, e.RuleNumber, p) {
			b.log.Info("acl: entry already gone", "acl", e.ACLID, "rule", e.RuleNumber, "prefix", p)
			gone = append(gone, e)
			continue
		}
		if b.cfg.DryRun {
			b.log.Info("acl: dry run: would delete deny entry", "acl", e.ACLID, "rule", e.RuleNumber, "prefix", p)
			gone = append(gone, e)
			continue
		}
		if derr := b.deleteEntry(ctx, e.ACLID, e.RuleNumber, p); derr != nil && errorCode(derr) != "InvalidNetworkAclEntry.NotFound" {
			errs = append(errs, derr)
			continue
		}
		b.log.Info("acl: deleted deny entry", "acl", e.ACLID, "rule", e.RuleNumber, "prefix", p)
		gone = append(gone, e)
	}
	return gone, errors.Join(errs...)
}

// holds reports whether entries has an ingress deny entry, protocol -1, for
// exactly p at rule number n.
func holds(entries []types.NetworkAclEntry, n int, p netip.Prefix) bool {
	for i := range entries {
		e := &entries[i]
		if aws.ToBool(e.Egress) || int(aws.ToInt32(e.RuleNumber)) != n ||
			e.RuleAction != types.RuleActionDeny || aws.ToString(e.Protocol) != "-1" {
			continue
		}
		if cidr, ok := entryPrefix(e); ok && cidr == p {
			return true
		}
	}
	return false
}

// Listed is one ingress deny entry (protocol -1) of the managed range.
type Listed struct {
	ACLID      string
	RuleNumber int
	Prefix     netip.Prefix
}

// managedEntries describes the ACL id and returns its ingress deny entries
// (protocol -1, not /0) within the managed range of their address family.
// A family without an allow-all rule (automatic range) has no managed range.
func (b *Blocker) managedEntries(ctx context.Context, id string) ([]Listed, []types.NetworkAclEntry, error) {
	entries, err := b.describe(ctx, id, netip.Prefix{})
	if err != nil {
		return nil, nil, err
	}
	var out []Listed
	for _, v6 := range []bool{false, true} {
		probe := netip.PrefixFrom(netip.IPv4Unspecified(), 32)
		if v6 {
			probe = netip.PrefixFrom(netip.IPv6Unspecified(), 128)
		}
		v, err := b.inspect(OpDescribe, id, entries, probe)
		if err != nil {
			continue // no managed range for this family
		}
		for i := range entries {
			e := &entries[i]
			n := int(aws.ToInt32(e.RuleNumber))
			cidr, ok := entryPrefix(e)
			if !ok || aws.ToBool(e.Egress) || e.RuleAction != types.RuleActionDeny || aws.ToString(e.Protocol) != "-1" ||
				cidr.Addr().Is6() != v6 || cidr.Bits() == 0 || n < v.lo || n > v.hi {
				continue
			}
			out = append(out, Listed{ACLID: id, RuleNumber: n, Prefix: cidr})
		}
	}
	return out, entries, nil
}

// checkWrite asks CreateNetworkAclEntry with DryRun whether the credentials
// may write the ACL id: DryRunOperation means yes.
func (b *Blocker) checkWrite(ctx context.Context, id string) error {
	cctx, cancel := context.WithTimeout(ctx, b.cfg.CallTimeout)
	defer cancel()
	_, err := b.api.CreateNetworkAclEntry(cctx, &ec2.CreateNetworkAclEntryInput{
		NetworkAclId: aws.String(id),
		RuleNumber:   aws.Int32(MaxRuleNumber),
		Protocol:     aws.String("-1"),
		RuleAction:   types.RuleActionDeny,
		Egress:       aws.Bool(false),
		CidrBlock:    aws.String("192.0.2.0/32"),
		DryRun:       aws.Bool(true),
	})
	if err == nil || errorCode(err) == "DryRunOperation" {
		return nil
	}
	return callError(OpCreate, id, MaxRuleNumber, netip.MustParsePrefix("192.0.2.0/32"), cctx, err)
}

// aclGone reports whether err says the network ACL does not exist.
func aclGone(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Reason == ReasonACLNotFound || e.Reason == "InvalidNetworkAclID.NotFound")
}
