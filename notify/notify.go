// Package notify publishes dosguard's decisions to an Amazon SNS topic.
//
// The model: a Decision (a client blocked, detected, failed to block or
// unblocked) is a JSON object that keeps the fields of the Fluentd/Norikra
// pipeline dosguard replaces (requests, host, status, proccessed_at, time)
// and adds the rule, window, ACLs, rule numbers, reason, expiry and dry-run
// flag; see Decision.AppendJSON for the exact format. Notify publishes one
// decision as one message, with a subject from a template (see Subject)
// that is always acceptable to SNS.
//
// Under attack decisions come in bursts, and SNS deactivates email
// subscriptions above 10 messages a second, so the plugin does not call
// Notify per decision. It pushes each decision onto a Queue, the one
// bounded buffer (it drops the oldest, and counts them); a Publisher takes
// them off on its own goroutine. The first decision after a quiet period
// goes out at once; those that follow within the interval
// (DefaultInterval, 10s) go out together, a group at most every interval,
// through NotifyBatch, which lists the decisions with counts per status
// (several messages only when the list exceeds MaxBatchBytes; a lone
// decision keeps the one-decision form). Every message takes a token from
// a golang.org/x/time/rate limiter: one a second with bursts of five
// (DefaultEvery, DefaultBurst). The Publisher reads the time from an
// injected clock and Round applies the policy once, so tests drive it on a
// fixed timeline.
//
// Every message carries the message attributes "status" and "rule" (for a
// batch, the shared value or "mixed") so subscriptions can filter on them.
// A FIFO topic (ARN ending in ".fifo") also gets the rule as MessageGroupId
// and the hex SHA-256 of the message as MessageDeduplicationId, so a
// retried Publish is delivered once.
//
// SNS is reached through SNSAPI, which *sns.Client satisfies; the
// composition root builds the client and its retryer (see RetryOptions).
// Each Publish is bounded by Config.CallTimeout. A Notifier with no topic
// publishes nothing: the caller's log is then the only record.
//
// A Notifier holds no mutable state and starts no goroutines; it is safe for
// concurrent use. A Queue is too; a Publisher belongs to one goroutine.
package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"
)

// SNSAPI is the part of the SNS API a Notifier uses.
type SNSAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

var _ SNSAPI = (*sns.Client)(nil)

// DefaultCallTimeout bounds each Publish (retries included) when
// Config.CallTimeout is zero.
const DefaultCallTimeout = 10 * time.Second

// Config configures a Notifier.
type Config struct {
	// TopicARN is the topic to publish to, e.g.
	// "arn:aws:sns:us-east-1:123456789012:dosguard". Empty disables
	// publishing.
	TopicARN string
	// Subject is the subject template (see Subject); empty means
	// DefaultSubject.
	Subject string
	// CallTimeout bounds each Publish call including the SDK's retries;
	// zero means DefaultCallTimeout.
	CallTimeout time.Duration
}

// Validate reports whether c is usable: TopicARN empty or an SNS topic ARN
// (arn:<partition>:sns:<region>:<12-digit account>:<topic name>), and
// CallTimeout not negative.
func (c Config) Validate() error {
	if c.TopicARN != "" {
		if err := checkTopicARN(c.TopicARN); err != nil {
			return fmt.Errorf("notify: topic ARN %q: %w", c.TopicARN, err)
		}
	}
	if c.CallTimeout < 0 {
		return fmt.Errorf("notify: call timeout %v: must not be negative", c.CallTimeout)
	}
	return nil
}

// checkTopicARN checks the shape arn:<partition>:sns:<region>:<account>:<name>.
func checkTopicARN(arn string) error {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" {
		return errors.New("want arn:<partition>:sns:<region>:<account>:<topic>")
	}
	partition, service, region, account, name := parts[1], parts[2], parts[3], parts[4], parts[5]
	if partition == "" {
		return errors.New("empty partition")
	}
	if service != "sns" {
		return fmt.Errorf("service %q is not sns", service)
	}
	if region == "" {
		return errors.New("empty region")
	}
	if len(account) != 12 || strings.Trim(account, "0123456789") != "" {
		return fmt.Errorf("account %q is not 12 digits", account)
	}
	base := strings.TrimSuffix(name, ".fifo")
	if base == "" || len(name) > 256 || strings.Trim(base, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
		return fmt.Errorf("topic name %q: want 1 to 256 letters, digits, '-' or '_' (and .fifo)", name)
	}
	return nil
}

// Notifier publishes decisions to one SNS topic. See the package comment.
type Notifier struct {
	api     SNSAPI
	topic   string
	fifo    bool
	subject string
	timeout time.Duration
	logger  *slog.Logger
}

// New returns a Notifier for cfg publishing through api. When cfg.TopicARN
// is empty, api may be nil and Notify does nothing. A nil logger discards.
func New(cfg Config, api SNSAPI, logger *slog.Logger) (*Notifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.TopicARN != "" && api == nil {
		return nil, fmt.Errorf("notify: topic ARN %q: no SNS client", cfg.TopicARN)
	}
	if cfg.TopicARN == "" {
		api = nil
	}
	if cfg.Subject == "" {
		cfg.Subject = DefaultSubject
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Notifier{
		api:     api,
		topic:   cfg.TopicARN,
		fifo:    strings.HasSuffix(cfg.TopicARN, ".fifo"),
		subject: cfg.Subject,
		timeout: cfg.CallTimeout,
		logger:  logger,
	}, nil
}

// Enabled reports whether n publishes, i.e. whether it has a topic.
func (n *Notifier) Enabled() bool { return n.api != nil }

// Notify publishes d as one message, waiting at most the call timeout (and
// no longer than ctx allows). It returns nil at once when n has no topic.
// Errors name the decision and the topic and wrap the SDK's error, e.g.
// "notify: publish blocked 203.0.113.7 to arn:aws:sns:...: Throttling: Rate
// exceeded (after 5 attempts)".
func (n *Notifier) Notify(ctx context.Context, d Decision) error {
	if n.api == nil {
		return nil
	}
	return n.publish(ctx, n.single(d))
}

// publish sends m with one Publish call bounded by the call timeout.
func (n *Notifier) publish(ctx context.Context, m message) error {
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	out, err := n.api.Publish(ctx, m.in)
	if err != nil {
		return &publishError{what: m.what, topic: n.topic, timeout: n.timeout, err: err}
	}
	var id string
	if out != nil {
		id = aws.ToString(out.MessageId)
	}
	n.logger.LogAttrs(ctx, slog.LevelDebug, "notify: published "+m.what,
		slog.Int("decisions", m.n), slog.String("topic", n.topic), slog.String("message_id", id))
	return nil
}

// Input returns the Publish input Notify sends for d: topic, subject,
// message, the "status" and "rule" attributes (each only when non-empty)
// and, for a FIFO topic, MessageGroupId and MessageDeduplicationId.
func (n *Notifier) Input(d Decision) *sns.PublishInput {
	msg := string(d.AppendJSON(make([]byte, 0, 384)))
	in := &sns.PublishInput{
		TopicArn: aws.String(n.topic),
		Subject:  aws.String(Subject(n.subject, d)),
		Message:  aws.String(msg),
	}
	attrs := make(map[string]types.MessageAttributeValue, 2)
	if v := attributeValue(string(d.Status)); v != "" {
		attrs["status"] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	if v := attributeValue(d.Rule); v != "" {
		attrs["rule"] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	if len(attrs) > 0 {
		in.MessageAttributes = attrs
	}
	if n.fifo {
		sum := sha256.Sum256([]byte(msg))
		in.MessageGroupId = aws.String(groupID(d.Rule))
		in.MessageDeduplicationId = aws.String(hex.EncodeToString(sum[:]))
	}
	return in
}

// attributeValue makes s a valid String message attribute value: valid
// UTF-8 without control characters, at most maxRuleBytes long.
func attributeValue(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r >= 0x7f && r <= 0x9f {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	return truncate(strings.TrimSpace(s), maxRuleBytes)
}

// groupID makes rule a valid MessageGroupId: up to 128 characters, ASCII
// letters, digits and punctuation; anything else becomes '_'. An empty rule
// gives "dosguard".
func groupID(rule string) string {
	if rule == "" {
		return fallbackSubject
	}
	b := make([]byte, 0, min(len(rule), 128))
	for i := 0; i < len(rule) && len(b) < 128; {
		c := rule[i]
		if c > 0x20 && c < 0x7f {
			b = append(b, c)
			i++
			continue
		}
		_, size := utf8.DecodeRuneInString(rule[i:])
		b = append(b, '_')
		i += size
	}
	return string(b)
}

// RetryOptions adapts the SDK's standard retryer to SNS; use it as
//
//	retry.NewStandard(notify.RetryOptions, func(o *retry.StandardOptions) { o.MaxAttempts = 5 })
//
// SNS reports Publish throttling as "Throttling" (HTTP 400), which the
// standard retryer already retries, but some SNS actions answer with
// "Throttled" (HTTP 429), which it does not know. RetryOptions makes both the
// code and the status retryable and counts them as throttling.
func RetryOptions(o *retry.StandardOptions) {
	codes := map[string]struct{}{"Throttled": {}}
	o.Retryables = append(o.Retryables,
		retry.RetryableErrorCode{Codes: codes},
		retry.RetryableHTTPStatusCode{Codes: map[int]struct{}{429: {}}},
	)
	o.Throttles = append(o.Throttles, retry.ThrottleErrorCode{Codes: codes})
}

// publishError is the error Notify returns: it names the message and topic,
// shows the API error code and message (not the SDK's long operation
// prefix), and unwraps to the SDK error.
type publishError struct {
	what    string // "blocked 203.0.113.7", "4 decisions"
	topic   string
	timeout time.Duration
	err     error
}

func (e *publishError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "notify: publish %s to %s: ", e.what, e.topic)
	var apiErr smithy.APIError
	switch {
	case errors.As(e.err, &apiErr):
		b.WriteString(apiErr.ErrorCode())
		if msg := apiErr.ErrorMessage(); msg != "" {
			b.WriteString(": ")
			b.WriteString(msg)
		}
	case errors.Is(e.err, context.DeadlineExceeded):
		fmt.Fprintf(&b, "no answer within the deadline (call timeout %v): %v", e.timeout, e.err)
	default:
		b.WriteString(e.err.Error())
	}
	var maxErr *retry.MaxAttemptsError
	if errors.As(e.err, &maxErr) {
		fmt.Fprintf(&b, " (after %d attempts)", maxErr.Attempt)
	}
	return b.String()
}

func (e *publishError) Unwrap() error { return e.err }
