// Package acl is the network ACL target: it denies prefixes by adding
// ingress deny entries to an EC2 Network ACL, and lifts them by deleting
// those entries. One NACL is one target (package target); New makes one per
// configured ACL.
//
// The model: a network ACL's inbound (ingress) entries are evaluated in
// ascending rule-number order and the first match wins, so a deny entry only
// takes effect below the ACL's allow-all rule (protocol -1 from 0.0.0.0/0
// for IPv4, from ::/0 for IPv6). A NACL owns a managed range of rule
// numbers per address family: Config.RuleMin..RuleMax, or, when both are 0,
// 1 up to one below the lowest ingress allow-all rule of the prefix's
// family; a configured range reaching the allow-all rule is capped below
// it. Add asks DescribeNetworkAcls for the ACL's entries, reports an
// ingress deny entry (protocol -1) for exactly the prefix in the managed
// range as already there, and otherwise creates one at the lowest free
// number of the range, taking the next free number if someone takes it
// meanwhile. Remove deletes one such entry, only while it still denies
// exactly the prefix. Nothing outside the managed range, and no entry for
// another CIDR, action, protocol or direction, is ever changed. Prefixes
// of any length but /0 are accepted: single addresses and aggregates.
//
// The ACL is the truth. When a create's outcome is unknown (a 5xx, a lost
// or cut-off answer), Add reads the ACL back and acts on what is there; an
// entry at the number it just tried, with exactly its CIDR, deny and
// protocol -1, is its own, also when a retried create answers
// NetworkAclEntryAlreadyExists.
//
// Every AWS call is bounded by Config.CallTimeout. Retrying throttled
// (RequestLimitExceeded) and 5xx answers with backoff and jitter is left to
// the SDK's standard retryer configured on the client.
//
// A NACL is safe for concurrent use; it holds no lock while calling AWS
// and starts no goroutines. Concurrent Adds of the same prefix are not
// merged (each may add an entry); callers serialise per prefix.
package acl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/policy"
	"github.com/dosguard/dosguard/target"
)

// EC2API lists the EC2 client methods the NACL calls, and nothing more:
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

// probe is the prefix of the start-up write check (TEST-NET-1).
var probe = netip.MustParsePrefix("192.0.2.0/32")

// Config configures the NACLs.
type Config struct {
	// ACLIDs are the network ACLs ("acl-..."); New makes one NACL each.
	ACLIDs []string
	// RuleMin and RuleMax bound the managed rule numbers, inclusive. Both 0
	// means automatic: 1 up to one below the lowest ingress allow-all rule
	// of the prefix's address family.
	RuleMin, RuleMax int
	// EntryLimit is the most ingress entries one address family of an ACL
	// may hold, counting the rules already there (allow-all, default "*"):
	// NACL_Entry_Limit, default 20, 3..40. A full ACL fails Add with
	// ReasonNoFreeRule without calling Create.
	EntryLimit int
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
	if c.EntryLimit != 0 && (c.EntryLimit < 3 || c.EntryLimit > 40) {
		return fmt.Errorf("acl: config EntryLimit %d: want 3..40 (AWS's quota, allow-all and default rules included)", c.EntryLimit)
	}
	if c.CallTimeout < 0 {
		return fmt.Errorf("acl: config CallTimeout %v: negative", c.CallTimeout)
	}
	return nil
}

// NACL is one network ACL as a target. Create it with New.
type NACL struct {
	id  string
	cfg Config
	api EC2API
	log *slog.Logger

	mu     sync.Mutex
	warned map[bool]bool // family (v6) whose range cap was logged
}

var _ target.Planner = (*NACL)(nil)

// New returns one NACL per cfg.ACLIDs, calling api. A nil logger discards
// logs. It calls nothing.
func New(cfg Config, api EC2API, logger *slog.Logger) ([]*NACL, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if api == nil {
		return nil, errors.New("acl: EC2API is nil")
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.EntryLimit == 0 {
		cfg.EntryLimit = policy.DefaultEntryLimit
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var out []*NACL
	for _, id := range cfg.ACLIDs {
		out = append(out, &NACL{id: id, cfg: cfg, api: api, log: logger, warned: make(map[bool]bool)})
	}
	return out, nil
}

// ID returns the network ACL's id.
func (n *NACL) ID() string { return n.id }

// Capacity is Config.EntryLimit, for either family.
func (n *NACL) Capacity(bool) int { return n.cfg.EntryLimit }

// checkPrefix refuses a prefix that would deny everyone.
func checkPrefix(op string, p netip.Prefix) error {
	if !p.IsValid() || p.Bits() == 0 || p.Addr().Zone() != "" {
		return &Error{Op: op, Prefix: p, Reason: ReasonRefused, Err: errors.New("prefix would deny everyone or is invalid")}
	}
	return nil
}

// Add denies p in the ACL. An entry the ACL already holds for exactly p in
// the managed range is returned Foreign, unless it sits at the number Add
// itself just tried to create (then the create applied unseen and the
// entry is Add's own).
func (n *NACL) Add(ctx context.Context, p netip.Prefix) (ban.Entry, error) {
	if err := checkPrefix(OpBlock, p); err != nil {
		return ban.Entry{}, err
	}
	tried := 0
	for attempt := 1; ; attempt++ {
		e, err := n.plan(ctx, p, target.Overlay{}, tried)
		if err != nil || e.Foreign || e.Rule == tried {
			return e, err
		}
		err = n.create(ctx, e.Rule, p)
		if err == nil {
			n.log.Info("acl: created deny entry", "acl", n.id, "rule", e.Rule, "prefix", p)
			return e, nil
		}
		tried = e.Rule
		if errorCode(err) == "NetworkAclEntryAlreadyExists" && attempt < maxCreateAttempts {
			n.log.Warn("acl: rule number taken meanwhile, retrying", "acl", n.id, "rule", e.Rule, "prefix", p, "attempt", attempt)
			continue
		}
		if target.OutcomeUnknown(err) || errorCode(err) == "NetworkAclEntryAlreadyExists" {
			if n.holdsNow(ctx, e.Rule, p) {
				n.log.Warn("acl: create answered with an error but the entry is there: kept", "acl", n.id, "rule", e.Rule, "prefix", p, "err", err)
				return e, nil
			}
		}
		return ban.Entry{}, err
	}
}

// holdsNow reads the ACL back and reports whether it holds p at rule.
func (n *NACL) holdsNow(ctx context.Context, rule int, p netip.Prefix) bool {
	entries, err := n.describe(context.WithoutCancel(ctx), p)
	if err != nil {
		n.log.Error("acl: cannot read the entry back", "acl", n.id, "rule", rule, "prefix", p, "err", err)
		return false
	}
	return holds(entries, rule, p)
}

// Plan returns the entry Add would give p, with the ACL read as if it held
// pretend's Added entries and not its Removed ones; nothing is written.
func (n *NACL) Plan(ctx context.Context, p netip.Prefix, pretend target.Overlay) (ban.Entry, error) {
	if err := checkPrefix(OpBlock, p); err != nil {
		return ban.Entry{}, err
	}
	return n.plan(ctx, p, pretend, 0)
}

// plan describes the ACL and picks p's entry: an existing deny of exactly
// p (Foreign unless at rule tried), else the lowest free number.
func (n *NACL) plan(ctx context.Context, p netip.Prefix, pretend target.Overlay, tried int) (ban.Entry, error) {
	entries, err := n.describe(ctx, p)
	if err != nil {
		return ban.Entry{}, err
	}
	entries = overlay(entries, pretend)
	v, err := n.inspect(OpBlock, entries, p)
	if err != nil {
		return ban.Entry{}, err
	}
	if len(v.matches) > 0 {
		if tried != 0 && slices.Contains(v.matches, tried) {
			n.log.Warn("acl: create answered with an error but the entry is there: kept", "acl", n.id, "rule", tried, "prefix", p)
			return ban.Entry{Target: n.id, Rule: tried}, nil
		}
		n.log.Debug("acl: already denied", "acl", n.id, "rule", v.matches[0], "prefix", p)
		return ban.Entry{Target: n.id, Rule: v.matches[0], Foreign: true}, nil
	}
	if c := familyCount(entries, p.Addr().Is6()); c >= n.cfg.EntryLimit {
		return ban.Entry{}, &Error{Op: OpBlock, ACLID: n.id, Prefix: p, Reason: ReasonNoFreeRule,
			Err: fmt.Errorf("%d of %d ingress entries of the family used (EntryLimit)", c, n.cfg.EntryLimit)}
	}
	if v.free == 0 {
		return ban.Entry{}, &Error{Op: OpBlock, ACLID: n.id, Prefix: p, Reason: ReasonNoFreeRule,
			Err: fmt.Errorf("rules %d..%d all taken", v.lo, v.hi)}
	}
	return ban.Entry{Target: n.id, Rule: v.free}, nil
}

// overlay shows entries as a dry run pretends them: pretend.Removed
// dropped, pretend.Added added as ingress deny entries (protocol -1).
func overlay(entries []types.NetworkAclEntry, pretend target.Overlay) []types.NetworkAclEntry {
	if len(pretend.Added) == 0 && len(pretend.Removed) == 0 {
		return entries
	}
	out := make([]types.NetworkAclEntry, 0, len(entries)+len(pretend.Added))
	for _, e := range entries {
		cidr, ok := entryPrefix(&e)
		if ok && !aws.ToBool(e.Egress) && slices.ContainsFunc(pretend.Removed, func(h ban.Held) bool {
			return h.Rule == int(aws.ToInt32(e.RuleNumber)) && h.Prefix == cidr
		}) {
			continue
		}
		out = append(out, e)
	}
	for _, h := range pretend.Added {
		if holds(out, h.Rule, h.Prefix) {
			continue
		}
		out = append(out, denyEntry(h.Rule, h.Prefix))
	}
	return out
}

func denyEntry(rule int, p netip.Prefix) types.NetworkAclEntry {
	e := types.NetworkAclEntry{RuleNumber: aws.Int32(int32(rule)), Egress: aws.Bool(false),
		Protocol: aws.String("-1"), RuleAction: types.RuleActionDeny}
	if p.Addr().Is6() {
		e.Ipv6CidrBlock = aws.String(p.String())
	} else {
		e.CidrBlock = aws.String(p.String())
	}
	return e
}

// Remove deletes the entry of p at rule, only if the ACL still holds an
// ingress deny entry (protocol -1) for exactly p there: a number reused for
// anything else is left alone, and an entry already gone (or an ACL gone)
// is not an error. When the delete's outcome is unknown, the ACL is read
// back.
func (n *NACL) Remove(ctx context.Context, p netip.Prefix, rule int) error {
	if err := checkPrefix(OpUnblock, p); err != nil {
		return err
	}
	entries, err := n.describe(ctx, p)
	if err != nil {
		if aclGone(err) {
			return nil
		}
		return err
	}
	if !holds(entries, rule, p) {
		n.log.Info("acl: entry already gone", "acl", n.id, "rule", rule, "prefix", p)
		return nil
	}
	err = n.deleteEntry(ctx, rule, p)
	switch {
	case err == nil, errorCode(err) == "InvalidNetworkAclEntry.NotFound":
	case target.OutcomeUnknown(err) && !n.holdsNow(ctx, rule, p):
		n.log.Warn("acl: delete answered with an error but the entry is gone", "acl", n.id, "rule", rule, "prefix", p, "err", err)
	default:
		return err
	}
	n.log.Info("acl: deleted deny entry", "acl", n.id, "rule", rule, "prefix", p)
	return nil
}

// view is what one ACL's entries mean for one prefix.
type view struct {
	lo, hi  int   // managed range, inclusive; empty if lo > hi
	matches []int // ingress deny -1 entries for exactly the prefix in range, ascending
	free    int   // lowest free ingress number in range, 0 if none
}

// inspect reads an ACL's entries for prefix p: the managed range, the
// entries denying exactly p in it, and the lowest free number.
func (n *NACL) inspect(op string, entries []types.NetworkAclEntry, p netip.Prefix) (view, error) {
	v6 := p.Addr().Is6()
	allow := 0
	var used []int
	var denies []int
	for i := range entries {
		e := &entries[i]
		if aws.ToBool(e.Egress) {
			continue
		}
		rule := int(aws.ToInt32(e.RuleNumber))
		used = append(used, rule)
		cidr, ok := entryPrefix(e)
		if !ok || cidr.Addr().Is6() != v6 || aws.ToString(e.Protocol) != "-1" {
			continue
		}
		switch {
		case e.RuleAction == types.RuleActionAllow && cidr.Bits() == 0:
			if allow == 0 || rule < allow {
				allow = rule
			}
		case e.RuleAction == types.RuleActionDeny && cidr == p:
			denies = append(denies, rule)
		}
	}

	var v view
	if n.cfg.RuleMin == 0 {
		if allow == 0 {
			return v, &Error{Op: op, ACLID: n.id, Prefix: p, Reason: ReasonNoAllowAll}
		}
		v.lo, v.hi = 1, allow-1
	} else {
		v.lo, v.hi = n.cfg.RuleMin, n.cfg.RuleMax
		if allow != 0 && v.hi >= allow {
			v.hi = allow - 1
			n.warnCap(v6, allow)
		}
		if v.lo > v.hi {
			return v, &Error{Op: op, ACLID: n.id, Prefix: p, Reason: ReasonRangeAboveAllow,
				Err: fmt.Errorf("RuleMin %d, allow-all rule %d", n.cfg.RuleMin, allow)}
		}
	}

	slices.Sort(denies)
	for _, rule := range denies {
		if rule >= v.lo && rule <= v.hi {
			v.matches = append(v.matches, rule)
		}
	}
	slices.Sort(used)
	free := v.lo
	for _, rule := range used {
		if rule == free {
			free++
		} else if rule > free {
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

// warnCap logs once per family that the configured range reaches the
// allow-all rule and was capped below it.
func (n *NACL) warnCap(v6 bool, allow int) {
	family := "IPv4"
	if v6 {
		family = "IPv6"
	}
	n.mu.Lock()
	seen := n.warned[v6]
	n.warned[v6] = true
	n.mu.Unlock()
	if !seen {
		n.log.Warn("acl: RuleMax reaches the allow-all rule; entries there would never match, range capped below it",
			"acl", n.id, "family", family, "rule_min", n.cfg.RuleMin, "rule_max", n.cfg.RuleMax, "allow_rule", allow)
	}
}

func (n *NACL) describe(ctx context.Context, p netip.Prefix) ([]types.NetworkAclEntry, error) {
	cctx, cancel := context.WithTimeout(ctx, n.cfg.CallTimeout)
	defer cancel()
	out, err := n.api.DescribeNetworkAcls(cctx, &ec2.DescribeNetworkAclsInput{NetworkAclIds: []string{n.id}})
	if err != nil {
		return nil, callError(OpDescribe, n.id, 0, p, cctx, err)
	}
	for _, a := range out.NetworkAcls {
		if aws.ToString(a.NetworkAclId) == n.id {
			return a.Entries, nil
		}
	}
	return nil, &Error{Op: OpDescribe, ACLID: n.id, Prefix: p, Reason: ReasonACLNotFound}
}

func (n *NACL) create(ctx context.Context, rule int, p netip.Prefix) error {
	cctx, cancel := context.WithTimeout(ctx, n.cfg.CallTimeout)
	defer cancel()
	in := &ec2.CreateNetworkAclEntryInput{
		NetworkAclId: aws.String(n.id),
		RuleNumber:   aws.Int32(int32(rule)),
		Protocol:     aws.String("-1"),
		RuleAction:   types.RuleActionDeny,
		Egress:       aws.Bool(false),
	}
	if p.Addr().Is6() {
		in.Ipv6CidrBlock = aws.String(p.String())
	} else {
		in.CidrBlock = aws.String(p.String())
	}
	if _, err := n.api.CreateNetworkAclEntry(cctx, in); err != nil {
		return callError(OpCreate, n.id, rule, p, cctx, err)
	}
	return nil
}

func (n *NACL) deleteEntry(ctx context.Context, rule int, p netip.Prefix) error {
	cctx, cancel := context.WithTimeout(ctx, n.cfg.CallTimeout)
	defer cancel()
	_, err := n.api.DeleteNetworkAclEntry(cctx, &ec2.DeleteNetworkAclEntryInput{
		NetworkAclId: aws.String(n.id),
		RuleNumber:   aws.Int32(int32(rule)),
		Egress:       aws.Bool(false),
	})
	if err != nil {
		return callError(OpDelete, n.id, rule, p, cctx, err)
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

// List describes the ACL and returns its ingress deny entries (protocol
// -1, not /0) within the managed range of their address family. A family
// without an allow-all rule (automatic range) has no managed range.
func (n *NACL) List(ctx context.Context) ([]ban.Held, error) {
	entries, err := n.describe(ctx, netip.Prefix{})
	if err != nil {
		return nil, err
	}
	var out []ban.Held
	for _, v6 := range []bool{false, true} {
		probe := netip.PrefixFrom(netip.IPv4Unspecified(), 32)
		if v6 {
			probe = netip.PrefixFrom(netip.IPv6Unspecified(), 128)
		}
		v, err := n.inspect(OpDescribe, entries, probe)
		if err != nil {
			continue // no managed range for this family
		}
		for i := range entries {
			e := &entries[i]
			rule := int(aws.ToInt32(e.RuleNumber))
			cidr, ok := entryPrefix(e)
			if !ok || aws.ToBool(e.Egress) || e.RuleAction != types.RuleActionDeny || aws.ToString(e.Protocol) != "-1" ||
				cidr.Addr().Is6() != v6 || cidr.Bits() == 0 || rule < v.lo || rule > v.hi {
				continue
			}
			out = append(out, ban.Held{Target: n.id, Rule: rule, Prefix: cidr})
		}
	}
	return out, nil
}

// Check describes the ACL and, with write, asks CreateNetworkAclEntry with
// DryRun whether the credentials may write it. Its error is one line
// naming the ACL, and matches the *Error of the failed call. An endpoint
// that ignores DryRun and creates the probe entry gets it deleted at once,
// with a warning.
func (n *NACL) Check(ctx context.Context, write bool) error {
	if _, err := n.describe(ctx, netip.Prefix{}); err != nil {
		if aclGone(err) {
			return &checkError{fmt.Sprintf("acl: network ACL %s not found (Network_ACL_ID)", n.id), err}
		}
		return &checkError{fmt.Sprintf("acl: describe network ACL %s: %s", n.id, target.Code(err)), err}
	}
	if !write {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, n.cfg.CallTimeout)
	defer cancel()
	_, err := n.api.CreateNetworkAclEntry(cctx, &ec2.CreateNetworkAclEntryInput{
		NetworkAclId: aws.String(n.id),
		RuleNumber:   aws.Int32(MaxRuleNumber),
		Protocol:     aws.String("-1"),
		RuleAction:   types.RuleActionDeny,
		Egress:       aws.Bool(false),
		CidrBlock:    aws.String(probe.String()),
		DryRun:       aws.Bool(true),
	})
	switch {
	case errorCode(err) == "DryRunOperation":
		return nil
	case err == nil:
		n.log.Warn("acl: the endpoint ignored DryRun and created the start-up probe entry; deleting it",
			"acl", n.id, "rule", MaxRuleNumber, "prefix", probe)
		if derr := n.deleteEntry(context.WithoutCancel(ctx), MaxRuleNumber, probe); derr != nil {
			n.log.Error("acl: start-up probe entry left in place", "acl", n.id, "rule", MaxRuleNumber, "prefix", probe, "err", derr)
		}
		return nil
	}
	cerr := callError(OpCreate, n.id, MaxRuleNumber, probe, cctx, err)
	return &checkError{fmt.Sprintf("acl: credentials may not write network ACL %s: %s (need ec2:CreateNetworkAclEntry and ec2:DeleteNetworkAclEntry on it)", n.id, cerr.Reason), cerr}
}

// checkError is Check's one-line error over the failed call's *Error.
type checkError struct {
	msg string
	err error
}

func (e *checkError) Error() string { return e.msg }
func (e *checkError) Unwrap() error { return e.err }

// aclGone reports whether err says the network ACL does not exist.
func aclGone(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Reason == ReasonACLNotFound || e.Reason == "InvalidNetworkAclID.NotFound")
}
