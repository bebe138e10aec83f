package main

import (
	"io"
	"net/netip"
	"sync"

	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/notify"
	"github.com/dosguard/dosguard/peaks"
)

// topReport is replay --top: the peaks of every client, and the replay's
// decision for each rule and client to show beside them.
type topReport struct {
	tr        *peaks.Tracker
	mu        sync.Mutex
	decisions map[string]string // rule + " " + host -> the first decision's status
}

func newTopReport(cfg conf.Config) (*topReport, error) {
	tr, err := peaks.New(cfg)
	if err != nil {
		return nil, err
	}
	return &topReport{tr: tr, decisions: map[string]string{}}, nil
}

// decided is the guard's OnDecision: it keeps the first decision of each
// rule and host (an unblocked one ends a ban, it decides nothing).
func (r *topReport) decided(d notify.Decision) {
	if d.Status == ban.Unblocked {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	k := d.Rule + " " + d.Host
	if _, ok := r.decisions[k]; !ok {
		r.decisions[k] = string(d.Status)
	}
}

func (r *topReport) write(w io.Writer, n int, asJSON bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := r.tr.Top(n, func(rule string, a netip.Addr) string { return r.decisions[rule+" "+a.String()] })
	if asJSON {
		return rep.WriteJSON(w)
	}
	return rep.WriteText(w)
}
