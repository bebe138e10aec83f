package conf

import (
	"strings"
	"testing"
)

func TestMetricsListen(t *testing.T) {
	tests := []struct {
		v, want string
		wantErr bool
	}{
		{"", "", false},
		{"off", "", false},
		{"127.0.0.1:2022", "127.0.0.1:2022", false},
		{"0.0.0.0:2022", "0.0.0.0:2022", false},
		{":2022", ":2022", false},
		{"[::1]:2022", "[::1]:2022", false},
		{"localhost:9100", "localhost:9100", false},
		{"2022", "", true},
		{"127.0.0.1", "", true},
		{"127.0.0.1:0", "", true},
		{"127.0.0.1:70000", "", true},
		{"127.0.0.1:http", "", true},
		{"a b:2022", "", true},
	}
	for _, tt := range tests {
		c, err := Parse(Props{"Threshold": "5", KeyMetricsListen: tt.v})
		switch {
		case tt.wantErr:
			if err == nil || !strings.HasPrefix(err.Error(), "dosguard: Metrics_Listen: ") || !strings.Contains(err.Error(), tt.v) || strings.Contains(err.Error(), "\n") {
				t.Errorf("Parse(Metrics_Listen=%q) error = %v, want one line naming the key and value", tt.v, err)
			}
		case err != nil || c.MetricsListen != tt.want:
			t.Errorf("Parse(Metrics_Listen=%q) = %q, %v; want %q", tt.v, c.MetricsListen, err, tt.want)
		}
	}
}
