package guard

import (
	"sync/atomic"

	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/enforce"
)

// What the guard tells a metrics collector, read at scrape time: per-rule
// counters and the targets' occupancy. Nothing here runs on the flush path;
// the cost of a read grows with the rules and the bans, never with the
// addresses tracked.

// defaultRule names the decisions no single rule caused (ban expiries and
// start-up reconciliation with several rules).
const defaultRule = "dosguard"

// observed holds the counters kept for metrics only: hits per rule (taken
// by the worker) and decisions per rule and status (counted by emit).
type observed struct {
	hits      []atomic.Int64              // by rule index
	decisions map[string]*[4]atomic.Int64 // by rule name, then status index (ban.Statuses); read-only map
}

func newObserved(rules []*rule) observed {
	o := observed{hits: make([]atomic.Int64, len(rules)), decisions: map[string]*[4]atomic.Int64{defaultRule: {}}}
	for _, ru := range rules {
		o.decisions[ru.Name] = &[4]atomic.Int64{}
	}
	return o
}

// decided counts one decision of rule name with status s.
func (o *observed) decided(name string, s ban.Status) {
	c, ok := o.decisions[name]
	if !ok {
		c = o.decisions[defaultRule]
	}
	for i, st := range ban.Statuses {
		if st == s {
			c[i].Add(1)
			return
		}
	}
}

// RuleStats are one rule's counters.
type RuleStats struct {
	Name      string
	Threshold int
	// Hits counts the addresses that tripped the rule and reached the
	// worker (those the full queue dropped are in Stats.QueueFull).
	Hits int64
	// Tracked is the number of addresses the rule's detector holds now;
	// Evicted and Dropped count those it let go to stay within
	// Max_Tracked_Keys, Late the records too old for their window.
	Tracked, Evicted, Dropped, Late int64
}

// RuleStats returns each rule's counters, in rule order. It holds the
// flush lock for a moment (a few loads per rule).
func (g *Guard) RuleStats() []RuleStats {
	f := &g.flush
	out := make([]RuleStats, len(f.rules))
	f.mu.Lock()
	for i, ru := range f.rules {
		s := ru.det.Stats()
		out[i] = RuleStats{Name: ru.Name, Threshold: ru.Threshold, Tracked: s.Tracked, Evicted: s.Evicted, Dropped: s.Dropped, Late: s.Late}
	}
	f.mu.Unlock()
	for i := range out {
		out[i].Hits = g.obs.hits[i].Load()
	}
	return out
}

// DecisionCount is the number of decisions of one rule with one status.
type DecisionCount struct {
	Rule   string
	Status ban.Status
	N      int64
}

// Decisions returns the decisions counted so far per rule (a rule name, or
// "dosguard" for those no single rule caused) and status, every status of
// every rule included, zeros too.
func (g *Guard) Decisions() []DecisionCount {
	out := make([]DecisionCount, 0, 4*len(g.obs.decisions))
	for name, c := range g.obs.decisions {
		for i, s := range ban.Statuses {
			out = append(out, DecisionCount{Rule: name, Status: s, N: c[i].Load()})
		}
	}
	return out
}

// Occupancy returns the entries of the current bans and the capacity of
// each target and family. Without Network ACLs (detect only, or a dry run
// without ids) it returns one row, target "none", counting the bans the
// dry run pretends to hold (all counted as IPv4), capacity 0.
func (g *Guard) Occupancy() []enforce.Occupancy {
	if g.enf == nil {
		_, bans := g.quiet.Len()
		return []enforce.Occupancy{{Target: "none", Entries: bans}}
	}
	return g.enf.Occupancy()
}
