package metrics

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/enforce"
	"github.com/dosguard/dosguard/guard"
)

// Source is what the collector reads at each scrape: a *guard.Guard.
type Source interface {
	Stats() guard.Stats
	RuleStats() []guard.RuleStats
	Decisions() []guard.DecisionCount
	Occupancy() []enforce.Occupancy
	SharedStats() (guard.SharedStats, bool)
}

var _ Source = (*guard.Guard)(nil)

var _ prometheus.Collector = (*collector)(nil)

// collector turns a Source's counters into constant metrics at scrape time.
type collector struct {
	src Source

	records, malformed, groups, skipped, dropped, lost *prometheus.Desc
	hits, decisions, threshold                         *prometheus.Desc
	tracked, evicted, untracked, late                  *prometheus.Desc
	bans, capacity                                     *prometheus.Desc
	shared                                             sharedDescs
}

func newCollector(name string, src Source) *collector {
	cl := prometheus.Labels{"output": name}
	d := func(metric, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(metric, help, labels, cl)
	}
	return &collector{
		src:       src,
		records:   d("dosguard_records_total", "Log records read."),
		malformed: d("dosguard_malformed_events_total", "Events that could not be decoded, skipped."),
		groups:    d("dosguard_group_markers_total", "Group start and end markers skipped."),
		skipped: d("dosguard_records_skipped_total",
			"Records not counted by any rule, by reason: no_key (the key field is absent), invalid_key (not one IP address), exempt (allowlisted or private).", "reason"),
		dropped: d("dosguard_decisions_dropped_total", "Hits dropped because the decision queue was full (Queue_Size); the address can trip again."),
		lost:    d("dosguard_notifications_lost_total", "Decisions that could not be published to SNS."),
		hits:    d("dosguard_rule_hits_total", "Addresses that tripped the rule and reached the worker.", "rule"),
		decisions: d("dosguard_decisions_total",
			"Decisions by rule (\"dosguard\" for ban expiries not tied to one rule) and status: blocked, detected, failed, unblocked.", "rule", "status"),
		threshold: d("dosguard_rule_threshold", "The rule's Threshold: requests (or distinct values) per window.", "rule"),
		tracked:   d("dosguard_tracked_addresses", "Addresses the rule's detector holds now (at most Max_Tracked_Keys).", "rule"),
		evicted:   d("dosguard_addresses_evicted_total", "Tracked addresses evicted to make room for new ones.", "rule"),
		untracked: d("dosguard_addresses_untracked_total", "New addresses not tracked because the table was full of addresses that tripped.", "rule"),
		late:      d("dosguard_records_late_total", "Records too old for their address's window, skipped.", "rule"),
		bans:      d("dosguard_bans_active", "Entries of the current bans in each target (a Network ACL's id or an IP set's ARN), by address family (target \"none\": a dry run without targets).", "target", "family"),
		capacity:  d("dosguard_target_capacity", "The most entries a target may hold, by address family (NACL_Entry_Limit, WAF_Entry_Limit).", "target", "family"),
		shared:    newSharedDescs(d),
	}
}

func (c *collector) descs() []*prometheus.Desc {
	return append([]*prometheus.Desc{c.records, c.malformed, c.groups, c.skipped, c.dropped, c.lost, c.hits,
		c.decisions, c.threshold, c.tracked, c.evicted, c.untracked, c.late, c.bans, c.capacity}, c.shared.list()...)
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs() {
		ch <- d
	}
}

// Collect implements prometheus.Collector: a few loads per rule and per
// target, whatever the number of addresses tracked.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	st := c.src.Stats()
	counter(c.records, st.Records)
	counter(c.malformed, st.Malformed)
	counter(c.groups, st.Groups)
	counter(c.skipped, st.NoKey, "no_key")
	counter(c.skipped, st.Invalid, "invalid_key")
	counter(c.skipped, st.Exempt, "exempt")
	counter(c.dropped, st.QueueFull)
	counter(c.lost, st.NotifyErr)
	for _, r := range c.src.RuleStats() {
		counter(c.hits, r.Hits, r.Name)
		gauge(c.threshold, int64(r.Threshold), r.Name)
		gauge(c.tracked, r.Tracked, r.Name)
		counter(c.evicted, r.Evicted, r.Name)
		counter(c.untracked, r.Dropped, r.Name)
		counter(c.late, r.Late, r.Name)
	}
	for _, d := range c.src.Decisions() {
		counter(c.decisions, d.N, d.Rule, statusLabel(d.Status))
	}
	for _, o := range c.src.Occupancy() {
		fam := family(o.V6)
		gauge(c.bans, int64(o.Entries), o.Target, fam)
		if o.Capacity > 0 {
			gauge(c.capacity, int64(o.Capacity), o.Target, fam)
		}
	}
	if st, ok := c.src.SharedStats(); ok {
		c.shared.collect(ch, st)
	}
}

// statusLabel is a status as a label value: one word ("failed to block"
// is "failed").
func statusLabel(s ban.Status) string {
	if s == ban.Failed {
		return "failed"
	}
	return strings.ReplaceAll(string(s), " ", "_")
}

func family(v6 bool) string {
	if v6 {
		return "ipv6"
	}
	return "ipv4"
}
