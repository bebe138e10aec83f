// Package metricstest scrapes a dosguard /metrics endpoint for tests: the
// series as name{labels} -> value, and the checks every test of the
// endpoint shares (no address as a label).
package metricstest

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Scrape is one scrape of /metrics, parsed.
type Scrape struct {
	Families map[string]*dto.MetricFamily
}

// Get scrapes http://addr/metrics.
func Get(addr string) (*Scrape, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("GET /metrics: %s: %s", resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse /metrics: %w", err)
	}
	return &Scrape{Families: fams}, nil
}

// Value returns the value of the series of family name whose labels
// include every pair of labels ("k=v" strings), summed over the series
// that match: a counter's or gauge's value, a histogram's count.
func (s *Scrape) Value(name string, labels ...string) float64 {
	f, ok := s.Families[name]
	if !ok {
		return 0
	}
	sum := 0.0
	for _, m := range f.Metric {
		if !hasLabels(m, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			sum += m.Untyped.GetValue()
		}
	}
	return sum
}

// Has reports whether family name has a series with labels.
func (s *Scrape) Has(name string, labels ...string) bool {
	f, ok := s.Families[name]
	if !ok {
		return false
	}
	for _, m := range f.Metric {
		if hasLabels(m, labels) {
			return true
		}
	}
	return false
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for _, l := range labels {
		k, v, _ := strings.Cut(l, "=")
		found := false
		for _, lp := range m.Label {
			if lp.GetName() == k && lp.GetValue() == v {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Names returns every series name a query may use: each family's name,
// and for histograms and summaries their _bucket, _sum and _count.
func (s *Scrape) Names() []string {
	var out []string
	for name, f := range s.Families {
		out = append(out, name)
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			out = append(out, name+"_bucket", name+"_sum", name+"_count")
		case dto.MetricType_SUMMARY:
			out = append(out, name+"_sum", name+"_count")
		}
	}
	sort.Strings(out)
	return out
}

// AddressLabels returns one line per label that names or holds a client
// address: a label name such as addr, host, ip or client, or a value that
// parses as an IP address or prefix. Empty means none.
func (s *Scrape) AddressLabels() []string {
	var bad []string
	for name, f := range s.Families {
		for _, m := range f.Metric {
			for _, lp := range m.Label {
				k, v := lp.GetName(), lp.GetValue()
				if isAddressName(k) || isAddress(v) {
					bad = append(bad, fmt.Sprintf("%s{%s=%q}", name, k, v))
				}
			}
		}
	}
	sort.Strings(bad)
	return bad
}

func isAddressName(k string) bool {
	switch strings.ToLower(k) {
	case "addr", "address", "host", "ip", "client", "remote", "source", "src", "prefix", "cidr":
		return true
	}
	return false
}

func isAddress(v string) bool {
	if _, err := netip.ParseAddr(v); err == nil {
		return true
	}
	if _, err := netip.ParsePrefix(v); err == nil {
		return true
	}
	if ap, err := netip.ParseAddrPort(v); err == nil && ap.IsValid() {
		return true
	}
	return false
}
