package conf

import (
	"strings"
	"testing"
	"time"
)

func TestReconcileInterval(t *testing.T) {
	tests := []struct {
		v       string
		want    time.Duration
		wantErr bool
	}{
		{"", DefaultReconcileInterval, false},
		{"0", 0, false},
		{"30s", 30 * time.Second, false},
		{"5m", 5 * time.Minute, false},
		{"x", 0, true},
		{"-1s", 0, true},
		{"2d", 0, true},
	}
	for _, tt := range tests {
		c, err := Parse(Props{"Threshold": "5", KeyReconcileInterval: tt.v})
		switch {
		case tt.wantErr:
			if err == nil || !strings.HasPrefix(err.Error(), "dosguard: Reconcile_Interval: ") || !strings.Contains(err.Error(), tt.v) || strings.Contains(err.Error(), "\n") {
				t.Errorf("Parse(Reconcile_Interval=%q) error = %v, want one line naming the key and value", tt.v, err)
			}
		case err != nil || c.ReconcileInterval != tt.want:
			t.Errorf("Parse(Reconcile_Interval=%q) = %v, %v; want %v", tt.v, c.ReconcileInterval, err, tt.want)
		}
	}
}
