package shared

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/dosguard/dosguard/conf"
)

// ConnMaxLifetime recycles connections before ElastiCache drops an
// IAM-authenticated connection at 12 hours.
const ConnMaxLifetime = 11 * time.Hour

// quietLibrary silences go-redis's own logger (process-wide, its only
// form), which prints every failed dial to stderr: Fluent Bit's log would
// fill up during an outage. The guard logs one line per outage instead.
var quietLibrary sync.Once

type discard struct{}

func (discard) Printf(context.Context, string, ...any) {}

// poolSize is small: one round trip per Sync_Interval, plus the worker's
// claims and saves.
const poolSize = 4

// NewClient returns a client for c (cluster mode with c.Cluster),
// authenticating with iam when it is not nil. It connects lazily: the first
// call dials. Every call is bounded by c.Timeout, and never retried by the
// client: a round's scripts are not idempotent.
func NewClient(c conf.Redis, iam *IAMToken) (redis.UniversalClient, error) {
	quietLibrary.Do(func() { redis.SetLogger(discard{}) })
	u := &redis.UniversalOptions{IsClusterMode: c.Cluster}
	if c.Cluster {
		o, err := redis.ParseClusterURL(c.URL)
		if err != nil {
			return nil, fmt.Errorf("shared: %s: %w", conf.KeyRedisURL, err)
		}
		u.Addrs, u.Username, u.Password, u.TLSConfig = o.Addrs, o.Username, o.Password, o.TLSConfig
	} else {
		o, err := redis.ParseURL(c.URL)
		if err != nil {
			return nil, fmt.Errorf("shared: %s: %w", conf.KeyRedisURL, err)
		}
		u.Addrs, u.Username, u.Password, u.DB, u.TLSConfig = []string{o.Addr}, o.Username, o.Password, o.DB, o.TLSConfig
	}
	u.DialTimeout, u.ReadTimeout, u.WriteTimeout, u.PoolTimeout = c.Timeout, c.Timeout, c.Timeout, c.Timeout
	u.MaxRetries, u.ContextTimeoutEnabled, u.DisableIdentity, u.PoolSize = -1, true, true, poolSize
	u.DialerRetries = 1 // a round fails fast; the next one dials again
	u.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	if c.User != "" {
		u.Username = c.User
	}
	if iam != nil {
		u.CredentialsProviderContext = iam.Credentials
		u.ConnMaxLifetime = ConnMaxLifetime
	}
	return redis.NewUniversalClient(u), nil
}
