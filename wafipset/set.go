// Package wafipset is the AWS WAF IP set target: it denies prefixes by
// adding them to WAFv2 IP sets that a web ACL rule blocks, and lifts them
// by taking them out again. One IP set is one target (package target); New
// makes one per configured ARN.
//
// The model: an IP set is a list of up to 10,000 CIDRs of one IP version,
// shared with whoever else writes it; UpdateIPSet replaces the whole list
// and must carry the lock token of the GetIPSet it was built from. Every
// change is therefore a Get, a merge of dosguard's changes into the list
// read, and an Update; when someone else changed the set in between
// (WAFOptimisticLockException), or WAF throttled or failed, the Get and
// merge are made again, with exponential backoff and full jitter, within
// Config.CallTimeout. Nothing another writer put in the set is ever
// dropped, and the description is written back as read.
//
// A Set does not know which members are dosguard's: the store does (the
// enforce package). A prefix already in the set when Add writes is
// reported Foreign, unless dosguard's own update of unknown outcome put it
// there. A Set is a target.Batcher: between Stage and Commit the changes
// of many bans go out as one Get + Update, which AWS's rate of about one
// update per second per account and Region demands.
//
// A Set is safe for concurrent use and starts no goroutines.
package wafipset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/wafv2"
	"github.com/aws/aws-sdk-go-v2/service/wafv2/types"

	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/target"
)

// WAFAPI lists the WAFv2 client methods a Set calls, and nothing more: the
// IAM policy in docker/eks/iam-policy.json is checked against it.
type WAFAPI interface {
	GetIPSet(ctx context.Context, in *wafv2.GetIPSetInput, optFns ...func(*wafv2.Options)) (*wafv2.GetIPSetOutput, error)
	UpdateIPSet(ctx context.Context, in *wafv2.UpdateIPSetInput, optFns ...func(*wafv2.Options)) (*wafv2.UpdateIPSetOutput, error)
}

var _ WAFAPI = (*wafv2.Client)(nil)

// Defaults and bounds.
const (
	// MaxEntries is AWS's limit of addresses in one IP set.
	MaxEntries = 10000
	// DefaultCallTimeout bounds one change when Config.CallTimeout is 0.
	DefaultCallTimeout = 10 * time.Second
	// DefaultBackoff is the first retry's longest wait when
	// Config.Backoff is 0; each retry doubles it, up to maxBackoff.
	DefaultBackoff = 200 * time.Millisecond
	maxBackoff     = 2 * time.Second
	// maxAttempts bounds the Get + Update rounds of one change.
	maxAttempts = 8
)

// Config configures the IP sets.
type Config struct {
	// ARNs are the IP sets (WAF_IP_Set_ARN); New makes one Set each.
	ARNs []string
	// EntryLimit is the most addresses a set may hold, other writers'
	// included (WAF_Entry_Limit): 1..10000, 0 means 10000.
	EntryLimit int
	// CallTimeout bounds one change, retries included; 0 means
	// DefaultCallTimeout.
	CallTimeout time.Duration
	// Backoff is the longest wait before the first retry; 0 means
	// DefaultBackoff.
	Backoff time.Duration
}

// Validate reports the first invalid field of c, naming it and its value.
func (c Config) Validate() error {
	if len(c.ARNs) == 0 {
		return errors.New("wafipset: config ARNs: no IP set given")
	}
	for i, s := range c.ARNs {
		if _, err := ParseARN(s); err != nil {
			return fmt.Errorf("wafipset: config ARNs[%d] %q: %v", i, s, err)
		}
		if slices.Contains(c.ARNs[:i], s) {
			return fmt.Errorf("wafipset: config ARNs[%d] %q: listed twice", i, s)
		}
	}
	if c.EntryLimit < 0 || c.EntryLimit > MaxEntries {
		return fmt.Errorf("wafipset: config EntryLimit %d: want 1..%d", c.EntryLimit, MaxEntries)
	}
	if c.CallTimeout < 0 || c.Backoff < 0 {
		return fmt.Errorf("wafipset: config CallTimeout %v, Backoff %v: negative", c.CallTimeout, c.Backoff)
	}
	return nil
}

// Set is one WAFv2 IP set as a target. Create it with New.
type Set struct {
	arn ARN
	cfg Config
	api WAFAPI
	log *slog.Logger

	mu      sync.Mutex
	version types.IPAddressVersion // "" until the set was read
	staging bool
	staged  []change
	seen    map[netip.Prefix]bool // members at the batch's first Add; nil: not read
	seenErr error                 // why that read failed: the batch's other Adds fail alike
}

// change is one staged Add (add) or Remove.
type change struct {
	p   netip.Prefix
	add bool
}

var (
	_ target.Planner = (*Set)(nil)
	_ target.Batcher = (*Set)(nil)
	_ target.Shared  = (*Set)(nil)
)

// New returns one Set per cfg.ARNs, each calling the client clients gives
// for the region of its ARN (us-east-1 for CLOUDFRONT sets). A nil logger
// discards logs. It calls nothing.
func New(cfg Config, clients func(region string) WAFAPI, logger *slog.Logger) ([]*Set, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if clients == nil {
		return nil, errors.New("wafipset: no WAF client")
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.EntryLimit == 0 {
		cfg.EntryLimit = MaxEntries
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = DefaultBackoff
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var out []*Set
	for _, s := range cfg.ARNs {
		a, _ := ParseARN(s)
		api := clients(a.Region)
		if api == nil {
			return nil, fmt.Errorf("wafipset: no WAF client for region %s", a.Region)
		}
		out = append(out, &Set{arn: a, cfg: cfg, api: api, log: logger})
	}
	return out, nil
}

// ID returns the IP set's ARN.
func (s *Set) ID() string { return s.arn.Raw }

// ARN returns the IP set's ARN, taken apart.
func (s *Set) ARN() ARN { return s.arn }

// Capacity is Config.EntryLimit for the set's IP version, 0 for the other
// (both until the set was read).
func (s *Set) Capacity(v6 bool) int {
	if !s.takesFamily(v6) {
		return 0
	}
	return s.cfg.EntryLimit
}

// Takes reports whether p is of the set's IP version (true until the set
// was read).
func (s *Set) Takes(p netip.Prefix) bool { return s.takesFamily(p.Addr().Is6()) }

func (s *Set) takesFamily(v6 bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.version {
	case types.IPAddressVersionIpv4:
		return !v6
	case types.IPAddressVersionIpv6:
		return v6
	}
	return true
}

// snapshot is one GetIPSet answer.
type snapshot struct {
	addrs   []string
	members map[netip.Prefix]bool
	token   *string
	desc    *string
	v6      bool
}

// get reads the set, bounded by ctx.
func (s *Set) get(ctx context.Context) (snapshot, error) {
	out, err := s.api.GetIPSet(ctx, &wafv2.GetIPSetInput{Name: aws.String(s.arn.Name), Id: aws.String(s.arn.ID), Scope: s.arn.Scope})
	if err != nil {
		return snapshot{}, callError("get", s.arn.Raw, ctx, err)
	}
	if out.IPSet == nil {
		return snapshot{}, &Error{Op: "get", Set: s.arn.Raw, Reason: ReasonFailed, Err: errors.New("answer without IPSet")}
	}
	sn := snapshot{addrs: out.IPSet.Addresses, members: make(map[netip.Prefix]bool, len(out.IPSet.Addresses)),
		token: out.LockToken, desc: out.IPSet.Description, v6: out.IPSet.IPAddressVersion == types.IPAddressVersionIpv6}
	for _, a := range sn.addrs {
		if p, err := netip.ParsePrefix(a); err == nil {
			sn.members[p.Masked()] = true
		}
	}
	s.mu.Lock()
	s.version = out.IPSet.IPAddressVersion
	s.mu.Unlock()
	return sn, nil
}

// update writes list in place of sn's addresses.
func (s *Set) update(ctx context.Context, sn snapshot, list []string) error {
	if list == nil {
		list = []string{} // AWS wants the field, even empty
	}
	_, err := s.api.UpdateIPSet(ctx, &wafv2.UpdateIPSetInput{
		Name: aws.String(s.arn.Name), Id: aws.String(s.arn.ID), Scope: s.arn.Scope,
		Addresses: list, LockToken: sn.token, Description: sn.desc,
	})
	if err != nil {
		return callError("update", s.arn.Raw, ctx, err)
	}
	return nil
}

// check refuses a prefix that would deny everyone, or of the wrong family.
func (s *Set) check(op string, p netip.Prefix) error {
	if !p.IsValid() || p.Bits() == 0 || p.Addr().Zone() != "" || p != p.Masked() {
		return &Error{Op: op, Set: s.arn.Raw, Reason: ReasonRefused, Err: fmt.Errorf("prefix %s would deny everyone or is invalid", p)}
	}
	if !s.Takes(p) {
		return &Error{Op: op, Set: s.arn.Raw, Reason: ReasonFamily, Err: fmt.Errorf("prefix %s", p)}
	}
	return nil
}

// Add denies p in the set, at once or, while staging, at Commit. A prefix
// already in the set is returned Foreign. A full set (EntryLimit, other
// writers' addresses counted) fails with an error matching target.ErrFull.
func (s *Set) Add(ctx context.Context, p netip.Prefix) (ban.Entry, error) {
	if err := s.check("block", p); err != nil {
		return ban.Entry{}, err
	}
	s.mu.Lock()
	staging := s.staging
	s.mu.Unlock()
	if !staging {
		o := s.apply(ctx, []change{{p: p, add: true}})[0]
		return o.Entry, o.Err
	}
	return s.stageAdd(ctx, p)
}

// stageAdd records the add of p, reading the set once per batch.
func (s *Set) stageAdd(ctx context.Context, p netip.Prefix) (ban.Entry, error) {
	s.mu.Lock()
	read, readErr := s.seen != nil, s.seenErr
	s.mu.Unlock()
	if readErr != nil {
		return ban.Entry{}, readErr // one slow read per batch, not one per ban
	}
	if !read {
		cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
		sn, err := s.get(cctx)
		cancel()
		if err != nil {
			s.mu.Lock()
			s.seenErr = err
			s.mu.Unlock()
			return ban.Entry{}, err
		}
		s.mu.Lock()
		s.seen = sn.members
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	count := len(s.seen)
	for _, c := range s.staged {
		switch {
		case c.add:
			count++
		case s.seen[c.p]:
			count--
		}
	}
	removed := slices.Contains(s.staged, change{p: p})
	if s.seen[p] && !removed {
		return ban.Entry{Target: s.arn.Raw, Foreign: true}, nil
	}
	if count >= s.cfg.EntryLimit && !removed {
		return ban.Entry{}, s.full(p, count)
	}
	s.staged = append(s.staged, change{p: p, add: true})
	return ban.Entry{Target: s.arn.Raw}, nil
}

func (s *Set) full(p netip.Prefix, count int) error {
	return &Error{Op: "block", Set: s.arn.Raw, Reason: ReasonFull,
		Err: fmt.Errorf("%s: %d of %d addresses used (WAF_Entry_Limit)", p, count, s.cfg.EntryLimit)}
}

// Remove takes p out of the set if it is there, at once or, while
// staging, at Commit (the Remove of a prefix staged for adding cancels the
// add); rule is ignored (a set has no rule numbers). A prefix not in the
// set is not an error.
func (s *Set) Remove(ctx context.Context, p netip.Prefix, _ int) error {
	if err := s.check("unblock", p); err != nil {
		return err
	}
	s.mu.Lock()
	if s.staging {
		if i := slices.Index(s.staged, change{p: p, add: true}); i >= 0 {
			s.staged = slices.Delete(s.staged, i, i+1)
		} else if !slices.Contains(s.staged, change{p: p}) {
			s.staged = append(s.staged, change{p: p})
		}
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	return s.apply(ctx, []change{{p: p}})[0].Err
}

// Stage starts staging Adds and Removes until Commit.
func (s *Set) Stage() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.staging = true
}

// Commit stops staging and writes the staged changes in one Get + Update
// (more when another writer or WAF interferes).
func (s *Set) Commit(ctx context.Context) []target.Outcome {
	s.mu.Lock()
	staged := s.staged
	s.staging, s.staged, s.seen, s.seenErr = false, nil, nil, nil
	s.mu.Unlock()
	if len(staged) == 0 {
		return nil
	}
	return s.apply(ctx, staged)
}

// apply writes changes: Get, merge, Update, again on a lock conflict,
// throttling or a 5xx, with backoff and full jitter, within CallTimeout.
func (s *Set) apply(ctx context.Context, changes []change) []target.Outcome {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	tried := make(map[netip.Prefix]bool) // adds an update of unknown outcome may have made
	var last error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if attempt > 0 && !s.backoff(ctx, attempt) {
			break
		}
		sn, err := s.get(ctx)
		if err != nil {
			last = err
			if target.Transient(err) {
				continue
			}
			break
		}
		list, outs, changed := s.merge(sn, changes, tried)
		if !changed {
			return outs
		}
		err = s.update(ctx, sn, list)
		if err == nil {
			s.log.Info("wafipset: updated IP set", "ip_set", s.arn.Name, "changes", len(changes), "addresses", len(list), "attempt", attempt+1)
			return outs
		}
		last = err
		if target.OutcomeUnknown(err) {
			for _, o := range outs {
				if o.Add && o.Err == nil && !o.Entry.Foreign {
					tried[o.Prefix] = true
				}
			}
		}
		if !target.Transient(err) {
			break
		}
		s.log.Warn("wafipset: update not applied, reading the set again", "ip_set", s.arn.Name, "attempt", attempt+1, "err", err)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && !target.Transient(last) {
		last = callError("update", s.arn.Raw, ctx, ctx.Err())
	}
	out := make([]target.Outcome, len(changes))
	for i, c := range changes {
		out[i] = target.Outcome{Prefix: c.p, Add: c.add, Err: last}
	}
	return out
}

// backoff waits before retry attempt (1, 2, ...): a random time up to
// Backoff doubled per attempt, capped (full jitter). It reports false when
// ctx ends first.
func (s *Set) backoff(ctx context.Context, attempt int) bool {
	ceil := min(s.cfg.Backoff<<min(attempt-1, 10), maxBackoff)
	return target.Sleep(ctx, rand.N(ceil)+1) == nil
}

// merge applies changes to the list read in sn: removes first (only a
// member for exactly the prefix goes), then adds (a member already there
// is Foreign unless tried; beyond EntryLimit, ErrFull). changed reports a
// list that differs from sn's.
func (s *Set) merge(sn snapshot, changes []change, tried map[netip.Prefix]bool) ([]string, []target.Outcome, bool) {
	list := slices.Clone(sn.addrs)
	members := make(map[netip.Prefix]bool, len(sn.members))
	for p := range sn.members {
		members[p] = true
	}
	out := make([]target.Outcome, len(changes))
	changed := false
	for i, c := range changes {
		out[i] = target.Outcome{Prefix: c.p, Add: c.add}
		if c.add || !members[c.p] {
			continue
		}
		list = slices.DeleteFunc(list, func(a string) bool {
			p, err := netip.ParsePrefix(a)
			return err == nil && p.Masked() == c.p
		})
		delete(members, c.p)
		changed = true
	}
	for i, c := range changes {
		switch {
		case !c.add:
		case c.p.Addr().Is6() != sn.v6:
			out[i].Err = &Error{Op: "block", Set: s.arn.Raw, Reason: ReasonFamily, Err: fmt.Errorf("prefix %s", c.p)}
		case members[c.p]:
			out[i].Entry = ban.Entry{Target: s.arn.Raw, Foreign: !tried[c.p]}
		case len(list) >= s.cfg.EntryLimit:
			out[i].Err = s.full(c.p, len(list))
		default:
			list = append(list, c.p.String())
			members[c.p] = true
			out[i].Entry = ban.Entry{Target: s.arn.Raw}
			changed = true
		}
	}
	return list, out, changed
}

// Plan returns the entry Add would give p, with the set read as if it held
// pretend's Added entries and not its Removed ones; nothing is written.
func (s *Set) Plan(ctx context.Context, p netip.Prefix, pretend target.Overlay) (ban.Entry, error) {
	if err := s.check("block", p); err != nil {
		return ban.Entry{}, err
	}
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	sn, err := s.get(cctx)
	if err != nil {
		return ban.Entry{}, err
	}
	members := sn.members
	for _, h := range pretend.Removed {
		if h.Target == s.arn.Raw {
			delete(members, h.Prefix)
		}
	}
	for _, h := range pretend.Added {
		if h.Target == s.arn.Raw && h.Prefix.Addr().Is6() == sn.v6 {
			members[h.Prefix] = true
		}
	}
	switch {
	case members[p]:
		return ban.Entry{Target: s.arn.Raw, Foreign: true}, nil
	case len(members) >= s.cfg.EntryLimit:
		return ban.Entry{}, s.full(p, len(members))
	}
	return ban.Entry{Target: s.arn.Raw}, nil
}

// List reads the set and returns every member, other writers' included
// (rule 0): which are dosguard's only the store knows.
func (s *Set) List(ctx context.Context) ([]ban.Held, error) {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	sn, err := s.get(cctx)
	if err != nil {
		return nil, err
	}
	out := make([]ban.Held, 0, len(sn.members))
	for p := range sn.members {
		out = append(out, ban.Held{Target: s.arn.Raw, Prefix: p})
	}
	slices.SortFunc(out, func(a, b ban.Held) int { return ban.ComparePrefix(a.Prefix, b.Prefix) })
	return out, nil
}

// Check reads the set and, with write, writes its own list back with its
// lock token, which changes nothing but proves wafv2:UpdateIPSet (WAF has
// no dry run; a lock conflict proves it too). Its error is one line naming
// the set.
func (s *Set) Check(ctx context.Context, write bool) error {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	sn, err := s.get(cctx)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Reason == "WAFNonexistentItemException" {
			return &checkError{fmt.Sprintf("wafipset: IP set %s not found in scope %s, region %s (WAF_IP_Set_ARN)", s.arn.Raw, s.arn.Scope, s.arn.Region), err}
		}
		return &checkError{fmt.Sprintf("wafipset: get IP set %s: %s (need wafv2:GetIPSet on it)", s.arn.Raw, target.Code(err)), err}
	}
	if !write {
		return nil
	}
	err = s.update(cctx, sn, sn.addrs)
	if err == nil || errorCode(err) == "WAFOptimisticLockException" {
		return nil
	}
	return &checkError{fmt.Sprintf("wafipset: credentials may not write IP set %s: %s (need wafv2:UpdateIPSet on it)", s.arn.Raw, target.Code(err)), err}
}

// checkError is Check's one-line error over the failed call's *Error.
type checkError struct {
	msg string
	err error
}

func (e *checkError) Error() string { return e.msg }
func (e *checkError) Unwrap() error { return e.err }
