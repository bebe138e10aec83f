package policy_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/policy"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func cfg(c policy.Config) policy.Config { return c.WithDefaults() }

// TestEscalate walks a repeat offender: base 1h, factor 2, max 3h, window 24h.
func TestEscalate(t *testing.T) {
	c := cfg(policy.Config{BlockDuration: time.Hour, BlockDurationMax: 3 * time.Hour})
	steps := []struct {
		o            ban.Offence
		now          time.Time
		base         time.Duration
		wantOffences int
		wantDur      time.Duration
	}{
		{ban.Offence{}, at(0), time.Hour, 1, time.Hour},
		{ban.Offence{LastEnd: at(time.Hour), Count: 1}, at(2 * time.Hour), time.Hour, 2, 2 * time.Hour},
		{ban.Offence{LastEnd: at(4 * time.Hour), Count: 2}, at(5 * time.Hour), time.Hour, 3, 3 * time.Hour}, // 4h capped
		{ban.Offence{LastEnd: at(8 * time.Hour), Count: 3}, at(33 * time.Hour), time.Hour, 1, time.Hour},    // window passed
		{ban.Offence{LastEnd: at(8 * time.Hour), Count: 3}, at(32 * time.Hour), time.Hour, 4, 3 * time.Hour},
		{ban.Offence{LastEnd: at(0), Count: 1}, at(time.Minute), 0, 2, 0}, // never expires stays so
		{ban.Offence{}, at(0), 10 * time.Minute, 1, 10 * time.Minute},     // a rule's own base
	}
	for i, s := range steps {
		n, d := c.Escalate(s.o, s.now, s.base)
		if n != s.wantOffences || d != s.wantDur {
			t.Errorf("step %d: Escalate(%+v, t0+%v, %v) = %d, %v; want %d, %v", i, s.o, s.now.Sub(t0), s.base, n, d, s.wantOffences, s.wantDur)
		}
	}
}

func TestExpiresAt(t *testing.T) {
	m1 := ban.Ban{ExpiresAt: at(2 * time.Hour)}
	never := ban.Ban{}
	tests := []struct {
		d       time.Duration
		members []ban.Ban
		want    time.Time
	}{
		{time.Hour, nil, at(time.Hour)},
		{0, nil, time.Time{}},
		{time.Hour, []ban.Ban{m1}, at(2 * time.Hour)},
		{3 * time.Hour, []ban.Ban{m1}, at(3 * time.Hour)},
		{time.Hour, []ban.Ban{m1, never}, time.Time{}},
	}
	for i, tt := range tests {
		if got := policy.ExpiresAt(t0, tt.d, tt.members); !got.Equal(tt.want) {
			t.Errorf("case %d: ExpiresAt(t0, %v, %d members) = %v, want %v", i, tt.d, len(tt.members), got, tt.want)
		}
	}
}

func TestEndedStartedStale(t *testing.T) {
	c := cfg(policy.Config{})
	b := ban.Ban{ExpiresAt: at(time.Hour), Offences: 2}
	if o := policy.Started(b, t0); !o.LastEnd.Equal(at(time.Hour)) || o.Count != 2 {
		t.Errorf("Started = %+v, want last end t0+1h, count 2", o)
	}
	if o := policy.Started(ban.Ban{Offences: 1}, t0); !o.LastEnd.Equal(t0) {
		t.Errorf("Started of a ban never expiring = %+v, want last end t0", o)
	}
	if o := policy.Ended(ban.Offence{Count: 2}, b, at(30*time.Minute)); !o.LastEnd.Equal(at(30*time.Minute)) || o.Count != 2 {
		t.Errorf("Ended early = %+v, want last end t0+30m", o)
	}
	if o := policy.Ended(ban.Offence{Count: 2}, b, at(2*time.Hour)); !o.LastEnd.Equal(at(time.Hour)) {
		t.Errorf("Ended late = %+v, want the planned end t0+1h", o)
	}
	if c.Stale(ban.Offence{LastEnd: t0}, at(24*time.Hour)) || !c.Stale(ban.Offence{LastEnd: t0}, at(24*time.Hour+time.Second)) {
		t.Error("Stale: want false at the window's end, true after")
	}
}

type guardrail func(netip.Prefix) bool

func (g guardrail) Overlaps(p netip.Prefix) bool { return g(p) }

func TestAggregate(t *testing.T) {
	bans := []ban.Ban{{Prefix: pfx("203.0.113.1/32")}, {Prefix: pfx("203.0.113.2/32")}, {Prefix: pfx("198.51.100.1/32")},
		{Prefix: pfx("2001:db8::1/128")}}
	no := guardrail(func(netip.Prefix) bool { return false })
	yes := guardrail(func(netip.Prefix) bool { return true })
	tests := []struct {
		name        string
		c           policy.Config
		addr        string
		want        string
		wantMembers int
		wantVetoed  bool
	}{
		{"off", policy.Config{Guardrail: no}, "203.0.113.3", "203.0.113.3/32", 0, false},
		{"no guardrail", policy.Config{AggregateAfter: 2}, "203.0.113.3", "203.0.113.3/32", 0, false},
		{"completes", policy.Config{AggregateAfter: 3, Guardrail: no}, "203.0.113.3", "203.0.113.0/24", 2, false},
		{"one short", policy.Config{AggregateAfter: 4, Guardrail: no}, "203.0.113.3", "203.0.113.3/32", 0, false},
		{"vetoed", policy.Config{AggregateAfter: 3, Guardrail: yes}, "203.0.113.3", "203.0.113.3/32", 0, true},
		{"other /24", policy.Config{AggregateAfter: 2, Guardrail: no}, "198.51.101.1", "198.51.101.1/32", 0, false},
		{"v4 /25", policy.Config{AggregateAfter: 3, AggregatePrefixV4: 25, Guardrail: no}, "203.0.113.3", "203.0.113.0/25", 2, false},
		{"v6 /64", policy.Config{AggregateAfter: 2, Guardrail: no}, "2001:db8::2", "2001:db8::/64", 1, false},
	}
	for _, tt := range tests {
		p, members, vetoed := cfg(tt.c).Aggregate(bans, netip.MustParseAddr(tt.addr))
		if p != pfx(tt.want) || len(members) != tt.wantMembers || vetoed != tt.wantVetoed {
			t.Errorf("%s: Aggregate(%s) = %s, %d members, vetoed %v; want %s, %d, %v", tt.name, tt.addr, p, len(members), vetoed, tt.want, tt.wantMembers, tt.wantVetoed)
		}
	}
}

func TestVictim(t *testing.T) {
	own := []ban.Entry{{Target: "acl-1", Rule: 1}}
	foreign := []ban.Entry{{Target: "acl-1", Rule: 2, Foreign: true}}
	a := ban.Ban{Prefix: pfx("198.51.100.1/32"), Entries: own, Since: at(0), ExpiresAt: at(3 * time.Hour)}
	b := ban.Ban{Prefix: pfx("198.51.100.2/32"), Entries: own, Since: at(time.Minute), ExpiresAt: at(2 * time.Hour)}
	c := ban.Ban{Prefix: pfx("198.51.100.3/32"), Entries: foreign, Since: at(0), ExpiresAt: at(time.Hour)}
	d := ban.Ban{Prefix: pfx("198.51.100.4/32"), Entries: own, Since: at(0)} // never expires
	e := ban.Ban{Prefix: pfx("198.51.100.5/32"), Entries: own, Since: at(-time.Minute)}
	v6 := ban.Ban{Prefix: pfx("2001:db8::1/128"), Entries: own, Since: at(0), ExpiresAt: at(time.Minute)}
	tests := []struct {
		name    string
		bans    []ban.Ban
		p       string
		members []ban.Ban
		want    string // "" for none
	}{
		{"soonest", []ban.Ban{a, b, c, v6}, "198.51.100.9/32", nil, "198.51.100.2/32"},
		{"not a member", []ban.Ban{a, b}, "198.51.100.0/24", []ban.Ban{b}, "198.51.100.1/32"},
		{"never expiring last", []ban.Ban{d, a}, "198.51.100.9/32", nil, "198.51.100.1/32"},
		{"ties to the oldest", []ban.Ban{d, e}, "198.51.100.9/32", nil, "198.51.100.5/32"},
		{"another writer's never", []ban.Ban{c}, "198.51.100.9/32", nil, ""},
		{"family", []ban.Ban{a, v6}, "2001:db8::9/128", nil, "2001:db8::1/128"},
		{"not itself", []ban.Ban{b}, "198.51.100.2/32", nil, ""},
	}
	for _, tt := range tests {
		v, ok := policy.Victim(tt.bans, pfx(tt.p), tt.members)
		got := ""
		if ok {
			got = v.Prefix.String()
		}
		if got != tt.want {
			t.Errorf("%s: Victim = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestDue(t *testing.T) {
	bans := []ban.Ban{{Prefix: pfx("198.51.100.1/32"), ExpiresAt: at(time.Hour)}, {Prefix: pfx("198.51.100.2/32")},
		{Prefix: pfx("198.51.100.3/32"), ExpiresAt: at(2 * time.Hour)}}
	steps := []struct {
		now  time.Time
		want int
	}{{at(59 * time.Minute), 0}, {at(time.Hour), 1}, {at(1000 * time.Hour), 2}}
	for i, s := range steps {
		if got := policy.Due(bans, s.now); len(got) != s.want {
			t.Errorf("step %d: Due(t0+%v) = %d bans, want %d", i, s.now.Sub(t0), len(got), s.want)
		}
	}
}

// TestLimits walks both buckets on a timeline: writes at 5/s, burst 3;
// blocks at 2 a minute.
func TestLimits(t *testing.T) {
	ms := time.Millisecond
	l := cfg(policy.Config{MutateRate: 5, MutateBurst: 3, MaxBlocksPerMinute: 2}).NewLimits(false)
	writes := []struct {
		t      time.Duration
		n      int
		want   time.Duration
		wantOK bool
	}{
		{0, 1, 0, true},                // 3 -> 2
		{0, 2, 0, true},                // 2 -> 0
		{0, 1, 200 * ms, true},         // -1: one token at 5/s
		{0, 1, 400 * ms, true},         // -2
		{200 * ms, 1, 400 * ms, true},  // refill 1: -1, take 1: -2
		{1400 * ms, 1, 0, true},        // refill 6 capped at burst 3, take 1: 2
		{1400 * ms, 3, 200 * ms, true}, // 2-3 = -1
		{1400 * ms, 4, 0, false},       // more than the burst: never
		{1300 * ms, 0, 0, true},        // nothing asked: nothing taken
		{2000 * ms, 1, 0, true},        // refill 0.6s*5 = 3 capped: 2, take 1: 1
	}
	for i, s := range writes {
		d, _, ok := l.ReserveWrites(t0.Add(s.t), s.n)
		if d != s.want || ok != s.wantOK {
			t.Errorf("step %d: ReserveWrites(t0+%v, %d) = %v, %v; want %v, %v", i, s.t, s.n, d, ok, s.want, s.wantOK)
		}
	}
	_, cancel, _ := l.ReserveWrites(t0.Add(2000*ms), 3) // 1-3 = -2
	cancel()                                            // given back: 1
	if d, _, _ := l.ReserveWrites(t0.Add(2000*ms), 1); d != 0 {
		t.Errorf("after cancel: ReserveWrites = %v, want 0", d)
	}
	blocks := []struct {
		t    time.Duration
		want bool
	}{
		// MaxBlocksPerMinute 2: at most two in any minute (t-1m, t].
		{0, true}, {30 * time.Second, true}, {59 * time.Second, false},
		{60 * time.Second, true}, {61 * time.Second, false}, {90 * time.Second, true},
		{119 * time.Second, false}, // a token bucket would allow this third block within one minute
	}
	for i, s := range blocks {
		if got := l.AllowBlock(t0.Add(s.t)); got != s.want {
			t.Errorf("step %d: AllowBlock(t0+%v) = %v, want %v", i, s.t, got, s.want)
		}
	}
	free := cfg(policy.Config{MutateRate: -1, MaxBlocksPerMinute: -1}).NewLimits(false)
	for i := range 100 {
		if d, _, ok := free.ReserveWrites(t0, 1000); d != 0 || !ok || !free.AllowBlock(t0) {
			t.Fatalf("unlimited, call %d: ReserveWrites = %v %v, want 0 and every block allowed", i, d, ok)
		}
	}
	if d, _, _ := cfg(policy.Config{}).NewLimits(true).ReserveWrites(t0, 10000); d != 0 {
		t.Errorf("unpaced (dry run) ReserveWrites = %v, want 0", d)
	}
}

func TestCheckHost(t *testing.T) {
	tests := []struct {
		p    netip.Prefix
		want bool // accepted
	}{
		{pfx("203.0.113.7/32"), true},
		{pfx("2001:db8::7/128"), true},
		{pfx("1.1.1.1/32"), true},
		{pfx("255.255.255.255/32"), true},
		{pfx("0.0.0.0/0"), false},
		{pfx("::/0"), false},
		{pfx("0.0.0.0/32"), false},
		{pfx("::/128"), false},
		{pfx("203.0.113.0/24"), false},
		{pfx("203.0.113.7/31"), false},
		{pfx("2001:db8::/64"), false},
		{pfx("2001:db8::7/127"), false},
		{pfx("::ffff:203.0.113.7/128"), false},
		{netip.Prefix{}, false},
	}
	for _, tt := range tests {
		err := policy.CheckHost(tt.p)
		if got := err == nil; got != tt.want {
			t.Errorf("CheckHost(%s) = %v, want accepted %v", tt.p, err, tt.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		c    policy.Config
		want string // "" for valid
	}{
		{policy.Config{}, ""},
		{policy.Config{OnFull: "drop"}, `OnFull "drop"`},
		{policy.Config{AggregateAfter: 1}, "AggregateAfter 1"},
		{policy.Config{AggregatePrefixV4: 8}, "AggregatePrefixV4 8"},
		{policy.Config{AggregatePrefixV6: 16}, "AggregatePrefixV6 16"},
		{policy.Config{BlockDuration: -time.Second}, "BlockDuration -1s"},
		{policy.Config{BlockDuration: 2 * time.Hour, BlockDurationMax: time.Hour}, "BlockDurationMax 1h0m0s"},
		{policy.Config{EscalationFactor: 0.5}, "EscalationFactor 0.5"},
		{policy.Config{MutateBurst: -1}, "MutateBurst -1"},
	}
	for _, tt := range tests {
		err := tt.c.WithDefaults().Validate()
		if (tt.want == "") != (err == nil) || err != nil && !(strings.HasPrefix(err.Error(), "policy: config ") && strings.Contains(err.Error(), tt.want)) {
			t.Errorf("Validate(%+v) = %v, want %q", tt.c, err, tt.want)
		}
	}
}
