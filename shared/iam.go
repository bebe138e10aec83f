package shared

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// ElastiCache IAM tokens: valid TokenLifetime after signing; a new one is
// signed once the current one is older than TokenRefresh.
const (
	TokenLifetime = 15 * time.Minute
	TokenRefresh  = 10 * time.Minute
)

// emptyHash is the SHA-256 of an empty payload, as SigV4 presigning needs.
var emptyHash = func() string { h := sha256.Sum256(nil); return hex.EncodeToString(h[:]) }()

// IAMToken makes ElastiCache IAM authentication tokens: a SigV4-presigned
// GET http://CacheName/?Action=connect&User=User for service elasticache,
// signed with the AWS default credential chain (IRSA on EKS). A token is
// reused until TokenRefresh, so every new connection authenticates with one
// valid for at least five more minutes. Safe for concurrent use.
type IAMToken struct {
	User, CacheName, Region string
	// Serverless adds ResourceType=ServerlessCache (ElastiCache Serverless).
	Serverless bool
	// AWS is the AWS credential provider.
	AWS aws.CredentialsProvider
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu     sync.Mutex
	token  string
	signed time.Time
}

// Token returns a valid token, signing a new one when the last is older
// than TokenRefresh.
func (t *IAMToken) Token(ctx context.Context) (string, error) {
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	at := now().UTC()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" && at.Sub(t.signed) < TokenRefresh && !at.Before(t.signed) {
		return t.token, nil
	}
	creds, err := t.AWS.Retrieve(ctx)
	if err != nil {
		return "", fmt.Errorf("shared: IAM token for %s: AWS credentials: %w", t.User, err)
	}
	q := url.Values{"Action": {"connect"}, "User": {t.User}}
	if t.Serverless {
		q.Set("ResourceType", "ServerlessCache")
	}
	q.Set("X-Amz-Expires", fmt.Sprint(int(TokenLifetime/time.Second)))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+t.CacheName+"/?"+q.Encode(), nil)
	if err != nil {
		return "", fmt.Errorf("shared: IAM token for cache %s: %w", t.CacheName, err)
	}
	signedURL, _, err := v4.NewSigner().PresignHTTP(ctx, creds, req, emptyHash, "elasticache", t.Region, at)
	if err != nil {
		return "", fmt.Errorf("shared: IAM token for cache %s: sign: %w", t.CacheName, err)
	}
	t.token, t.signed = strings.TrimPrefix(signedURL, "http://"), at
	return t.token, nil
}

// Credentials is go-redis's CredentialsProviderContext: the user and a
// token, for each new connection.
func (t *IAMToken) Credentials(ctx context.Context) (string, string, error) {
	tok, err := t.Token(ctx)
	return t.User, tok, err
}
