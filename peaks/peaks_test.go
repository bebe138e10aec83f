package peaks

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/dosguard/dosguard/chunk"
	"github.com/dosguard/dosguard/conf"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func record(t time.Time, host, path string) []byte {
	return chunk.AppendEventV2(nil, t, map[string]any{}, map[string]any{"host": host, "path": path})
}

// TestPeakStraddlingMinute: 4 requests at :55..:58 and 4 at 1:01..1:04
// peak at 8 in a sliding minute and at 4 in a tumbling one.
func TestPeakStraddlingMinute(t *testing.T) {
	for _, tt := range []struct {
		windowType string
		want       int
		wantAt     time.Time
	}{
		{"sliding", 8, t0.Add(64 * time.Second)},
		{"tumbling", 4, t0.Add(58 * time.Second)},
	} {
		cfg, err := conf.Parse(conf.Props{"Threshold": "5", "Window": "1m", "Window_Type": tt.windowType})
		if err != nil {
			t.Fatal(err)
		}
		tr, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 4; j++ {
			tr.FlushAt(t0, record(t0.Add(time.Duration(55+j)*time.Second), "203.0.113.20", "/login"), "access")
		}
		for j := 0; j < 4; j++ {
			tr.FlushAt(t0, record(t0.Add(time.Duration(61+j)*time.Second), "203.0.113.20", "/login"), "access")
		}
		rep := tr.Top(1, nil)
		c := rep.Rules[0].Top[0]
		if c.Peak != tt.want || !c.At.Equal(tt.wantAt) || c.Over != (tt.want >= 5) {
			t.Errorf("%s: peak %d at %v over=%v, want %d at %v, over threshold 5: %v", tt.windowType, c.Peak, c.At, c.Over, tt.want, tt.wantAt, tt.want >= 5)
		}
	}
}

// TestPeakDistinct counts distinct paths, and keeps counting past the
// threshold.
func TestPeakDistinct(t *testing.T) {
	cfg, err := conf.Parse(conf.Props{"Threshold": "3", "Window": "5m", "Distinct": "path"})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for j := 0; j < 20; j++ {
		tr.FlushAt(t0, record(t0.Add(time.Duration(j)*time.Second), "203.0.113.30", fmt.Sprintf("/p%d", j%5)), "access")
		tr.FlushAt(t0, record(t0.Add(time.Duration(j)*time.Second), "203.0.113.31", "/same"), "access")
	}
	rep := tr.Top(5, func(string, netip.Addr) string { return "x" })
	top := rep.Rules[0].Top
	if len(top) != 2 || top[0].Client != "203.0.113.30" || top[0].Peak != 5 || !top[0].Over || top[1].Peak != 1 || top[0].Decision != "x" {
		t.Errorf("top = %+v, want 203.0.113.30 at 5 distinct paths (over 3), 203.0.113.31 at 1", top)
	}
}

// TestDistribution: nearest-rank percentiles of 1..1000.
func TestDistribution(t *testing.T) {
	var desc []*Peak
	for i := 1000; i >= 1; i-- {
		desc = append(desc, &Peak{Count: i})
	}
	want := Distribution{P50: 500, P90: 900, P99: 990, P999: 999, Max: 1000}
	if got := distribution(desc); got != want {
		t.Errorf("distribution(1..1000) = %+v, want %+v", got, want)
	}
	if got := distribution(desc[999:]); got != (Distribution{1, 1, 1, 1, 1}) {
		t.Errorf("distribution(1) = %+v, want all 1", got)
	}
	if got := distribution(nil); got != (Distribution{}) {
		t.Errorf("distribution() = %+v, want zeros", got)
	}
}
