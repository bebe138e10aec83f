package acl_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/dosguard/dosguard/acl"
	"github.com/dosguard/dosguard/acl/acltest"
	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/target"
)

const (
	describe = acltest.DescribeNetworkAcls
	create   = acltest.CreateNetworkAclEntry
	del      = acltest.DeleteNetworkAclEntry
)

var (
	p4 = netip.MustParsePrefix("203.0.113.7/32")
	p6 = netip.MustParsePrefix("2001:db8::7/128")
)

// setup returns a server and the NACLs of cfg on it (acl-1 if none) using
// the server's real ec2.Client (standard retryer, 5 attempts).
func setup(t *testing.T, cfg acl.Config, optFns ...func(*ec2.Options)) (*acltest.Server, nacls) {
	t.Helper()
	srv := acltest.NewServer()
	t.Cleanup(srv.Close)
	if cfg.ACLIDs == nil {
		cfg.ACLIDs = []string{"acl-1"}
	}
	ns, err := acl.New(cfg, srv.Client(t, optFns...), nil)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return srv, ns
}

// nacls are NACLs used in turn, as the enforcer does (without its
// rollback, which enforce tests).
type nacls []*acl.NACL

// result is what Block or Unblock did: the entries, and whether they all
// were there before (Block) or anything was deleted (Unblock).
type result struct {
	Entries  []ban.Entry
	Existing bool
}

// Block adds p to every NACL in turn, stopping at the first error.
func (ns nacls) Block(ctx context.Context, p netip.Prefix) (result, error) {
	res := result{Existing: true}
	for _, n := range ns {
		e, err := n.Add(ctx, p)
		if err != nil {
			return result{}, err
		}
		res.Entries = append(res.Entries, e)
		res.Existing = res.Existing && e.Foreign
	}
	return res, nil
}

// Unblock lists every NACL and removes each entry of exactly p; errors
// do not stop the others.
func (ns nacls) Unblock(ctx context.Context, p netip.Prefix) (result, error) {
	var (
		res  result
		errs []error
	)
	for _, n := range ns {
		held, err := n.List(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, h := range held {
			if h.Prefix != p {
				continue
			}
			if err := n.Remove(ctx, p, h.Rule); err != nil {
				errs = append(errs, err)
				continue
			}
			res.Entries = append(res.Entries, ban.Entry{Target: h.Target, Rule: h.Rule, Foreign: true})
		}
	}
	res.Existing = len(res.Entries) > 0
	if len(errs) == 1 {
		return res, errs[0]
	}
	return res, errors.Join(errs...)
}

// denies lists the ingress deny entries of an ACL but the default rule,
// as "N CIDR".
func denies(srv *acltest.Server, id string) []string {
	var out []string
	for _, e := range srv.Entries(id) {
		if !e.Egress && e.RuleAction == "deny" && e.RuleNumber != acltest.DefaultRuleNumber {
			out = append(out, fmt.Sprintf("%d %s", e.RuleNumber, e.CIDR))
		}
	}
	return out
}

// reason returns the Reason of err's *acl.Error, "" for nil, or fails.
func reason(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var e *acl.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *acl.Error", err, err)
	}
	return e.Reason
}

func allow(n int, cidr string) acltest.Entry {
	return acltest.Entry{RuleNumber: n, Protocol: "-1", RuleAction: "allow", CIDR: cidr}
}

func deny(n int, cidr string) acltest.Entry {
	return acltest.Entry{RuleNumber: n, Protocol: "-1", RuleAction: "deny", CIDR: cidr}
}

func defaults() []acltest.Entry {
	return []acltest.Entry{deny(acltest.DefaultRuleNumber, "0.0.0.0/0"), deny(acltest.DefaultRuleNumber, "::/0")}
}

func TestBlockChoosesRule(t *testing.T) {
	egressDeny := deny(3, "198.51.100.3/32")
	egressDeny.Egress = true
	tcpAllow := allow(50, "0.0.0.0/0")
	tcpAllow.Protocol = "6"
	tcpDeny := deny(5, "203.0.113.7/32")
	tcpDeny.Protocol = "6"
	egressSame := deny(9, "203.0.113.7/32")
	egressSame.Egress = true

	tests := []struct {
		name         string
		entries      []acltest.Entry // nil: DefaultACL
		min, max     int
		p            netip.Prefix
		want         int // rule number reported
		wantExisting bool
		wantReason   string
	}{
		{name: "v4 default ACL takes 1", p: p4, want: 1},
		{name: "v6 default ACL takes 1", p: p6, want: 1},
		{name: "lowest free, egress numbers ignored",
			entries: append(defaults(), allow(100, "0.0.0.0/0"), deny(1, "198.51.100.1/32"), deny(2, "198.51.100.2/32"), deny(4, "198.51.100.4/32"), egressDeny),
			p:       p4, want: 3},
		{name: "v6 entries share the numbering",
			entries: append(defaults(), allow(100, "0.0.0.0/0"), allow(101, "::/0"), deny(1, "2001:db8::1/128")),
			p:       p4, want: 2},
		{name: "v6 range ends below the ::/0 rule",
			entries: append(defaults(), allow(100, "0.0.0.0/0"), allow(3, "::/0"), deny(1, "198.51.100.1/32"), deny(2, "198.51.100.2/32")),
			p:       p6, wantReason: acl.ReasonNoFreeRule},
		{name: "v4 range ignores the ::/0 rule but not its number",
			entries: append(defaults(), allow(100, "0.0.0.0/0"), allow(3, "::/0"), deny(1, "198.51.100.1/32"), deny(2, "198.51.100.2/32")),
			p:       p4, want: 4},
		{name: "lowest of two allow-all rules bounds the range",
			entries: append(defaults(), allow(3, "0.0.0.0/0"), allow(100, "0.0.0.0/0"), deny(1, "198.51.100.1/32"), deny(2, "198.51.100.2/32")),
			p:       p4, wantReason: acl.ReasonNoFreeRule},
		{name: "configured range", min: 10, max: 20, p: p4, want: 10},
		{name: "configured range, first taken",
			entries: append(defaults(), allow(100, "0.0.0.0/0"), deny(10, "198.51.100.1/32")),
			min:     10, max: 20, p: p4, want: 11},
		{name: "configured range capped below allow-all",
			entries: append(defaults(), allow(100, "0.0.0.0/0"), deny(95, "198.51.100.95/32"), deny(96, "198.51.100.96/32"), deny(97, "198.51.100.97/32"), deny(98, "198.51.100.98/32"), deny(99, "198.51.100.99/32")),
			min:     95, max: 150, p: p4, wantReason: acl.ReasonNoFreeRule},
		{name: "configured range above allow-all", min: 150, max: 160, p: p4, wantReason: acl.ReasonRangeAboveAllow},
		{name: "full configured range",
			entries: append(defaults(), allow(100, "0.0.0.0/0"), deny(1, "198.51.100.1/32"), deny(2, "198.51.100.2/32"), deny(3, "198.51.100.3/32")),
			min:     1, max: 3, p: p4, wantReason: acl.ReasonNoFreeRule},
		{name: "no allow-all rule, automatic range", entries: defaults(), p: p4, wantReason: acl.ReasonNoAllowAll},
		{name: "tcp-only allow is not allow-all", entries: append(defaults(), tcpAllow), p: p4, wantReason: acl.ReasonNoAllowAll},
		{name: "no allow-all rule, configured range", entries: defaults(), min: 7, max: 9, p: p4, want: 7},
		{name: "already denied in range",
			entries: append(defaults(), allow(100, "0.0.0.0/0"), deny(7, "203.0.113.7/32")),
			p:       p4, want: 7, wantExisting: true},
		{name: "already denied v6 in range",
			entries: append(defaults(), allow(101, "::/0"), deny(7, "2001:db8::7/128")),
			p:       p6, want: 7, wantExisting: true},
		{name: "denied outside the range does not count",
			entries: append(defaults(), allow(100, "0.0.0.0/0"), deny(150, "203.0.113.7/32")),
			p:       p4, want: 1},
		{name: "egress or tcp-only deny does not count",
			entries: append(defaults(), allow(100, "0.0.0.0/0"), egressSame, tcpDeny),
			p:       p4, want: 1},
		{name: "deny of a wider CIDR does not count",
			entries: append(defaults(), allow(100, "0.0.0.0/0"), deny(1, "203.0.113.0/24")),
			p:       p4, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, b := setup(t, acl.Config{RuleMin: tt.min, RuleMax: tt.max})
			if tt.entries == nil {
				srv.DefaultACL("acl-1")
			} else {
				srv.AddACL("acl-1", tt.entries...)
			}
			before := denies(srv, "acl-1")
			res, err := b.Block(context.Background(), tt.p)
			if got := reason(t, err); got != tt.wantReason {
				t.Fatalf("Block(%s) reason %q (err %v), want %q", tt.p, got, err, tt.wantReason)
			}
			wantCreates := 1
			if tt.wantReason != "" || tt.wantExisting {
				wantCreates = 0
			}
			if n := srv.CallCount(create); n != wantCreates {
				t.Errorf("Create calls = %d, want %d", n, wantCreates)
			}
			if tt.wantReason != "" {
				if got := denies(srv, "acl-1"); !slices.Equal(got, before) {
					t.Errorf("entries changed on failure: %v, want %v", got, before)
				}
				return
			}
			want := result{Entries: []ban.Entry{{Target: "acl-1", Rule: tt.want, Foreign: tt.wantExisting}}, Existing: tt.wantExisting}
			if !equalResult(res, want) {
				t.Fatalf("Block(%s) = %+v, want %+v", tt.p, res, want)
			}
			wantDenies := before
			if !tt.wantExisting {
				wantDenies = append(slices.Clone(before), fmt.Sprintf("%d %s", tt.want, tt.p))
			}
			if got := denies(srv, "acl-1"); !sameSet(got, wantDenies) {
				t.Errorf("ingress denies = %v, want %v", got, wantDenies)
			}
		})
	}
}

func equalResult(a, b result) bool {
	return a.Existing == b.Existing && slices.Equal(a.Entries, b.Entries)
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestBlockWire checks the exact requests: one Describe and one Create per
// ACL, with the fields AWS needs, CidrBlock for IPv4 and Ipv6CidrBlock for
// IPv6.
func TestBlockWire(t *testing.T) {
	tests := []struct {
		p             netip.Prefix
		field, absent string
	}{
		{p4, "CidrBlock", "Ipv6CidrBlock"},
		{p6, "Ipv6CidrBlock", "CidrBlock"},
	}
	for _, tt := range tests {
		t.Run(tt.p.String(), func(t *testing.T) {
			srv, b := setup(t, acl.Config{ACLIDs: []string{"acl-1", "acl-2"}})
			srv.DefaultACL("acl-1")
			srv.DefaultACL("acl-2")
			if _, err := b.Block(context.Background(), tt.p); err != nil {
				t.Fatalf("Block(%s): %v", tt.p, err)
			}
			calls := srv.Calls()
			var actions []string
			for _, c := range calls {
				actions = append(actions, c.Action)
			}
			if want := []string{describe, create, describe, create}; !slices.Equal(actions, want) {
				t.Fatalf("calls = %v, want %v", actions, want)
			}
			for i, id := range []string{"acl-1", "acl-2"} {
				d, c := calls[2*i].Form, calls[2*i+1].Form
				if got := d.Get("NetworkAclId.1"); got != id {
					t.Errorf("Describe NetworkAclId.1 = %q, want %q", got, id)
				}
				want := url.Values{
					"Action": {create}, "Version": {acltest.APIVersion}, "NetworkAclId": {id},
					"RuleNumber": {"1"}, "Protocol": {"-1"}, "RuleAction": {"deny"}, "Egress": {"false"},
					tt.field: {tt.p.String()},
				}
				for k, v := range want {
					if !slices.Equal(c[k], v) {
						t.Errorf("Create %s %s = %q, want %q", id, k, c[k], v)
					}
				}
				if _, ok := c[tt.absent]; ok {
					t.Errorf("Create %s sent %s", id, tt.absent)
				}
				if _, ok := c["DryRun"]; ok {
					t.Errorf("Create %s sent DryRun", id)
				}
			}
		})
	}
}

// TestSteps walks Block and Unblock on one ACL, step by step.
func TestSteps(t *testing.T) {
	a := netip.MustParsePrefix("198.51.100.1/32")
	bb := netip.MustParsePrefix("198.51.100.2/32")
	c := netip.MustParsePrefix("2001:db8::c/128")
	type step struct {
		op       string // "block" or "unblock"
		p        netip.Prefix
		rules    []int // entries reported
		existing bool
	}
	steps := []step{
		{"block", a, []int{1}, false},
		{"block", a, []int{1}, true},
		{"block", bb, []int{2}, false},
		{"block", c, []int{3}, false},
		{"unblock", a, []int{1}, true},
		{"unblock", a, nil, false},
		{"block", c, []int{3}, true},
		{"block", a, []int{1}, false},
		{"unblock", c, []int{3}, true},
		{"unblock", bb, []int{2}, true},
		{"unblock", a, []int{1}, true},
	}
	srv, b := setup(t, acl.Config{})
	srv.DefaultACL("acl-1")
	ctx := context.Background()
	for i, s := range steps {
		var (
			res result
			err error
		)
		if s.op == "block" {
			res, err = b.Block(ctx, s.p)
		} else {
			res, err = b.Unblock(ctx, s.p)
		}
		var rules []int
		for _, e := range res.Entries {
			rules = append(rules, e.Rule)
		}
		if err != nil || !slices.Equal(rules, s.rules) || res.Existing != s.existing {
			t.Fatalf("step %d: %s(%s) = rules %v existing %v err %v, want rules %v existing %v",
				i, s.op, s.p, rules, res.Existing, err, s.rules, s.existing)
		}
	}
	if got := denies(srv, "acl-1"); len(got) != 0 {
		t.Errorf("after all steps ingress denies = %v, want none", got)
	}
}

// TestBlockRace plays a racer that takes the chosen number between
// Describe and Create: the Blocker describes again and takes the next one.
func TestBlockRace(t *testing.T) {
	srv, b := setup(t, acl.Config{})
	srv.DefaultACL("acl-1")
	raced := false
	srv.OnCall(func(action string, form url.Values) {
		if action == create && !raced {
			raced = true
			n, _ := strconv.Atoi(form.Get("RuleNumber"))
			srv.SetEntry("acl-1", deny(n, "198.51.100.66/32"))
		}
	})
	res, err := b.Block(context.Background(), p4)
	if err != nil {
		t.Fatalf("Block: %v", err)
	}
	if got := res.Entries[0].Rule; got != 2 {
		t.Errorf("rule = %d, want 2", got)
	}
	if d, c := srv.CallCount(describe), srv.CallCount(create); d != 2 || c != 2 {
		t.Errorf("calls Describe %d Create %d, want 2 and 2", d, c)
	}
	if got, want := denies(srv, "acl-1"), []string{"1 198.51.100.66/32", "2 203.0.113.7/32"}; !slices.Equal(got, want) {
		t.Errorf("ingress denies = %v, want %v", got, want)
	}
}

// TestBlockRaceBounded: a racer winning every time exhausts the bounded
// retries and the error says why.
func TestBlockRaceBounded(t *testing.T) {
	srv, b := setup(t, acl.Config{})
	srv.DefaultACL("acl-1")
	srv.OnCall(func(action string, form url.Values) {
		if action == create {
			n, _ := strconv.Atoi(form.Get("RuleNumber"))
			srv.SetEntry("acl-1", deny(n, fmt.Sprintf("198.51.100.%d/32", n)))
		}
	})
	_, err := b.Block(context.Background(), p4)
	if got := reason(t, err); got != "NetworkAclEntryAlreadyExists" {
		t.Fatalf("Block reason %q (%v), want NetworkAclEntryAlreadyExists", got, err)
	}
	if n := srv.CallCount(create); n != 5 {
		t.Errorf("Create calls = %d, want 5", n)
	}
	if n := srv.CallCount(del); n != 0 {
		t.Errorf("Delete calls = %d, want 0 (the entries are the racer's)", n)
	}
}

// TestQuota: a default NACL (allow + default rule per family) holds 18 deny
// entries per family at the default quota of 20; the 19th fails with
// NetworkAclEntryLimitExceeded while IPv6, counted apart, still has room.
func TestQuota(t *testing.T) {
	srv, b := setup(t, acl.Config{EntryLimit: 40}) // AWS's quota decides
	srv.DefaultACL("acl-1")
	ctx := context.Background()
	for i := 1; i <= 18; i++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), 32)
		res, err := b.Block(ctx, p)
		if err != nil || res.Entries[0].Rule != i {
			t.Fatalf("block %d: Block(%s) = %+v, %v; want rule %d", i, p, res, err, i)
		}
	}
	_, err := b.Block(ctx, p4)
	var e *acl.Error
	if !errors.As(err, &e) || e.Reason != "NetworkAclEntryLimitExceeded" || e.Op != acl.OpCreate || e.RuleNumber != 19 || e.ACLID != "acl-1" {
		t.Fatalf("19th Block = %v, want create entry 19 NetworkAclEntryLimitExceeded", err)
	}
	if want := "acl: create entry 19 in acl-1 for 203.0.113.7/32: NetworkAclEntryLimitExceeded: "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want prefix %q", err, want)
	}
	if n := srv.CallCount(create); n != 19 {
		t.Errorf("Create calls = %d, want 19 (a quota error is not retried)", n)
	}
	res, err := b.Block(ctx, p6)
	if err != nil || res.Entries[0].Rule != 19 {
		t.Errorf("Block(%s) = %+v, %v; want rule 19 (IPv6 counted apart)", p6, res, err)
	}
	srv.SetQuota(acltest.MaxQuota)
	if res, err := b.Block(ctx, p4); err != nil || res.Entries[0].Rule != 20 {
		t.Errorf("Block(%s) at quota 40 = %+v, %v; want rule 20", p4, res, err)
	}
}

func TestTwoACLs(t *testing.T) {
	srv, b := setup(t, acl.Config{ACLIDs: []string{"acl-1", "acl-2"}})
	srv.DefaultACL("acl-1")
	srv.AddACL("acl-2", append(defaults(), allow(100, "0.0.0.0/0"), deny(1, "198.51.100.1/32"))...)
	res, err := b.Block(context.Background(), p4)
	want := result{Entries: []ban.Entry{{Target: "acl-1", Rule: 1}, {Target: "acl-2", Rule: 2}}}
	if err != nil || !equalResult(res, want) {
		t.Fatalf("Block = %+v, %v; want %+v", res, err, want)
	}
	if d, c := srv.CallCount(describe), srv.CallCount(create); d != 2 || c != 2 {
		t.Errorf("calls Describe %d Create %d, want 2 and 2", d, c)
	}
	// Already in acl-1, missing from acl-2: added there only, not Existing.
	srv.DefaultACL("acl-2")
	res, err = b.Block(context.Background(), p4)
	want = result{Entries: []ban.Entry{{Target: "acl-1", Rule: 1, Foreign: true}, {Target: "acl-2", Rule: 1}}}
	if err != nil || !equalResult(res, want) {
		t.Fatalf("second Block = %+v, %v; want %+v", res, err, want)
	}
	res, err = b.Unblock(context.Background(), p4)
	want = result{Entries: []ban.Entry{{Target: "acl-1", Rule: 1, Foreign: true}, {Target: "acl-2", Rule: 1, Foreign: true}}, Existing: true}
	if err != nil || !equalResult(res, want) {
		t.Fatalf("Unblock = %+v, %v; want %+v", res, err, want)
	}
}

// TestUnblock deletes only the Blocker's own entry: hand-made entries,
// entries outside the managed range, egress, allow and tcp-only entries for
// the same address stay.
func TestUnblock(t *testing.T) {
	egress := deny(1, "203.0.113.7/32")
	egress.Egress = true
	tcp := deny(3, "203.0.113.7/32")
	tcp.Protocol = "6"
	srv, b := setup(t, acl.Config{RuleMin: 1, RuleMax: 10})
	srv.AddACL("acl-1", append(defaults(),
		allow(100, "0.0.0.0/0"),
		deny(2, "198.51.100.2/32"), // someone else's address
		tcp,
		allow(4, "203.0.113.7/32"),
		deny(50, "203.0.113.7/32"), // outside the managed range
		egress,
	)...)
	ctx := context.Background()
	if res, err := b.Block(ctx, p4); err != nil || res.Entries[0].Rule != 1 {
		t.Fatalf("Block = %+v, %v; want rule 1", res, err)
	}
	before := srv.Entries("acl-1")
	res, err := b.Unblock(ctx, p4)
	want := result{Entries: []ban.Entry{{Target: "acl-1", Rule: 1, Foreign: true}}, Existing: true}
	if err != nil || !equalResult(res, want) {
		t.Fatalf("Unblock = %+v, %v; want %+v", res, err, want)
	}
	after := srv.Entries("acl-1")
	wantAfter := slices.DeleteFunc(slices.Clone(before), func(e acltest.Entry) bool {
		return !e.Egress && e.RuleNumber == 1
	})
	if !slices.Equal(after, wantAfter) {
		t.Errorf("entries after Unblock:\n%v\nwant\n%v", after, wantAfter)
	}
	if n := srv.CallCount(del); n != 1 {
		t.Errorf("Delete calls = %d, want 1", n)
	}

	// Absent: not an error, nothing deleted.
	res, err = b.Unblock(ctx, p4)
	if err != nil || res.Existing || len(res.Entries) != 0 {
		t.Errorf("second Unblock = %+v, %v; want empty result", res, err)
	}
	if n := srv.CallCount(del); n != 1 {
		t.Errorf("Delete calls = %d, want still 1", n)
	}

	// Replaced by someone else: left alone.
	if _, err := b.Block(ctx, p4); err != nil {
		t.Fatalf("Block again: %v", err)
	}
	srv.SetEntry("acl-1", deny(1, "198.51.100.99/32"))
	res, err = b.Unblock(ctx, p4)
	if err != nil || len(res.Entries) != 0 {
		t.Errorf("Unblock after replace = %+v, %v; want nothing deleted", res, err)
	}
	if got := denies(srv, "acl-1"); !slices.Contains(got, "1 198.51.100.99/32") {
		t.Errorf("replaced entry gone: %v", got)
	}
}

// TestUnblockGoneMeanwhile: an entry deleted by someone between Describe
// and Delete is not an error.
func TestUnblockGoneMeanwhile(t *testing.T) {
	srv, b := setup(t, acl.Config{})
	srv.AddACL("acl-1", append(defaults(), allow(100, "0.0.0.0/0"), deny(1, "203.0.113.7/32"))...)
	srv.OnCall(func(action string, form url.Values) {
		if action == del {
			srv.AddACL("acl-1", append(defaults(), allow(100, "0.0.0.0/0"))...)
		}
	})
	if err := b[0].Remove(context.Background(), p4, 1); err != nil {
		t.Errorf("Remove = %v; want no error for an entry gone meanwhile", err)
	}
	if n := srv.CallCount(del); n != 1 {
		t.Errorf("Delete calls = %d, want 1", n)
	}
}

// TestUnblockErrors: a failing ACL does not stop the others; the error and
// what was deleted are both returned.
func TestUnblockErrors(t *testing.T) {
	srv, b := setup(t, acl.Config{ACLIDs: []string{"acl-1", "acl-2", "acl-3"}})
	srv.AddACL("acl-2", append(defaults(), allow(100, "0.0.0.0/0"), deny(1, "203.0.113.7/32"))...)
	srv.DefaultACL("acl-3")
	res, err := b.Unblock(context.Background(), p4)
	if got := reason(t, err); got != "InvalidNetworkAclID.NotFound" {
		t.Errorf("Unblock reason %q (%v), want InvalidNetworkAclID.NotFound", got, err)
	}
	want := []ban.Entry{{Target: "acl-2", Rule: 1, Foreign: true}}
	if !slices.Equal(res.Entries, want) {
		t.Errorf("Unblock entries = %+v, want %+v", res.Entries, want)
	}
}

// TestSDKRetries proves that throttling and 5xx answers are retried by the
// SDK's standard retryer built the way the composition root builds it,
// and that a storm beyond MaxAttempts surfaces as an error with the code.
func TestSDKRetries(t *testing.T) {
	tests := []struct {
		action     string
		code       string
		status     int
		times      int
		wantCalls  int
		wantReason string
	}{
		{describe, "RequestLimitExceeded", 503, 3, 4, ""},
		{create, "RequestLimitExceeded", 503, 3, 4, ""},
		{create, "InternalError", 500, 4, 5, ""},
		{describe, "ServiceUnavailable", 503, 10, 5, "ServiceUnavailable"},
		{create, "InternalError", 500, 10, 5, "InternalError"},
		{create, "RequestLimitExceeded", 503, 10, 5, "RequestLimitExceeded"},
		{create, "UnauthorizedOperation", 403, 10, 1, "UnauthorizedOperation"},
	}
	standard := func(o *ec2.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 5
			so.MaxBackoff = 2 * time.Millisecond
		})
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %s x%d", tt.action, tt.code, tt.times), func(t *testing.T) {
			srv, b := setup(t, acl.Config{}, standard)
			srv.DefaultACL("acl-1")
			srv.Fail(tt.action, tt.code, tt.status, tt.times)
			_, err := b.Block(context.Background(), p4)
			if got := reason(t, err); got != tt.wantReason {
				t.Fatalf("Block reason %q (%v), want %q", got, err, tt.wantReason)
			}
			if n := srv.CallCount(tt.action); n != tt.wantCalls {
				t.Errorf("%s calls = %d, want %d", tt.action, n, tt.wantCalls)
			}
			wantDenies := []string{"1 203.0.113.7/32"}
			if tt.wantReason != "" {
				wantDenies = nil
			}
			if got := denies(srv, "acl-1"); !slices.Equal(got, wantDenies) {
				t.Errorf("ingress denies = %v, want %v", got, wantDenies)
			}
		})
	}
}

// TestTimeout: a stalled call ends at CallTimeout with reason "timeout"; the
// stall is released when the test ends.
func TestTimeout(t *testing.T) {
	for _, action := range []string{describe, create, del} {
		t.Run(action, func(t *testing.T) {
			const timeout = 200 * time.Millisecond
			srv, b := setup(t, acl.Config{CallTimeout: timeout})
			srv.DefaultACL("acl-1")
			op := acl.OpDescribe
			call := b.Block
			switch action {
			case create:
				op = acl.OpCreate
			case del:
				op = acl.OpDelete
				call = b.Unblock
				srv.SetEntry("acl-1", deny(1, "203.0.113.7/32"))
			}
			release := srv.Stall(action)
			t.Cleanup(release)
			_, err := call(context.Background(), p4)
			var e *acl.Error
			if !errors.As(err, &e) || e.Reason != acl.ReasonTimeout || e.Op != op {
				t.Fatalf("err = %v, want %s timeout", err, op)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v, does not wrap context.DeadlineExceeded", err)
			}
			if n := srv.CallCount(action); n != 1 {
				t.Errorf("%s calls = %d, want 1: a timeout ends the call, the SDK does not retry it", action, n)
			}
		})
	}
}

func TestCanceled(t *testing.T) {
	srv, b := setup(t, acl.Config{})
	srv.DefaultACL("acl-1")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := b.Block(ctx, p4)
	if got := reason(t, err); got != acl.ReasonCanceled {
		t.Errorf("Block with canceled context: reason %q (%v), want %q", got, err, acl.ReasonCanceled)
	}
	if n := srv.CallCount(create); n != 0 {
		t.Errorf("Create calls = %d, want 0", n)
	}
}

// TestRefused: a prefix denying everyone never reaches AWS (single
// addresses are checked by policy.CheckHost before any target).
func TestRefused(t *testing.T) {
	prefixes := []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/0"),
		netip.MustParsePrefix("::/0"),
		{},
	}
	srv, ns := setup(t, acl.Config{})
	srv.DefaultACL("acl-1")
	n := ns[0]
	for _, p := range prefixes {
		_, err := n.Add(context.Background(), p)
		if got := reason(t, err); got != acl.ReasonRefused {
			t.Errorf("Add(%s) reason %q (%v), want %q", p, got, err, acl.ReasonRefused)
		}
		err = n.Remove(context.Background(), p, 1)
		if got := reason(t, err); got != acl.ReasonRefused {
			t.Errorf("Remove(%s) reason %q (%v), want %q", p, got, err, acl.ReasonRefused)
		}
	}
	if n := srv.CallCount("*"); n != 0 {
		t.Errorf("AWS calls = %d, want 0", n)
	}
}

// TestDryRun: target.DryRun over a NACL plans entries from what the ACL
// holds and what it pretends to have written, and writes nothing.
func TestDryRun(t *testing.T) {
	srv, ns := setup(t, acl.Config{})
	srv.AddACL("acl-1", append(defaults(), allow(100, "0.0.0.0/0"), allow(101, "::/0"), deny(1, "198.51.100.1/32"), deny(2, "2001:db8::7/128"))...)
	before := srv.Entries("acl-1")
	ctx := context.Background()
	dry := target.DryRun(ns[0], nil)
	e, err := dry.Add(ctx, p4)
	if want := (ban.Entry{Target: "acl-1", Rule: 3}); err != nil || e != want {
		t.Errorf("dry-run Add = %+v, %v; want %+v", e, err, want)
	}
	if err := dry.Remove(ctx, p6, 2); err != nil {
		t.Errorf("dry-run Remove: %v", err)
	}
	e, err = dry.Add(ctx, netip.MustParsePrefix("198.51.100.9/32")) // 2 pretended free, 3 pretended taken
	if want := (ban.Entry{Target: "acl-1", Rule: 2}); err != nil || e != want {
		t.Errorf("dry-run Add after Remove = %+v, %v; want %+v", e, err, want)
	}
	held, err := dry.List(ctx)
	want := []ban.Held{{Target: "acl-1", Rule: 1, Prefix: netip.MustParsePrefix("198.51.100.1/32")},
		{Target: "acl-1", Rule: 3, Prefix: p4}, {Target: "acl-1", Rule: 2, Prefix: netip.MustParsePrefix("198.51.100.9/32")}}
	if err != nil || !slices.Equal(held, want) {
		t.Errorf("dry-run List = %v, %v; want %v", held, err, want)
	}
	if n, d := srv.CallCount("*"), srv.CallCount(describe); n != 3 || d != 3 {
		t.Errorf("calls = %d, Describe %d; want only 3 Describe", n, d)
	}
	if after := srv.Entries("acl-1"); !slices.Equal(after, before) {
		t.Errorf("entries changed in dry run: %v, want %v", after, before)
	}
}

// TestRangeCapWarnsOnce: a RuleMax reaching the allow-all rule is logged
// once per ACL and family, not on every call.
func TestRangeCapWarnsOnce(t *testing.T) {
	srv := acltest.NewServer()
	defer srv.Close()
	srv.DefaultACL("acl-1")
	var logs bytes.Buffer
	ns, err := acl.New(acl.Config{ACLIDs: []string{"acl-1"}, RuleMin: 90, RuleMax: 200}, srv.Client(t), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	b := nacls(ns)
	ctx := context.Background()
	for i, p := range []netip.Prefix{p4, p4, netip.MustParsePrefix("198.51.100.1/32"), p6} {
		if _, err := b.Block(ctx, p); err != nil {
			t.Fatalf("step %d: Block(%s): %v", i, p, err)
		}
	}
	if n := strings.Count(logs.String(), "range capped"); n != 2 {
		t.Errorf("range cap warnings = %d, want 2 (IPv4 and IPv6 once each); logs:\n%s", n, &logs)
	}
	if got, want := denies(srv, "acl-1"), []string{"90 203.0.113.7/32", "91 198.51.100.1/32", "92 2001:db8::7/128"}; !slices.Equal(got, want) {
		t.Errorf("ingress denies = %v, want %v", got, want)
	}
}

// TestConcurrentBlocks: Blocks of different addresses from several
// goroutines race for numbers; all succeed with distinct numbers.
func TestConcurrentBlocks(t *testing.T) {
	srv, b := setup(t, acl.Config{})
	srv.DefaultACL("acl-1")
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	rules := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)}), 32)
			res, err := b.Block(context.Background(), p)
			errs[i] = err
			if err == nil {
				rules[i] = res.Entries[0].Rule
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: %v", i, err)
		}
	}
	slices.Sort(rules)
	if want := []int{1, 2, 3, 4}; !slices.Equal(rules, want) {
		t.Errorf("rules = %v, want %v", rules, want)
	}
	if got := denies(srv, "acl-1"); len(got) != n {
		t.Errorf("ingress denies = %v, want %d", got, n)
	}
}

func TestNew(t *testing.T) {
	srv := acltest.NewServer()
	defer srv.Close()
	client := srv.Client(t)
	tests := []struct {
		name    string
		cfg     acl.Config
		api     acl.EC2API
		wantErr string // substring; "" means no error
	}{
		{"automatic range", acl.Config{ACLIDs: []string{"acl-1"}}, client, ""},
		{"configured range", acl.Config{ACLIDs: []string{"acl-1", "acl-2"}, RuleMin: 1, RuleMax: 18}, client, ""},
		{"full range", acl.Config{ACLIDs: []string{"acl-1"}, RuleMin: 1, RuleMax: 32766}, client, ""},
		{"no ACL", acl.Config{}, client, "ACLIDs"},
		{"not an ACL ID", acl.Config{ACLIDs: []string{"subnet-1"}}, client, `ACLIDs[0] "subnet-1"`},
		{"empty ACL ID", acl.Config{ACLIDs: []string{"acl-1", ""}}, client, `ACLIDs[1] ""`},
		{"duplicate", acl.Config{ACLIDs: []string{"acl-1", "acl-1"}}, client, "listed twice"},
		{"RuleMax only", acl.Config{ACLIDs: []string{"acl-1"}, RuleMax: 18}, client, "RuleMin 0, RuleMax 18"},
		{"RuleMin above RuleMax", acl.Config{ACLIDs: []string{"acl-1"}, RuleMin: 20, RuleMax: 10}, client, "RuleMin 20, RuleMax 10"},
		{"RuleMax too high", acl.Config{ACLIDs: []string{"acl-1"}, RuleMin: 1, RuleMax: 32767}, client, "RuleMax 32767"},
		{"negative timeout", acl.Config{ACLIDs: []string{"acl-1"}, CallTimeout: -time.Second}, client, "CallTimeout -1s"},
		{"entry limit", acl.Config{ACLIDs: []string{"acl-1"}, EntryLimit: 41}, client, "EntryLimit 41"},
		{"entry limit 40", acl.Config{ACLIDs: []string{"acl-1"}, EntryLimit: 40}, client, ""},
		{"nil client", acl.Config{ACLIDs: []string{"acl-1"}}, nil, "EC2API is nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := acl.New(tt.cfg, tt.api, nil)
			switch {
			case tt.wantErr == "" && (err != nil || len(b) != len(tt.cfg.ACLIDs)):
				t.Errorf("New(%+v) = %v, %v; want a Blocker", tt.cfg, b, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("New(%+v) error %v, want one containing %q", tt.cfg, err, tt.wantErr)
			}
		})
	}
}

// BenchmarkBlockUnblock measures one Block and one Unblock over the wire
// (real SDK client, loopback HTTP): 2 Describe, 1 Create, 1 Delete.
func BenchmarkBlockUnblock(b *testing.B) {
	srv := acltest.NewServer()
	defer srv.Close()
	srv.DefaultACL("acl-1")
	ns, err := acl.New(acl.Config{ACLIDs: []string{"acl-1"}}, srv.Client(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	blk := nacls(ns)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := blk.Block(ctx, p4); err != nil {
			b.Fatal(err)
		}
		if _, err := blk.Unblock(ctx, p4); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAddOutcomeUnknown: a create EC2 applied but answered with an error
// (retried by the SDK into NetworkAclEntryAlreadyExists, or not retried)
// or whose answer was cut off is Add's own entry, read back from the ACL;
// one that was not applied is an error.
func TestAddOutcomeUnknown(t *testing.T) {
	tests := []struct {
		name       string
		fault      func(srv *acltest.Server)
		opts       []func(*ec2.Options)
		wantReason string
	}{
		{"applied, 500, retried", func(s *acltest.Server) { s.FailAfter(create, "InternalError", 500, 1) }, nil, ""},
		{"applied, 500, not retried", func(s *acltest.Server) { s.FailAfter(create, "InternalError", 500, 1) },
			[]func(*ec2.Options){func(o *ec2.Options) { o.Retryer = aws.NopRetryer{} }}, ""},
		{"applied, answer cut off", func(s *acltest.Server) { s.Cut(create, 1) }, nil, ""},
		{"applied, answer cut off, not retried", func(s *acltest.Server) { s.Cut(create, 1) },
			[]func(*ec2.Options){func(o *ec2.Options) { o.Retryer = aws.NopRetryer{} }}, ""},
		{"not applied, 500", func(s *acltest.Server) { s.Fail(create, "InternalError", 500, 1) },
			[]func(*ec2.Options){func(o *ec2.Options) { o.Retryer = aws.NopRetryer{} }}, "InternalError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, ns := setup(t, acl.Config{}, tt.opts...)
			srv.DefaultACL("acl-1")
			tt.fault(srv)
			e, err := ns[0].Add(context.Background(), p4)
			if got := reason(t, err); got != tt.wantReason {
				t.Fatalf("Add reason %q (%v), want %q", got, err, tt.wantReason)
			}
			if tt.wantReason != "" {
				if got := denies(srv, "acl-1"); len(got) != 0 {
					t.Errorf("ingress denies = %v, want none", got)
				}
				return
			}
			if want := (ban.Entry{Target: "acl-1", Rule: 1}); e != want {
				t.Errorf("Add = %+v, want %+v (own, not Foreign)", e, want)
			}
			if got := denies(srv, "acl-1"); !slices.Equal(got, []string{"1 203.0.113.7/32"}) {
				t.Errorf("ingress denies = %v, want the one entry", got)
			}
		})
	}
}
