// Package peaks measures how close each client of a log came to each rule's
// threshold, to pick thresholds from one's own traffic (dosguard replay
// --top).
//
// The model: a Tracker runs the rules of a config over chunks as the guard
// does (the rule's target, its Where condition, its key with Key_Fallback
// and Trusted_Proxies, the allowlist and private ranges, Distinct), and
// counts each client in a detector of the rule's window (sliding or
// tumbling) that never fires. After each counted record it reads the
// client's windowed count; a client's peak is the highest, with the record
// time it was reached. Unlike the guard, it keeps counting clients that
// would have been blocked, so a flood's peak shows how far over the
// threshold it went.
//
// A Tracker is for replays: it keeps one peak per client and rule, so its
// memory grows with the clients of the log. It is not safe for concurrent
// use.
package peaks

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"net/netip"
	"time"

	"github.com/dosguard/dosguard/chunk"
	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/detector"
)

// Peak is one client's highest windowed count for one rule.
type Peak struct {
	Addr  netip.Addr
	Count int
	At    time.Time // record time of the record that reached Count first
}

// Tracker counts the peaks of every client for every rule of a config.
type Tracker struct {
	rules  []*rule
	keys   []*detector.KeyExtractor
	exempt *detector.Exemptions
	seed   maphash.Seed
}

type rule struct {
	conf.Rule
	key   int
	det   *detector.Detector
	peaks map[netip.Addr]*Peak
}

// New returns a Tracker of cfg's rules.
func New(cfg conf.Config) (*Tracker, error) {
	t := &Tracker{seed: maphash.MakeSeed()}
	var err error
	if t.exempt, err = detector.NewExemptions(detector.ExemptionsConfig{Allowlist: cfg.Allowlist, BlockPrivate: cfg.BlockPrivate}); err != nil {
		return nil, fmt.Errorf("peaks: %w", err)
	}
	var keys detector.KeyExtractors
	for _, cr := range cfg.Rules {
		if cr.Cond == nil && cr.Where != "" {
			return nil, fmt.Errorf("peaks: rule %s: where %q is not compiled: build rules with conf", cr.Name, cr.Where)
		}
		k, err := keys.Add(detector.KeySpec{Field: cr.ResolvedKey(), Fallback: cfg.KeyFallback, Trusted: cfg.TrustedProxies})
		if err != nil {
			return nil, fmt.Errorf("peaks: rule %s: %w", cr.Name, err)
		}
		// A threshold no count reaches: the detector only counts.
		threshold := math.MaxInt32
		if cr.Distinct != nil {
			threshold = detector.MaxDistinctThreshold
		}
		det, err := detector.New(detector.Config{
			Window: cr.Window, Threshold: threshold, MaxKeys: cfg.MaxTrackedKeys,
			Tumbling: cr.WindowType == detector.Tumbling, Distinct: cr.Distinct != nil,
		})
		if err != nil {
			return nil, fmt.Errorf("peaks: rule %s: %w", cr.Name, err)
		}
		t.rules = append(t.rules, &rule{Rule: cr, key: k, det: det, peaks: map[netip.Addr]*Peak{}})
	}
	if len(t.rules) == 0 {
		return nil, errors.New("peaks: no rules")
	}
	t.keys = keys.List()
	return t, nil
}

// FlushAt counts the records of one chunk of tag; records without a time
// of their own are counted at now.
func (t *Tracker) FlushAt(now time.Time, data []byte, tag string) {
	on := make([]bool, len(t.rules))
	anyOn := false
	for i, ru := range t.rules {
		on[i] = detector.MatchTarget(ru.Target, tag)
		anyOn = anyOn || on[i]
	}
	if !anyOn {
		return
	}
	addrs := make([]netip.Addr, len(t.keys))
	done := make([]bool, len(t.keys))
	r := chunk.NewReader(data)
	for {
		ev, ok := r.Next()
		if !ok {
			return
		}
		at := now
		if ev.HasTime {
			at = ev.Time
		}
		clear(done)
		for i, ru := range t.rules {
			if !on[i] || !ru.Cond.Eval(ev.Body) {
				continue
			}
			if !done[ru.key] {
				done[ru.key] = true
				addrs[ru.key] = t.address(ru.key, ev.Body)
			}
			if a := addrs[ru.key]; a.IsValid() {
				t.observe(ru, at, a, ev.Body)
			}
		}
	}
}

// address is the record's client for key extractor k, or the zero Addr when
// it has none, an invalid one or an exempt one.
func (t *Tracker) address(k int, body []byte) netip.Addr {
	a, err := t.keys[k].Extract(body)
	if err != nil {
		return netip.Addr{}
	}
	if _, ex := t.exempt.Exempt(a); ex {
		return netip.Addr{}
	}
	return a.Unmap()
}

// observe counts one record of a at time at for ru and updates a's peak.
func (t *Tracker) observe(ru *rule, at time.Time, a netip.Addr, body []byte) {
	var fired bool
	if ru.Distinct != nil {
		v, ok := chunk.Lookup(body, ru.Distinct)
		if !ok {
			return
		}
		_, fired = ru.det.ObserveDistinctAt(at, a, maphash.Bytes(t.seed, v.Raw))
	} else {
		_, fired = ru.det.ObserveAt(at, a)
	}
	n := ru.det.CountAt(at, a)
	if fired {
		ru.det.Release(a) // the bound of a distinct set: count again from zero
	}
	p, ok := ru.peaks[a]
	if !ok {
		p = &Peak{Addr: a}
		ru.peaks[a] = p
	}
	if n > p.Count {
		p.Count, p.At = n, at
	}
}
