package guard

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/detector"
)

// TestRuleConditionCompiledOnce: the guard evaluates the condition conf
// compiled (the rule spec's Cond pointer), whether it came from the Where
// key, a query or a rules file, and refuses a rule whose Where nobody
// compiled instead of compiling it again.
func TestRuleConditionCompiledOnce(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	err := os.WriteFile(rules, []byte(`- name: block.errors
  threshold: 5
  where: code >= 400
- name: block.login
  query: SELECT host, COUNT(*) FROM access.win:time(1 min) WHERE auth = 'failed' GROUP BY host HAVING COUNT(*) >= 3
- name: block.all
  threshold: 100
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	for _, props := range []conf.Props{
		{"Threshold": "5", "Where": "code >= 400 AND path LIKE '/wp-%'"},
		{"Query": "SELECT host, COUNT(*) FROM access.win:time(1 min) WHERE method IN ('POST', 'PUT') GROUP BY host HAVING COUNT(*) >= 3"},
		{"Rules_File": rules},
	} {
		cfg, err := conf.Parse(props)
		if err != nil {
			t.Fatalf("%v: %v", props, err)
		}
		g, err := New(cfg, Deps{Now: func() time.Time { return t0 }}, nil)
		if err != nil {
			t.Fatalf("%v: New: %v", props, err)
		}
		for i, ru := range g.rules {
			want := cfg.Rules[i].Cond
			if c, err := detector.CompileCond(cfg.Rules[i].Where); err != nil || want == nil || want.String() != c.String() {
				t.Errorf("%v: rule %s: conf's Cond = %v, want Where %q compiled", props, ru.Name, want, cfg.Rules[i].Where)
			}
			if ru.cond != want {
				t.Errorf("%v: rule %s evaluates Cond %p, want conf's %p", props, ru.Name, ru.cond, want)
			}
		}
	}

	cfg, err := conf.Parse(conf.Props{"Threshold": "5", "Where": "code >= 400"})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Rules[0].Cond = nil
	if _, err := New(cfg, Deps{}, nil); err == nil || !strings.Contains(err.Error(), `where "code >= 400" is not compiled`) {
		t.Errorf("New with an uncompiled Where: error = %v, want it refused", err)
	}
}
