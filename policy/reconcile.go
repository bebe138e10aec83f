package policy

import (
	"net/netip"
	"slices"
	"time"

	"github.com/dosguard/dosguard/ban"
)

// Kind is what a reconcile Action does.
type Kind int

// The kinds of Action.
const (
	// Forget drops Ban, whose entries were all removed by hand, and
	// notifies it unblocked.
	Forget Kind = iota + 1
	// Readd writes Entry again: the entry of a live ban is missing from
	// its target (never written, or removed from one target only).
	Readd
	// Adopt takes over an unknown entry of the managed range as Ban.
	Adopt
	// Update replaces the remembered ban by Ban: rule numbers taken from
	// the targets, entries the store missed added, another writer's
	// entries that are gone dropped. Nothing is written.
	Update
)

// Action is one step that brings the remembered bans in line with what the
// targets hold.
type Action struct {
	Kind Kind
	// Ban is the ban concerned, as it should be remembered after the
	// action (for Forget: as it was).
	Ban ban.Ban
	// Entry is the entry to write again (Readd).
	Entry ban.Entry
}

// Inputs of Reconcile besides the bans and the held entries.
type Inputs struct {
	// Targets are the ids of the targets listed, in order.
	Targets []string
	// Unseen are entries written but never read back since: missing, they
	// are written again rather than taken for removed by hand.
	Unseen []ban.Held
	// Now is the time of the reconcile: adopted bans begin then.
	Now time.Time
}

// Reconcile compares what the store remembers with what the targets hold
// (live, from one listing of every target in in.Targets) and returns the
// actions that make them agree, bans in prefix order, adoptions last:
//   - an entry of a ban held at another rule number: Update;
//   - a ban with none of its entries held (and none unseen): Forget;
//   - a ban with some entries held, or unseen: Readd of each own entry
//     missing (another writer's missing entry is dropped), unless NoAdopt,
//     which only drops them (Update);
//   - a held entry for a ban's prefix in a target the ban lacks: Update
//     (unless NoAdopt);
//   - a held entry no ban knows: Adopt, lasting BlockDuration from now
//     (unless NoAdopt).
func (c Config) Reconcile(remembered []ban.Ban, live []ban.Held, in Inputs) []Action {
	held := make(map[netip.Prefix]map[string]int) // prefix -> target -> rule
	for _, h := range live {
		if held[h.Prefix] == nil {
			held[h.Prefix] = make(map[string]int)
		}
		if _, dup := held[h.Prefix][h.Target]; !dup {
			held[h.Prefix][h.Target] = h.Rule
		}
	}
	var out []Action
	for _, b := range remembered {
		out = append(out, c.reconcileBan(b, held[b.Prefix], in)...)
		delete(held, b.Prefix)
	}
	if c.NoAdopt {
		return out
	}
	prefixes := make([]netip.Prefix, 0, len(held))
	for p := range held {
		prefixes = append(prefixes, p)
	}
	slices.SortFunc(prefixes, ban.ComparePrefix)
	for _, p := range prefixes {
		b := ban.Ban{Prefix: p, Since: in.Now, Offences: 1, Duration: c.BlockDuration,
			ExpiresAt: ExpiresAt(in.Now, c.BlockDuration, nil)}
		for _, id := range in.Targets {
			if n, ok := held[p][id]; ok {
				b.Entries = append(b.Entries, ban.Entry{Target: id, Rule: n})
			}
		}
		out = append(out, Action{Kind: Adopt, Ban: b})
	}
	return out
}

// reconcileBan is Reconcile for one remembered ban b, with at what its
// targets hold for b's prefix.
func (c Config) reconcileBan(b ban.Ban, at map[string]int, in Inputs) []Action {
	var (
		kept    []ban.Entry
		missing []ban.Entry
		unseen  bool
	)
	for _, e := range b.Entries {
		if n, ok := at[e.Target]; ok {
			e.Rule = n
			kept = append(kept, e)
			continue
		}
		if !e.Foreign {
			missing = append(missing, e)
		}
		unseen = unseen || slices.Contains(in.Unseen, ban.Held{Target: e.Target, Rule: e.Rule, Prefix: b.Prefix})
	}
	if !c.NoAdopt {
		for _, id := range in.Targets { // entries the store missed
			n, ok := at[id]
			if ok && !slices.ContainsFunc(b.Entries, func(e ban.Entry) bool { return e.Target == id }) {
				kept = append(kept, ban.Entry{Target: id, Rule: n})
			}
		}
	}
	if c.NoAdopt {
		missing = nil // the targets are left as they are
	}
	if len(kept) == 0 && !(unseen && len(missing) > 0) {
		return []Action{{Kind: Forget, Ban: b}}
	}
	var out []Action
	if len(kept) > 0 && !slices.Equal(kept, b.Entries) {
		u := b.Clone()
		u.Entries = kept
		out = append(out, Action{Kind: Update, Ban: u})
	}
	for _, e := range missing {
		out = append(out, Action{Kind: Readd, Ban: b, Entry: e})
	}
	return out
}
