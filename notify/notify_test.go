package notify_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/dosguard/dosguard/notify"
	"github.com/dosguard/dosguard/notify/notifytest"
)

const (
	topic     = "arn:aws:sns:us-east-1:123456789012:dosguard"
	fifoTopic = "arn:aws:sns:us-east-1:123456789012:dosguard.fifo"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     notify.Config
		api     notify.SNSAPI
		wantErr string // substring; "" means success
		enabled bool
	}{
		{name: "standard topic", cfg: notify.Config{TopicARN: topic}, api: &notifytest.Fake{}, enabled: true},
		{name: "fifo topic", cfg: notify.Config{TopicARN: fifoTopic}, api: &notifytest.Fake{}, enabled: true},
		{name: "china partition", cfg: notify.Config{TopicARN: "arn:aws-cn:sns:cn-north-1:123456789012:t_1-x"}, api: &notifytest.Fake{}, enabled: true},
		{name: "no topic, no client", cfg: notify.Config{}, api: nil},
		{name: "no topic, client ignored", cfg: notify.Config{}, api: &notifytest.Fake{}},
		{name: "topic without client", cfg: notify.Config{TopicARN: topic}, wantErr: `notify: topic ARN "` + topic + `": no SNS client`},
		{name: "not an ARN", cfg: notify.Config{TopicARN: "dosguard"}, wantErr: `notify: topic ARN "dosguard": want arn:<partition>:sns:<region>:<account>:<topic>`},
		{name: "sqs ARN", cfg: notify.Config{TopicARN: "arn:aws:sqs:us-east-1:123456789012:q"}, wantErr: `service "sqs" is not sns`},
		{name: "no region", cfg: notify.Config{TopicARN: "arn:aws:sns::123456789012:t"}, wantErr: "empty region"},
		{name: "no partition", cfg: notify.Config{TopicARN: "arn::sns:us-east-1:123456789012:t"}, wantErr: "empty partition"},
		{name: "short account", cfg: notify.Config{TopicARN: "arn:aws:sns:us-east-1:1234:t"}, wantErr: `account "1234" is not 12 digits`},
		{name: "bad topic name", cfg: notify.Config{TopicARN: "arn:aws:sns:us-east-1:123456789012:my topic"}, wantErr: `topic name "my topic"`},
		{name: "only .fifo", cfg: notify.Config{TopicARN: "arn:aws:sns:us-east-1:123456789012:.fifo"}, wantErr: `topic name ".fifo"`},
		{name: "too many parts", cfg: notify.Config{TopicARN: topic + ":sub-id"}, wantErr: "want arn:"},
		{name: "name too long", cfg: notify.Config{TopicARN: "arn:aws:sns:us-east-1:123456789012:" + strings.Repeat("t", 257)}, wantErr: "topic name"},
		{name: "negative timeout", cfg: notify.Config{TopicARN: topic, CallTimeout: -time.Second}, api: &notifytest.Fake{}, wantErr: "notify: call timeout -1s: must not be negative"},
	}
	for _, tt := range tests {
		n, err := notify.New(tt.cfg, tt.api, nil)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: New(%+v) = %v, want no error", tt.name, tt.cfg, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: New(%+v) = %v, want error containing %q", tt.name, tt.cfg, err, tt.wantErr)
		case err == nil && n.Enabled() != tt.enabled:
			t.Errorf("%s: Enabled() = %v, want %v", tt.name, n.Enabled(), tt.enabled)
		}
	}
}

func TestNotifyWithoutTopicDoesNothing(t *testing.T) {
	fake := &notifytest.Fake{}
	n, err := notify.New(notify.Config{}, fake, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), blocked()); err != nil {
		t.Errorf("Notify without topic = %v, want nil", err)
	}
	if got := len(fake.Inputs()); got != 0 {
		t.Errorf("Notify without topic made %d Publish calls, want 0", got)
	}
}

func TestInput(t *testing.T) {
	d := blocked()
	msg := string(d.AppendJSON(nil))
	sum := sha256.Sum256([]byte(msg))
	tests := []struct {
		name      string
		topic     string
		subject   string
		d         func(d *notify.Decision)
		wantSubj  string
		wantAttrs map[string]string
		wantGroup string // "" means absent
		wantDedup string // "" means absent
	}{
		{
			name: "standard", topic: topic, wantSubj: "dosguard: blocked 203.0.113.7 (block.flood)",
			wantAttrs: map[string]string{"status": "blocked", "rule": "block.flood"},
		},
		{
			name: "fifo", topic: fifoTopic, subject: "{status} {host}", wantSubj: "blocked 203.0.113.7",
			wantAttrs: map[string]string{"status": "blocked", "rule": "block.flood"},
			wantGroup: "block.flood", wantDedup: hex.EncodeToString(sum[:]),
		},
		{
			name: "fifo, empty rule", topic: fifoTopic, d: func(d *notify.Decision) { d.Rule = "" },
			wantSubj:  "dosguard: blocked 203.0.113.7 ()",
			wantAttrs: map[string]string{"status": "blocked"}, wantGroup: "dosguard", wantDedup: "*",
		},
		{
			name: "fifo, odd rule", topic: fifoTopic, d: func(d *notify.Decision) { d.Rule = "block all\n日" + strings.Repeat("x", 200) },
			wantSubj:  "dosguard: blocked 203.0.113.7 (block all?" + strings.Repeat("x", 58),
			wantAttrs: map[string]string{"status": "blocked", "rule": "block all日" + strings.Repeat("x", 200)},
			wantGroup: "block_all__" + strings.Repeat("x", 117), wantDedup: "*",
		},
		{
			name: "no status, no rule", topic: topic, d: func(d *notify.Decision) { d.Rule, d.Status = " ", "" },
			wantSubj: "dosguard:  203.0.113.7 ( )", wantAttrs: nil,
		},
	}
	for _, tt := range tests {
		n, err := notify.New(notify.Config{TopicARN: tt.topic, Subject: tt.subject}, &notifytest.Fake{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		d := blocked()
		if tt.d != nil {
			tt.d(&d)
		}
		in := n.Input(d)
		if got := aws.ToString(in.TopicArn); got != tt.topic {
			t.Errorf("%s: TopicArn = %q, want %q", tt.name, got, tt.topic)
		}
		if got := aws.ToString(in.Subject); got != tt.wantSubj {
			t.Errorf("%s: Subject = %q, want %q", tt.name, got, tt.wantSubj)
		}
		if got, want := aws.ToString(in.Message), string(d.AppendJSON(nil)); got != want {
			t.Errorf("%s: Message = %s, want %s", tt.name, got, want)
		}
		if len(in.MessageAttributes) != len(tt.wantAttrs) {
			t.Errorf("%s: %d message attributes, want %d", tt.name, len(in.MessageAttributes), len(tt.wantAttrs))
		}
		for k, want := range tt.wantAttrs {
			v := in.MessageAttributes[k]
			if aws.ToString(v.DataType) != "String" || aws.ToString(v.StringValue) != want {
				t.Errorf("%s: attribute %s = %s %q, want String %q", tt.name, k, aws.ToString(v.DataType), aws.ToString(v.StringValue), want)
			}
		}
		if got := aws.ToString(in.MessageGroupId); got != tt.wantGroup {
			t.Errorf("%s: MessageGroupId = %q, want %q", tt.name, got, tt.wantGroup)
		}
		got := aws.ToString(in.MessageDeduplicationId)
		switch tt.wantDedup {
		case "":
			if in.MessageDeduplicationId != nil {
				t.Errorf("%s: MessageDeduplicationId = %q, want none", tt.name, got)
			}
		case "*":
			s := sha256.Sum256([]byte(aws.ToString(in.Message)))
			if got != hex.EncodeToString(s[:]) {
				t.Errorf("%s: MessageDeduplicationId = %q, want the message's SHA-256", tt.name, got)
			}
		default:
			if got != tt.wantDedup {
				t.Errorf("%s: MessageDeduplicationId = %q, want %q", tt.name, got, tt.wantDedup)
			}
		}
	}
}

// apiFunc adapts a function to notify.SNSAPI.
type apiFunc func(ctx context.Context, in *sns.PublishInput) (*sns.PublishOutput, error)

func (f apiFunc) Publish(ctx context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	return f(ctx, in)
}

func TestNotifyBoundsEachCall(t *testing.T) {
	tests := []struct {
		timeout, want time.Duration
	}{
		{0, notify.DefaultCallTimeout},
		{250 * time.Millisecond, 250 * time.Millisecond},
	}
	for _, tt := range tests {
		var deadline time.Time
		api := apiFunc(func(ctx context.Context, _ *sns.PublishInput) (*sns.PublishOutput, error) {
			var ok bool
			if deadline, ok = ctx.Deadline(); !ok {
				return nil, errors.New("no deadline")
			}
			return nil, nil // a nil output must not upset Notify
		})
		n, err := notify.New(notify.Config{TopicARN: topic, CallTimeout: tt.timeout}, api, nil)
		if err != nil {
			t.Fatal(err)
		}
		// The deadline is the call timeout after a moment within the call:
		// exact however long the call took on a loaded machine.
		before := time.Now()
		if err := n.Notify(context.Background(), blocked()); err != nil {
			t.Fatalf("CallTimeout %v: Notify = %v", tt.timeout, err)
		}
		after := time.Now()
		if deadline.Before(before.Add(tt.want)) || deadline.After(after.Add(tt.want)) {
			t.Errorf("CallTimeout %v: Publish's deadline is %v after the call began (which took %v), want %v",
				tt.timeout, deadline.Sub(before), after.Sub(before), tt.want)
		}
	}
}

func TestNotifyErrors(t *testing.T) {
	d := blocked()
	prefix := "notify: publish blocked 203.0.113.7 to " + topic + ": "
	tests := []struct {
		name string
		err  error
		want string
	}{
		{name: "API error", err: &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}, want: prefix + "Throttling: Rate exceeded"},
		{name: "API error without message", err: &smithy.GenericAPIError{Code: "InternalError"}, want: prefix + "InternalError"},
		{name: "other error", err: errors.New("dial tcp: connection refused"), want: prefix + "dial tcp: connection refused"},
	}
	for _, tt := range tests {
		fake := &notifytest.Fake{}
		fake.FailWith(tt.err)
		n, err := notify.New(notify.Config{TopicARN: topic}, fake, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := n.Notify(context.Background(), d)
		if got == nil || got.Error() != tt.want {
			t.Errorf("%s: Notify = %v, want %s", tt.name, got, tt.want)
		}
		if !errors.Is(got, tt.err) {
			t.Errorf("%s: Notify error does not wrap %v", tt.name, tt.err)
		}
	}
}

func TestNotifyConcurrent(t *testing.T) {
	fake := &notifytest.Fake{}
	n, err := notify.New(notify.Config{TopicARN: fifoTopic}, fake, nil)
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				d := blocked()
				d.Requests = w*each + i
				if err := n.Notify(context.Background(), d); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	seen := make(map[string]bool)
	for _, in := range fake.Inputs() {
		seen[aws.ToString(in.MessageDeduplicationId)] = true
	}
	if len(seen) != workers*each {
		t.Errorf("%d distinct messages published, want %d", len(seen), workers*each)
	}
}

func BenchmarkInput(b *testing.B) {
	n, err := notify.New(notify.Config{TopicARN: fifoTopic}, &notifytest.Fake{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	d := blocked()
	b.ReportAllocs()
	for b.Loop() {
		if n.Input(d).Message == nil {
			b.Fatal("no message")
		}
	}
}
