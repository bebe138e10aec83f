// Package waftest is a local AWS WAFv2 endpoint for tests: an httptest
// server that speaks the WAFv2 JSON 1.1 protocol (POST, header
// X-Amz-Target: AWSWAF_20190729.<Operation>, content type
// application/x-amz-json-1.1) for the two IP set operations dosguard uses,
// GetIPSet and UpdateIPSet, so tests run the real aws-sdk-go-v2 wafv2
// client, its serializers, signer, retryer and error decoding, against IP
// sets held in memory.
//
// The model follows AWS: an IP set has a scope (REGIONAL or CLOUDFRONT), a
// name, an id, an IP version and up to Limit addresses (10,000), each a
// CIDR of the set's version, any prefix but /0, stored canonical. Every
// change gives the set a new lock token; UpdateIPSet must carry the current
// one, else it fails with WAFOptimisticLockException, and replaces the
// whole address list (and the description: omitted, it is cleared).
// Errors are JSON {"__type": ..., "Message": ...} with HTTP 400
// (WAFInternalErrorException: 500).
//
// Faults are injected with Fail (error answers), Stall (calls that hang
// until released), DenyWrites (AccessDeniedException on UpdateIPSet) and
// OnCall (a hook run before each call is handled, for example to play
// another writer changing the set between dosguard's Get and Update).
// Every call is recorded with the region it was signed for. A Server is
// safe for concurrent use.
package waftest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/wafv2"

	"github.com/dosguard/dosguard/internal/awstest"
)

// Operations the server answers.
const (
	GetIPSet    = "GetIPSet"
	UpdateIPSet = "UpdateIPSet"
)

// targetPrefix is the X-Amz-Target prefix of WAFv2.
const targetPrefix = "AWSWAF_20190729."

// Limit is the most addresses an IP set holds.
const Limit = 10000

// Scopes.
const (
	Regional   = "REGIONAL"
	CloudFront = "CLOUDFRONT"
)

// Call is one request the server received.
type Call struct {
	// Op is the operation, such as UpdateIPSet.
	Op string
	// Region is the region of the request's SigV4 credential scope.
	Region string
	// Name, Scope and Id name the set.
	Name, Scope, Id string
	// Addresses is UpdateIPSet's list.
	Addresses []string
}

// Server is a local WAFv2 endpoint holding IP sets. Create it with
// NewServer; it is closed when the test ends.
type Server struct {
	srv       *httptest.Server
	closed    chan struct{}
	closeOnce sync.Once

	mu         sync.Mutex
	sets       map[string]*ipSet // by scope/name/id
	denyWrites bool
	faults     awstest.Faults
	stalls     awstest.Stalls
	hooks      []func(c Call)
	calls      []Call
	tokens     int
}

type ipSet struct {
	arn, name, id, scope, version, description string
	addrs                                      []string
	token                                      string
}

// NewServer starts a server with no IP sets, closed at the end of t.
func NewServer(t testing.TB) *Server {
	s := &Server{closed: make(chan struct{}), sets: make(map[string]*ipSet)}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	t.Cleanup(s.Close)
	return s
}

// URL returns the base URL of the endpoint.
func (s *Server) URL() string { return s.srv.URL }

// Close releases stalled calls and shuts the server down.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closed) })
	s.srv.Close()
}

// Client returns a real wafv2.Client for the server in region: static
// credentials, BaseEndpoint set to URL, and the SDK's standard retryer with
// 5 attempts, a 5ms maximum backoff and no retry quota.
func (s *Server) Client(t testing.TB, region string, optFns ...func(*wafv2.Options)) *wafv2.Client {
	t.Helper()
	o := wafv2.Options{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDWAFTEST", "waftest-secret", ""),
		BaseEndpoint: aws.String(s.URL()),
		HTTPClient:   &http.Client{Transport: awstest.OwnBody{RT: s.srv.Client().Transport}},
		Retryer: retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 5
			so.MaxBackoff = 5 * time.Millisecond
			so.RateLimiter = ratelimit.None
		}),
	}
	return wafv2.New(o, optFns...)
}

// ARN returns the ARN of an IP set as AWS forms it.
func ARN(region, scope, name, id string) string {
	kind := "regional"
	if scope == CloudFront {
		kind, region = "global", "us-east-1"
	}
	return fmt.Sprintf("arn:aws:wafv2:%s:123456789012:%s/ipset/%s/%s", region, kind, name, id)
}

// AddSet creates the IP set scope/name/id of version ("IPV4" or "IPV6")
// holding addrs, and returns its ARN (region: us-east-1 for REGIONAL
// sets). It panics on an address that does not parse.
func (s *Server) AddSet(scope, name, id, version string, addrs ...string) string {
	st := &ipSet{arn: ARN("us-east-1", scope, name, id), name: name, id: id, scope: scope, version: version, description: "waftest set"}
	for _, a := range addrs {
		c, err := canonical(a, version)
		if err != nil {
			panic(err)
		}
		st.addrs = append(st.addrs, c)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st.token = s.nextToken()
	s.sets[key(scope, name, id)] = st
	return st.arn
}

func key(scope, name, id string) string { return scope + "/" + name + "/" + id }

func (s *Server) nextToken() string {
	s.tokens++
	return fmt.Sprintf("lock-%08d", s.tokens)
}

// Addresses returns the addresses of a set, sorted (nil if there is none).
func (s *Server) Addresses(scope, name, id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.sets[key(scope, name, id)]
	if !ok {
		return nil
	}
	out := slices.Clone(st.addrs)
	slices.Sort(out)
	return out
}

// Description returns the description of a set.
func (s *Server) Description(scope, name, id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.sets[key(scope, name, id)]; ok {
		return st.description
	}
	return ""
}

// Write plays another writer: it adds add and removes remove from a set,
// giving it a new lock token, as an UpdateIPSet of theirs would.
func (s *Server) Write(scope, name, id string, add, remove []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.sets[key(scope, name, id)]
	for _, a := range add {
		c, err := canonical(a, st.version)
		if err != nil {
			panic(err)
		}
		if !slices.Contains(st.addrs, c) {
			st.addrs = append(st.addrs, c)
		}
	}
	st.addrs = slices.DeleteFunc(st.addrs, func(a string) bool { return slices.Contains(remove, a) })
	st.token = s.nextToken()
}

// DenyWrites makes UpdateIPSet answer AccessDeniedException.
func (s *Server) DenyWrites(deny bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denyWrites = deny
}

// Fail makes the next times calls of op ("*": any) answer code with
// status (400 for WAF's exceptions and throttling, 5xx for server trouble).
func (s *Server) Fail(op, code string, status, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.Add(awstest.Fault{Op: op, Code: code, Status: status, Left: times})
}

// ClearFaults drops the faults injected by Fail and not yet used.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.Clear()
}

// Stall holds calls of op ("*": any) until release is called, the client
// gives up or the server closes.
func (s *Server) Stall(op string) (release func()) { return s.stalls.Stall(op) }

// OnCall adds a hook run for every call, after it is recorded and before
// it is stalled, failed or handled, with no lock held: it may call any
// Server method (Write, Fail), which then applies to this call.
func (s *Server) OnCall(hook func(c Call)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks = append(s.hooks, hook)
}

// Calls returns the calls received so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// CallCount returns how many calls of op were received ("*": all).
func (s *Server) CallCount(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if op == "*" || c.Op == op {
			n++
		}
	}
	return n
}

// apiError is a WAFv2 error answer.
type apiError struct {
	status        int
	code, message string
}

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

// request is the JSON body of both operations.
type request struct {
	Name, Scope, Id, LockToken, Description *string
	Addresses                               []string
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	switch {
	case r.Method != http.MethodPost:
		writeError(w, errorf(http.StatusMethodNotAllowed, "UnknownOperationException", "method %s", r.Method))
		return
	case !ok:
		writeError(w, errorf(http.StatusBadRequest, "UnknownOperationException", "X-Amz-Target %q", r.Header.Get("X-Amz-Target")))
		return
	case r.Header.Get("Content-Type") != "application/x-amz-json-1.1":
		writeError(w, errorf(http.StatusBadRequest, "SerializationException", "Content-Type %q", r.Header.Get("Content-Type")))
		return
	}
	region, signed := credentialRegion(r)
	if !signed {
		writeError(w, errorf(http.StatusForbidden, "MissingAuthenticationTokenException", "request not signed"))
		return
	}
	var in request
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeError(w, errorf(http.StatusBadRequest, "SerializationException", "%v", err))
		return
	}
	c := Call{Op: op, Region: region, Name: deref(in.Name), Scope: deref(in.Scope), Id: deref(in.Id), Addresses: slices.Clone(in.Addresses)}
	s.mu.Lock()
	s.calls = append(s.calls, c)
	hooks := slices.Clone(s.hooks)
	s.mu.Unlock()
	for _, h := range hooks {
		h(c)
	}
	if err := s.waitStall(r.Context(), op); err != nil {
		writeError(w, err)
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.faults.Take(op); f != nil {
		writeError(w, errorf(f.Status, f.Code, "waftest: injected %s", f.Code))
		return
	}
	var (
		body any
		err  *apiError
	)
	switch op {
	case GetIPSet:
		body, err = s.get(c)
	case UpdateIPSet:
		body, err = s.update(c, in)
	default:
		err = errorf(http.StatusBadRequest, "UnknownOperationException", "operation %s", op)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(body)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// credentialRegion returns the region of a SigV4 Authorization header.
func credentialRegion(r *http.Request) (string, bool) {
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") || !strings.Contains(auth, "Signature=") || r.Header.Get("X-Amz-Date") == "" {
		return "", false
	}
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return "", false
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(cred, "/") // AKID/date/region/service/aws4_request
	if len(parts) != 5 || parts[3] != "wafv2" {
		return "", false
	}
	return parts[2], true
}

// lookup finds the set of c; s.mu must be held.
func (s *Server) lookup(c Call) (*ipSet, *apiError) {
	if c.Scope != Regional && c.Scope != CloudFront {
		return nil, errorf(http.StatusBadRequest, "WAFInvalidParameterException", "Error reason: The scope is not valid., field: SCOPE_VALUE, parameter: %s", c.Scope)
	}
	if c.Scope == CloudFront && c.Region != "us-east-1" {
		return nil, errorf(http.StatusBadRequest, "WAFInvalidParameterException", "Error reason: The scope is not valid., field: SCOPE_VALUE, parameter: CLOUDFRONT (call us-east-1)")
	}
	st, ok := s.sets[key(c.Scope, c.Name, c.Id)]
	if !ok {
		return nil, errorf(http.StatusBadRequest, "WAFNonexistentItemException", "AWS WAF couldn’t perform the operation because your resource doesn’t exist.")
	}
	return st, nil
}

type getOutput struct {
	IPSet     ipSetJSON
	LockToken string
}

type ipSetJSON struct {
	ARN, Name, Id, IPAddressVersion, Description string
	Addresses                                    []string
}

func (s *Server) get(c Call) (any, *apiError) {
	st, err := s.lookup(c)
	if err != nil {
		return nil, err
	}
	return getOutput{
		IPSet:     ipSetJSON{ARN: st.arn, Name: st.name, Id: st.id, IPAddressVersion: st.version, Description: st.description, Addresses: append([]string{}, st.addrs...)},
		LockToken: st.token,
	}, nil
}

func (s *Server) update(c Call, in request) (any, *apiError) {
	if s.denyWrites {
		return nil, errorf(http.StatusBadRequest, "AccessDeniedException", "User: arn:aws:sts::123456789012:assumed-role/dosguard is not authorized to perform: wafv2:UpdateIPSet")
	}
	st, err := s.lookup(c)
	if err != nil {
		return nil, err
	}
	if in.LockToken == nil || in.Addresses == nil {
		return nil, errorf(http.StatusBadRequest, "WAFInvalidParameterException", "Error reason: A required field is missing.")
	}
	if *in.LockToken != st.token {
		return nil, errorf(http.StatusBadRequest, "WAFOptimisticLockException", "AWS WAF couldn’t save your changes because someone changed the resource after you started to edit it. Reapply your changes.")
	}
	if len(in.Addresses) > Limit {
		return nil, errorf(http.StatusBadRequest, "WAFLimitsExceededException", "AWS WAF couldn’t perform the operation because you exceeded your resource limit: %d addresses", len(in.Addresses))
	}
	var addrs []string
	for _, a := range in.Addresses {
		cn, cerr := canonical(a, st.version)
		if cerr != nil {
			return nil, errorf(http.StatusBadRequest, "WAFInvalidParameterException", "Error reason: %v, field: IP_ADDRESS, parameter: %s", cerr, a)
		}
		if !slices.Contains(addrs, cn) {
			addrs = append(addrs, cn)
		}
	}
	st.addrs = addrs
	st.description = deref(in.Description)
	st.token = s.nextToken()
	return map[string]string{"NextLockToken": st.token}, nil
}

// canonical checks a CIDR of version and returns it masked.
func canonical(a, version string) (string, error) {
	p, err := netip.ParsePrefix(a)
	if err != nil {
		return "", fmt.Errorf("not a CIDR")
	}
	if p.Bits() == 0 {
		return "", fmt.Errorf("/0 is not allowed")
	}
	if p.Addr().Is6() != (version == "IPV6") {
		return "", fmt.Errorf("address of the wrong IP version for a %s set", version)
	}
	return p.Masked().String(), nil
}

func (s *Server) waitStall(ctx context.Context, op string) *apiError {
	if err := s.stalls.Wait(ctx, op, s.closed); err != nil {
		return errorf(http.StatusServiceUnavailable, "ServiceUnavailable", "waftest: %v", err)
	}
	return nil
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.code, "Message": e.message})
}
