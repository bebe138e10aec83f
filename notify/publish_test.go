package notify_test

// Tests that run a real *sns.Client against notifytest.Server, so the SDK's
// serializer, signer, retryer and error deserializer are all exercised.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"github.com/dosguard/dosguard/ban"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/dosguard/dosguard/notify"
	"github.com/dosguard/dosguard/notify/notifytest"
)

// newServer starts a server with topic and fifoTopic.
func newServer(t *testing.T) *notifytest.Server {
	t.Helper()
	s := notifytest.NewServer()
	t.Cleanup(s.Close)
	s.AddTopic(topic)
	s.AddTopic(fifoTopic)
	return s
}

func newNotifier(t *testing.T, cfg notify.Config, api notify.SNSAPI) *notify.Notifier {
	t.Helper()
	n, err := notify.New(cfg, api, nil)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPublishEachStatus(t *testing.T) {
	s := newServer(t)
	n := newNotifier(t, notify.Config{TopicARN: topic}, s.Client(t))
	decisions := []notify.Decision{blocked(), blocked(), blocked(), blocked()}
	decisions[1].Status, decisions[1].Rule, decisions[1].ACLIDs, decisions[1].RuleNumbers = ban.Detected, "detect.scan", nil, nil
	decisions[2].Status, decisions[2].Reason = ban.Failed, "acl: create entry 17 in acl-0abc: NetworkAclEntryLimitExceeded"
	decisions[3].Status, decisions[3].ProcessedAt = ban.Unblocked, t2
	for i, d := range decisions {
		if err := n.Notify(context.Background(), d); err != nil {
			t.Fatalf("step %d: Notify(%s) = %v", i, d.Status, err)
		}
	}
	got := s.Messages()
	if len(got) != len(decisions) {
		t.Fatalf("%d messages stored, want %d", len(got), len(decisions))
	}
	for i, d := range decisions {
		m := got[i]
		if want := string(d.AppendJSON(nil)); m.Body != want {
			t.Errorf("step %d: body = %s, want %s", i, m.Body, want)
		}
		if want := notify.Subject("", d); m.Subject != want {
			t.Errorf("step %d: subject = %q, want %q", i, m.Subject, want)
		}
		if m.TopicARN != topic || m.GroupID != "" || m.DedupID != "" {
			t.Errorf("step %d: topic %q group %q dedup %q, want %q and no FIFO ids", i, m.TopicARN, m.GroupID, m.DedupID, topic)
		}
		if m.Attributes["status"] != string(d.Status) || m.Attributes["rule"] != d.Rule || len(m.Attributes) != 2 {
			t.Errorf("step %d: attributes = %v, want status=%s rule=%s", i, m.Attributes, d.Status, d.Rule)
		}
	}
	if c := s.PublishCount(); c != len(decisions) {
		t.Errorf("PublishCount = %d, want %d", c, len(decisions))
	}
}

func TestPublishFIFO(t *testing.T) {
	s := newServer(t)
	n := newNotifier(t, notify.Config{TopicARN: fifoTopic}, s.Client(t))
	first, second := blocked(), blocked()
	second.Host = "198.51.100.1"
	steps := []struct {
		d         notify.Decision
		wantMsgs  int
		wantCalls int
	}{
		{first, 1, 1},
		{second, 2, 2},
		{first, 2, 3}, // same message, same deduplication ID: accepted, not delivered again
	}
	for i, st := range steps {
		if err := n.Notify(context.Background(), st.d); err != nil {
			t.Fatalf("step %d: Notify = %v", i, err)
		}
		if got := len(s.Messages()); got != st.wantMsgs {
			t.Errorf("step %d: %d messages stored, want %d", i, got, st.wantMsgs)
		}
		if got := s.PublishCount(); got != st.wantCalls {
			t.Errorf("step %d: PublishCount = %d, want %d", i, got, st.wantCalls)
		}
	}
	for i, m := range s.Messages() {
		sum := sha256.Sum256([]byte(m.Body))
		if m.GroupID != "block.flood" || m.DedupID != hex.EncodeToString(sum[:]) {
			t.Errorf("message %d: group %q dedup %q, want block.flood and the body's SHA-256", i, m.GroupID, m.DedupID)
		}
	}
}

func TestPublishRetries(t *testing.T) {
	tests := []struct {
		name      string
		code      string
		status    int
		times     int
		wantErr   string // "" means success
		wantCalls int
	}{
		{name: "throttled three times (SNS Throttling)", code: "Throttling", status: 400, times: 3, wantCalls: 4},
		{name: "throttled three times (Throttled, 429)", code: "Throttled", status: 429, times: 3, wantCalls: 4},
		{name: "internal error four times", code: "InternalError", status: 500, times: 4, wantCalls: 5},
		{name: "5xx storm", code: "ServiceUnavailable", status: 503, times: 100, wantCalls: notifytest.MaxAttempts,
			wantErr: "ServiceUnavailable: notifytest: injected ServiceUnavailable (after 5 attempts)"},
		{name: "throttling storm", code: "Throttling", status: 400, times: 100, wantCalls: notifytest.MaxAttempts,
			wantErr: "Throttling: notifytest: injected Throttling (after 5 attempts)"},
		{name: "authorization error is final", code: "AuthorizationError", status: 403, times: 1, wantCalls: 1,
			wantErr: "AuthorizationError: notifytest: injected AuthorizationError"},
	}
	for _, tt := range tests {
		s := newServer(t)
		n := newNotifier(t, notify.Config{TopicARN: topic}, s.Client(t))
		s.Fail(tt.code, tt.status, tt.times)
		err := n.Notify(context.Background(), blocked())
		wantMsgs := 1
		if tt.wantErr != "" {
			wantMsgs = 0
			want := "notify: publish blocked 203.0.113.7 to " + topic + ": " + tt.wantErr
			if err == nil || err.Error() != want {
				t.Errorf("%s: Notify = %v, want %s", tt.name, err, want)
			}
		} else if err != nil {
			t.Errorf("%s: Notify = %v, want success after retries", tt.name, err)
		}
		if got := s.PublishCount(); got != tt.wantCalls {
			t.Errorf("%s: PublishCount = %d, want %d", tt.name, got, tt.wantCalls)
		}
		if got := len(s.Messages()); got != wantMsgs {
			t.Errorf("%s: %d messages stored, want %d", tt.name, got, wantMsgs)
		}
	}
}

// TestThrottledNeedsRetryOptions shows why RetryOptions exists: the SDK's
// standard retryer alone gives up on "Throttled" (HTTP 429) at once.
func TestThrottledNeedsRetryOptions(t *testing.T) {
	fast := func(o *retry.StandardOptions) {
		o.MaxAttempts = 5
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
		o.RateLimiter = ratelimit.None
	}
	tests := []struct {
		name      string
		retryer   aws.Retryer
		wantErr   bool
		wantCalls int
	}{
		{name: "standard", retryer: retry.NewStandard(fast), wantErr: true, wantCalls: 1},
		{name: "standard+RetryOptions", retryer: retry.NewStandard(notify.RetryOptions, fast), wantCalls: 2},
	}
	for _, tt := range tests {
		s := newServer(t)
		client := sns.New(s.Client(t).Options(), func(o *sns.Options) { o.Retryer = tt.retryer })
		s.Fail("Throttled", 429, 1)
		err := newNotifier(t, notify.Config{TopicARN: topic}, client).Notify(context.Background(), blocked())
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: Notify = %v, want error %v", tt.name, err, tt.wantErr)
		}
		if got := s.PublishCount(); got != tt.wantCalls {
			t.Errorf("%s: PublishCount = %d, want %d", tt.name, got, tt.wantCalls)
		}
	}
}

func TestPublishStallTimesOut(t *testing.T) {
	s := newServer(t)
	n := newNotifier(t, notify.Config{TopicARN: topic, CallTimeout: 100 * time.Millisecond}, s.Client(t))
	release := s.Stall()
	defer release()
	// The stalled call ends by the call timeout's deadline, which the error
	// names; how long that took on the wall clock is not asserted (it
	// depends on the machine's load).
	err := n.Notify(context.Background(), blocked())
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "(call timeout 100ms)") {
		t.Fatalf("Notify against a stalled endpoint = %v, want a deadline error naming the call timeout", err)
	}
	release()
	if err := n.Notify(context.Background(), blocked()); err != nil {
		t.Errorf("Notify after release = %v, want nil", err)
	}
	if got, calls := len(s.Messages()), s.PublishCount(); got != 1 || calls != 2 {
		t.Errorf("%d messages stored after %d calls, want 1 (the one after release) after 2", got, calls)
	}
}

func TestPublishCallerContext(t *testing.T) {
	s := newServer(t)
	n := newNotifier(t, notify.Config{TopicARN: topic}, s.Client(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := n.Notify(ctx, blocked())
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Notify with a canceled context = %v, want context.Canceled", err)
	}
	if got := len(s.Messages()); got != 0 {
		t.Errorf("%d messages stored, want 0", got)
	}
}

func TestPublishUnknownTopic(t *testing.T) {
	s := newServer(t)
	other := "arn:aws:sns:us-east-1:123456789012:missing"
	err := newNotifier(t, notify.Config{TopicARN: other}, s.Client(t)).Notify(context.Background(), blocked())
	want := "notify: publish blocked 203.0.113.7 to " + other + ": NotFound: Topic does not exist"
	if err == nil || err.Error() != want {
		t.Errorf("Notify = %v, want %s", err, want)
	}
	var nf *types.NotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("Notify error %v does not unwrap to *types.NotFoundException", err)
	}
}

// TestPublishLongSubject publishes a template that expands to far more than
// SNS takes (and with characters it refuses): the raw expansion is refused,
// the notifier's subject is accepted.
func TestPublishLongSubject(t *testing.T) {
	s := newServer(t)
	client := s.Client(t)
	tmpl := "dosguard \u26a0\n" + strings.Repeat("{status} {host} ({rule}) ", 10)
	d := blocked()

	raw := strings.NewReplacer("{status}", string(d.Status), "{host}", d.Host, "{rule}", d.Rule).Replace(tmpl)
	_, err := client.Publish(context.Background(), &sns.PublishInput{TopicArn: aws.String(topic), Subject: aws.String(raw), Message: aws.String("x")})
	var ip *types.InvalidParameterException
	if !errors.As(err, &ip) {
		t.Errorf("Publish with the raw %d-byte subject = %v, want InvalidParameter", len(raw), err)
	}

	if err := newNotifier(t, notify.Config{TopicARN: topic, Subject: tmpl}, client).Notify(context.Background(), d); err != nil {
		t.Fatalf("Notify with a long subject template = %v", err)
	}
	msgs := s.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages stored, want 1", len(msgs))
	}
	if got, want := msgs[0].Subject, notify.Subject(tmpl, d); got != want || len(got) != notify.MaxSubjectLen {
		t.Errorf("stored subject = %q (%d chars), want %q (99 chars)", got, len(got), want)
	}
}

// TestPublishHugeDecision sends fields far beyond the SNS message limit and
// checks that SNS accepts the (cut) message.
func TestPublishHugeDecision(t *testing.T) {
	s := newServer(t)
	d := blocked()
	d.Status = ban.Failed
	d.Reason = strings.Repeat("\"error\"\n", 1<<17) // 1 MiB, every quote and newline escaped
	d.ACLIDs = make([]string, 5000)
	for i := range d.ACLIDs {
		d.ACLIDs[i] = strings.Repeat("acl-", 100)
	}
	if err := newNotifier(t, notify.Config{TopicARN: topic}, s.Client(t)).Notify(context.Background(), d); err != nil {
		t.Fatalf("Notify with a huge decision = %v", err)
	}
	msgs := s.Messages()
	if len(msgs) != 1 || len(msgs[0].Body) > notify.MaxMessageBytes {
		t.Errorf("stored %d messages, want 1 of at most %d bytes", len(msgs), notify.MaxMessageBytes)
	}
}

func TestPublishWithoutTopic(t *testing.T) {
	s := newServer(t)
	n := newNotifier(t, notify.Config{}, s.Client(t))
	if err := n.Notify(context.Background(), blocked()); err != nil {
		t.Errorf("Notify without topic = %v, want nil", err)
	}
	if got := s.PublishCount(); got != 0 {
		t.Errorf("PublishCount = %d, want 0", got)
	}
}
