package wafipset_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/wafv2"
	"github.com/aws/aws-sdk-go-v2/service/wafv2/types"

	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/target"
	"github.com/dosguard/dosguard/wafipset"
	"github.com/dosguard/dosguard/wafipset/waftest"
)

// fixture is a server with an IPv4 and an IPv6 set and a Set for each.
type fixture struct {
	srv    *waftest.Server
	v4, v6 *wafipset.Set
}

func newFixture(t *testing.T, cfg wafipset.Config, foreign4 ...string) fixture {
	t.Helper()
	srv := waftest.NewServer(t)
	a4 := srv.AddSet(waftest.Regional, "dosguard-v4", "id4", "IPV4", foreign4...)
	a6 := srv.AddSet(waftest.Regional, "dosguard-v6", "id6", "IPV6")
	cfg.ARNs = []string{a4, a6}
	if cfg.Backoff == 0 {
		cfg.Backoff = time.Millisecond
	}
	sets, err := wafipset.New(cfg, func(region string) wafipset.WAFAPI { return srv.Client(t, region) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{srv: srv, v4: sets[0], v6: sets[1]}
}

func (f fixture) addrs4() []string { return f.srv.Addresses(waftest.Regional, "dosguard-v4", "id4") }
func (f fixture) addrs6() []string { return f.srv.Addresses(waftest.Regional, "dosguard-v6", "id6") }

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func TestParseARN(t *testing.T) {
	tests := []struct {
		in      string
		want    wafipset.ARN
		wantErr bool
	}{
		{in: "arn:aws:wafv2:eu-west-1:123456789012:regional/ipset/bad/abc-1",
			want: wafipset.ARN{Region: "eu-west-1", Account: "123456789012", Scope: types.ScopeRegional, Name: "bad", ID: "abc-1"}},
		{in: "arn:aws:wafv2:us-east-1:123456789012:global/ipset/edge/x",
			want: wafipset.ARN{Region: "us-east-1", Account: "123456789012", Scope: types.ScopeCloudfront, Name: "edge", ID: "x"}},
		{in: "arn:aws:wafv2::123456789012:global/ipset/edge/x",
			want: wafipset.ARN{Region: "us-east-1", Account: "123456789012", Scope: types.ScopeCloudfront, Name: "edge", ID: "x"}},
		{in: "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/acl/x", wantErr: true},
		{in: "arn:aws:ec2:eu-west-1:123456789012:network-acl/acl-1", wantErr: true},
		{in: "arn:aws:wafv2:eu-west-1:123456789012:local/ipset/a/b", wantErr: true},
		{in: "arn:aws:wafv2::123456789012:regional/ipset/a/b", wantErr: true},
		{in: "acl-0abc", wantErr: true},
	}
	for _, tt := range tests {
		got, err := wafipset.ParseARN(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("ParseARN(%q) = %+v, want error", tt.in, got)
			}
			continue
		}
		tt.want.Raw = tt.in
		if err != nil || got != tt.want {
			t.Errorf("ParseARN(%q) = %+v, %v, want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	ok := "arn:aws:wafv2:eu-west-1:123456789012:regional/ipset/a/b"
	for _, c := range []wafipset.Config{
		{},
		{ARNs: []string{"nope"}},
		{ARNs: []string{ok, ok}},
		{ARNs: []string{ok}, EntryLimit: 10001},
		{ARNs: []string{ok}, EntryLimit: -1},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want error", c)
		}
	}
	if err := (wafipset.Config{ARNs: []string{ok}, EntryLimit: 10000}).Validate(); err != nil {
		t.Errorf("Validate = %v", err)
	}
}

func TestAddRemove(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, wafipset.Config{}, "198.51.100.9/32")
	if err := f.v4.Check(ctx, true); err != nil {
		t.Fatal(err)
	}
	if err := f.v6.Check(ctx, true); err != nil {
		t.Fatal(err)
	}
	e, err := f.v4.Add(ctx, pfx("203.0.113.7/32"))
	if err != nil || e != (ban.Entry{Target: f.v4.ID()}) {
		t.Fatalf("Add = %+v, %v", e, err)
	}
	e, err = f.v4.Add(ctx, pfx("198.51.100.9/32"))
	if err != nil || !e.Foreign {
		t.Fatalf("Add of another writer's member = %+v, %v, want Foreign", e, err)
	}
	if _, err := f.v4.Add(ctx, pfx("2001:db8::1/128")); err == nil || target.Code(err) != wafipset.ReasonFamily {
		t.Errorf("Add of IPv6 to the IPv4 set: err %v, want %s", err, wafipset.ReasonFamily)
	}
	if f.v4.Takes(pfx("2001:db8::1/128")) || !f.v6.Takes(pfx("2001:db8::1/128")) || f.v6.Capacity(false) != 0 || f.v6.Capacity(true) != 10000 {
		t.Error("Takes/Capacity do not follow the sets' IP versions")
	}
	if _, err := f.v6.Add(ctx, pfx("2001:db8::1/128")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.v6.Add(ctx, pfx("2001:db8:1::/48")); err != nil {
		t.Fatal(err)
	}
	if got, want := f.addrs4(), []string{"198.51.100.9/32", "203.0.113.7/32"}; !slices.Equal(got, want) {
		t.Errorf("v4 set = %v, want %v", got, want)
	}
	if got, want := f.addrs6(), []string{"2001:db8:1::/48", "2001:db8::1/128"}; !slices.Equal(got, want) {
		t.Errorf("v6 set = %v, want %v", got, want)
	}
	if err := f.v4.Remove(ctx, pfx("203.0.113.7/32"), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.v4.Remove(ctx, pfx("203.0.113.7/32"), 0); err != nil {
		t.Errorf("Remove of a prefix gone: %v", err)
	}
	if got, want := f.addrs4(), []string{"198.51.100.9/32"}; !slices.Equal(got, want) {
		t.Errorf("v4 set after Remove = %v, want %v", got, want)
	}
	if d := f.srv.Description(waftest.Regional, "dosguard-v4", "id4"); d != "waftest set" {
		t.Errorf("description = %q: updates must write it back", d)
	}
	held, err := f.v4.List(ctx)
	if err != nil || len(held) != 1 || held[0] != (ban.Held{Target: f.v4.ID(), Prefix: pfx("198.51.100.9/32")}) {
		t.Errorf("List = %v, %v", held, err)
	}
	if _, err := f.v4.Add(ctx, pfx("0.0.0.0/0")); target.Code(err) != wafipset.ReasonRefused {
		t.Errorf("Add /0: %v, want refused", err)
	}
}

// TestOtherWriter: another writer changes the set between dosguard's Get
// and Update; dosguard gets again and re-applies, both sides survive.
func TestOtherWriter(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, wafipset.Config{})
	interfered := 0
	f.srv.OnCall(func(c waftest.Call) {
		if c.Op == waftest.UpdateIPSet && c.Name == "dosguard-v4" && interfered < 2 {
			interfered++
			f.srv.Write(waftest.Regional, "dosguard-v4", "id4", []string{fmt.Sprintf("192.0.2.%d/32", interfered)}, nil)
		}
	})
	if _, err := f.v4.Add(ctx, pfx("203.0.113.7/32")); err != nil {
		t.Fatal(err)
	}
	if got, want := f.addrs4(), []string{"192.0.2.1/32", "192.0.2.2/32", "203.0.113.7/32"}; !slices.Equal(got, want) {
		t.Errorf("set = %v, want %v", got, want)
	}
	if n := f.srv.CallCount(waftest.UpdateIPSet); n != 3 {
		t.Errorf("UpdateIPSet calls = %d, want 3 (two lock conflicts)", n)
	}
	// The other writer removes a member of dosguard's meanwhile: its
	// removal stands too.
	f.srv.OnCall(func(c waftest.Call) {
		if c.Op == waftest.UpdateIPSet && interfered == 2 {
			interfered++
			f.srv.Write(waftest.Regional, "dosguard-v4", "id4", nil, []string{"192.0.2.1/32"})
		}
	})
	if err := f.v4.Remove(ctx, pfx("203.0.113.7/32"), 0); err != nil {
		t.Fatal(err)
	}
	if got, want := f.addrs4(), []string{"192.0.2.2/32"}; !slices.Equal(got, want) {
		t.Errorf("set = %v, want %v", got, want)
	}
}

func TestBatch(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, wafipset.Config{EntryLimit: 5}, "198.51.100.9/32")
	f.v4.Stage()
	var added []netip.Prefix
	for i := 1; i <= 5; i++ {
		p := pfx(fmt.Sprintf("203.0.113.%d/32", i))
		e, err := f.v4.Add(ctx, p)
		switch {
		case i <= 4 && (err != nil || e.Foreign):
			t.Fatalf("staged Add %s = %+v, %v", p, e, err)
		case i == 5 && !errors.Is(err, target.ErrFull):
			t.Fatalf("staged Add beyond the limit (foreign member counted): %v, want ErrFull", err)
		}
		if err == nil {
			added = append(added, p)
		}
	}
	if e, err := f.v4.Add(ctx, pfx("198.51.100.9/32")); err != nil || !e.Foreign {
		t.Errorf("staged Add of a foreign member = %+v, %v", e, err)
	}
	if err := f.v4.Remove(ctx, pfx("203.0.113.4/32"), 0); err != nil {
		t.Fatal(err)
	}
	if n := f.srv.CallCount(waftest.UpdateIPSet); n != 0 {
		t.Fatalf("UpdateIPSet calls while staging = %d", n)
	}
	// A Remove of a prefix not staged for adding is staged too.
	if err := f.v4.Remove(ctx, pfx("198.51.100.9/32"), 0); err != nil {
		t.Fatal(err)
	}
	if n := f.srv.CallCount(waftest.UpdateIPSet); n != 0 {
		t.Fatalf("UpdateIPSet calls while staging = %d", n)
	}
	outs := f.v4.Commit(ctx)
	if len(outs) != 4 {
		t.Fatalf("Commit outcomes = %+v, want 3 adds (the removed one cancelled) and a remove", outs)
	}
	for _, o := range outs {
		if o.Err != nil || o.Add != (o.Prefix != pfx("198.51.100.9/32")) || o.Entry.Foreign {
			t.Errorf("outcome %+v", o)
		}
	}
	if got, want := f.addrs4(), []string{"203.0.113.1/32", "203.0.113.2/32", "203.0.113.3/32"}; !slices.Equal(got, want) {
		t.Errorf("set = %v, want %v", got, want)
	}
	if g, u := f.srv.CallCount(waftest.GetIPSet), f.srv.CallCount(waftest.UpdateIPSet); g != 2 || u != 1 {
		t.Errorf("calls: %d Get, %d Update; want 2 Get (stage, commit), 1 Update", g, u)
	}
	if outs := f.v4.Commit(ctx); outs != nil {
		t.Errorf("second Commit = %v", outs)
	}
}

// TestFaults: throttling and 5xx are retried within the timeout; a set
// gone or access denied fail at once with WAF's code.
func TestFaults(t *testing.T) {
	ctx := context.Background()
	t.Run("throttled", func(t *testing.T) {
		f := newFixture(t, wafipset.Config{})
		f.srv.Fail(waftest.UpdateIPSet, "WAFLimitsExceededException", 400, 3)
		f.srv.Fail(waftest.GetIPSet, "WAFInternalErrorException", 500, 6)
		if _, err := f.v4.Add(ctx, pfx("203.0.113.7/32")); err != nil {
			t.Fatal(err)
		}
		if got := f.addrs4(); !slices.Equal(got, []string{"203.0.113.7/32"}) {
			t.Errorf("set = %v", got)
		}
	})
	t.Run("storm", func(t *testing.T) {
		f := newFixture(t, wafipset.Config{CallTimeout: time.Second})
		f.srv.Fail(waftest.UpdateIPSet, "ThrottlingException", 400, 1000)
		_, err := f.v4.Add(ctx, pfx("203.0.113.7/32"))
		if err == nil || !target.Transient(err) {
			t.Fatalf("Add in a throttling storm: %v, want a transient error", err)
		}
		if n := f.srv.CallCount(waftest.UpdateIPSet); n > 8*5 {
			t.Errorf("UpdateIPSet calls = %d: retries not bounded", n)
		}
	})
	t.Run("nonexistent", func(t *testing.T) {
		f := newFixture(t, wafipset.Config{})
		f.srv.Fail(waftest.GetIPSet, "WAFNonexistentItemException", 400, 100)
		_, err := f.v4.Add(ctx, pfx("203.0.113.7/32"))
		if target.Code(err) != "WAFNonexistentItemException" || target.Transient(err) {
			t.Errorf("Add: %v", err)
		}
		if err := f.v4.Check(ctx, false); err == nil || err.Error() != "wafipset: IP set "+f.v4.ID()+" not found in scope REGIONAL, region us-east-1 (WAF_IP_Set_ARN)" {
			t.Errorf("Check: %v", err)
		}
		if n := f.srv.CallCount(waftest.GetIPSet); n != 2 {
			t.Errorf("GetIPSet calls = %d, want 2: not retried", n)
		}
	})
	t.Run("denied", func(t *testing.T) {
		f := newFixture(t, wafipset.Config{})
		f.srv.DenyWrites(true)
		_, err := f.v4.Add(ctx, pfx("203.0.113.7/32"))
		if target.Code(err) != "AccessDeniedException" || target.Transient(err) {
			t.Errorf("Add: %v", err)
		}
		err = f.v4.Check(ctx, true)
		if err == nil || err.Error() != "wafipset: credentials may not write IP set "+f.v4.ID()+": AccessDeniedException (need wafv2:UpdateIPSet on it)" {
			t.Errorf("Check: %v", err)
		}
		if err := f.v4.Check(ctx, false); err != nil {
			t.Errorf("Check without write: %v", err)
		}
	})
	t.Run("stall", func(t *testing.T) {
		f := newFixture(t, wafipset.Config{CallTimeout: 200 * time.Millisecond})
		release := f.srv.Stall(waftest.UpdateIPSet)
		defer release()
		_, err := f.v4.Add(ctx, pfx("203.0.113.7/32"))
		if target.Code(err) != wafipset.ReasonTimeout || !target.Transient(err) {
			t.Errorf("Add against a stalled endpoint: %v, want timeout", err)
		}
	})
	t.Run("limit", func(t *testing.T) {
		f := newFixture(t, wafipset.Config{EntryLimit: 2}, "198.51.100.1/32", "198.51.100.2/32")
		_, err := f.v4.Add(ctx, pfx("203.0.113.7/32"))
		if !errors.Is(err, target.ErrFull) {
			t.Errorf("Add to a full set: %v, want ErrFull", err)
		}
		if n := f.srv.CallCount(waftest.UpdateIPSet); n != 0 {
			t.Errorf("UpdateIPSet calls = %d, want 0", n)
		}
	})
}

// TestServerLimit: the endpoint refuses more than 10,000 addresses.
func TestServerLimit(t *testing.T) {
	ctx := context.Background()
	var many []string
	for i := range waftest.Limit {
		many = append(many, netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String()+"/32")
	}
	f := newFixture(t, wafipset.Config{}, many...)
	_, err := f.v4.Add(ctx, pfx("203.0.113.7/32"))
	if !errors.Is(err, target.ErrFull) {
		t.Fatalf("Add to a set of 10,000: %v, want ErrFull", err)
	}
	// The endpoint itself refuses a list beyond the limit.
	c := f.srv.Client(t, "us-east-1")
	got, err := c.GetIPSet(ctx, &wafv2.GetIPSetInput{Name: aws.String("dosguard-v4"), Id: aws.String("id4"), Scope: types.ScopeRegional})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.UpdateIPSet(ctx, &wafv2.UpdateIPSetInput{Name: aws.String("dosguard-v4"), Id: aws.String("id4"), Scope: types.ScopeRegional,
		LockToken: got.LockToken, Addresses: append(got.IPSet.Addresses, "203.0.113.7/32")})
	var le *types.WAFLimitsExceededException
	if !errors.As(err, &le) {
		t.Errorf("UpdateIPSet of 10,001 addresses: %v, want WAFLimitsExceededException", err)
	}
	if n := len(f.addrs4()); n != waftest.Limit {
		t.Errorf("set holds %d", n)
	}
}

// TestCloudFront: a global set is called in us-east-1 whatever the region.
func TestCloudFront(t *testing.T) {
	ctx := context.Background()
	srv := waftest.NewServer(t)
	arn := srv.AddSet(waftest.CloudFront, "edge", "e1", "IPV4")
	var regions []string
	sets, err := wafipset.New(wafipset.Config{ARNs: []string{arn}}, func(region string) wafipset.WAFAPI {
		regions = append(regions, region)
		return srv.Client(t, region)
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sets[0].Add(ctx, pfx("203.0.113.7/32")); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(regions, []string{"us-east-1"}) {
		t.Errorf("client regions = %v", regions)
	}
	for _, c := range srv.Calls() {
		if c.Region != "us-east-1" || c.Scope != waftest.CloudFront {
			t.Errorf("call %+v", c)
		}
	}
}

// TestPlan: a dry run's view.
func TestPlan(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, wafipset.Config{EntryLimit: 2}, "198.51.100.1/32")
	dr := target.DryRun(f.v4, nil)
	if e, err := dr.Add(ctx, pfx("203.0.113.7/32")); err != nil || e.Foreign {
		t.Fatalf("dry Add = %+v, %v", e, err)
	}
	if _, err := dr.Add(ctx, pfx("203.0.113.8/32")); !errors.Is(err, target.ErrFull) {
		t.Errorf("dry Add beyond the limit: %v", err)
	}
	if e, err := dr.Add(ctx, pfx("198.51.100.1/32")); err != nil || !e.Foreign {
		t.Errorf("dry Add of a member = %+v, %v", e, err)
	}
	if n := f.srv.CallCount(waftest.UpdateIPSet); n != 0 {
		t.Errorf("dry run wrote: %d updates", n)
	}
}

// TestBatchReadFails: when the batch's read of the set fails, the batch's
// other adds fail alike without calling WAF again.
func TestBatchReadFails(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, wafipset.Config{CallTimeout: time.Second})
	f.srv.Fail(waftest.GetIPSet, "AccessDeniedException", 400, 1)
	f.v4.Stage()
	for i := 1; i <= 3; i++ {
		if _, err := f.v4.Add(ctx, pfx(fmt.Sprintf("203.0.113.%d/32", i))); target.Code(err) != "AccessDeniedException" {
			t.Errorf("staged Add %d: %v, want AccessDeniedException", i, err)
		}
	}
	if n := f.srv.CallCount(waftest.GetIPSet); n != 1 {
		t.Errorf("GetIPSet calls = %d, want 1 for the batch", n)
	}
	if outs := f.v4.Commit(ctx); outs != nil {
		t.Errorf("Commit = %v, want nothing staged", outs)
	}
	f.v4.Stage()
	if _, err := f.v4.Add(ctx, pfx("203.0.113.1/32")); err != nil {
		t.Errorf("next batch: %v", err)
	}
	f.v4.Commit(ctx)
}
