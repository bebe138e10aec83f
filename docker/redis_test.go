package docker

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// commentedRedis is a commented-out Redis setting of a ConfigMap, classic
// ("# Redis_URL  rediss://...") or YAML ("# redis_url: rediss://...").
var commentedRedis = regexp.MustCompile(`(?m)^(\s*)# ((?i:redis_)[A-Za-z_]+(?::| ).*)$`)

// TestRedisSettingsParse: the sidecar and node ConfigMaps carry the
// ElastiCache settings commented out; uncommented, they configure cluster
// mode and IAM authentication, and still parse.
func TestRedisSettingsParse(t *testing.T) {
	c := loadCluster(t)
	found := 0
	for key, cm := range c.configMaps {
		for k, data := range cm.Data {
			if !commentedRedis.MatchString(data) {
				continue
			}
			found++
			dir := t.TempDir()
			path := filepath.Join(dir, k)
			if err := os.WriteFile(path, []byte(commentedRedis.ReplaceAllString(data, "$1$2")), 0o644); err != nil {
				t.Fatal(err)
			}
			for i, cfg := range parseDosguardOutputs(t, key+"/"+k, loadConfig(t, path, nil)) {
				r := cfg.Redis
				if !r.On() || !r.Cluster || !r.IAMAuth || r.User == "" || r.CacheName == "" {
					t.Errorf("ConfigMap %s: output %d uncommented: Redis %+v, want cluster mode with IAM auth", key, i, r)
				}
			}
		}
	}
	if found < 2 {
		t.Errorf("%d ConfigMaps carry the Redis settings, want the sidecar's and the node's", found)
	}
}
