package notifytest_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/dosguard/dosguard/notify/notifytest"
)

const (
	topic     = "arn:aws:sns:us-east-1:123456789012:alerts"
	fifoTopic = "arn:aws:sns:us-east-1:123456789012:alerts.fifo"
)

func newServer(t *testing.T) *notifytest.Server {
	t.Helper()
	s := notifytest.NewServer()
	t.Cleanup(s.Close)
	s.AddTopic(topic)
	s.AddTopic(fifoTopic)
	return s
}

// once returns s's client without retries, so each call is one request.
func once(t *testing.T, s *notifytest.Server, optFns ...func(*sns.Options)) *sns.Client {
	return sns.New(s.Client(t).Options(), append([]func(*sns.Options){func(o *sns.Options) { o.Retryer = aws.NopRetryer{} }}, optFns...)...)
}

// codeOf returns the API error code and HTTP status of err, or "", 0.
func codeOf(err error) (string, int) {
	var apiErr smithy.APIError
	var respErr *smithyhttp.ResponseError
	if !errors.As(err, &apiErr) || !errors.As(err, &respErr) {
		return "", 0
	}
	return apiErr.ErrorCode(), respErr.HTTPStatusCode()
}

func attr(v string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
}

// TestChecks runs the checks AWS makes on Publish through the real client.
func TestChecks(t *testing.T) {
	tests := []struct {
		name       string
		in         sns.PublishInput
		wantCode   string // "" means accepted
		wantStatus int
	}{
		{name: "minimal", in: sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("hi")}},
		{name: "99-char subject", in: sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("hi"), Subject: aws.String(strings.Repeat("s", 99))}},
		{name: "100-char subject", in: sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("hi"), Subject: aws.String(strings.Repeat("s", 100))}, wantCode: "InvalidParameter", wantStatus: 400},
		{name: "subject with line break", in: sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("hi"), Subject: aws.String("a\nb")}, wantCode: "InvalidParameter", wantStatus: 400},
		{name: "subject with tab", in: sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("hi"), Subject: aws.String("a\tb")}, wantCode: "InvalidParameter", wantStatus: 400},
		{name: "non-ASCII subject", in: sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("hi"), Subject: aws.String("café")}, wantCode: "InvalidParameter", wantStatus: 400},
		{name: "subject starting with space", in: sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("hi"), Subject: aws.String(" a")}, wantCode: "InvalidParameter", wantStatus: 400},
		{name: "empty subject", in: sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("hi"), Subject: aws.String("")}, wantCode: "InvalidParameter", wantStatus: 400},
		{name: "empty message", in: sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("")}, wantCode: "InvalidParameter", wantStatus: 400},
		{name: "invalid UTF-8 message", in: sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("\xff")}, wantCode: "InvalidParameter", wantStatus: 400},
		{name: "262144-byte message", in: sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String(strings.Repeat("m", 262144))}},
		{name: "262145-byte message", in: sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String(strings.Repeat("m", 262145))}, wantCode: "InvalidParameter", wantStatus: 400},
		{name: "attributes count toward the size", in: sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String(strings.Repeat("m", 262140)),
			MessageAttributes: map[string]types.MessageAttributeValue{"status": attr("blocked")}}, wantCode: "InvalidParameter", wantStatus: 400},
		{name: "empty attribute value", in: sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("hi"),
			MessageAttributes: map[string]types.MessageAttributeValue{"rule": attr("")}}, wantCode: "ParameterValueInvalid", wantStatus: 400},
		{name: "unknown attribute type", in: sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("hi"),
			MessageAttributes: map[string]types.MessageAttributeValue{"rule": {DataType: aws.String("Text"), StringValue: aws.String("x")}}}, wantCode: "ParameterValueInvalid", wantStatus: 400},
		{name: "unknown topic", in: sns.PublishInput{TopicArn: aws.String(topic + "-x"), Message: aws.String("hi")}, wantCode: "NotFound", wantStatus: 404},
		{name: "no topic", in: sns.PublishInput{Message: aws.String("hi")}, wantCode: "InvalidParameter", wantStatus: 400},
		{name: "phone number", in: sns.PublishInput{PhoneNumber: aws.String("+15550100"), Message: aws.String("hi")}, wantCode: "InvalidParameter", wantStatus: 400},
		{name: "standard topic with group", in: sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("hi"), MessageGroupId: aws.String("g")}},
		{name: "standard topic with dedup", in: sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("hi"), MessageDeduplicationId: aws.String("d")}, wantCode: "InvalidParameter", wantStatus: 400},
		{name: "fifo", in: sns.PublishInput{TopicArn: aws.String(fifoTopic), Message: aws.String("hi"), MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String("d1")}},
		{name: "fifo without group", in: sns.PublishInput{TopicArn: aws.String(fifoTopic), Message: aws.String("hi"), MessageDeduplicationId: aws.String("d2")}, wantCode: "InvalidParameter", wantStatus: 400},
		{name: "fifo without dedup", in: sns.PublishInput{TopicArn: aws.String(fifoTopic), Message: aws.String("hi"), MessageGroupId: aws.String("g")}, wantCode: "InvalidParameter", wantStatus: 400},
		{name: "group with space", in: sns.PublishInput{TopicArn: aws.String(fifoTopic), Message: aws.String("hi"), MessageGroupId: aws.String("a b"), MessageDeduplicationId: aws.String("d3")}, wantCode: "InvalidParameter", wantStatus: 400},
		{name: "129-char dedup", in: sns.PublishInput{TopicArn: aws.String(fifoTopic), Message: aws.String("hi"), MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String(strings.Repeat("d", 129))}, wantCode: "InvalidParameter", wantStatus: 400},
	}
	s := newServer(t)
	client := once(t, s)
	stored := 0
	for _, tt := range tests {
		out, err := client.Publish(context.Background(), &tt.in)
		code, status := codeOf(err)
		switch {
		case tt.wantCode == "" && err != nil:
			t.Errorf("%s: Publish = %v, want success", tt.name, err)
		case tt.wantCode == "" && aws.ToString(out.MessageId) == "":
			t.Errorf("%s: Publish returned no MessageId", tt.name)
		case tt.wantCode != "" && (code != tt.wantCode || status != tt.wantStatus):
			t.Errorf("%s: Publish = %v, want %s (HTTP %d)", tt.name, err, tt.wantCode, tt.wantStatus)
		}
		if tt.wantCode == "" {
			stored++
		}
	}
	if got := len(s.Messages()); got != stored {
		t.Errorf("%d messages stored, want %d (only the accepted ones)", got, stored)
	}
	if got := s.PublishCount(); got != len(tests) {
		t.Errorf("PublishCount = %d, want %d", got, len(tests))
	}
}

func TestStoredMessage(t *testing.T) {
	s := newServer(t)
	out, err := once(t, s).Publish(context.Background(), &sns.PublishInput{
		TopicArn: aws.String(fifoTopic), Message: aws.String(`{"a":"<&>"}`), Subject: aws.String("subj"),
		MessageAttributes: map[string]types.MessageAttributeValue{"status": attr("blocked"), "rule": attr("block.flood")},
		MessageGroupId:    aws.String("block.flood"), MessageDeduplicationId: aws.String("abc"),
	})
	if err != nil {
		t.Fatal(err)
	}
	var m notifytest.Message
	select {
	case m = <-s.Published():
	default: // the message is sent on Published before Publish is answered
		t.Fatal("no message on Published() after Publish returned")
	}
	want := notifytest.Message{ID: aws.ToString(out.MessageId), TopicARN: fifoTopic, Subject: "subj", Body: `{"a":"<&>"}`, GroupID: "block.flood", DedupID: "abc"}
	attrs := m.Attributes
	if m.ID != want.ID || m.TopicARN != want.TopicARN || m.Subject != want.Subject || m.Body != want.Body || m.GroupID != want.GroupID || m.DedupID != want.DedupID ||
		attrs["status"] != "blocked" || attrs["rule"] != "block.flood" || len(attrs) != 2 {
		t.Errorf("published %+v with attributes %v, want %+v with status=blocked rule=block.flood", m, attrs, want)
	}
	if out.SequenceNumber == nil {
		t.Errorf("FIFO Publish returned no SequenceNumber")
	}
	if got := s.Messages(); len(got) != 1 || got[0].ID != want.ID {
		t.Errorf("Messages() = %+v, want the one published", got)
	}
}

func TestFail(t *testing.T) {
	s := newServer(t)
	client := once(t, s)
	s.Fail("Throttling", 400, 2)
	s.Fail("InternalError", 500, 1)
	steps := []struct {
		wantCode   string
		wantStatus int
	}{
		{"Throttling", 400}, {"Throttling", 400}, {"InternalError", 500}, {"", 0},
	}
	for i, st := range steps {
		_, err := client.Publish(context.Background(), &sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("hi")})
		if code, status := codeOf(err); code != st.wantCode || status != st.wantStatus {
			t.Errorf("step %d: Publish = %v, want code %q (HTTP %d)", i, err, st.wantCode, st.wantStatus)
		}
	}
	var internal *types.InternalErrorException
	s.Fail("InternalError", 500, 1)
	if _, err := client.Publish(context.Background(), &sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("hi")}); !errors.As(err, &internal) {
		t.Errorf("Publish = %v, want *types.InternalErrorException", err)
	}
}

func TestStall(t *testing.T) {
	s := newServer(t)
	client := once(t, s)
	in := &sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("hi")}
	release := s.Stall()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := client.Publish(ctx, in); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Publish while stalled = %v, want context.DeadlineExceeded", err)
	}
	release()
	release() // twice is fine
	if _, err := client.Publish(context.Background(), in); err != nil {
		t.Errorf("Publish after release = %v, want success", err)
	}
	if got := len(s.Messages()); got != 1 {
		t.Errorf("%d messages stored, want 1", got)
	}
}

// TestSignature checks that the server verifies SigV4 signatures.
func TestSignature(t *testing.T) {
	creds := func(key, secret string) func(*sns.Options) {
		return func(o *sns.Options) {
			o.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}, nil
			})
		}
	}
	tests := []struct {
		name       string
		opt        func(*sns.Options)
		wantCode   string
		wantStatus int
	}{
		{name: "right keys", opt: creds(notifytest.AccessKeyID, notifytest.SecretAccessKey)},
		{name: "wrong secret", opt: creds(notifytest.AccessKeyID, "guess"), wantCode: "SignatureDoesNotMatch", wantStatus: 403},
		{name: "unknown key", opt: creds("AKIDOTHER", notifytest.SecretAccessKey), wantCode: "InvalidClientTokenId", wantStatus: 403},
		{name: "anonymous", opt: func(o *sns.Options) { o.Credentials = aws.AnonymousCredentials{} }, wantCode: "MissingAuthenticationToken", wantStatus: 403},
		{name: "other region", opt: func(o *sns.Options) { o.Region = "eu-west-1" }},
	}
	s := newServer(t)
	for _, tt := range tests {
		_, err := once(t, s, tt.opt).Publish(context.Background(), &sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("hi")})
		if code, status := codeOf(err); code != tt.wantCode || status != tt.wantStatus {
			t.Errorf("%s: Publish = %v, want code %q (HTTP %d)", tt.name, err, tt.wantCode, tt.wantStatus)
		}
	}
}

// TestSignatureCoversBody signs one body and sends another.
func TestSignatureCoversBody(t *testing.T) {
	s := newServer(t)
	form := func(msg string) string {
		return url.Values{"Action": {"Publish"}, "Version": {"2010-03-31"}, "TopicArn": {topic}, "Message": {msg}}.Encode()
	}
	tests := []struct {
		name       string
		signed     string
		sent       string
		wantStatus int
	}{
		{name: "same body", signed: form("hi"), sent: form("hi"), wantStatus: 200},
		{name: "tampered body", signed: form("hi"), sent: form("ho"), wantStatus: 403},
	}
	for _, tt := range tests {
		req, err := http.NewRequest(http.MethodPost, s.URL(), strings.NewReader(tt.sent))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		sum := sha256.Sum256([]byte(tt.signed))
		creds := aws.Credentials{AccessKeyID: notifytest.AccessKeyID, SecretAccessKey: notifytest.SecretAccessKey}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "sns", notifytest.Region, time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.wantStatus {
			t.Errorf("%s: HTTP %d %s, want %d", tt.name, resp.StatusCode, body, tt.wantStatus)
		}
		if tt.wantStatus == 200 && !strings.Contains(string(body), "<PublishResponse") {
			t.Errorf("%s: body %s, want a PublishResponse", tt.name, body)
		}
	}
}

func TestOtherActions(t *testing.T) {
	s := newServer(t)
	_, err := once(t, s).ListTopics(context.Background(), &sns.ListTopicsInput{})
	if code, status := codeOf(err); code != "InvalidAction" || status != 400 {
		t.Errorf("ListTopics = %v, want InvalidAction (HTTP 400)", err)
	}
}

func TestFake(t *testing.T) {
	var f notifytest.Fake
	in := &sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("hi")}
	boom := errors.New("boom")
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	steps := []struct {
		ctx     context.Context
		failErr error
		wantErr error
		wantID  string
	}{
		{context.Background(), nil, nil, "fake-1"},
		{context.Background(), boom, boom, ""},
		{canceled, nil, context.Canceled, ""},
		{context.Background(), nil, nil, "fake-4"},
	}
	for i, st := range steps {
		f.FailWith(st.failErr)
		out, err := f.Publish(st.ctx, in)
		if !errors.Is(err, st.wantErr) || err == nil && aws.ToString(out.MessageId) != st.wantID {
			t.Errorf("step %d: Publish = %v, %v; want id %q, error %v", i, out, err, st.wantID, st.wantErr)
		}
	}
	if got := len(f.Inputs()); got != len(steps) {
		t.Errorf("Fake recorded %d inputs, want %d", got, len(steps))
	}
}
