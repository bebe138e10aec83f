package enforce

// Occupancy is how full one target is for one address family: the entries
// of the current bans it holds (dosguard's and adopted foreign ones) and
// the most it may hold (Target.Capacity).
type Occupancy struct {
	Target   string
	V6       bool
	Entries  int
	Capacity int
}

// Occupancy returns, for each target and address family in target order
// (IPv4 first), the entries of the current bans and the capacity. Its
// cost grows with the bans, which the targets' capacity bounds, never with
// the addresses the detectors track. It may be called from any goroutine.
func (e *Enforcer) Occupancy() []Occupancy {
	out := make([]Occupancy, 0, 2*len(e.targets))
	at := make(map[string]int, len(e.targets))
	for _, t := range e.targets {
		at[t.ID()] = len(out)
		out = append(out,
			Occupancy{Target: t.ID(), Capacity: t.Capacity(false)},
			Occupancy{Target: t.ID(), V6: true, Capacity: t.Capacity(true)})
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for p, b := range e.bans {
		v6 := 0
		if p.Addr().Is6() {
			v6 = 1
		}
		for _, en := range b.Entries {
			if i, ok := at[en.Target]; ok {
				out[i+v6].Entries++
			}
		}
	}
	return out
}
