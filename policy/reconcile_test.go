package policy_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/policy"
)

// show formats actions as "kind prefix entries" lines.
func show(actions []policy.Action) []string {
	kinds := map[policy.Kind]string{policy.Forget: "forget", policy.Readd: "readd", policy.Adopt: "adopt", policy.Update: "update"}
	var out []string
	for _, a := range actions {
		var es []string
		entries := a.Ban.Entries
		if a.Kind == policy.Readd {
			entries = []ban.Entry{a.Entry}
		}
		for _, e := range entries {
			f := ""
			if e.Foreign {
				f = "*"
			}
			es = append(es, fmt.Sprintf("%s:%d%s", e.Target, e.Rule, f))
		}
		out = append(out, kinds[a.Kind]+" "+a.Ban.Prefix.String()+" "+strings.Join(es, ","))
	}
	return out
}

func held(target string, rule int, p string) ban.Held {
	return ban.Held{Target: target, Rule: rule, Prefix: pfx(p)}
}

func TestReconcile(t *testing.T) {
	one := ban.Ban{Prefix: pfx("198.51.100.1/32"), Entries: []ban.Entry{{Target: "acl-1", Rule: 1}, {Target: "acl-2", Rule: 1}}, Offences: 1}
	foreign := ban.Ban{Prefix: pfx("198.51.100.2/32"), Entries: []ban.Entry{{Target: "acl-1", Rule: 2, Foreign: true}}}
	single := ban.Ban{Prefix: pfx("198.51.100.3/32"), Entries: []ban.Entry{{Target: "acl-1", Rule: 3}}}
	ids := []string{"acl-1", "acl-2"}
	tests := []struct {
		name    string
		noAdopt bool
		bans    []ban.Ban
		live    []ban.Held
		unseen  []ban.Held
		want    []string
	}{
		{"in line", false, []ban.Ban{one, foreign},
			[]ban.Held{held("acl-1", 1, "198.51.100.1/32"), held("acl-2", 1, "198.51.100.1/32"), held("acl-1", 2, "198.51.100.2/32")}, nil, nil},
		{"all gone: removed by hand", false, []ban.Ban{one}, nil, nil, []string{"forget 198.51.100.1/32 acl-1:1,acl-2:1"}},
		{"gone but never seen: written again", false, []ban.Ban{single}, nil, []ban.Held{held("acl-1", 3, "198.51.100.3/32")},
			[]string{"readd 198.51.100.3/32 acl-1:3"}},
		{"gone from one target: written again", false, []ban.Ban{one}, []ban.Held{held("acl-1", 1, "198.51.100.1/32")}, nil,
			[]string{"update 198.51.100.1/32 acl-1:1", "readd 198.51.100.1/32 acl-2:1"}},
		{"gone from one target, no adopt: dropped", true, []ban.Ban{one}, []ban.Held{held("acl-1", 1, "198.51.100.1/32")}, nil,
			[]string{"update 198.51.100.1/32 acl-1:1"}},
		{"another writer's entry gone", false, []ban.Ban{foreign}, nil, nil, []string{"forget 198.51.100.2/32 acl-1:2*"}},
		{"renumbered", false, []ban.Ban{single}, []ban.Held{held("acl-1", 7, "198.51.100.3/32")}, nil,
			[]string{"update 198.51.100.3/32 acl-1:7"}},
		{"entry the store missed", false, []ban.Ban{single}, []ban.Held{held("acl-1", 3, "198.51.100.3/32"), held("acl-2", 4, "198.51.100.3/32")}, nil,
			[]string{"update 198.51.100.3/32 acl-1:3,acl-2:4"}},
		{"entry the store missed, no adopt", true, []ban.Ban{single}, []ban.Held{held("acl-1", 3, "198.51.100.3/32"), held("acl-2", 4, "198.51.100.3/32")}, nil, nil},
		{"unknown entries adopted in prefix order", false, nil,
			[]ban.Held{held("acl-2", 9, "203.0.113.9/32"), held("acl-1", 8, "192.0.2.8/32"), held("acl-1", 9, "203.0.113.9/32")}, nil,
			[]string{"adopt 192.0.2.8/32 acl-1:8", "adopt 203.0.113.9/32 acl-1:9,acl-2:9"}},
		{"unknown entries, no adopt", true, nil, []ban.Held{held("acl-1", 8, "192.0.2.8/32")}, nil, nil},
		{"duplicate entries: the first counts", false, []ban.Ban{single}, []ban.Held{held("acl-1", 3, "198.51.100.3/32"), held("acl-1", 5, "198.51.100.3/32")}, nil, nil},
	}
	for _, tt := range tests {
		c := cfg(policy.Config{BlockDuration: time.Hour, NoAdopt: tt.noAdopt})
		got := show(c.Reconcile(tt.bans, tt.live, policy.Inputs{Targets: ids, Unseen: tt.unseen, Now: t0}))
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: Reconcile =\n%q\nwant\n%q", tt.name, got, tt.want)
		}
	}
	a := cfg(policy.Config{BlockDuration: time.Hour}).Reconcile(nil, []ban.Held{held("acl-1", 8, "192.0.2.8/32")}, policy.Inputs{Targets: ids, Now: t0})
	if b := a[0].Ban; !b.Since.Equal(t0) || !b.ExpiresAt.Equal(at(time.Hour)) || b.Offences != 1 || b.Duration != time.Hour {
		t.Errorf("adopted ban %+v, want since t0, expiring one BlockDuration later, 1 offence", b)
	}
}
