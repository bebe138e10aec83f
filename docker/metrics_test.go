package docker

import (
	"fmt"
	"net"
	"strconv"
	"testing"

	"github.com/dosguard/dosguard/conf"
)

// TestMetricsScrapable: every pod that runs dosguard serves its metrics
// where Prometheus's usual annotations say: each dosguard output has
// Metrics_Listen on every interface at one port, the container exposes
// that port named "metrics", and the pod template carries
// prometheus.io/scrape "true", prometheus.io/port and prometheus.io/path
// /metrics.
func TestMetricsScrapable(t *testing.T) {
	c := loadCluster(t)
	df, _ := parseDockerfile(t, "Dockerfile")
	image := df.imageFiles(t)
	pods := 0
	for _, p := range c.pods {
		for _, ct := range p.spec.Spec.Containers {
			cc, ok := c.loadContainerConfig(t, p, ct, image)
			if !ok || len(cc.file.Outputs("dosguard")) == 0 {
				continue
			}
			pods++
			where := fmt.Sprintf("%s: container %s", p.owner, ct.Name)
			port := ""
			for i, out := range cc.file.Outputs("dosguard") {
				cfg, err := conf.Parse(out)
				if err != nil {
					t.Fatalf("%s: output %d: %v", where, i, err)
				}
				host, po, err := net.SplitHostPort(cfg.MetricsListen)
				switch {
				case err != nil:
					t.Errorf("%s: output %d: %s %q, want 0.0.0.0:<port>", where, i, conf.KeyMetricsListen, cfg.MetricsListen)
					continue
				case host != "0.0.0.0" && host != "":
					t.Errorf("%s: output %d: %s %q listens on %s only: Prometheus scrapes the pod IP", where, i, conf.KeyMetricsListen, cfg.MetricsListen, host)
				case port != "" && po != port:
					t.Errorf("%s: outputs on ports %s and %s: want one endpoint", where, port, po)
				}
				port = po
			}
			found := false
			for _, cp := range ct.Ports {
				if cp.Name == "metrics" {
					found = true
					if strconv.Itoa(int(cp.ContainerPort)) != port || cp.Protocol != "TCP" {
						t.Errorf("%s: port metrics = %d/%s, want %s/TCP (Metrics_Listen)", where, cp.ContainerPort, cp.Protocol, port)
					}
				}
			}
			if !found {
				t.Errorf("%s: no container port named metrics", where)
			}
			ann := p.spec.Annotations
			want := map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": port, "prometheus.io/path": "/metrics"}
			for k, v := range want {
				if ann[k] != v {
					t.Errorf("%s: pod annotation %s = %q, want %q", p.owner, k, ann[k], v)
				}
			}
		}
	}
	if pods < 3 {
		t.Errorf("checked %d dosguard containers, want the sidecar, the node DaemonSet and the aggregator", pods)
	}
}
