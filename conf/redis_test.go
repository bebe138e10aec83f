package conf

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseRedis(t *testing.T) {
	c, err := Parse(Props{"Threshold": "10", "Redis_URL": "rediss://cfg.dosguard.abc.use1.cache.amazonaws.com:6379",
		"Redis_Cluster": "on", "Redis_Key_Prefix": "shop:", "Redis_IAM_Auth": "on", "Redis_User": "dosguard",
		"Redis_Cache_Name": "dosguard-cache", "Sync_Interval": "2s", "Redis_Timeout": "200ms", "Redis_Max_Pending": "5000"})
	if err != nil {
		t.Fatal(err)
	}
	want := Redis{URL: "rediss://cfg.dosguard.abc.use1.cache.amazonaws.com:6379", Cluster: true, KeyPrefix: "shop:",
		IAMAuth: true, User: "dosguard", CacheName: "dosguard-cache", Timeout: 200 * time.Millisecond,
		MaxPending: 5000, SyncInterval: 2 * time.Second}
	if c.Redis != want {
		t.Errorf("Redis = %+v\nwant %+v", c.Redis, want)
	}
	c, err = Parse(Props{"Threshold": "10", "Redis_URL": "redis://127.0.0.1:6379"})
	if err != nil {
		t.Fatal(err)
	}
	want = Redis{URL: "redis://127.0.0.1:6379", KeyPrefix: DefaultRedisKeyPrefix, Timeout: DefaultRedisTimeout,
		MaxPending: DefaultRedisMaxPending, SyncInterval: DefaultSyncInterval}
	if c.Redis != want || !c.Redis.On() {
		t.Errorf("defaults: Redis = %+v\nwant %+v", c.Redis, want)
	}
	if c, _ := Parse(Props{"Threshold": "10"}); c.Redis.On() {
		t.Error("Redis on without Redis_URL")
	}
}

func TestParseRedisErrors(t *testing.T) {
	tests := []struct {
		props     Props
		key, val  string
		wantInMsg string
	}{
		{Props{"Redis_URL": "http://cache:6379"}, "Redis_URL", "http://cache:6379", "redis://"},
		{Props{"Redis_URL": "redis://:s3cret@"}, "Redis_URL", "redis://:xxxxx@", "redis://"},
		{Props{"Redis_URL": "redis://h", "Redis_Cluster": "yes please"}, "Redis_Cluster", "yes please", "on or off"},
		{Props{"Redis_Cluster": "on"}, "Redis_Cluster", "on", "needs Redis_URL"},
		{Props{"Redis_URL": "redis://h", "Redis_Key_Prefix": "a{b}"}, "Redis_Key_Prefix", "a{b}", "braces"},
		{Props{"Redis_URL": "redis://h", "Redis_IAM_Auth": "on", "Redis_User": "u", "Redis_Cache_Name": "c"}, "Redis_IAM_Auth", "on", "rediss://"},
		{Props{"Redis_URL": "rediss://h", "Redis_IAM_Auth": "on", "Redis_Cache_Name": "c"}, "Redis_User", "", "required"},
		{Props{"Redis_URL": "rediss://h", "Redis_IAM_Auth": "on", "Redis_User": "u"}, "Redis_Cache_Name", "", "required"},
		{Props{"Redis_URL": "redis://h", "Redis_User": "a b"}, "Redis_User", "a b", "user"},
		{Props{"Redis_URL": "redis://h", "Sync_Interval": "1ms"}, "Sync_Interval", "1ms", "duration"},
		{Props{"Redis_URL": "redis://h", "Redis_Timeout": "1h"}, "Redis_Timeout", "1h", "duration"},
		{Props{"Redis_URL": "redis://h", "Redis_Max_Pending": "10"}, "Redis_Max_Pending", "10", "integer"},
	}
	for _, tt := range tests {
		tt.props["Threshold"] = "10"
		_, err := Parse(tt.props)
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("Parse(%v) = %v, want a conf.Error", tt.props, err)
			continue
		}
		if ce.Key != tt.key || ce.Value != tt.val || !strings.Contains(err.Error(), tt.wantInMsg) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Parse(%v) = %v, want one line naming %s %q (%s)", tt.props, err, tt.key, tt.val, tt.wantInMsg)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}
