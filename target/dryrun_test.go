package target_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/target"
)

// fake is a Planner holding entries; it numbers a new prefix with the
// lowest free rule and fails every write.
type fake struct {
	held   []ban.Held
	writes int
	checks []bool
}

func (f *fake) ID() string        { return "t-1" }
func (f *fake) Capacity(bool) int { return 10 }
func (f *fake) Add(context.Context, netip.Prefix) (ban.Entry, error) {
	f.writes++
	return ban.Entry{}, errors.New("write")
}
func (f *fake) Remove(context.Context, netip.Prefix, int) error {
	f.writes++
	return errors.New("write")
}
func (f *fake) List(context.Context) ([]ban.Held, error) { return slices.Clone(f.held), nil }
func (f *fake) Check(_ context.Context, write bool) error {
	f.checks = append(f.checks, write)
	return nil
}
func (f *fake) Plan(_ context.Context, p netip.Prefix, ov target.Overlay) (ban.Entry, error) {
	held := slices.DeleteFunc(slices.Clone(f.held), func(h ban.Held) bool { return slices.Contains(ov.Removed, h) })
	held = append(held, ov.Added...)
	for _, h := range held {
		if h.Prefix == p {
			return ban.Entry{Target: "t-1", Rule: h.Rule, Foreign: true}, nil
		}
	}
	for n := 1; ; n++ {
		if !slices.ContainsFunc(held, func(h ban.Held) bool { return h.Rule == n }) {
			return ban.Entry{Target: "t-1", Rule: n}, nil
		}
	}
}

func TestDryRun(t *testing.T) {
	a, b, c := netip.MustParsePrefix("198.51.100.1/32"), netip.MustParsePrefix("198.51.100.2/32"), netip.MustParsePrefix("198.51.100.3/32")
	f := &fake{held: []ban.Held{{Target: "t-1", Rule: 1, Prefix: a}}}
	d := target.DryRun(f, nil)
	ctx := context.Background()
	steps := []struct {
		op   string
		p    netip.Prefix
		rule int
		want ban.Entry
	}{
		{"add", b, 0, ban.Entry{Target: "t-1", Rule: 2}},
		{"add", a, 0, ban.Entry{Target: "t-1", Rule: 1, Foreign: true}},
		{"remove", a, 1, ban.Entry{}},
		{"add", c, 0, ban.Entry{Target: "t-1", Rule: 1}},
		{"remove", b, 2, ban.Entry{}},
	}
	for i, s := range steps {
		var got ban.Entry
		var err error
		if s.op == "add" {
			got, err = d.Add(ctx, s.p)
		} else {
			err = d.Remove(ctx, s.p, s.rule)
		}
		if err != nil || got != s.want {
			t.Errorf("step %d: %s(%s) = %+v, %v; want %+v", i, s.op, s.p, got, err, s.want)
		}
	}
	held, err := d.List(ctx)
	if want := []ban.Held{{Target: "t-1", Rule: 1, Prefix: c}}; err != nil || !slices.Equal(held, want) {
		t.Errorf("List = %v, %v; want %v", held, err, want)
	}
	if err := d.Check(ctx, true); err != nil || !slices.Equal(f.checks, []bool{false}) {
		t.Errorf("Check(write) asked the target %v, want [false]: a dry run probes no write", f.checks)
	}
	if f.writes != 0 || d.ID() != "t-1" || d.Capacity(false) != 10 {
		t.Errorf("writes %d, ID %q, Capacity %d; want 0 writes and the target's ID and capacity", f.writes, d.ID(), d.Capacity(false))
	}
}
