package enforce_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/dosguard/dosguard/acl"
	"github.com/dosguard/dosguard/acl/acltest"
	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/enforce"
	"github.com/dosguard/dosguard/policy"
	"github.com/dosguard/dosguard/store"
	"github.com/dosguard/dosguard/target"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// at returns t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// guardrail is a Guardrail from a function.
type guardrail func(netip.Prefix) bool

func (g guardrail) Overlaps(p netip.Prefix) bool { return g(p) }

// config is what the tests set: the NACLs', the policy's and the
// enforcer's settings in one flat struct.
type config struct {
	ACLIDs                            []string
	EntryLimit                        int
	DryRun                            bool
	StateFile                         string
	OnFull                            string
	AggregateAfter, AggregatePrefixV4 int
	Guardrail                         policy.Guardrail
	BlockDuration, BlockDurationMax   time.Duration
	EscalationFactor                  float64
	CallTimeout                       time.Duration
	Logger                            *slog.Logger
	MaxBlocksPerMinute                int
	MutateRate                        float64
	MutateBurst                       int
	Now                               func() time.Time
}

// manager is an Enforcer whose Block uses the config's BlockDuration.
type manager struct {
	*enforce.Enforcer
	base time.Duration
}

// Block is Enforcer.Block for the config's BlockDuration.
func (m manager) Block(ctx context.Context, a netip.Addr, now time.Time) []ban.Event {
	return m.Enforcer.Block(ctx, a, now, m.base)
}

// build returns an Enforcer of cfg on srv with the real ec2.Client.
func build(t testing.TB, srv *acltest.Server, cfg config) (*enforce.Enforcer, error) {
	nacls, err := acl.New(acl.Config{ACLIDs: cfg.ACLIDs, EntryLimit: cfg.EntryLimit, CallTimeout: cfg.CallTimeout}, srv.Client(t), cfg.Logger)
	if err != nil {
		return nil, err
	}
	targets := make([]target.Target, len(nacls))
	for i, n := range nacls {
		targets[i] = n
	}
	var st store.Store
	if cfg.StateFile != "" {
		st = store.File{Path: cfg.StateFile}
	}
	pc := policy.Config{OnFull: cfg.OnFull, AggregateAfter: cfg.AggregateAfter, AggregatePrefixV4: cfg.AggregatePrefixV4,
		Guardrail: cfg.Guardrail, BlockDuration: cfg.BlockDuration, BlockDurationMax: cfg.BlockDurationMax,
		EscalationFactor: cfg.EscalationFactor, MaxBlocksPerMinute: cfg.MaxBlocksPerMinute,
		MutateRate: cfg.MutateRate, MutateBurst: cfg.MutateBurst}
	return enforce.New(enforce.Config{Policy: pc, DryRun: cfg.DryRun, Now: cfg.Now}, targets, st, cfg.Logger)
}

// newManager returns an Enforcer on srv with the real ec2.Client; ACL
// acl-1 unless cfg names others; rate limit off unless cfg sets one.
func newManager(t *testing.T, srv *acltest.Server, cfg config) manager {
	t.Helper()
	if cfg.ACLIDs == nil {
		cfg.ACLIDs = []string{"acl-1"}
	}
	if cfg.MaxBlocksPerMinute == 0 {
		cfg.MaxBlocksPerMinute = -1
	}
	m, err := build(t, srv, cfg)
	if err != nil {
		t.Fatalf("enforce.New: %v", err)
	}
	return manager{m, cfg.BlockDuration}
}

func addr(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 51, byte(i), 9}) }

// short formats events as "status prefix [reason] rules=..." lines.
func short(evs []ban.Event) []string {
	var out []string
	for _, e := range evs {
		s := string(e.Status) + " " + e.Prefix.String()
		if r := e.Text(); r != "" {
			s += " [" + r + "]"
		}
		for _, en := range e.Entries {
			s += fmt.Sprintf(" %s:%d", en.Target, en.Rule)
		}
		out = append(out, s)
	}
	return out
}

// naclState lists the ingress deny entries but the default rules of id as
// "CIDR rule" strings, sorted.
func naclState(srv *acltest.Server, id string) []string {
	var out []string
	for _, e := range srv.Entries(id) {
		if !e.Egress && e.RuleAction == "deny" && e.RuleNumber != acltest.DefaultRuleNumber {
			out = append(out, fmt.Sprintf("%s %d", e.CIDR, e.RuleNumber))
		}
	}
	slices.Sort(out)
	return out
}

// bookState lists the Manager's entries in id the same way.
func bookState(m manager, id string) []string {
	var out []string
	for _, b := range m.Bans() {
		for _, e := range b.Entries {
			if e.Target == id {
				out = append(out, fmt.Sprintf("%s %d", b.Prefix, e.Rule))
			}
		}
	}
	slices.Sort(out)
	return out
}

// consistent fails unless every ACL holds exactly the Manager's entries.
func consistent(t *testing.T, srv *acltest.Server, m manager, ids ...string) {
	t.Helper()
	if len(ids) == 0 {
		ids = []string{"acl-1"}
	}
	for _, id := range ids {
		if got, want := naclState(srv, id), bookState(m, id); !slices.Equal(got, want) {
			t.Errorf("%s holds %v, the Manager's state says %v", id, got, want)
		}
	}
}

func lastStatus(evs []ban.Event) (ban.Status, string) {
	if len(evs) == 0 {
		return "", ""
	}
	e := evs[len(evs)-1]
	return e.Status, e.Text()
}

// TestFull blocks 25 attackers with the default quota: 18 entries fit
// (20 minus the allow-all and default rules), then On_Full decides.
func TestFull(t *testing.T) {
	for _, onFull := range []string{policy.OnFullEvict, policy.OnFullRefuse} {
		t.Run(onFull, func(t *testing.T) {
			srv := acltest.NewServer()
			defer srv.Close()
			srv.DefaultACL("acl-1")
			m := newManager(t, srv, config{OnFull: onFull, BlockDuration: time.Hour})
			ctx := context.Background()
			for i := 1; i <= 25; i++ {
				calls := srv.CallCount("*")
				evs := m.Block(ctx, addr(i), at(time.Duration(i)*time.Second))
				cost := srv.CallCount("*") - calls
				host := netip.PrefixFrom(addr(i), 32)
				var want []string
				switch {
				case i <= 18:
					want = []string{fmt.Sprintf("blocked %s acl-1:%d", host, i)}
					if cost != 2 {
						t.Errorf("attacker %d: block cost %d AWS calls, want 2 (Describe + Create)", i, cost)
					}
				case onFull == policy.OnFullEvict:
					// the victim is the one expiring soonest: attacker i-18,
					// whose rule number the new entry then takes.
					want = []string{
						fmt.Sprintf("unblocked %s [evicted] acl-1:%d", netip.PrefixFrom(addr(i-18), 32), i-18),
						fmt.Sprintf("blocked %s acl-1:%d", host, i-18),
					}
					if i == 19 {
						t.Logf("AWS calls: block %d, block with eviction %d", 2, cost)
					}
				default:
					want = []string{fmt.Sprintf("failed to block %s [no free rule number]", host)}
					if n := cost; n != 1 {
						t.Errorf("attacker %d: refused block made %d calls, want 1 Describe and no Create: %v", i, n, actions(srv.Calls()[calls:]))
					}
				}
				if got := short(evs); !slices.Equal(got, want) {
					t.Fatalf("attacker %d: Block = %q, want %q", i, got, want)
				}
			}
			if n := len(naclState(srv, "acl-1")); n != 18 {
				t.Errorf("ACL holds %d deny entries, want 18", n)
			}
			consistent(t, srv, m)
			if got := srv.CallCount(acltest.CreateNetworkAclEntry); onFull == policy.OnFullRefuse && got != 18 {
				t.Errorf("Create calls = %d, want 18: a full ACL is never asked for more", got)
			}
		})
	}
}

// TestEntryLimitBelowAWS: AWS's quota lower than configured gives
// NetworkAclEntryLimitExceeded as the reason.
func TestEntryLimitBelowAWS(t *testing.T) {
	srv := acltest.NewServer()
	defer srv.Close()
	srv.DefaultACL("acl-1")
	srv.SetQuota(3)
	m := newManager(t, srv, config{})
	ctx := context.Background()
	if st, _ := lastStatus(m.Block(ctx, addr(1), t0)); st != ban.Blocked {
		t.Fatalf("first block: %s, want blocked", st)
	}
	st, reason := lastStatus(m.Block(ctx, addr(2), t0))
	if st != ban.Failed || reason != "NetworkAclEntryLimitExceeded" {
		t.Errorf("second block: %s %q, want failed to block NetworkAclEntryLimitExceeded", st, reason)
	}
	consistent(t, srv, m)
}

// TestAggregate: 5 attackers of one /24 become one /24 entry, unless the
// Guardrail says the /24 touches an allowlisted address.
func TestAggregate(t *testing.T) {
	agg := netip.MustParsePrefix("203.0.113.0/24")
	tests := []struct {
		name    string
		overlap bool
	}{{"aggregated", false}, {"allowlisted address inside", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := acltest.NewServer()
			defer srv.Close()
			srv.DefaultACL("acl-1")
			var asked []netip.Prefix
			g := guardrail(func(p netip.Prefix) bool { asked = append(asked, p); return tt.overlap })
			m := newManager(t, srv, config{AggregateAfter: 5, Guardrail: g, BlockDuration: time.Hour})
			ctx := context.Background()
			var evs []ban.Event
			for i := 1; i <= 5; i++ {
				evs = m.Block(ctx, netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), at(time.Duration(i)*time.Minute))
			}
			if !slices.Equal(asked, []netip.Prefix{agg}) {
				t.Errorf("Guardrail asked about %v, want only %s", asked, agg)
			}
			if tt.overlap {
				if got := short(evs); !slices.Equal(got, []string{"blocked 203.0.113.5/32 acl-1:5"}) {
					t.Errorf("fifth Block = %q, want a plain block", got)
				}
				if n := len(naclState(srv, "acl-1")); n != 5 {
					t.Errorf("ACL holds %d entries, want 5 single addresses", n)
				}
				consistent(t, srv, m)
				return
			}
			want := []string{"blocked 203.0.113.0/24 [aggregated 5 addresses] acl-1:5"}
			for i := 1; i <= 4; i++ {
				want = append(want, fmt.Sprintf("unblocked 203.0.113.%d/32 [aggregated into 203.0.113.0/24] acl-1:%d", i, i))
			}
			if got := short(evs); !slices.Equal(got, want) {
				t.Fatalf("fifth Block =\n%q\nwant\n%q", got, want)
			}
			if got := naclState(srv, "acl-1"); !slices.Equal(got, []string{"203.0.113.0/24 5"}) {
				t.Errorf("ACL holds %v, want only the /24", got)
			}
			if e := evs[0]; !e.ExpiresAt.Equal(at(5*time.Minute + time.Hour)) {
				t.Errorf("aggregate expires %v, want %v (the latest member's)", e.ExpiresAt, at(5*time.Minute+time.Hour))
			}
			consistent(t, srv, m)
			calls := srv.CallCount("*")
			got := short(m.Block(ctx, netip.MustParseAddr("203.0.113.77"), at(6*time.Minute)))
			if want := []string{"blocked 203.0.113.77/32 [covered by 203.0.113.0/24] acl-1:5"}; !slices.Equal(got, want) {
				t.Errorf("Block inside the aggregate = %q, want %q", got, want)
			}
			if n := srv.CallCount("*") - calls; n != 0 {
				t.Errorf("Block inside the aggregate made %d AWS calls, want 0", n)
			}
			_, in := m.Covering(netip.MustParseAddr("203.0.113.200"))
			_, out := m.Covering(netip.MustParseAddr("203.0.114.1"))
			if !in || out {
				t.Error("Covering: want a ban inside the /24 and none outside")
			}
		})
	}
}

// TestEscalation walks a repeat offender on a fixed timeline.
func TestEscalation(t *testing.T) {
	srv := acltest.NewServer()
	defer srv.Close()
	srv.DefaultACL("acl-1")
	m := newManager(t, srv, config{BlockDuration: time.Hour, BlockDurationMax: 3 * time.Hour})
	ctx := context.Background()
	a := addr(1)
	type step struct {
		op           string // "block" or "expire"
		t            time.Time
		want         ban.Status // status of the last event, "" for none
		wantDur      time.Duration
		wantOffences int
	}
	steps := []step{
		{"block", at(0), ban.Blocked, time.Hour, 1},
		{"expire", at(59 * time.Minute), "", 0, 0},
		{"expire", at(time.Hour), ban.Unblocked, time.Hour, 1},
		{"block", at(2 * time.Hour), ban.Blocked, 2 * time.Hour, 2}, // twice as long
		{"expire", at(4 * time.Hour), ban.Unblocked, 2 * time.Hour, 2},
		{"block", at(5 * time.Hour), ban.Blocked, 3 * time.Hour, 3}, // 4h capped at 3h
		{"expire", at(8 * time.Hour), ban.Unblocked, 3 * time.Hour, 3},
		{"block", at(33 * time.Hour), ban.Blocked, time.Hour, 1}, // 25h later: window passed
	}
	for i, s := range steps {
		var evs []ban.Event
		if s.op == "block" {
			evs = m.Block(ctx, a, s.t)
		} else {
			evs = m.Expire(ctx, s.t)
		}
		st, _ := lastStatus(evs)
		if st != s.want {
			t.Fatalf("step %d: %s(t0+%v) status %q, want %q", i, s.op, s.t.Sub(t0), st, s.want)
		}
		if st == "" {
			continue
		}
		e := evs[len(evs)-1]
		if e.Duration != s.wantDur || e.Offences != s.wantOffences {
			t.Errorf("step %d: %s(t0+%v) duration %v offences %d, want %v and %d", i, s.op, s.t.Sub(t0), e.Duration, e.Offences, s.wantDur, s.wantOffences)
		}
		if s.op == "block" && !e.ExpiresAt.Equal(s.t.Add(s.wantDur)) {
			t.Errorf("step %d: expires %v, want %v", i, e.ExpiresAt, s.t.Add(s.wantDur))
		}
	}
	consistent(t, srv, m)
}

// TestNeverExpires: Block_Duration 0 keeps the old behaviour.
func TestNeverExpires(t *testing.T) {
	srv := acltest.NewServer()
	defer srv.Close()
	srv.DefaultACL("acl-1")
	m := newManager(t, srv, config{})
	ctx := context.Background()
	evs := m.Block(ctx, addr(1), t0)
	if e := evs[0]; !e.ExpiresAt.IsZero() || e.Duration != 0 {
		t.Errorf("Block: expires %v duration %v, want never", e.ExpiresAt, e.Duration)
	}
	if evs := m.Expire(ctx, at(1000*time.Hour)); len(evs) != 0 {
		t.Errorf("ExpireAt far ahead = %q, want nothing", short(evs))
	}
	consistent(t, srv, m)
}

func deleteByHand(t *testing.T, srv *acltest.Server, id string, n int) {
	t.Helper()
	_, err := srv.Client(t).DeleteNetworkAclEntry(context.Background(), &ec2.DeleteNetworkAclEntryInput{
		NetworkAclId: aws.String(id), RuleNumber: aws.Int32(int32(n)), Egress: aws.Bool(false)})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRestart: a State_File brings back the same bans; reconciling forgets
// hand-deleted entries and adopts unknown ones; a corrupt file is rebuilt.
func TestRestart(t *testing.T) {
	srv := acltest.NewServer()
	defer srv.Close()
	srv.DefaultACL("acl-1")
	state := filepath.Join(t.TempDir(), "dosguard.state")
	cfg := config{BlockDuration: time.Hour, StateFile: state}
	ctx := context.Background()

	m1 := newManager(t, srv, cfg)
	if _, err := m1.Start(ctx, t0, true); err != nil {
		t.Fatalf("Start: %v", err)
	}
	for i := 1; i <= 3; i++ {
		m1.Block(ctx, addr(i), at(time.Duration(i)*time.Minute))
	}
	m1.Block(ctx, addr(1), at(4*time.Minute)) // covered: nothing changes
	before := m1.Bans()
	creates := srv.CallCount(acltest.CreateNetworkAclEntry)

	m2 := newManager(t, srv, cfg)
	evs, err := m2.Start(ctx, at(10*time.Minute), true)
	if err != nil || len(evs) != 0 {
		t.Fatalf("restart: Start = %q, %v; want no events", short(evs), err)
	}
	if got := m2.Bans(); !equalBans(got, before) {
		t.Errorf("restart: bans\n%+v\nwant\n%+v", got, before)
	}
	if n := srv.CallCount(acltest.CreateNetworkAclEntry) - creates; n != 1 { // the DryRun check
		t.Errorf("restart made %d Create calls, want 1 (the DryRun check)", n)
	}
	// At the first ban's expiry, the restarted Manager deletes it.
	if got := short(m2.Expire(ctx, at(time.Hour+time.Minute))); !slices.Equal(got, []string{"unblocked 198.51.1.9/32 [expired] acl-1:1"}) {
		t.Errorf("ExpireAt after restart = %q", got)
	}

	// An operator deletes addr(2) by hand; someone adds an entry dosguard never saw.
	deleteByHand(t, srv, "acl-1", 2)
	srv.SetEntry("acl-1", deny(50, "192.0.2.99/32"))
	m3 := newManager(t, srv, cfg)
	evs, err = m3.Start(ctx, at(2*time.Hour), false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"unblocked 198.51.2.9/32 [removed by hand from the NACL] acl-1:2",
		"blocked 192.0.2.99/32 [adopted] acl-1:50",
	}
	if got := short(evs); !sameSet(got, want) {
		t.Errorf("reconcile: Start = %q, want %q", got, want)
	}
	for _, b := range m3.Bans() {
		if b.Prefix.String() == "192.0.2.99/32" && !b.ExpiresAt.Equal(at(3*time.Hour)) {
			t.Errorf("adopted entry expires %v, want one Block_Duration after Start", b.ExpiresAt)
		}
	}
	consistent(t, srv, m3)

	// A corrupt state file is rebuilt from the ACL: every entry adopted, nothing created.
	if err := os.WriteFile(state, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	creates = srv.CallCount(acltest.CreateNetworkAclEntry)
	m4 := newManager(t, srv, cfg)
	evs, err = m4.Start(ctx, at(3*time.Hour), false)
	if err != nil {
		t.Fatalf("corrupt state: Start: %v", err)
	}
	if len(evs) != 2 {
		t.Errorf("corrupt state: Start = %q, want 2 adoptions", short(evs))
	}
	consistent(t, srv, m4)
	if n := srv.CallCount(acltest.CreateNetworkAclEntry) - creates; n != 0 {
		t.Errorf("corrupt state: %d Create calls, want 0", n)
	}
	if data, err := os.ReadFile(state); err != nil || !strings.Contains(string(data), `"version": 1`) {
		t.Errorf("state file not rewritten: %v %.40q", err, data)
	}
}

func equalBans(a, b []ban.Ban) bool {
	return slices.EqualFunc(a, b, func(x, y ban.Ban) bool {
		return x.Prefix == y.Prefix && slices.Equal(x.Entries, y.Entries) && x.Since.Equal(y.Since) &&
			x.ExpiresAt.Equal(y.ExpiresAt) && x.Offences == y.Offences && x.Duration == y.Duration
	})
}

// TestTwoManagers: two writers on one ACL race for the same rule number
// (B takes it between A's Describe and Create), and block the same address.
func TestTwoManagers(t *testing.T) {
	srv := acltest.NewServer()
	defer srv.Close()
	srv.DefaultACL("acl-1")
	ctx := context.Background()
	mA := newManager(t, srv, config{BlockDuration: time.Hour})
	mB := newManager(t, srv, config{BlockDuration: 2 * time.Hour})
	var once sync.Once
	var bEvents []ban.Event
	srv.OnCall(func(action string, form url.Values) {
		if action == acltest.CreateNetworkAclEntry && form.Get("CidrBlock") == "198.51.1.9/32" {
			once.Do(func() { bEvents = mB.Block(ctx, addr(2), t0) })
		}
	})
	evA := mA.Block(ctx, addr(1), t0)
	if got := short(bEvents); !slices.Equal(got, []string{"blocked 198.51.2.9/32 acl-1:1"}) {
		t.Errorf("B = %q, want rule 1", got)
	}
	if got := short(evA); !slices.Equal(got, []string{"blocked 198.51.1.9/32 acl-1:2"}) {
		t.Errorf("A = %q, want rule 2 after losing rule 1", got)
	}
	// B blocks what A already denies: no duplicate, and not B's to delete.
	if got := short(mB.Block(ctx, addr(1), t0)); !slices.Equal(got, []string{"blocked 198.51.1.9/32 [already denied] acl-1:2"}) {
		t.Errorf("B on A's address = %q", got)
	}
	// A's ban expires first (1h) and A deletes its entry; B's ban of the
	// same entry then just ends. B's own entry (2h) survives A's expiry.
	if got := short(mA.Expire(ctx, at(time.Hour))); !slices.Equal(got, []string{"unblocked 198.51.1.9/32 [expired] acl-1:2"}) {
		t.Errorf("A expiry = %q", got)
	}
	if got := naclState(srv, "acl-1"); !slices.Equal(got, []string{"198.51.2.9/32 1"}) {
		t.Errorf("after A's expiry the ACL holds %v, want B's entry only", got)
	}
	if got := short(mB.Expire(ctx, at(2*time.Hour))); !slices.Equal(got, []string{"unblocked 198.51.2.9/32 [expired] acl-1:1"}) {
		t.Errorf("B expiry = %q", got)
	}
	if got := naclState(srv, "acl-1"); len(got) != 0 {
		t.Errorf("ACL holds %v, want nothing", got)
	}

	// A stranger's entry created after A started is never A's to flush.
	srv.SetEntry("acl-1", deny(7, "192.0.2.7/32"))
	mA.Block(ctx, addr(3), at(3*time.Hour))
	if _, err := mA.Flush(ctx, at(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := naclState(srv, "acl-1"); !slices.Equal(got, []string{"192.0.2.7/32 7"}) {
		t.Errorf("after Flush the ACL holds %v, want the stranger's entry", got)
	}
}

// TestStorms: with throttling and 5xx answers every Block ends as blocked
// or failed with a reason, and the ACLs match the Manager's state.
func TestStorms(t *testing.T) {
	tests := []struct {
		name   string
		action string
		code   string
		status int
		times  int
		acl2   bool // fail only calls on acl-2 (rollback of acl-1)
	}{
		{"throttled, retried", "*", "RequestLimitExceeded", 503, 3, false},
		{"throttled beyond retries", "*", "RequestLimitExceeded", 503, 12, false},
		{"5xx on create", acltest.CreateNetworkAclEntry, "InternalError", 500, 7, false},
		{"503 on describe", acltest.DescribeNetworkAcls, "ServiceUnavailable", 503, 9, false},
		{"5xx on the second ACL only", acltest.CreateNetworkAclEntry, "InternalError", 500, 0, true},
		{"5xx on deletes during eviction", acltest.DeleteNetworkAclEntry, "InternalError", 500, 20, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := acltest.NewServer()
			defer srv.Close()
			srv.DefaultACL("acl-1")
			srv.DefaultACL("acl-2")
			ids := []string{"acl-1", "acl-2"}
			m := newManager(t, srv, config{ACLIDs: ids, EntryLimit: 4, BlockDuration: time.Hour})
			ctx := context.Background()
			if tt.acl2 {
				srv.OnCall(func(action string, form url.Values) {
					if action == acltest.CreateNetworkAclEntry && form.Get("NetworkAclId") == "acl-2" && form.Get("CidrBlock") == "198.51.3.9/32" {
						srv.Fail(acltest.CreateNetworkAclEntry, "InternalError", 500, 1)
					}
				})
			}
			outcomes := map[ban.Status]int{}
			for i := 1; i <= 5; i++ {
				if i == 3 {
					srv.Fail(tt.action, tt.code, tt.status, tt.times)
				}
				evs := m.Block(ctx, addr(i), at(time.Duration(i)*time.Second))
				st, reason := lastStatus(evs)
				switch {
				case st == ban.Blocked:
				case st == ban.Failed && reason != "":
				default:
					t.Fatalf("attacker %d: Block ended %q %q, want blocked or failed with a reason", i, st, reason)
				}
				outcomes[st]++
				consistent(t, srv, m, ids...)
			}
			for _, e := range m.Expire(ctx, at(2*time.Hour)) {
				if e.Status != ban.Unblocked {
					t.Errorf("ExpireAt: %q", short([]ban.Event{e}))
				}
			}
			consistent(t, srv, m, ids...)
			t.Logf("outcomes %v", outcomes)
		})
	}
}

// TestRateLimit walks Max_Blocks_Per_Minute = 3 on a timeline: at most
// three new blocks in any minute (t-1m, t].
func TestRateLimit(t *testing.T) {
	srv := acltest.NewServer()
	defer srv.Close()
	srv.DefaultACL("acl-1")
	m := newManager(t, srv, config{MaxBlocksPerMinute: 3})
	ctx := context.Background()
	steps := []struct {
		t      time.Duration
		a      netip.Addr
		want   ban.Status
		reason string
	}{
		{0, addr(1), ban.Blocked, ""},
		{10 * time.Second, addr(2), ban.Blocked, ""},
		{20 * time.Second, addr(1), ban.Blocked, "covered by 198.51.1.9/32"}, // not counted
		{30 * time.Second, addr(3), ban.Blocked, ""},
		{40 * time.Second, addr(4), ban.Failed, "rate limit"},
		{59 * time.Second, addr(4), ban.Failed, "rate limit"}, // refusals count nothing
		{60 * time.Second, addr(4), ban.Blocked, ""},          // t0 left the window (t-1m, t]
		{61 * time.Second, addr(5), ban.Failed, "rate limit"},
	}
	for i, s := range steps {
		st, reason := lastStatus(m.Block(ctx, s.a, at(s.t)))
		if st != s.want || reason != s.reason {
			t.Errorf("step %d: Block(t0+%v, %s) = %q %q, want %q %q", i, s.t, s.a, st, reason, s.want, s.reason)
		}
	}
	if n := srv.CallCount(acltest.CreateNetworkAclEntry); n != 4 {
		t.Errorf("Create calls = %d, want 4", n)
	}
}

// TestStartupCheck: a missing ACL or credentials that may not write give
// one clear line naming the ACL.
func TestStartupCheck(t *testing.T) {
	tests := []struct {
		name  string
		ids   []string
		deny  bool
		check bool
		want  []string // substrings; nil: no error
	}{
		{"ok", []string{"acl-1"}, false, true, nil},
		{"missing ACL", []string{"acl-1", "acl-2"}, false, true, []string{"acl-2", "not found"}},
		{"read-only credentials", []string{"acl-1"}, true, true, []string{"acl-1", "UnauthorizedOperation"}},
		{"read-only credentials, check off", []string{"acl-1"}, true, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := acltest.NewServer()
			defer srv.Close()
			srv.DefaultACL("acl-1")
			srv.DenyWrites(tt.deny)
			m := newManager(t, srv, config{ACLIDs: tt.ids})
			_, err := m.Start(context.Background(), t0, tt.check)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Start: %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Start: nil, want an error with %q", tt.want)
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("Start error %q does not contain %q", msg, w)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("Start error spans lines: %q", msg)
			}
			if n := len(naclState(srv, "acl-1")); n != 0 {
				t.Errorf("the check left %d entries", n)
			}
		})
	}
}

// TestDryRun: evictions and aggregations are reported, nothing is written,
// not even the state file.
func TestManagerDryRun(t *testing.T) {
	srv := acltest.NewServer()
	defer srv.Close()
	srv.DefaultACL("acl-1")
	state := filepath.Join(t.TempDir(), "state")
	m := newManager(t, srv, config{DryRun: true, EntryLimit: 4, BlockDuration: time.Hour, StateFile: state})
	ctx := context.Background()
	var got []string
	for i := 1; i <= 3; i++ {
		got = append(got, short(m.Block(ctx, addr(i), at(time.Duration(i)*time.Second)))...)
	}
	want := []string{
		"blocked 198.51.1.9/32 acl-1:1",
		"blocked 198.51.2.9/32 acl-1:2",
		"unblocked 198.51.1.9/32 [evicted] acl-1:1",
		"blocked 198.51.3.9/32 acl-1:1",
	}
	if !slices.Equal(got, want) {
		t.Errorf("dry run events\n%q\nwant\n%q", got, want)
	}
	for _, a := range []string{acltest.CreateNetworkAclEntry, acltest.DeleteNetworkAclEntry, acltest.ReplaceNetworkAclEntry} {
		if n := srv.CallCount(a); n != 0 {
			t.Errorf("%d %s calls in dry run", n, a)
		}
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("state file written in dry run: %v", err)
	}
}

// TestUnblockByHand: Unblock removes the entry, lifts a covering aggregate
// and removes an entry no ban knows; the operator's unblock forgives.
func TestUnblockByHand(t *testing.T) {
	srv := acltest.NewServer()
	defer srv.Close()
	srv.DefaultACL("acl-1")
	m := newManager(t, srv, config{BlockDuration: time.Hour, AggregateAfter: 2,
		Guardrail: guardrail(func(netip.Prefix) bool { return false })})
	ctx := context.Background()
	m.Block(ctx, addr(1), t0)
	m.Block(ctx, netip.MustParseAddr("203.0.113.1"), t0)
	m.Block(ctx, netip.MustParseAddr("203.0.113.2"), t0) // aggregate /24
	srv.SetEntry("acl-1", deny(60, "192.0.2.60/32"))
	tests := []struct {
		p    string
		want []string
	}{
		{"198.51.1.9", []string{"unblocked 198.51.1.9/32 [by hand] acl-1:1"}},
		{"203.0.113.9", []string{"unblocked 203.0.113.0/24 [by hand] acl-1:3"}},
		{"192.0.2.60/32", []string{"unblocked 192.0.2.60/32 [by hand] acl-1:60"}},
		{"192.0.2.61/32", nil},
	}
	for i, tt := range tests {
		p, err := netip.ParsePrefix(tt.p)
		if err != nil {
			a := netip.MustParseAddr(tt.p)
			p = netip.PrefixFrom(a, 32)
		}
		evs, err := m.Unblock(ctx, p, at(time.Minute))
		if err != nil {
			t.Fatalf("step %d: Unblock(%s): %v", i, p, err)
		}
		if got := short(evs); !slices.Equal(got, tt.want) {
			t.Errorf("step %d: Unblock(%s) = %q, want %q", i, p, got, tt.want)
		}
	}
	if got := naclState(srv, "acl-1"); len(got) != 0 {
		t.Errorf("ACL holds %v, want nothing", got)
	}
	if evs := m.Block(ctx, addr(1), at(2*time.Minute)); evs[0].Offences != 1 {
		t.Errorf("after an unblock by hand offences = %d, want 1", evs[0].Offences)
	}
}

func TestNewConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  config
		want string // substring of the error; "" for none
	}{
		{"defaults", config{}, ""},
		{"entry limit", config{EntryLimit: 41}, "EntryLimit 41"},
		{"on full", config{OnFull: "drop"}, `OnFull "drop"`},
		{"aggregate 1", config{AggregateAfter: 1}, "AggregateAfter 1"},
		{"aggregate v4 /8", config{AggregatePrefixV4: 8}, "AggregatePrefixV4 8"},
		{"max below duration", config{BlockDuration: 2 * time.Hour, BlockDurationMax: time.Hour}, "BlockDurationMax 1h0m0s"},
		{"factor", config{EscalationFactor: 0.5}, "EscalationFactor 0.5"},
		{"no ACL", config{ACLIDs: []string{}}, "ACLIDs"},
	}
	srv := acltest.NewServer()
	defer srv.Close()
	for _, tt := range tests {
		cfg := tt.cfg
		if cfg.ACLIDs == nil {
			cfg.ACLIDs = []string{"acl-1"}
		}
		_, err := build(t, srv, cfg)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: NewManager: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: NewManager error %v, want one with %q", tt.name, err, tt.want)
		}
	}
}

// actions lists the actions of calls, for failure messages.
func actions(calls []acltest.Call) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.Action)
	}
	return out
}

func deny(n int, cidr string) acltest.Entry {
	return acltest.Entry{RuleNumber: n, Protocol: "-1", RuleAction: "deny", CIDR: cidr}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
