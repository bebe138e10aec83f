package peaks

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Report is, per rule, the clients that came closest to the threshold and
// the distribution of all clients' peaks.
type Report struct {
	Rules []RuleReport `json:"rules"`
}

// RuleReport is one rule's part of a Report.
type RuleReport struct {
	Rule       string   `json:"rule"`
	Action     string   `json:"action"`
	Threshold  int      `json:"threshold"`
	Window     Duration `json:"window"`
	WindowType string   `json:"window_type"`
	// Counts is what the rule counts: "requests", or "distinct <field>".
	Counts string `json:"counts"`
	// Clients is the number of clients the rule counted.
	Clients int `json:"clients"`
	// Top are the clients with the highest peaks, highest first.
	Top []Client `json:"top"`
	// Peaks is the distribution of the clients' peaks.
	Peaks Distribution `json:"peaks"`
}

// Client is one client's peak for a rule.
type Client struct {
	Client string    `json:"client"`
	Peak   int       `json:"peak"`
	At     time.Time `json:"at"`
	// Over reports Peak >= Threshold: the rule trips for this client.
	Over bool `json:"over"`
	// Decision is what the replay decided for this client and rule
	// (blocked, detected, failed to block), "" for none; a client over the
	// threshold without one was already banned by another rule.
	Decision string `json:"decision,omitempty"`
}

// Distribution is the nearest-rank percentiles of the clients' peaks.
type Distribution struct {
	P50  int `json:"p50"`
	P90  int `json:"p90"`
	P99  int `json:"p99"`
	P999 int `json:"p99.9"`
	Max  int `json:"max"`
}

// Duration is a time.Duration written as Go writes it ("1m0s") in JSON.
type Duration time.Duration

// MarshalJSON writes d as a string such as "1m0s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Top returns the report of the n highest peaks of each rule; decision, if
// not nil, gives the replay's decision for a rule and client.
func (t *Tracker) Top(n int, decision func(rule string, a netip.Addr) string) Report {
	var rep Report
	for _, ru := range t.rules {
		all := make([]*Peak, 0, len(ru.peaks))
		for _, p := range ru.peaks {
			all = append(all, p)
		}
		slices.SortFunc(all, func(a, b *Peak) int {
			if c := cmp.Compare(b.Count, a.Count); c != 0 {
				return c
			}
			if c := a.At.Compare(b.At); c != 0 {
				return c
			}
			return a.Addr.Compare(b.Addr)
		})
		rr := RuleReport{
			Rule: ru.Name, Action: string(ru.Action), Threshold: ru.Threshold, Window: Duration(ru.Window),
			WindowType: ru.WindowType.String(), Counts: "requests", Clients: len(all), Top: []Client{},
		}
		if ru.Distinct != nil {
			rr.Counts = "distinct " + ru.Distinct.String()
		}
		for _, p := range all[:min(n, len(all))] {
			c := Client{Client: p.Addr.String(), Peak: p.Count, At: p.At.UTC(), Over: p.Count >= ru.Threshold}
			if decision != nil {
				c.Decision = decision(ru.Name, p.Addr)
			}
			rr.Top = append(rr.Top, c)
		}
		rr.Peaks = distribution(all)
		rep.Rules = append(rep.Rules, rr)
	}
	return rep
}

// distribution takes peaks sorted highest first.
func distribution(desc []*Peak) Distribution {
	if len(desc) == 0 {
		return Distribution{}
	}
	// rank q: the smallest peak with at least q of all peaks at or below it.
	rank := func(q float64) int {
		k := int(math.Ceil(q * float64(len(desc)))) // 1-based rank, ascending
		return desc[len(desc)-max(k, 1)].Count
	}
	return Distribution{P50: rank(0.5), P90: rank(0.9), P99: rank(0.99), P999: rank(0.999), Max: desc[0].Count}
}

// WriteJSON writes r as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes r as a table per rule, for people.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for i, rr := range r.Rules {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "rule %s (%s): Threshold %d %s per %s %s window; %d clients\n",
			rr.Rule, rr.Action, rr.Threshold, rr.Counts, time.Duration(rr.Window), rr.WindowType, rr.Clients)
		if len(rr.Top) > 0 {
			fmt.Fprintf(&b, "  %-4s %-39s %8s  %-20s  %s\n", "#", "client", "peak", "at", "verdict")
		}
		for j, c := range rr.Top {
			fmt.Fprintf(&b, "  %-4d %-39s %8d  %-20s  %s\n", j+1, c.Client, c.Peak, c.At.Format(time.RFC3339), verdict(c))
		}
		p := rr.Peaks
		fmt.Fprintf(&b, "  peaks of %d clients: p50 %d  p90 %d  p99 %d  p99.9 %d  max %d  (threshold %d)\n",
			rr.Clients, p.P50, p.P90, p.P99, p.P999, p.Max, rr.Threshold)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// verdict is the last column of the text table.
func verdict(c Client) string {
	switch {
	case c.Decision != "":
		return c.Decision
	case c.Over:
		return "over (already banned)"
	}
	return "-"
}
