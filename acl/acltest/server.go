// Package acltest is a local Amazon EC2 endpoint for tests: an
// httptest server that speaks the EC2 query protocol for the four Network
// ACL actions dosguard uses (DescribeNetworkAcls, CreateNetworkAclEntry,
// DeleteNetworkAclEntry, ReplaceNetworkAclEntry), so tests can run the real
// aws-sdk-go-v2 ec2 client, its serializers, signer, retryer and error
// decoding, against an in-memory set of network ACLs.
//
// The model follows AWS: every ACL holds numbered entries per direction
// (ingress, egress); a rule number is unique within a direction across both
// address families; CIDRs are stored canonical (100.68.0.18/18 is stored as
// 100.68.0.0/18); each direction and address family holds at most Quota
// entries (20 by default, at most 40) counting the default deny rule, which
// Describe shows with rule number 32767 and which cannot be created, changed
// or deleted. Requests must be POSTed, form encoded and SigV4-signed (the
// shape of the Authorization header is checked, not the signature).
//
// Faults are injected with Fail (error responses), FailAfter (the call
// applied, then answered with an error), Cut (the call applied, then the
// connection closed without an answer), Drop (a 200 answer, nothing
// applied), IgnoreDryRun (an endpoint that applies DryRun calls), Stall
// (calls that hang until released) and OnCall (a hook run before each call is handled, for
// example to play a racer that takes a rule number between Describe and
// Create). Every call is recorded and can be read back with Calls and
// CallCount. A Server is safe for concurrent use.
package acltest

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/dosguard/dosguard/internal/awstest"
)

// APIVersion is the EC2 API version the server accepts and answers with.
const APIVersion = "2016-11-15"

// Namespace is the XML namespace of EC2 responses.
const Namespace = "http://ec2.amazonaws.com/doc/" + APIVersion + "/"

// DefaultRuleNumber is the number Describe shows for the default deny rule
// ("*") of each direction and address family.
const DefaultRuleNumber = 32767

// DefaultQuota is the number of entries per direction and address family,
// including the default deny rule, that a network ACL holds by default.
const DefaultQuota = 20

// MaxQuota is the highest quota AWS grants on request.
const MaxQuota = 40

// Action names accepted by the server.
const (
	DescribeNetworkAcls    = "DescribeNetworkAcls"
	CreateNetworkAclEntry  = "CreateNetworkAclEntry"
	DeleteNetworkAclEntry  = "DeleteNetworkAclEntry"
	ReplaceNetworkAclEntry = "ReplaceNetworkAclEntry"
)

// Entry is one network ACL entry as the server stores it.
type Entry struct {
	// RuleNumber is 1..32766, or DefaultRuleNumber for the default rule.
	RuleNumber int
	// Egress is true for outbound entries, false for inbound (ingress).
	Egress bool
	// Protocol is "-1" for all protocols or an IP protocol number.
	Protocol string
	// RuleAction is "allow" or "deny".
	RuleAction string
	// CIDR is an IPv4 or IPv6 CIDR; AddACL and SetEntry store it canonical.
	CIDR string
}

// String formats e like "ingress 100 allow -1 0.0.0.0/0" for test messages.
func (e Entry) String() string {
	dir := "ingress"
	if e.Egress {
		dir = "egress"
	}
	return fmt.Sprintf("%s %d %s %s %s", dir, e.RuleNumber, e.RuleAction, e.Protocol, e.CIDR)
}

// Call is one request the server received, after its signature was checked.
type Call struct {
	// Action is the form's Action value, such as "CreateNetworkAclEntry".
	Action string
	// Form is the decoded form body.
	Form url.Values
}

// Server is a local EC2 endpoint holding network ACLs in memory. Create it
// with NewServer and Close it when done.
type Server struct {
	srv       *httptest.Server
	closed    chan struct{}
	closeOnce sync.Once

	mu         sync.Mutex
	acls       map[string]*networkACL
	quota      int
	denyWrites bool
	ignoreDry  bool
	faults     awstest.Faults
	stalls     awstest.Stalls
	hooks      []func(action string, form url.Values)
	calls      []Call
	requests   int
}

type networkACL struct {
	id        string
	vpcID     string
	isDefault bool
	entries   []Entry // canonical CIDRs
}

// What an injected fault does to a call (awstest.Fault.Kind).
const (
	faultFail  = iota // answer an error, apply nothing
	faultAfter        // apply, then answer an error
	faultCut          // apply, then close the connection unanswered
	faultDrop         // answer 200, apply nothing
)

// NewServer starts a server with no network ACLs and the default quota.
func NewServer() *Server {
	s := &Server{
		closed: make(chan struct{}),
		acls:   make(map[string]*networkACL),
		quota:  DefaultQuota,
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	return s
}

// URL returns the base URL of the endpoint, such as "http://127.0.0.1:41234".
func (s *Server) URL() string { return s.srv.URL }

// Close releases stalled calls and shuts the server down.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closed) })
	s.srv.Close()
}

// Client returns a real ec2.Client for the server: static credentials,
// region us-east-1, BaseEndpoint set to URL, and the SDK's standard retryer
// with 5 attempts, a 5ms maximum backoff and no retry quota, so retries are
// exercised but fast. optFns may change any option, for example the Retryer.
//
// Its HTTP client hands the transport a copy of each request body (see
// awstest.OwnBody), so that every call makes exactly the requests the test expects.
func (s *Server) Client(t testing.TB, optFns ...func(*ec2.Options)) *ec2.Client {
	t.Helper()
	o := ec2.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDACLTEST", "acltest-secret", ""),
		BaseEndpoint: aws.String(s.URL()),
		HTTPClient:   &http.Client{Transport: awstest.OwnBody{RT: s.srv.Client().Transport}},
		Retryer: retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 5
			so.MaxBackoff = 5 * time.Millisecond
			so.RateLimiter = ratelimit.None
		}),
	}
	return ec2.New(o, optFns...)
}

// AddACL adds (or replaces) the network ACL id holding entries. It panics on
// an entry whose CIDR does not parse, as that is a mistake in the test.
func (s *Server) AddACL(id string, entries ...Entry) {
	a := &networkACL{id: id, vpcID: "vpc-acltest"}
	for _, e := range entries {
		a.entries = append(a.entries, mustCanonical(e))
	}
	sortEntries(a.entries)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acls[id] = a
}

// DefaultACL adds (or replaces) the network ACL id holding what AWS puts in
// a VPC's default network ACL: in each direction rule 100 allows all from
// 0.0.0.0/0, rule 101 allows all from ::/0, and the default rule (*, shown
// as 32767) denies all for each family.
func (s *Server) DefaultACL(id string) {
	var entries []Entry
	for _, egress := range []bool{false, true} {
		entries = append(entries,
			Entry{RuleNumber: 100, Egress: egress, Protocol: "-1", RuleAction: "allow", CIDR: "0.0.0.0/0"},
			Entry{RuleNumber: 101, Egress: egress, Protocol: "-1", RuleAction: "allow", CIDR: "::/0"},
			Entry{RuleNumber: DefaultRuleNumber, Egress: egress, Protocol: "-1", RuleAction: "deny", CIDR: "0.0.0.0/0"},
			Entry{RuleNumber: DefaultRuleNumber, Egress: egress, Protocol: "-1", RuleAction: "deny", CIDR: "::/0"},
		)
	}
	s.AddACL(id, entries...)
	s.mu.Lock()
	s.acls[id].isDefault = true
	s.mu.Unlock()
}

// SetEntry puts e into the network ACL id, replacing the entry with the same
// direction and rule number if any, without any quota or validity check: it
// plays someone else editing the ACL. It panics if the ACL does not exist or
// the CIDR does not parse.
func (s *Server) SetEntry(id string, e Entry) {
	e = mustCanonical(e)
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.acls[id]
	if !ok {
		panic("acltest: SetEntry: no network ACL " + id)
	}
	a.entries = slices.DeleteFunc(a.entries, func(x Entry) bool {
		return x.Egress == e.Egress && x.RuleNumber == e.RuleNumber && (x.RuleNumber != DefaultRuleNumber || isIPv6(x.CIDR) == isIPv6(e.CIDR))
	})
	a.entries = append(a.entries, e)
	sortEntries(a.entries)
}

// Entries returns a copy of the entries of the network ACL id, ingress before
// egress, by rule number, IPv4 before IPv6; nil if the ACL does not exist.
func (s *Server) Entries(id string) []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.acls[id]
	if !ok {
		return nil
	}
	return slices.Clone(a.entries)
}

// SetQuota sets the number of entries per direction and address family,
// including the default rule, that every network ACL holds. It panics if n
// is outside 1..MaxQuota.
func (s *Server) SetQuota(n int) {
	if n < 1 || n > MaxQuota {
		panic(fmt.Sprintf("acltest: SetQuota(%d): want 1..%d", n, MaxQuota))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.quota = n
}

// DenyWrites makes Create, Delete and Replace fail with UnauthorizedOperation
// (403), as for a principal with only ec2:DescribeNetworkAcls; with DryRun
// set they then answer UnauthorizedOperation instead of DryRunOperation.
func (s *Server) DenyWrites(deny bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denyWrites = deny
}

// Fail makes the next times calls of action ("*" for any action) answer
// with the EC2 error code and HTTP status, such as ("RequestLimitExceeded",
// 503), ("InternalError", 500) or ("ServiceUnavailable", 503). Failed calls
// are recorded and change no state. Faults queue in the order they are set.
func (s *Server) Fail(action, code string, status, times int) {
	if times <= 0 {
		return
	}
	s.addFault(awstest.Fault{Kind: faultFail, Op: action, Code: code, Status: status, Left: times})
}

// FailAfter makes the next times calls of action apply, then answer with
// the EC2 error code and HTTP status, as when EC2 wrote an entry and the
// answer was an InternalError 500. Faults queue in the order they are set.
func (s *Server) FailAfter(action, code string, status, times int) {
	s.addFault(awstest.Fault{Kind: faultAfter, Op: action, Code: code, Status: status, Left: times})
}

// Cut makes the next times calls of action apply, then close the
// connection without an answer: a lost or cut-off answer.
func (s *Server) Cut(action string, times int) {
	s.addFault(awstest.Fault{Kind: faultCut, Op: action, Left: times})
}

// Drop makes the next times calls of action answer 200 and apply nothing:
// a write that never happened, reported as done.
func (s *Server) Drop(action string, times int) {
	s.addFault(awstest.Fault{Kind: faultDrop, Op: action, Left: times})
}

// IgnoreDryRun makes writes with DryRun apply as if DryRun were not set,
// as some emulators and proxies do.
func (s *Server) IgnoreDryRun(ignore bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ignoreDry = ignore
}

func (s *Server) addFault(f awstest.Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.Add(f)
}

// Stall makes calls of action ("*" for any action) hang, after they are
// recorded and before they are handled, until release is called, the
// client gives up on the request, or the server is closed. release may be
// called more than once.
func (s *Server) Stall(action string) (release func()) { return s.stalls.Stall(action) }

// OnCall adds a hook run for every call, after it is recorded and before it
// is stalled, failed or handled, with no lock held: the hook may call any
// Server method, including Fail and SetEntry, which then apply to this call.
func (s *Server) OnCall(hook func(action string, form url.Values)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks = append(s.hooks, hook)
}

// Calls returns a copy of the calls received so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	for i, c := range s.calls {
		out[i] = Call{Action: c.Action, Form: cloneForm(c.Form)}
	}
	return out
}

// CallCount returns how many calls of action were received ("*" counts all).
func (s *Server) CallCount(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if action == "*" || c.Action == action {
			n++
		}
	}
	return n
}

// apiError is an EC2 error response.
type apiError struct {
	status  int
	code    string
	message string
}

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := s.requestID()
	if r.Method != http.MethodPost {
		writeError(w, reqID, errorf(http.StatusMethodNotAllowed, "InvalidRequest", "The HTTP method %s is not supported.", r.Method))
		return
	}
	if !signed(r) {
		writeError(w, reqID, errorf(http.StatusUnauthorized, "AuthFailure", "AWS was not able to validate the provided access credentials"))
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, reqID, errorf(http.StatusBadRequest, "MalformedQueryString", "%v", err))
		return
	}
	form := r.PostForm
	action := form.Get("Action")
	if v := form.Get("Version"); v != APIVersion {
		writeError(w, reqID, errorf(http.StatusBadRequest, "NoSuchVersion", "An invalid or unsupported API version %q was specified", v))
		return
	}

	s.mu.Lock()
	s.calls = append(s.calls, Call{Action: action, Form: cloneForm(form)})
	hooks := slices.Clone(s.hooks)
	s.mu.Unlock()

	for _, h := range hooks {
		h(action, cloneForm(form))
	}
	if err := s.waitStall(r.Context(), action); err != nil {
		writeError(w, reqID, err) // unread if the client is gone
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults.Take(action)
	switch {
	case f == nil:
	case f.Kind == faultFail:
		writeError(w, reqID, errorf(f.Status, f.Code, "acltest: injected %s", f.Code))
		return
	case f.Kind == faultDrop:
		writeXML(w, http.StatusOK, returnResponse(action, reqID))
		return
	}
	var (
		body any
		err  *apiError
	)
	switch action {
	case DescribeNetworkAcls:
		body, err = s.describe(form, reqID)
	case CreateNetworkAclEntry:
		err = s.create(form)
		body = returnResponse(action, reqID)
	case DeleteNetworkAclEntry:
		err = s.delete(form)
		body = returnResponse(action, reqID)
	case ReplaceNetworkAclEntry:
		err = s.replace(form)
		body = returnResponse(action, reqID)
	default:
		err = errorf(http.StatusBadRequest, "InvalidAction", "The action %s is not valid for this web service.", action)
	}
	switch {
	case f != nil && f.Kind == faultAfter:
		writeError(w, reqID, errorf(f.Status, f.Code, "acltest: injected %s after applying", f.Code))
	case f != nil && f.Kind == faultCut:
		if conn, _, herr := w.(http.Hijacker).Hijack(); herr == nil {
			conn.Close()
		}
	case err != nil:
		writeError(w, reqID, err)
	default:
		writeXML(w, http.StatusOK, body)
	}
}

func (s *Server) requestID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	return fmt.Sprintf("acltest-%08d", s.requests)
}

// signed reports whether r carries a SigV4 Authorization header.
func signed(r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	return strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") &&
		strings.Contains(auth, "Credential=") &&
		strings.Contains(auth, "SignedHeaders=") &&
		strings.Contains(auth, "Signature=") &&
		r.Header.Get("X-Amz-Date") != ""
}

// waitStall blocks while action is stalled; it returns an error if ctx
// ended or the server closed first.
func (s *Server) waitStall(ctx context.Context, action string) *apiError {
	switch err := s.stalls.Wait(ctx, action, s.closed); {
	case errors.Is(err, awstest.ErrClosed):
		return errorf(http.StatusServiceUnavailable, "ServiceUnavailable", "acltest: server closed")
	case err != nil:
		return errorf(http.StatusServiceUnavailable, "RequestCanceled", "acltest: client gave up: %v", err)
	}
	return nil
}

func (s *Server) describe(form url.Values, reqID string) (any, *apiError) {
	if form.Get("DryRun") == "true" {
		return nil, errorf(http.StatusPreconditionFailed, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.")
	}
	ids := listParam(form, "NetworkAclId")
	filters, err := filterParams(form)
	if err != nil {
		return nil, err
	}
	var selected []*networkACL
	if len(ids) > 0 {
		for _, id := range ids {
			a, ok := s.acls[id]
			if !ok {
				return nil, errorf(http.StatusBadRequest, "InvalidNetworkAclID.NotFound", "The networkAcl ID '%s' does not exist", id)
			}
			selected = append(selected, a)
		}
	} else {
		for _, a := range s.acls {
			selected = append(selected, a)
		}
		slices.SortFunc(selected, func(a, b *networkACL) int { return strings.Compare(a.id, b.id) })
	}
	resp := describeResponse{Xmlns: Namespace, RequestID: reqID}
	for _, a := range selected {
		if !matchFilters(a, filters) {
			continue
		}
		xa := xmlACL{ID: a.id, VpcID: a.vpcID, Default: a.isDefault, OwnerID: "123456789012"}
		for _, e := range a.entries {
			xe := xmlEntry{RuleNumber: e.RuleNumber, Protocol: e.Protocol, RuleAction: e.RuleAction, Egress: e.Egress}
			if isIPv6(e.CIDR) {
				xe.Ipv6CidrBlock = e.CIDR
			} else {
				xe.CidrBlock = e.CIDR
			}
			xa.Entries = append(xa.Entries, xe)
		}
		resp.ACLs = append(resp.ACLs, xa)
	}
	return resp, nil
}

type filter struct {
	name   string
	values []string
}

// filterParams decodes Filter.N.Name and Filter.N.Value.M.
func filterParams(form url.Values) ([]filter, *apiError) {
	var out []filter
	for n := 1; ; n++ {
		prefix := "Filter." + strconv.Itoa(n) + "."
		name := form.Get(prefix + "Name")
		if name == "" {
			return out, nil
		}
		switch name {
		case "network-acl-id", "vpc-id", "default":
		default:
			return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "acltest: the filter '%s' is not supported", name)
		}
		out = append(out, filter{name: name, values: listParam(form, prefix+"Value")})
	}
}

func matchFilters(a *networkACL, filters []filter) bool {
	for _, f := range filters {
		var v string
		switch f.name {
		case "network-acl-id":
			v = a.id
		case "vpc-id":
			v = a.vpcID
		case "default":
			v = strconv.FormatBool(a.isDefault)
		}
		if !slices.Contains(f.values, v) {
			return false
		}
	}
	return true
}

// listParam decodes the flattened list name.1, name.2, ...
func listParam(form url.Values, name string) []string {
	var out []string
	for n := 1; ; n++ {
		v, ok := form[name+"."+strconv.Itoa(n)]
		if !ok || len(v) == 0 {
			return out
		}
		out = append(out, v[0])
	}
}

// entryParams decodes and validates the entry of a Create or Replace call.
func entryParams(form url.Values) (Entry, *apiError) {
	var e Entry
	n, err := ruleNumberParam(form)
	if err != nil {
		return e, err
	}
	e.RuleNumber = n
	if e.Egress, err = boolParam(form, "Egress", "egress"); err != nil {
		return e, err
	}
	proto := form.Get("Protocol")
	if proto == "" {
		return e, missing("protocol")
	}
	if e.Protocol = canonicalProtocol(proto); e.Protocol == "" {
		return e, errorf(http.StatusBadRequest, "InvalidParameterValue", "Invalid value '%s' for protocol.", proto)
	}
	switch e.RuleAction = form.Get("RuleAction"); e.RuleAction {
	case "allow", "deny":
	case "":
		return e, missing("ruleAction")
	default:
		return e, errorf(http.StatusBadRequest, "InvalidParameterValue", "Invalid value '%s' for ruleAction.", e.RuleAction)
	}
	v4, v6 := form.Get("CidrBlock"), form.Get("Ipv6CidrBlock")
	switch {
	case v4 == "" && v6 == "":
		return e, missing("cidrBlock or ipv6CidrBlock")
	case v4 != "" && v6 != "":
		return e, errorf(http.StatusBadRequest, "InvalidParameterCombination", "Only one of cidrBlock or ipv6CidrBlock may be specified.")
	case v4 != "":
		p, perr := netip.ParsePrefix(v4)
		if perr != nil || !p.Addr().Is4() {
			return e, errorf(http.StatusBadRequest, "InvalidParameterValue", "Value (%s) for parameter cidrBlock is invalid. This is not a valid CIDR block.", v4)
		}
		e.CIDR = p.Masked().String()
	default:
		p, perr := netip.ParsePrefix(v6)
		if perr != nil || !p.Addr().Is6() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
			return e, errorf(http.StatusBadRequest, "InvalidParameterValue", "Value (%s) for parameter ipv6CidrBlock is invalid. This is not a valid CIDR block.", v6)
		}
		e.CIDR = p.Masked().String()
	}
	return e, nil
}

func ruleNumberParam(form url.Values) (int, *apiError) {
	raw := form.Get("RuleNumber")
	if raw == "" {
		return 0, missing("ruleNumber")
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > DefaultRuleNumber-1 {
		return 0, errorf(http.StatusBadRequest, "InvalidParameterValue", "Invalid value '%s' for ruleNumber. It must be an integer between 1 and %d.", raw, DefaultRuleNumber-1)
	}
	return n, nil
}

func boolParam(form url.Values, key, wireName string) (bool, *apiError) {
	switch raw := form.Get(key); raw {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "":
		return false, missing(wireName)
	default:
		return false, errorf(http.StatusBadRequest, "InvalidParameterValue", "Invalid value '%s' for %s.", raw, wireName)
	}
}

func missing(name string) *apiError {
	return errorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter %s", name)
}

// canonicalProtocol maps a protocol parameter to the number EC2 stores, or
// "" if it is not one.
func canonicalProtocol(p string) string {
	switch strings.ToLower(p) {
	case "-1", "all":
		return "-1"
	case "tcp":
		return "6"
	case "udp":
		return "17"
	case "icmp":
		return "1"
	case "icmpv6":
		return "58"
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 255 {
		return ""
	}
	return strconv.Itoa(n)
}

// writable checks the ACL and the write permission shared by Create,
// Delete and Replace; s.mu must be held.
func (s *Server) writable(form url.Values) (*networkACL, *apiError) {
	id := form.Get("NetworkAclId")
	if id == "" {
		return nil, missing("networkAclId")
	}
	a, ok := s.acls[id]
	if !ok {
		return nil, errorf(http.StatusBadRequest, "InvalidNetworkAclID.NotFound", "The networkAcl ID '%s' does not exist", id)
	}
	if s.denyWrites {
		return nil, errorf(http.StatusForbidden, "UnauthorizedOperation", "You are not authorized to perform this operation.")
	}
	if form.Get("DryRun") == "true" && !s.ignoreDry {
		return nil, errorf(http.StatusPreconditionFailed, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.")
	}
	return a, nil
}

func (s *Server) create(form url.Values) *apiError {
	e, err := entryParams(form)
	if err != nil {
		return err
	}
	a, err := s.writable(form)
	if err != nil {
		return err
	}
	if a.index(e.Egress, e.RuleNumber) >= 0 {
		return errorf(http.StatusBadRequest, "NetworkAclEntryAlreadyExists", "The network acl entry identified by %d already exists.", e.RuleNumber)
	}
	if a.count(e.Egress, isIPv6(e.CIDR)) >= s.quota {
		return errorf(http.StatusBadRequest, "NetworkAclEntryLimitExceeded", "The maximum number of network acl entries has been reached.")
	}
	a.entries = append(a.entries, e)
	sortEntries(a.entries)
	return nil
}

func (s *Server) replace(form url.Values) *apiError {
	e, err := entryParams(form)
	if err != nil {
		return err
	}
	a, err := s.writable(form)
	if err != nil {
		return err
	}
	i := a.index(e.Egress, e.RuleNumber)
	if i < 0 {
		return errorf(http.StatusBadRequest, "InvalidNetworkAclEntry.NotFound", "The network acl entry identified by %d does not exist.", e.RuleNumber)
	}
	old := a.entries[i]
	if isIPv6(old.CIDR) != isIPv6(e.CIDR) && a.count(e.Egress, isIPv6(e.CIDR)) >= s.quota {
		return errorf(http.StatusBadRequest, "NetworkAclEntryLimitExceeded", "The maximum number of network acl entries has been reached.")
	}
	a.entries[i] = e
	sortEntries(a.entries)
	return nil
}

func (s *Server) delete(form url.Values) *apiError {
	n, err := ruleNumberParam(form)
	if err != nil {
		return err
	}
	egress, err := boolParam(form, "Egress", "egress")
	if err != nil {
		return err
	}
	a, err := s.writable(form)
	if err != nil {
		return err
	}
	i := a.index(egress, n)
	if i < 0 {
		return errorf(http.StatusBadRequest, "InvalidNetworkAclEntry.NotFound", "The network acl entry identified by %d does not exist.", n)
	}
	a.entries = slices.Delete(a.entries, i, i+1)
	return nil
}

// index returns the position of the non-default entry numbered n in the
// direction, or -1.
func (a *networkACL) index(egress bool, n int) int {
	for i, e := range a.entries {
		if e.Egress == egress && e.RuleNumber == n && n != DefaultRuleNumber {
			return i
		}
	}
	return -1
}

// count returns the number of entries, the default rule included, in a
// direction and address family.
func (a *networkACL) count(egress, v6 bool) int {
	n := 0
	for _, e := range a.entries {
		if e.Egress == egress && isIPv6(e.CIDR) == v6 {
			n++
		}
	}
	return n
}

func isIPv6(cidr string) bool { return strings.Contains(cidr, ":") }

func mustCanonical(e Entry) Entry {
	p, err := netip.ParsePrefix(e.CIDR)
	if err != nil {
		panic(fmt.Sprintf("acltest: entry %d: %v", e.RuleNumber, err))
	}
	e.CIDR = p.Masked().String()
	if e.Protocol == "" {
		e.Protocol = "-1"
	} else if c := canonicalProtocol(e.Protocol); c != "" {
		e.Protocol = c
	}
	return e
}

func sortEntries(entries []Entry) {
	slices.SortStableFunc(entries, func(a, b Entry) int {
		if a.Egress != b.Egress {
			if a.Egress {
				return 1
			}
			return -1
		}
		if a.RuleNumber != b.RuleNumber {
			return a.RuleNumber - b.RuleNumber
		}
		switch av6, bv6 := isIPv6(a.CIDR), isIPv6(b.CIDR); {
		case av6 == bv6:
			return 0
		case av6:
			return 1
		default:
			return -1
		}
	})
}

func cloneForm(f url.Values) url.Values {
	out := make(url.Values, len(f))
	for k, v := range f {
		out[k] = slices.Clone(v)
	}
	return out
}

type describeResponse struct {
	XMLName   xml.Name `xml:"DescribeNetworkAclsResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	RequestID string   `xml:"requestId"`
	ACLs      []xmlACL `xml:"networkAclSet>item"`
}

type xmlACL struct {
	ID           string     `xml:"networkAclId"`
	VpcID        string     `xml:"vpcId"`
	Default      bool       `xml:"default"`
	Entries      []xmlEntry `xml:"entrySet>item"`
	Associations struct{}   `xml:"associationSet"`
	Tags         struct{}   `xml:"tagSet"`
	OwnerID      string     `xml:"ownerId"`
}

type xmlEntry struct {
	RuleNumber    int    `xml:"ruleNumber"`
	Protocol      string `xml:"protocol"`
	RuleAction    string `xml:"ruleAction"`
	Egress        bool   `xml:"egress"`
	CidrBlock     string `xml:"cidrBlock,omitempty"`
	Ipv6CidrBlock string `xml:"ipv6CidrBlock,omitempty"`
}

type returnBody struct {
	XMLName   xml.Name
	Xmlns     string `xml:"xmlns,attr"`
	RequestID string `xml:"requestId"`
	Return    bool   `xml:"return"`
}

func returnResponse(action, reqID string) returnBody {
	return returnBody{XMLName: xml.Name{Local: action + "Response"}, Xmlns: Namespace, RequestID: reqID, Return: true}
}

type errorBody struct {
	XMLName   xml.Name   `xml:"Response"`
	Errors    []xmlError `xml:"Errors>Error"`
	RequestID string     `xml:"RequestID"`
}

type xmlError struct {
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

func writeError(w http.ResponseWriter, reqID string, e *apiError) {
	writeXML(w, e.status, errorBody{Errors: []xmlError{{Code: e.code, Message: e.message}}, RequestID: reqID})
}

func writeXML(w http.ResponseWriter, status int, body any) {
	out, err := xml.Marshal(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(out)
}
