package quiet

import (
	"net/netip"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

var (
	a1   = netip.MustParseAddr("203.0.113.7")
	a2   = netip.MustParseAddr("203.0.113.8")
	a6   = netip.MustParseAddr("2001:db8::7")
	p24  = netip.MustParsePrefix("203.0.113.0/24")
	host = netip.PrefixFrom(a1, 32)
)

// Rules of every test table: 0 blocks, 1 detects.
const block, detect = 0, 1

type step struct {
	name  string
	do    func(*Table)
	rule  int
	addr  netip.Addr
	quiet bool
	why   Why
	until time.Time
}

func run(t *testing.T, steps []step) {
	t.Helper()
	tb := New([]bool{true, false})
	for i, s := range steps {
		if s.do != nil {
			s.do(tb)
		}
		st, ok := tb.State(s.rule, s.addr)
		if ok != s.quiet || ok && (st.Why != s.why || !st.Until.Equal(s.until)) {
			t.Fatalf("step %d (%s): State(%d, %s) = %v %v until %v, want %v %v until %v",
				i, s.name, s.rule, s.addr, ok, st.Why, st.Until, s.quiet, s.why, s.until)
		}
		if got := tb.For(s.rule).Quiet(s.addr); got != s.quiet {
			t.Fatalf("step %d (%s): View.Quiet = %v, want %v", i, s.name, got, s.quiet)
		}
	}
}

func TestPendingThenBan(t *testing.T) {
	run(t, []step{
		{name: "nothing yet", rule: block, addr: a1},
		{name: "trip", do: func(tb *Table) { tb.Trip(block, a1) }, rule: block, addr: a1, quiet: true, why: Pending},
		{name: "other rule unaffected", rule: detect, addr: a1},
		{name: "other address unaffected", rule: block, addr: a2},
		{name: "banned", do: func(tb *Table) { tb.Ban(host, at(60)); tb.Clear(block, a1) }, rule: block, addr: a1, quiet: true, why: Banned, until: at(60)},
		{name: "mapped form is the same address", rule: block, addr: netip.AddrFrom16(a1.As16()), quiet: true, why: Banned, until: at(60)},
		{name: "detect rules go on", rule: detect, addr: a1},
		{name: "a ban does not lapse by itself", do: func(tb *Table) { tb.Lapse(at(3600)) }, rule: block, addr: a1, quiet: true, why: Banned, until: at(60)},
		{name: "unban", do: func(tb *Table) { tb.Unban(host) }, rule: block, addr: a1},
	})
}

func TestAggregateQuietsMembers(t *testing.T) {
	run(t, []step{
		{name: "aggregate", do: func(tb *Table) { tb.Ban(host, time.Time{}); tb.Ban(p24, at(600)) }, rule: block, addr: a2, quiet: true, why: Banned, until: at(600)},
		{name: "member's own ban first", rule: block, addr: a1, quiet: true, why: Banned},
		{name: "member unbanned, still under the aggregate", do: func(tb *Table) { tb.Unban(host) }, rule: block, addr: a1, quiet: true, why: Banned, until: at(600)},
		{name: "outside the aggregate", rule: block, addr: a6},
		{name: "aggregate ends", do: func(tb *Table) { tb.Unban(p24) }, rule: block, addr: a2},
	})
}

func TestCooldownAndBackoffLapse(t *testing.T) {
	run(t, []step{
		{name: "cool-down", do: func(tb *Table) { tb.Hold(detect, a6, Cooldown, at(60)) }, rule: detect, addr: a6, quiet: true, why: Cooldown, until: at(60)},
		{name: "back-off", do: func(tb *Table) { tb.Hold(block, a6, Backoff, at(5)) }, rule: block, addr: a6, quiet: true, why: Backoff, until: at(5)},
		{name: "before the end", do: func(tb *Table) { tb.Lapse(at(4)) }, rule: block, addr: a6, quiet: true, why: Backoff, until: at(5)},
		{name: "back-off lapses at its end", do: func(tb *Table) { tb.Lapse(at(5)) }, rule: block, addr: a6},
		{name: "cool-down still on", rule: detect, addr: a6, quiet: true, why: Cooldown, until: at(60)},
		{name: "cool-down lapses", do: func(tb *Table) { tb.Lapse(at(61)) }, rule: detect, addr: a6},
		{name: "pending never lapses", do: func(tb *Table) { tb.Trip(detect, a6); tb.Lapse(at(1 << 20)) }, rule: detect, addr: a6, quiet: true, why: Pending},
	})
}

func TestBanUntilLapses(t *testing.T) {
	run(t, []step{
		{name: "dry-run ban", do: func(tb *Table) { tb.BanUntil(host, at(30)) }, rule: block, addr: a1, quiet: true, why: Banned, until: at(30)},
		{name: "not yet", do: func(tb *Table) { tb.Lapse(at(29)) }, rule: block, addr: a1, quiet: true, why: Banned, until: at(30)},
		{name: "lapsed", do: func(tb *Table) { tb.Lapse(at(30)) }, rule: block, addr: a1},
		{name: "never-ending dry-run ban", do: func(tb *Table) { tb.BanUntil(host, time.Time{}); tb.Lapse(at(1 << 20)) }, rule: block, addr: a1, quiet: true, why: Banned},
	})
}

func TestUnknownRuleIsNeverBanned(t *testing.T) {
	tb := New([]bool{true})
	tb.Ban(host, time.Time{})
	if tb.Quiet(7, a1) || tb.Quiet(-1, a1) {
		t.Fatal("a rule the table does not know is quiet through a ban")
	}
	if s, b := tb.Len(); s != 0 || b != 1 {
		t.Fatalf("Len() = %d, %d, want 0, 1", s, b)
	}
}
