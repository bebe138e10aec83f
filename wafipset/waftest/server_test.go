package waftest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/wafv2"
	"github.com/aws/aws-sdk-go-v2/service/wafv2/types"

	"github.com/dosguard/dosguard/wafipset/waftest"
)

// TestWire: the endpoint answers unsigned or malformed requests the way
// WAF does: JSON {"__type", "Message"} with a 4xx status.
func TestWire(t *testing.T) {
	srv := waftest.NewServer(t)
	srv.AddSet(waftest.Regional, "s", "1", "IPV4")
	for _, tt := range []struct {
		name, target, ctype, body string
		status                    int
		code                      string
	}{
		{"unsigned", "AWSWAF_20190729.GetIPSet", "application/x-amz-json-1.1", `{}`, 403, "MissingAuthenticationTokenException"},
		{"no target", "", "application/x-amz-json-1.1", `{}`, 400, "UnknownOperationException"},
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL(), strings.NewReader(tt.body))
		req.Header.Set("X-Amz-Target", tt.target)
		req.Header.Set("Content-Type", tt.ctype)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]string
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != tt.status || body["__type"] != tt.code || body["Message"] == "" {
			t.Errorf("%s: %d %v (%v), want %d %s", tt.name, resp.StatusCode, body, err, tt.status, tt.code)
		}
	}
}

// TestLockToken: an update with a stale lock token fails with
// WAFOptimisticLockException and changes nothing; addresses are stored
// canonical and checked against the set's IP version.
func TestLockToken(t *testing.T) {
	ctx := context.Background()
	srv := waftest.NewServer(t)
	srv.AddSet(waftest.Regional, "s", "1", "IPV4", "192.0.2.1/32")
	c := srv.Client(t, "us-east-1")
	in := &wafv2.GetIPSetInput{Name: aws.String("s"), Id: aws.String("1"), Scope: types.ScopeRegional}
	got, err := c.GetIPSet(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	srv.Write(waftest.Regional, "s", "1", []string{"192.0.2.2/32"}, nil)
	up := &wafv2.UpdateIPSetInput{Name: in.Name, Id: in.Id, Scope: in.Scope, LockToken: got.LockToken, Addresses: []string{"203.0.113.7/32"}}
	var lock *types.WAFOptimisticLockException
	if _, err := c.UpdateIPSet(ctx, up); !errors.As(err, &lock) {
		t.Fatalf("stale token: %v, want WAFOptimisticLockException", err)
	}
	if a := srv.Addresses(waftest.Regional, "s", "1"); strings.Join(a, " ") != "192.0.2.1/32 192.0.2.2/32" {
		t.Errorf("set = %v after a refused update", a)
	}
	got, _ = c.GetIPSet(ctx, in)
	up.LockToken = got.LockToken
	up.Addresses = []string{"2001:db8::1/128"}
	var inv *types.WAFInvalidParameterException
	if _, err := c.UpdateIPSet(ctx, up); !errors.As(err, &inv) {
		t.Errorf("IPv6 address in an IPv4 set: %v, want WAFInvalidParameterException", err)
	}
	up.Addresses = []string{"203.0.113.77/24"}
	if _, err := c.UpdateIPSet(ctx, up); err != nil {
		t.Fatal(err)
	}
	if a := srv.Addresses(waftest.Regional, "s", "1"); strings.Join(a, " ") != "203.0.113.0/24" {
		t.Errorf("set = %v, want the canonical 203.0.113.0/24", a)
	}
	var gone *types.WAFNonexistentItemException
	if _, err := c.GetIPSet(ctx, &wafv2.GetIPSetInput{Name: aws.String("nope"), Id: aws.String("1"), Scope: types.ScopeRegional}); !errors.As(err, &gone) {
		t.Errorf("unknown set: %v, want WAFNonexistentItemException", err)
	}
}
