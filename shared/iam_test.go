package shared

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/redis/go-redis/v9"

	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/shared/redistest"
)

// stepClock is a clock the test moves.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *stepClock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

// countingCreds counts the credential look-ups.
type countingCreds struct {
	aws.CredentialsProvider
	n int
}

func (c *countingCreds) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c.n++
	return c.CredentialsProvider.Retrieve(ctx)
}

// TestIAMToken: the token is the SigV4-presigned connect request for the
// user and the cache, signed for elasticache with a 15-minute expiry at the
// clock's time; reused for 10 minutes, then signed again.
func TestIAMToken(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	clk := &stepClock{now: t0}
	creds := &countingCreds{CredentialsProvider: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "session")}
	tok := &IAMToken{User: "dosguard-user", CacheName: "dosguard-cache", Region: "eu-west-1", AWS: creds, Now: clk.Now}
	user, pass, err := tok.Credentials(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if user != "dosguard-user" {
		t.Errorf("user = %q", user)
	}
	if !strings.HasPrefix(pass, "dosguard-cache/?") {
		t.Fatalf("token %q does not start with the cache name and no scheme", pass)
	}
	u, err := url.Parse("http://" + pass)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	for k, want := range map[string]string{
		"Action": "connect", "User": "dosguard-user", "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
		"X-Amz-Expires": "900", "X-Amz-Date": "20261121T100000Z", "X-Amz-Security-Token": "session",
		"X-Amz-Credential":    "AKIDEXAMPLE/20261121/eu-west-1/elasticache/aws4_request",
		"X-Amz-SignedHeaders": "host",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if len(q.Get("X-Amz-Signature")) != 64 {
		t.Errorf("signature %q is not a SHA-256 hex", q.Get("X-Amz-Signature"))
	}
	for _, step := range []struct {
		at      time.Duration
		same    bool
		lookups int
	}{
		{time.Minute, true, 1},
		{TokenRefresh - time.Second, true, 1},
		{TokenRefresh, false, 2}, // 5 minutes before the token expires
		{TokenRefresh + time.Minute, true, 2},
	} {
		clk.Set(t0.Add(step.at))
		_, p2, err := tok.Credentials(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if (p2 == pass) != step.same || creds.n != step.lookups {
			t.Errorf("at +%v: same token %v (want %v), credential look-ups %d (want %d)", step.at, p2 == pass, step.same, creds.n, step.lookups)
		}
		pass = p2
	}
	if q2, _ := url.ParseQuery(strings.SplitN(pass, "?", 2)[1]); q2.Get("X-Amz-Date") != "20261121T101000Z" {
		t.Errorf("refreshed token dated %s, want the clock's 10:10", q2.Get("X-Amz-Date"))
	}
}

// TestIAMTokenServerless adds the resource type.
func TestIAMTokenServerless(t *testing.T) {
	tok := &IAMToken{User: "u", CacheName: "c", Region: "us-east-1", Serverless: true,
		AWS: credentials.NewStaticCredentialsProvider("AK", "SK", "")}
	p, err := tok.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p, "ResourceType=ServerlessCache") {
		t.Errorf("token %q lacks ResourceType=ServerlessCache", p)
	}
}

// TestIAMTokenAuthenticates: the client authenticates each new connection
// as the user with the current token (redis-server's ACL user whose
// password is the token the fixed clock gives), and recycles connections
// before ElastiCache's 12-hour cut-off.
func TestIAMTokenAuthenticates(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	clk := &stepClock{now: t0}
	tok := &IAMToken{User: "dosguard", CacheName: "dosguard", Region: "ap-northeast-1",
		AWS: credentials.NewStaticCredentialsProvider("AK", "SK", ""), Now: clk.Now}
	pass, err := tok.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	srv := redistest.Start(t, "--user", "dosguard", "on", ">"+pass, "~*", "&*", "+@all", "--user", "default", "off")
	c, err := NewClient(conf.Redis{URL: srv.URL(), User: "dosguard", Timeout: 5 * time.Second}, tok)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("PING as the IAM user: %v", err)
	}
	if o := c.(*redis.Client).Options(); o.ConnMaxLifetime != ConnMaxLifetime || o.ConnMaxLifetime >= 12*time.Hour {
		t.Errorf("ConnMaxLifetime = %v, want %v (< 12h)", o.ConnMaxLifetime, ConnMaxLifetime)
	}
	// Ten minutes on, a new connection presents a new token: refused here,
	// since the server only knows the first.
	clk.Set(t0.Add(TokenRefresh))
	c2, _ := NewClient(conf.Redis{URL: srv.URL(), User: "dosguard", Timeout: 5 * time.Second}, tok)
	defer c2.Close()
	if err := c2.Ping(context.Background()).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("PING with a refreshed token = %v, want WRONGPASS (a new token was sent)", err)
	}
}
