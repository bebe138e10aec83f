package enforce_test

import (
	"context"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/dosguard/dosguard/acl"
	"github.com/dosguard/dosguard/acl/acltest"
	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/enforce"
	"github.com/dosguard/dosguard/policy"
	"github.com/dosguard/dosguard/store"
	"github.com/dosguard/dosguard/target"
	"github.com/dosguard/dosguard/wafipset"
	"github.com/dosguard/dosguard/wafipset/waftest"
)

// wafEnv is an enforcer over an IPv4 and an IPv6 IP set, and a NACL when
// nacl is set, all on local endpoints.
type wafEnv struct {
	ec2    *acltest.Server
	waf    *waftest.Server
	v4, v6 string // ARNs
	m      manager
}

type wafConfig struct {
	nacl          bool
	onFull        string
	stateFile     string
	foreign4      []string
	aggregate     int
	entryLimit    int
	blockDuration time.Duration
}

func newWAFEnv(t *testing.T, c wafConfig) *wafEnv {
	t.Helper()
	env := &wafEnv{waf: waftest.NewServer(t)}
	env.v4 = env.waf.AddSet(waftest.Regional, "v4", "id4", "IPV4", c.foreign4...)
	env.v6 = env.waf.AddSet(waftest.Regional, "v6", "id6", "IPV6")
	if c.nacl {
		env.ec2 = acltest.NewServer()
		t.Cleanup(env.ec2.Close)
		env.ec2.DefaultACL("acl-1")
	}
	env.m = env.build(t, c)
	return env
}

func (env *wafEnv) build(t *testing.T, c wafConfig) manager {
	t.Helper()
	var targets []target.Target
	if c.nacl {
		nacls, err := acl.New(acl.Config{ACLIDs: []string{"acl-1"}}, env.ec2.Client(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, nacls[0])
	}
	sets, err := wafipset.New(wafipset.Config{ARNs: []string{env.v4, env.v6}, EntryLimit: c.entryLimit, Backoff: time.Millisecond, CallTimeout: 2 * time.Second},
		func(region string) wafipset.WAFAPI { return env.waf.Client(t, region) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sets {
		targets = append(targets, s)
	}
	var st store.Store
	if c.stateFile != "" {
		st = store.File{Path: c.stateFile}
	}
	if c.blockDuration == 0 {
		c.blockDuration = time.Hour
	}
	pc := policy.Config{OnFull: c.onFull, BlockDuration: c.blockDuration, MaxBlocksPerMinute: -1, MutateRate: -1,
		AggregateAfter: c.aggregate, AggregatePrefixV4: 24, Guardrail: guardrail(func(netip.Prefix) bool { return false })}
	e, err := enforce.New(enforce.Config{Policy: pc}, targets, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Start(context.Background(), t0, true); err != nil {
		t.Fatal(err)
	}
	return manager{e, c.blockDuration}
}

func (env *wafEnv) set4() []string { return env.waf.Addresses(waftest.Regional, "v4", "id4") }
func (env *wafEnv) set6() []string { return env.waf.Addresses(waftest.Regional, "v6", "id6") }

// batch blocks addrs in one batch at now and returns the events of each.
func (env *wafEnv) batch(addrs []netip.Addr, now time.Time) [][]ban.Event {
	ctx := context.Background()
	env.m.Stage()
	evs := make([][]ban.Event, len(addrs))
	for i, a := range addrs {
		evs[i] = env.m.Block(ctx, a, now)
	}
	return env.m.Commit(ctx, now, evs)
}

func attackers(n int) []netip.Addr {
	out := make([]netip.Addr, n)
	for i := range out {
		out[i] = netip.AddrFrom4([4]byte{198, 51, byte(100 + i/250), byte(1 + i%250)})
	}
	return out
}

func hosts(addrs []netip.Addr) []string {
	var out []string
	for _, a := range addrs {
		out = append(out, netip.PrefixFrom(a, a.BitLen()).String())
	}
	slices.Sort(out)
	return out
}

// Test200Attackers: 200 attackers at once go into the IP set in one
// Get + Update; the NACL beside it holds its 18 (with evict too: it does
// not churn entries for bans the IP set holds); every one is blocked.
func Test200Attackers(t *testing.T) {
	for _, onFull := range []string{policy.OnFullRefuse, policy.OnFullEvict} {
		t.Run(onFull, func(t *testing.T) {
			env := newWAFEnv(t, wafConfig{nacl: true, onFull: onFull})
			gets, updates := env.waf.CallCount(waftest.GetIPSet), env.waf.CallCount(waftest.UpdateIPSet)
			ec2Calls := env.ec2.CallCount("*")
			a := attackers(200)
			evs := env.batch(a, at(time.Second))
			gets, updates = env.waf.CallCount(waftest.GetIPSet)-gets, env.waf.CallCount(waftest.UpdateIPSet)-updates
			t.Logf("200 attackers: %d GetIPSet + %d UpdateIPSet, %d EC2 calls", gets, updates, env.ec2.CallCount("*")-ec2Calls)
			if updates != 1 || gets != 2 {
				t.Errorf("WAF calls: %d Get, %d Update; want 2 Get (stage, commit) and 1 Update for the batch", gets, updates)
			}
			if got, want := env.set4(), hosts(a); !slices.Equal(got, want) {
				t.Errorf("IP set holds %d addresses, want the 200", len(got))
			}
			if n := len(naclState(env.ec2, "acl-1")); n != 18 {
				t.Errorf("NACL holds %d deny entries, want 18", n)
			}
			blocked := 0
			for i, list := range evs {
				last := list[len(list)-1]
				if last.Status != ban.Blocked || last.Prefix.Addr() != a[i] {
					t.Errorf("attacker %d: %v", i, short(list))
					continue
				}
				if !slices.ContainsFunc(last.Entries, func(e ban.Entry) bool { return e.Target == env.v4 && !e.Foreign }) {
					t.Errorf("attacker %d: event lacks the IP set: %v", i, short(list))
				}
				blocked++
			}
			if blocked != 200 {
				t.Errorf("%d blocked events, want 200", blocked)
			}
			inNACL := 0
			for _, b := range env.m.Bans() {
				for _, e := range b.Entries {
					if e.Target == "acl-1" {
						inNACL++
					}
				}
			}
			if inNACL != 18 || len(env.m.Bans()) != 200 {
				t.Errorf("bans: %d, with a NACL entry: %d; want 200 and 18", len(env.m.Bans()), inNACL)
			}
			consistentNACL(t, env)
			if n := env.ec2.CallCount("*") - ec2Calls; n > 40 {
				t.Errorf("%d EC2 calls, want 18 Describe+Create and one Describe finding the NACL full", n)
			}
		})
	}
}

func consistentNACL(t *testing.T, env *wafEnv) {
	t.Helper()
	if got, want := naclState(env.ec2, "acl-1"), bookState(env.m, "acl-1"); !slices.Equal(got, want) {
		t.Errorf("acl-1 holds %v, the bans say %v", got, want)
	}
}

// TestWAFOtherWriter: another writer changes the set between dosguard's
// Get and Update of a batch; both sides' addresses survive.
func TestWAFOtherWriter(t *testing.T) {
	env := newWAFEnv(t, wafConfig{})
	writes := 0
	env.waf.OnCall(func(c waftest.Call) {
		if c.Op == waftest.UpdateIPSet && writes == 0 {
			writes++
			env.waf.Write(waftest.Regional, "v4", "id4", []string{"192.0.2.77/32", "198.51.100.3/32"}, nil)
		}
	})
	a := attackers(5)
	evs := env.batch(a, at(time.Second))
	want := append(hosts(a), "192.0.2.77/32")
	slices.Sort(want)
	if got := env.set4(); !slices.Equal(got, want) {
		t.Errorf("set = %v, want %v", got, want)
	}
	// 198.51.100.3 was added by the other writer before dosguard's write
	// landed: dosguard's ban of it holds a Foreign entry, never removed.
	for i, list := range evs {
		last := list[len(list)-1]
		foreign := a[i] == netip.MustParseAddr("198.51.100.3")
		if last.Status != ban.Blocked || last.Entries[0].Foreign != foreign {
			t.Errorf("attacker %s: %v %+v", a[i], short(list), last.Entries)
		}
	}
	env.m.Expire(context.Background(), at(2*time.Hour))
	if got := env.set4(); !slices.Equal(got, []string{"192.0.2.77/32", "198.51.100.3/32"}) {
		t.Errorf("after expiry the set holds %v, want the other writer's two", got)
	}
}

// TestWAFForeignKept: members dosguard did not add stay through expiry,
// flush, reconcile and unblock by hand.
func TestWAFForeignKept(t *testing.T) {
	ctx := context.Background()
	foreign := []string{"198.51.100.1/32", "203.0.113.0/24"}
	env := newWAFEnv(t, wafConfig{foreign4: foreign})
	if evs, err := env.m.Reconcile(ctx, at(time.Second)); err != nil || len(evs) != 0 || len(env.m.Bans()) != 0 {
		t.Fatalf("Reconcile adopted other writers' members: %v, %v", short(evs), err)
	}
	a := attackers(3) // 198.51.100.1 is among them: already in the set
	evs := env.batch(a, at(time.Second))
	if s, txt := lastStatus(evs[0]); s != ban.Blocked || txt != "already denied" {
		t.Errorf("block of a foreign member: %v", short(evs[0]))
	}
	env.m.Expire(ctx, at(2*time.Hour))
	want := slices.Clone(foreign)
	if got := env.set4(); !slices.Equal(got, want) {
		t.Errorf("after expiry: %v, want %v", got, want)
	}
	env.batch(attackers(3), at(3*time.Hour))
	if _, err := env.m.Flush(ctx, at(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := env.set4(); !slices.Equal(got, want) {
		t.Errorf("after flush: %v, want %v", got, want)
	}
	if _, err := env.m.Unblock(ctx, netip.MustParsePrefix("203.0.113.0/24"), at(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := env.set4(); !slices.Equal(got, want) {
		t.Errorf("after unblock by hand: %v, want %v", got, want)
	}
}

// TestWAFFamilies: IPv6 attackers go to the IPv6 set as /128; an aggregate
// goes in as its prefix, replacing its members.
func TestWAFFamilies(t *testing.T) {
	env := newWAFEnv(t, wafConfig{aggregate: 2})
	v6 := netip.MustParseAddr("2001:db8::7")
	a1, a2 := netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("203.0.113.2")
	env.batch([]netip.Addr{v6, a1}, at(time.Second))
	if got := env.set6(); !slices.Equal(got, []string{"2001:db8::7/128"}) {
		t.Errorf("v6 set = %v", got)
	}
	evs := env.batch([]netip.Addr{a2}, at(2*time.Second))
	if got := env.set4(); !slices.Equal(got, []string{"203.0.113.0/24"}) {
		t.Errorf("v4 set = %v, want the aggregate only; events %v", got, short(evs[0]))
	}
	if got := short(evs[0]); len(got) != 2 || got[0] != "blocked 203.0.113.0/24 [aggregated 2 addresses] "+env.v4+":0" {
		t.Errorf("events %v", got)
	}
}

// TestWAFRestart: a restart with the state file duplicates nothing and
// keeps the expiries; foreign members stay foreign.
func TestWAFRestart(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	env := newWAFEnv(t, wafConfig{stateFile: state, foreign4: []string{"192.0.2.9/32"}})
	a := attackers(4)
	env.batch(a, at(time.Second))
	before := env.m.Bans()
	updates := env.waf.CallCount(waftest.UpdateIPSet)
	m2 := env.build(t, wafConfig{stateFile: state})
	if got := m2.Bans(); !slices.EqualFunc(got, before, func(x, y ban.Ban) bool {
		return x.Prefix == y.Prefix && x.ExpiresAt.Equal(y.ExpiresAt) && slices.Equal(x.Entries, y.Entries)
	}) {
		t.Errorf("after restart: %v, want %v", got, before)
	}
	if n := env.waf.CallCount(waftest.UpdateIPSet) - updates; n != 2 {
		t.Errorf("restart made %d updates, want 2 (the start-up write check of each set)", n)
	}
	want := append(hosts(a), "192.0.2.9/32")
	slices.Sort(want)
	if got := env.set4(); !slices.Equal(got, want) {
		t.Errorf("set = %v, want %v", got, want)
	}
	m2.Expire(context.Background(), at(2*time.Hour))
	if got := env.set4(); !slices.Equal(got, []string{"192.0.2.9/32"}) {
		t.Errorf("after expiry: %v", got)
	}
}

// TestWAFStorm: throttling and 5xx storms; every decision ends blocked or
// failed with a reason.
func TestWAFStorm(t *testing.T) {
	for _, tt := range []struct {
		name, code string
		status     int
		nacl       bool
	}{
		{"throttled", "ThrottlingException", 400, false},
		{"5xx", "WAFInternalErrorException", 500, false},
		{"throttled beside a NACL", "WAFLimitsExceededException", 400, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := newWAFEnv(t, wafConfig{nacl: tt.nacl, onFull: policy.OnFullRefuse})
			env.waf.Fail(waftest.UpdateIPSet, tt.code, tt.status, 1000)
			a := attackers(25)
			evs := env.batch(a, at(time.Second))
			for i, list := range evs {
				last := list[len(list)-1]
				switch {
				case tt.nacl && i < 18:
					if last.Status != ban.Blocked || len(last.Entries) != 1 || last.Entries[0].Target != "acl-1" {
						t.Errorf("attacker %d: %v, want blocked by the NACL only", i, short(list))
					}
				case last.Status != ban.Failed || last.Reason != tt.code || !last.Transient:
					t.Errorf("attacker %d: %v (transient %v), want failed %s", i, short(list), last.Transient, tt.code)
				}
			}
			want := 0
			if tt.nacl {
				want = 18
			}
			if n := len(env.m.Bans()); n != want {
				t.Errorf("%d bans remembered, want %d", n, want)
			}
		})
	}
}

// TestWAFFull: the set's limit counts other writers' members; On_Full
// evict makes room in the set.
func TestWAFFull(t *testing.T) {
	for _, onFull := range []string{policy.OnFullRefuse, policy.OnFullEvict} {
		t.Run(onFull, func(t *testing.T) {
			env := newWAFEnv(t, wafConfig{onFull: onFull, entryLimit: 3, foreign4: []string{"192.0.2.1/32"}})
			ctx := context.Background()
			var got []string
			for i, a := range attackers(3) {
				got = append(got, short(env.m.Block(ctx, a, at(time.Duration(i+1)*time.Second)))...)
			}
			want := []string{}
			v4 := env.v4
			switch onFull {
			case policy.OnFullRefuse:
				want = []string{
					"blocked 198.51.100.1/32 " + v4 + ":0", "blocked 198.51.100.2/32 " + v4 + ":0",
					"failed to block 198.51.100.3/32 [IP set full]",
				}
			default:
				want = []string{
					"blocked 198.51.100.1/32 " + v4 + ":0", "blocked 198.51.100.2/32 " + v4 + ":0",
					"unblocked 198.51.100.1/32 [evicted] " + v4 + ":0", "blocked 198.51.100.3/32 " + v4 + ":0",
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("events:\n%v\nwant\n%v", got, want)
			}
			if n := len(env.set4()); n != 3 {
				t.Errorf("set holds %d, want 3", n)
			}
		})
	}
}

// TestWAFExpireBatched: 200 bans ending together leave the set in one
// update; a failed update keeps them, to be retried, and nothing is
// reported unblocked that was not.
func TestWAFExpireBatched(t *testing.T) {
	ctx := context.Background()
	env := newWAFEnv(t, wafConfig{foreign4: []string{"192.0.2.9/32"}})
	env.batch(attackers(200), at(time.Second))
	updates := env.waf.CallCount(waftest.UpdateIPSet)
	env.waf.Fail(waftest.UpdateIPSet, "WAFInternalErrorException", 500, 1000)
	if evs := env.m.Expire(ctx, at(2*time.Hour)); len(evs) != 0 {
		t.Errorf("expiry during a 5xx storm reported %d unblocked", len(evs))
	}
	if n := len(env.m.Bans()); n != 200 {
		t.Fatalf("%d bans kept, want the 200", n)
	}
	if evs := env.m.Expire(ctx, at(2*time.Hour+time.Second)); len(evs) != 0 {
		t.Errorf("retried before policy.UnblockRetry: %d events", len(evs))
	}
	env.waf.ClearFaults()
	before := env.waf.CallCount(waftest.UpdateIPSet)
	evs := env.m.Expire(ctx, at(3*time.Hour))
	if len(evs) != 200 {
		t.Errorf("%d unblocked after the storm, want 200", len(evs))
	}
	if n := env.waf.CallCount(waftest.UpdateIPSet) - before; n != 1 {
		t.Errorf("expiry of 200 bans: %d UpdateIPSet calls, want 1", n)
	}
	t.Logf("expiry of 200 bans: 1 UpdateIPSet (the block batch took %d)", updates-2)
	if got := env.set4(); !slices.Equal(got, []string{"192.0.2.9/32"}) {
		t.Errorf("after expiry the set holds %v, want the other writer's only", got)
	}
}

// TestWAFDryRun: a dry run reads the sets and writes nothing; the IPv6
// attacker is planned into the IPv6 set only.
func TestWAFDryRun(t *testing.T) {
	ctx := context.Background()
	srv := waftest.NewServer(t)
	v4 := srv.AddSet(waftest.Regional, "v4", "id4", "IPV4", "192.0.2.9/32")
	v6 := srv.AddSet(waftest.Regional, "v6", "id6", "IPV6")
	sets, err := wafipset.New(wafipset.Config{ARNs: []string{v4, v6}}, func(r string) wafipset.WAFAPI { return srv.Client(t, r) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := enforce.New(enforce.Config{DryRun: true, Policy: policy.Config{MaxBlocksPerMinute: -1}}, []target.Target{sets[0], sets[1]}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if evs, err := e.Start(ctx, t0, true); err != nil || len(evs) != 0 {
		t.Fatalf("Start: %v, %v (another writer's member must not be adopted)", short(evs), err)
	}
	m := manager{e, time.Hour}
	got := append(short(m.Block(ctx, netip.MustParseAddr("203.0.113.7"), at(time.Second))),
		short(m.Block(ctx, netip.MustParseAddr("2001:db8::7"), at(time.Second)))...)
	want := []string{"blocked 203.0.113.7/32 " + v4 + ":0", "blocked 2001:db8::7/128 " + v6 + ":0"}
	if !slices.Equal(got, want) {
		t.Errorf("dry-run events %v, want %v", got, want)
	}
	if n := srv.CallCount(waftest.UpdateIPSet); n != 0 {
		t.Errorf("dry run made %d UpdateIPSet calls", n)
	}
}

// TestWAFReconcileReadds: members of dosguard's removed from the set by
// someone else while the NACL still holds the bans are written again, in
// one update.
func TestWAFReconcileReadds(t *testing.T) {
	ctx := context.Background()
	env := newWAFEnv(t, wafConfig{nacl: true})
	a := attackers(5)
	env.batch(a, at(time.Second))
	env.waf.Write(waftest.Regional, "v4", "id4", nil, hosts(a))
	before := env.waf.CallCount(waftest.UpdateIPSet)
	if _, err := env.m.Reconcile(ctx, at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := env.set4(); !slices.Equal(got, hosts(a)) {
		t.Errorf("after reconcile the set holds %v, want %v", got, hosts(a))
	}
	if n := env.waf.CallCount(waftest.UpdateIPSet) - before; n != 1 {
		t.Errorf("reconcile wrote %d updates, want 1", n)
	}
}

// TestWAFEvictFromOneTarget: a full IP set beside a NACL makes room by
// taking out the entry of the ban expiring soonest, which stays blocked by
// the NACL; the NACL, full, keeps its entries for bans the set holds.
func TestWAFEvictFromOneTarget(t *testing.T) {
	ctx := context.Background()
	env := newWAFEnv(t, wafConfig{nacl: true, onFull: policy.OnFullEvict, entryLimit: 1})
	a := attackers(2)
	env.m.Block(ctx, a[0], at(time.Second))
	evs := env.m.Block(ctx, a[1], at(2*time.Second))
	if got, want := short(evs), []string{"blocked " + hosts(a[1:])[0] + " acl-1:2 " + env.v4 + ":0"}; !slices.Equal(got, want) {
		t.Errorf("events %v, want %v (no unblocked: the victim stays in the NACL)", got, want)
	}
	if got := env.set4(); !slices.Equal(got, hosts(a[1:])) {
		t.Errorf("set = %v, want the newer attacker", got)
	}
	b, ok := env.m.Covering(a[0])
	if !ok || len(b.Entries) != 1 || b.Entries[0].Target != "acl-1" {
		t.Errorf("victim's ban = %+v, %v; want it kept with its NACL entry only", b, ok)
	}
	consistentNACL(t, env)
}

// TestWAFFailedBatchNoOffence: a ban whose batched write failed counts no
// offence: the next ban of the address lasts the base duration.
func TestWAFFailedBatchNoOffence(t *testing.T) {
	env := newWAFEnv(t, wafConfig{})
	a := attackers(1)
	env.waf.Fail(waftest.UpdateIPSet, "AccessDeniedException", 400, 1)
	if s, _ := lastStatus(env.batch(a, at(time.Second))[0]); s != ban.Failed {
		t.Fatalf("status %s, want failed", s)
	}
	evs := env.batch(a, at(time.Minute))
	last := evs[0][len(evs[0])-1]
	if last.Status != ban.Blocked || last.Offences != 1 || last.Duration != time.Hour {
		t.Errorf("after a failed batch: %s, offences %d, duration %v; want blocked, 1, 1h", last.Status, last.Offences, last.Duration)
	}
}
