package metrics_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dashboardQueries returns every PromQL query of the Grafana dashboard:
// the panels' targets and the template variables.
func dashboardQueries(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "docker", "grafana", "dosguard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("dosguard.json: %v", err)
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && (k == "expr" || k == "definition") {
					out = append(out, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	return out
}

var (
	// A metric in a selector: name{...} or name[range].
	selector = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\}|\[)`)
	// The metric of label_values(metric, label).
	labelValues = regexp.MustCompile(`label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*),\s*([a-zA-Z_]+)\)`)
	// A label matcher inside braces.
	matcher = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)`)
	// Grouping labels: by (a, b).
	byClause = regexp.MustCompile(`by \(([^)]*)\)`)
)

// TestDashboardMetricsServed: every metric the dashboard queries, and every
// label it selects or groups by, is served by /metrics of a guard that has
// flushed, blocked and notified, with the shared state on Redis and IP sets.
func TestDashboardMetricsServed(t *testing.T) {
	e := newEnv(t, withShared)
	e.flush(t)
	s := scrape(t, e.addr)
	served := s.Names()
	labels := map[string]bool{"le": true} // histograms' buckets
	for _, f := range s.Families {
		for _, m := range f.Metric {
			for _, lp := range m.Label {
				labels[lp.GetName()] = true
			}
		}
	}
	queries := dashboardQueries(t)
	if len(queries) < 10 {
		t.Fatalf("found %d queries in the dashboard, want its panels' (>= 10)", len(queries))
	}
	checked := 0
	for _, q := range queries {
		var names []string
		for _, m := range selector.FindAllStringSubmatch(q, -1) {
			names = append(names, m[1])
			for _, lm := range matcher.FindAllStringSubmatch(m[2], -1) {
				if !labels[lm[1]] {
					t.Errorf("query %q: label %s is served by no metric", q, lm[1])
				}
			}
		}
		for _, m := range labelValues.FindAllStringSubmatch(q, -1) {
			names = append(names, m[1])
			if !labels[m[2]] {
				t.Errorf("query %q: label %s is served by no metric", q, m[2])
			}
		}
		for _, m := range byClause.FindAllStringSubmatch(q, -1) {
			for _, l := range strings.Split(m[1], ",") {
				if l = strings.TrimSpace(l); l != "" && !labels[l] {
					t.Errorf("query %q: groups by %s, served by no metric", q, l)
				}
			}
		}
		if len(names) == 0 {
			t.Errorf("query %q: no metric found in it", q)
		}
		for _, n := range names {
			checked++
			if !slices.Contains(served, n) {
				t.Errorf("query %q: metric %s is not served by /metrics", q, n)
			}
		}
	}
	t.Logf("%d queries, %d metric references checked", len(queries), checked)
}

// TestReadmeListsMetrics: README's metric table lists exactly the dosguard_
// metrics /metrics serves (with the shared state on Redis, whose series
// are served only then).
func TestReadmeListsMetrics(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?m)^\| (dosguard_[a-z_]+(?:, dosguard_[a-z_]+)*) \|`)
	var listed []string
	for _, m := range row.FindAllStringSubmatch(string(data), -1) {
		listed = append(listed, strings.Split(m[1], ", ")...)
	}
	e := newEnv(t, withShared)
	e.flush(t)
	var served []string
	for name := range scrape(t, e.addr).Families {
		if strings.HasPrefix(name, "dosguard_") {
			served = append(served, name)
		}
	}
	slices.Sort(listed)
	slices.Sort(served)
	if !slices.Equal(listed, served) {
		t.Errorf("README metric table (sorted) =\n%q\nserved =\n%q", listed, served)
	}
}
