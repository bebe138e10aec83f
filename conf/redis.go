package conf

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Keys of shared counting and bans on Redis / Valkey (issue 10).
const (
	KeyRedisURL        = "Redis_URL"
	KeyRedisCluster    = "Redis_Cluster"
	KeyRedisKeyPrefix  = "Redis_Key_Prefix"
	KeyRedisIAMAuth    = "Redis_IAM_Auth"
	KeyRedisUser       = "Redis_User"
	KeyRedisCacheName  = "Redis_Cache_Name"
	KeyRedisTimeout    = "Redis_Timeout"
	KeyRedisMaxPending = "Redis_Max_Pending"
	KeySyncInterval    = "Sync_Interval"
)

// Defaults of the Redis keys.
const (
	DefaultRedisKeyPrefix  = "dosguard:"
	DefaultRedisTimeout    = 500 * time.Millisecond
	DefaultRedisMaxPending = 100_000
	DefaultSyncInterval    = time.Second
)

// Redis is the shared state's configuration; the zero value (no URL)
// means off: every instance counts and bans on its own.
type Redis struct {
	// URL is redis://[user:password@]host:port[/db], or rediss:// for TLS;
	// with Cluster, a cluster's configuration endpoint.
	URL     string
	Cluster bool
	// KeyPrefix starts every key dosguard writes.
	KeyPrefix string
	// IAMAuth authenticates as User with an ElastiCache IAM token for
	// CacheName, signed with the AWS default credential chain.
	IAMAuth   bool
	User      string
	CacheName string
	// Timeout bounds every Redis call.
	Timeout time.Duration
	// MaxPending bounds the addresses per rule whose counts wait for the
	// next sync.
	MaxPending int
	// SyncInterval is the period of the sync round.
	SyncInterval time.Duration
}

// On reports whether shared state on Redis is configured.
func (r Redis) On() bool { return r.URL != "" }

// parseRedis reads the Redis keys into c.Redis.
func (c *Config) parseRedis(get func(string) string) error {
	r := Redis{KeyPrefix: DefaultRedisKeyPrefix, Timeout: DefaultRedisTimeout,
		MaxPending: DefaultRedisMaxPending, SyncInterval: DefaultSyncInterval}
	var err error
	if v := get(KeyRedisURL); v != "" {
		u, perr := url.Parse(v)
		if perr != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Hostname() == "" {
			shown := v
			if perr == nil {
				shown = u.Redacted()
			} else if strings.Contains(v, "@") {
				shown = "(not shown: it may hold a password)"
			}
			return bad(KeyRedisURL, shown, "is not a redis:// or rediss:// URL such as redis://127.0.0.1:6379")
		}
		r.URL = v
	}
	bools := []struct {
		key string
		dst *bool
	}{{KeyRedisCluster, &r.Cluster}, {KeyRedisIAMAuth, &r.IAMAuth}}
	for _, b := range bools {
		v := get(b.key)
		if *b.dst, err = parseBool(v, false); err != nil {
			return bad(b.key, v, "is not on or off")
		}
	}
	if v := get(KeyRedisKeyPrefix); v != "" {
		if !printableASCII(v) || strings.ContainsAny(v, "{} ") || len(v) > 64 {
			return bad(KeyRedisKeyPrefix, v, "must be up to 64 printable ASCII characters without spaces or braces (braces are Redis Cluster hash tags)")
		}
		r.KeyPrefix = v
	}
	r.User, r.CacheName = get(KeyRedisUser), get(KeyRedisCacheName)
	for _, k := range []struct{ key, v string }{{KeyRedisUser, r.User}, {KeyRedisCacheName, r.CacheName}} {
		if k.v != "" && (!printableASCII(k.v) || strings.ContainsAny(k.v, " /?&#")) {
			return bad(k.key, k.v, "is not a user or cache name (printable ASCII without spaces, /, ?, & or #)")
		}
	}
	durations := []struct {
		key      string
		dst      *time.Duration
		min, max time.Duration
	}{
		{KeyRedisTimeout, &r.Timeout, 10 * time.Millisecond, 30 * time.Second},
		{KeySyncInterval, &r.SyncInterval, 100 * time.Millisecond, time.Minute},
	}
	for _, d := range durations {
		v := get(d.key)
		if v == "" {
			continue
		}
		n, perr := ParseDuration(v)
		if perr != nil || n < d.min || n > d.max {
			return bad(d.key, v, "is not a duration from %v to %v", d.min, d.max)
		}
		*d.dst = n
	}
	if v := get(KeyRedisMaxPending); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 1000 || n > 10_000_000 {
			return bad(KeyRedisMaxPending, v, "is not an integer from 1000 to 10000000")
		}
		r.MaxPending = n
	}
	if r.URL == "" {
		for _, k := range []string{KeyRedisCluster, KeyRedisIAMAuth, KeyRedisUser, KeyRedisCacheName} {
			if v := get(k); v != "" && !strings.EqualFold(v, "off") && !strings.EqualFold(v, "false") {
				return bad(k, v, "needs %s", KeyRedisURL)
			}
		}
		return nil // off: the zero Redis
	}
	if r.IAMAuth {
		switch {
		case !strings.HasPrefix(r.URL, "rediss://"):
			return bad(KeyRedisIAMAuth, "on", "needs a rediss:// %s: ElastiCache IAM authentication requires TLS", KeyRedisURL)
		case r.User == "":
			return bad(KeyRedisUser, "", "is required with %s on: the IAM-enabled ElastiCache user (its name and id)", KeyRedisIAMAuth)
		case r.CacheName == "":
			return bad(KeyRedisCacheName, "", "is required with %s on: the replication group or serverless cache name", KeyRedisIAMAuth)
		}
	}
	c.Redis = r
	return nil
}
