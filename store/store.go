// Package store remembers bans and offence history across restarts: the
// Store interface, the State_File (File) and an in-memory store (Memory).
// A store is a memory, not the truth: the enforce package reconciles what
// it remembers with what the targets hold.
package store

import (
	"net/netip"
	"slices"
	"sync"

	"github.com/dosguard/dosguard/ban"
)

// State is what a Store remembers.
type State struct {
	// Bans are the bans, in prefix order.
	Bans []ban.Ban
	// History is the offence history per prefix, for escalation.
	History map[netip.Prefix]ban.Offence
}

// Store loads and saves a State. Calls are made one at a time.
type Store interface {
	// Load returns the remembered state; nil with no error means nothing
	// is remembered yet.
	Load() (*State, error)
	// Save replaces the remembered state by st.
	Save(st State) error
}

// Memory is a Store in memory; the zero value is empty and ready.
type Memory struct {
	mu sync.Mutex
	st *State
}

var _ Store = (*Memory)(nil)

// Load returns a copy of the state saved last, nil if none.
func (m *Memory) Load() (*State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.st == nil {
		return nil, nil
	}
	c := clone(*m.st)
	return &c, nil
}

// Save keeps a copy of st.
func (m *Memory) Save(st State) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := clone(st)
	m.st = &c
	return nil
}

func clone(st State) State {
	out := State{Bans: make([]ban.Ban, 0, len(st.Bans)), History: make(map[netip.Prefix]ban.Offence, len(st.History))}
	for _, b := range st.Bans {
		out.Bans = append(out.Bans, b.Clone())
	}
	for p, o := range st.History {
		out.History[p] = o
	}
	return out
}

// ReadOnly returns s loading through and saving nothing: a dry run's store.
func ReadOnly(s Store) Store { return readOnly{s} }

type readOnly struct{ s Store }

func (r readOnly) Load() (*State, error) { return r.s.Load() }
func (readOnly) Save(State) error        { return nil }

// sortBans orders bans by prefix.
func sortBans(bans []ban.Ban) {
	slices.SortFunc(bans, func(a, b ban.Ban) int { return ban.ComparePrefix(a.Prefix, b.Prefix) })
}
