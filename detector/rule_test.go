package detector

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dosguard/dosguard/chunk"
)

func TestResolvedAction(t *testing.T) {
	tests := []struct {
		name, action, want string
	}{
		{"block.flood", "", ActionBlock},
		{"detect.scanner", "", ActionDetect},
		{"flood", "", ActionBlock},
		{"", "", ActionBlock},
		{"detect", "", ActionBlock}, // the prefix needs its dot
		{"detectors.x", "", ActionBlock},
		{"DETECT.x", "", ActionBlock}, // prefixes are case-sensitive, as Fluentd's tags were
		{"detect.scanner", ActionBlock, ActionBlock},
		{"block.flood", ActionDetect, ActionDetect},
	}
	for _, tt := range tests {
		s := RuleSpec{Name: tt.name, Action: tt.action}
		if got := s.ResolvedAction(); got != tt.want {
			t.Errorf("RuleSpec{Name: %q, Action: %q}.ResolvedAction() = %q, want %q", tt.name, tt.action, got, tt.want)
		}
	}
}

func TestResolvedKey(t *testing.T) {
	if got := (RuleSpec{}).ResolvedKey(); len(got) != 1 || got[0] != DefaultKey {
		t.Errorf("ResolvedKey() of an empty Key = %q, want [%s]", got, DefaultKey)
	}
	k := chunk.Path{"request", "ip"}
	if got := (RuleSpec{Key: k}).ResolvedKey(); got.String() != k.String() {
		t.Errorf("ResolvedKey() = %q, want %q", got, k)
	}
}

func TestMatchTarget(t *testing.T) {
	tests := []struct {
		target, tag string
		want        bool
	}{
		{"", "anything", true},
		{"", "", true},
		{"access", "access", true},
		{"access", "apache.access", true},
		{"access", "k8s.ns.apache.access", true},
		{"access", "apache_access", false},
		{"access", "access.log", false},
		{"access", "xaccess", false},
		{"access", ".access", true},
		{"access", "", false},
		{"access", "acc", false},
		{"apache.access", "web.apache.access", true},
		{"apache.access", "access", false},
		{"Access", "apache.access", false}, // tags are case-sensitive
	}
	for _, tt := range tests {
		if got := MatchTarget(tt.target, tt.tag); got != tt.want {
			t.Errorf("MatchTarget(%q, %q) = %v, want %v", tt.target, tt.tag, got, tt.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { MatchTarget("access", "apache.access") }); n != 0 {
		t.Errorf("MatchTarget allocates %v times, want 0", n)
	}
}

func TestWindowType(t *testing.T) {
	tests := []struct {
		in      string
		want    WindowType
		wantErr bool
	}{
		{"", Sliding, false},
		{"sliding", Sliding, false},
		{"Tumbling", Tumbling, false},
		{"TUMBLING", Tumbling, false},
		{"time_batch", 0, true},
		{"hopping", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseWindowType(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseWindowType(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err == nil && tt.in != "" {
			if back, _ := ParseWindowType(got.String()); back != got {
				t.Errorf("ParseWindowType(%v.String()) = %v", got, back)
			}
		}
	}
	for wt, want := range map[WindowType]string{Sliding: "sliding", Tumbling: "tumbling", 7: "WindowType(7)"} {
		if got := wt.String(); got != want {
			t.Errorf("WindowType(%d).String() = %q, want %q", wt, got, want)
		}
	}
}

func TestRuleSpecValidate(t *testing.T) {
	ok := RuleSpec{Name: "block.flood", Window: time.Minute, Threshold: 1000}
	tests := []struct {
		name string
		mod  func(*RuleSpec)
		want []string // substrings of the error; none: valid
	}{
		{"valid", func(*RuleSpec) {}, nil},
		{"valid with everything", func(s *RuleSpec) {
			s.Action, s.Key, s.WindowType, s.Where, s.Distinct = ActionDetect, chunk.Path{"request", "ip"}, Tumbling, "code >= 400", chunk.Path{"path"}
		}, nil},
		{"bad action", func(s *RuleSpec) { s.Action = "drop" }, []string{`rule "block.flood": action "drop": want block or detect`}},
		{"zero window", func(s *RuleSpec) { s.Window = 0 }, []string{"window 0s: must be in (0, 24h0m0s]"}},
		{"long window", func(s *RuleSpec) { s.Window = 25 * time.Hour }, []string{"window 25h0m0s"}},
		{"bad window type", func(s *RuleSpec) { s.WindowType = 2 }, []string{"window type WindowType(2)"}},
		{"zero threshold", func(s *RuleSpec) { s.Threshold = 0 }, []string{"threshold 0"}},
		{"huge threshold", func(s *RuleSpec) { s.Threshold = 1 << 31 }, []string{"threshold 2147483648"}},
		{"empty key element", func(s *RuleSpec) { s.Key = chunk.Path{"a", ""} }, []string{"key"}},
		{"empty distinct", func(s *RuleSpec) { s.Distinct = chunk.Path{} }, []string{"distinct"}},
		{"bad where", func(s *RuleSpec) { s.Where = "code >" }, []string{`rule "block.flood": detector: where "code >" line 1 column 7`}},
		{"all at once", func(s *RuleSpec) { s.Action, s.Window, s.Threshold = "x", -1, -1 }, []string{"action", "window", "threshold"}},
	}
	for _, tt := range tests {
		s := ok
		tt.mod(&s)
		err := s.Validate()
		if (err != nil) != (tt.want != nil) {
			t.Errorf("%s: Validate() = %v, want error %v", tt.name, err, tt.want != nil)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: Validate() = %v, want it to contain %q", tt.name, err, w)
			}
		}
		// Compile refuses what Validate refuses, with the same error.
		c, cerr := s.Compile()
		if fmt.Sprint(cerr) != fmt.Sprint(err) {
			t.Errorf("%s: Compile() error = %v, want Validate's %v", tt.name, cerr, err)
		}
		if err == nil && (c.Cond == nil || c.Cond.String() != s.Where) {
			t.Errorf("%s: Compile().Cond = %v, want Where %q compiled", tt.name, c.Cond, s.Where)
		}
	}
}

// TestRuleSpecCompileOnce: Compile keeps a condition already compiled,
// ParseQuery's or its own, so a rule's WHERE is compiled once.
func TestRuleSpecCompileOnce(t *testing.T) {
	q, err := ParseQuery(articleLogin)
	if err != nil {
		t.Fatal(err)
	}
	s := RuleSpec{Name: "block.flood", Window: time.Minute, Threshold: 10, Where: "code >= 400"}
	for _, spec := range []RuleSpec{q, s} {
		once, err := spec.Compile()
		if err != nil {
			t.Fatalf("%q: Compile: %v", spec.Where, err)
		}
		if once.Cond == nil || once.Cond.String() != spec.Where {
			t.Fatalf("%q: Compile().Cond = %v, want the where compiled", spec.Where, once.Cond)
		}
		if spec.Cond != nil && once.Cond != spec.Cond {
			t.Errorf("%q: Compile() compiled again: Cond %p, want ParseQuery's %p", spec.Where, once.Cond, spec.Cond)
		}
		twice, err := once.Compile()
		if err != nil || twice.Cond != once.Cond {
			t.Errorf("%q: Compile of a compiled spec = %p, %v; want the same Cond %p", spec.Where, twice.Cond, err, once.Cond)
		}
	}
	// Compile returns the compiled spec and leaves its receiver alone.
	if s.Cond != nil {
		t.Errorf("Compile changed its receiver: Cond %v", s.Cond)
	}
}
