// Package notifytest provides test doubles for package notify: Server, a
// local HTTP endpoint that speaks the SNS Publish action over the real
// awsQuery wire protocol, so tests can run a real *sns.Client (serializer,
// SigV4 signer, retryer, error deserializer) against it; and Fake, an
// in-memory recording SNSAPI for tests that do not care about the wire.
//
// Server checks what AWS checks on Publish: a valid SigV4 signature, a
// known topic (NotFound, 404), a subject of 1 to 99 printable ASCII
// characters not starting with a space (InvalidParameter, 400), a non-empty
// UTF-8 message of at most 262144 bytes counting message attributes
// (InvalidParameter), non-empty String attribute values
// (ParameterValueInvalid), and for FIFO topics a MessageGroupId and a
// MessageDeduplicationId (InvalidParameter). A standard topic accepts a
// MessageGroupId (SNS forwards it to SQS fair queues) but rejects a
// MessageDeduplicationId. A FIFO message whose deduplication ID was seen
// before on the topic is accepted but not stored again, as SNS does within
// its deduplication interval (here: for the server's lifetime).
//
// Tests steer it with AddTopic, Fail (answer the next requests with an
// error) and Stall (hang requests until released), and observe it with
// Messages, PublishCount and the Published channel, on which a test can wait
// with a deadline instead of sleeping.
package notifytest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/dosguard/dosguard/notify"
)

// Credentials the server accepts; Client signs with them.
const (
	AccessKeyID     = "AKIDNOTIFYTEST"
	SecretAccessKey = "notifytest-secret"
	Region          = "us-east-1"
)

// MaxAttempts is the number of attempts (first try included) the retryer of
// a Client makes before giving up.
const MaxAttempts = 5

// PublishedBuffer is the capacity of the Published channel. Messages beyond
// it are not sent on the channel (Messages still has them).
const PublishedBuffer = 1024

const (
	maxMessageBytes = 262144
	xmlNamespace    = "http://sns.amazonaws.com/doc/2010-03-31/"
)

// Message is one message the server accepted and stored.
type Message struct {
	// ID is the MessageId returned to the publisher.
	ID string
	// TopicARN is the topic it was published to.
	TopicARN string
	// Subject is the subject, "" when none was sent.
	Subject string
	// Body is the message text.
	Body string
	// Attributes maps message attribute names to their values (for Binary
	// attributes, the base64 text as sent).
	Attributes map[string]string
	// GroupID is the MessageGroupId, "" when none was sent.
	GroupID string
	// DedupID is the MessageDeduplicationId, "" when none was sent.
	DedupID string
}

type failure struct {
	code   string
	status int
	times  int
}

// Server is a local SNS endpoint. Create it with NewServer and Close it when
// done. All methods are safe for concurrent use.
type Server struct {
	srv       *httptest.Server
	published chan Message

	mu        sync.Mutex
	topics    map[string]bool
	messages  []Message
	failures  []failure
	stall     chan struct{} // closed on release; nil when not stalled
	publishes int
	requests  int
	dedup     map[string]string // topic + "\x00" + dedup ID -> message ID
}

// NewServer starts a Server with no topics.
func NewServer() *Server {
	s := &Server{
		published: make(chan Message, PublishedBuffer),
		topics:    make(map[string]bool),
		dedup:     make(map[string]string),
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	return s
}

// URL returns the endpoint's base URL, for sns.Options.BaseEndpoint.
func (s *Server) URL() string { return s.srv.URL }

// Close releases stalled requests and shuts the server down.
func (s *Server) Close() {
	s.mu.Lock()
	if s.stall != nil {
		close(s.stall)
		s.stall = nil
	}
	s.mu.Unlock()
	s.srv.Close()
}

// AddTopic creates the topic arn; a name ending in ".fifo" makes it FIFO.
func (s *Server) AddTopic(arn string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.topics[arn] = true
}

// Messages returns the stored messages in the order they were accepted.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Published returns a channel that receives each stored message, so a test
// can wait for one with select and a deadline.
func (s *Server) Published() <-chan Message { return s.published }

// PublishCount returns how many signed Publish requests reached the server,
// failed, stalled and retried ones included.
func (s *Server) PublishCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.publishes
}

// Fail makes the next times Publish requests fail with the error code and
// HTTP status, e.g. Fail("Throttling", 400, 3) or Fail("InternalError",
// 500, 10). Calls queue up: a second Fail applies after the first is used up.
func (s *Server) Fail(code string, status int, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if times > 0 {
		s.failures = append(s.failures, failure{code: code, status: status, times: times})
	}
}

// Stall makes Publish requests hang, as on a dead network path, until
// release is called. A held request is never stored: it ends when the
// client gives up or, on release, with ServiceUnavailable (503), which the
// SDK retries. Requests after release are served normally. release may be
// called more than once.
func (s *Server) Stall() (release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	if s.stall != nil {
		close(s.stall)
	}
	s.stall = ch
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.stall == ch {
				close(ch)
				s.stall = nil
			}
			s.mu.Unlock()
		})
	}
}

// Client returns a real *sns.Client for the server: static credentials
// AccessKeyID/SecretAccessKey, region us-east-1, and the SDK's standard
// retryer adapted by notify.RetryOptions, with MaxAttempts attempts, a 1 ms
// backoff and no retry quota, so retries are fast and never run out.
func (s *Server) Client(t testing.TB) *sns.Client {
	t.Helper()
	hc := s.srv.Client()
	t.Cleanup(hc.CloseIdleConnections)
	return sns.New(sns.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.srv.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey, Source: "notifytest"}, nil
		}),
		HTTPClient: hc,
		Retryer: retry.NewStandard(notify.RetryOptions, func(o *retry.StandardOptions) {
			o.MaxAttempts = MaxAttempts
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
			o.RateLimiter = ratelimit.None
		}),
	})
}

// apiError is an error answer: wire code, HTTP status and message.
type apiError struct {
	code   string
	status int
	msg    string
}

func invalidParameter(format string, args ...any) *apiError {
	return &apiError{code: "InvalidParameter", status: http.StatusBadRequest, msg: "Invalid parameter: " + fmt.Sprintf(format, args...)}
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	reqID := fmt.Sprintf("00000000-0000-4000-8000-%012d", s.requests)
	s.mu.Unlock()

	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return // client went away
	}
	if e := checkRequest(r, body); e != nil {
		writeError(w, reqID, e)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeError(w, reqID, &apiError{code: "MalformedQueryString", status: http.StatusBadRequest, msg: err.Error()})
		return
	}
	if a := form.Get("Action"); a != "Publish" {
		writeError(w, reqID, &apiError{code: "InvalidAction", status: http.StatusBadRequest, msg: fmt.Sprintf("Could not find operation %s for version %s", a, form.Get("Version"))})
		return
	}
	if v := form.Get("Version"); v != "2010-03-31" {
		writeError(w, reqID, &apiError{code: "InvalidAction", status: http.StatusBadRequest, msg: "Could not find operation Publish for version " + v})
		return
	}

	s.mu.Lock()
	s.publishes++
	stall := s.stall
	var fail *apiError
	if len(s.failures) > 0 {
		f := &s.failures[0]
		fail = &apiError{code: f.code, status: f.status, msg: "notifytest: injected " + f.code}
		if f.times--; f.times == 0 {
			s.failures = s.failures[1:]
		}
	}
	s.mu.Unlock()

	if stall != nil {
		// A held request is never stored: the client either gives up, or
		// gets ServiceUnavailable on release and retries.
		select {
		case <-stall:
			writeError(w, reqID, &apiError{code: "ServiceUnavailable", status: http.StatusServiceUnavailable, msg: "notifytest: released from stall"})
		case <-r.Context().Done():
		}
		return
	}
	if fail != nil {
		writeError(w, reqID, fail)
		return
	}

	m, e := parsePublish(form)
	if e != nil {
		writeError(w, reqID, e)
		return
	}
	id, seq, e := s.store(m)
	if e != nil {
		writeError(w, reqID, e)
		return
	}
	var b bytes.Buffer
	b.WriteString(`<PublishResponse xmlns="` + xmlNamespace + `"><PublishResult><MessageId>` + id + `</MessageId>`)
	if seq != "" {
		b.WriteString(`<SequenceNumber>` + seq + `</SequenceNumber>`)
	}
	b.WriteString(`</PublishResult><ResponseMetadata><RequestId>` + reqID + `</RequestId></ResponseMetadata></PublishResponse>`)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", reqID)
	w.Write(b.Bytes())
}

// store validates m against its topic and stores it, returning the message
// ID and, for FIFO topics, a sequence number.
func (s *Server) store(m Message) (id, seq string, e *apiError) {
	fifo := strings.HasSuffix(m.TopicARN, ".fifo")
	switch {
	case fifo && m.GroupID == "":
		return "", "", invalidParameter("The MessageGroupId parameter is required for FIFO topics")
	case fifo && m.DedupID == "":
		return "", "", invalidParameter("The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")
	case !fifo && m.DedupID != "":
		return "", "", invalidParameter("MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.topics[m.TopicARN] {
		return "", "", &apiError{code: "NotFound", status: http.StatusNotFound, msg: "Topic does not exist"}
	}
	key := m.TopicARN + "\x00" + m.DedupID
	if fifo {
		if id, ok := s.dedup[key]; ok {
			return id, fmt.Sprintf("%020d", len(s.messages)), nil
		}
	}
	n := len(s.messages) + 1
	m.ID = fmt.Sprintf("%08x-0000-4000-8000-%012x", n, n)
	s.messages = append(s.messages, m)
	if fifo {
		s.dedup[key] = m.ID
		seq = fmt.Sprintf("%020d", n)
	}
	select {
	case s.published <- m:
	default:
	}
	return m.ID, seq, nil
}

// parsePublish reads and checks the Publish parameters that do not depend
// on the topic.
func parsePublish(form url.Values) (Message, *apiError) {
	m := Message{
		TopicARN: form.Get("TopicArn"),
		Subject:  form.Get("Subject"),
		Body:     form.Get("Message"),
		GroupID:  form.Get("MessageGroupId"),
		DedupID:  form.Get("MessageDeduplicationId"),
	}
	if form.Has("TargetArn") || form.Has("PhoneNumber") || form.Has("MessageStructure") {
		return m, invalidParameter("notifytest supports only TopicArn, Subject, Message, MessageAttributes, MessageGroupId and MessageDeduplicationId")
	}
	if m.TopicARN == "" {
		return m, invalidParameter("TopicArn or TargetArn Reason: no value for required parameter")
	}
	if form.Has("Subject") {
		if err := checkSubject(m.Subject); err != "" {
			return m, invalidParameter("Subject Reason: %s", err)
		}
	}
	if m.Body == "" {
		return m, invalidParameter("Empty message")
	}
	if !utf8.ValidString(m.Body) {
		return m, invalidParameter("Message Reason: must be UTF-8 encoded")
	}
	size := len(m.Body)
	for i := 1; ; i++ {
		prefix := "MessageAttributes.entry." + strconv.Itoa(i) + "."
		if !form.Has(prefix + "Name") {
			break
		}
		if i > 10 {
			return m, &apiError{code: "ParameterValueInvalid", status: http.StatusBadRequest, msg: "Number of message attributes exceeds the allowed maximum [10]."}
		}
		name := form.Get(prefix + "Name")
		typ := form.Get(prefix + "Value.DataType")
		val := form.Get(prefix + "Value.StringValue")
		if strings.HasPrefix(typ, "Binary") {
			val = form.Get(prefix + "Value.BinaryValue")
		}
		if name == "" || len(name) > 256 || strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != "" {
			return m, &apiError{code: "ParameterValueInvalid", status: http.StatusBadRequest, msg: fmt.Sprintf("The message attribute name %q is invalid.", name)}
		}
		if !(typ == "String" || typ == "Number" || typ == "Binary" || typ == "String.Array" ||
			strings.HasPrefix(typ, "String.") || strings.HasPrefix(typ, "Number.") || strings.HasPrefix(typ, "Binary.")) {
			return m, &apiError{code: "ParameterValueInvalid", status: http.StatusBadRequest, msg: fmt.Sprintf("The message attribute '%s' has an invalid message attribute type '%s'.", name, typ)}
		}
		if val == "" {
			return m, &apiError{code: "ParameterValueInvalid", status: http.StatusBadRequest, msg: fmt.Sprintf("The message attribute '%s' must contain non-empty message attribute value for message attribute type '%s'.", name, typ)}
		}
		if m.Attributes == nil {
			m.Attributes = make(map[string]string)
		}
		m.Attributes[name] = val
		size += len(name) + len(typ) + len(val)
	}
	if size > maxMessageBytes {
		return m, invalidParameter("Message too long")
	}
	for _, p := range []struct{ name, v string }{{"MessageGroupId", m.GroupID}, {"MessageDeduplicationId", m.DedupID}} {
		if form.Has(p.name) && !validID(p.v) {
			return m, invalidParameter("%s Reason: must be 1 to 128 alphanumeric or punctuation characters", p.name)
		}
	}
	return m, nil
}

// checkSubject returns why SNS would refuse subject, or "".
func checkSubject(subject string) string {
	switch {
	case subject == "":
		return "Subject must not be empty"
	case utf8.RuneCountInString(subject) >= 100:
		return "Subject must be less than 100 characters"
	case subject[0] == ' ':
		return "Subject must begin with a letter, number or punctuation mark"
	}
	for i := 0; i < len(subject); i++ {
		if c := subject[i]; c < 0x20 || c > 0x7e {
			return "Subject must be ASCII text without line breaks or control characters"
		}
	}
	return ""
}

// validID reports whether id is a valid MessageGroupId or
// MessageDeduplicationId: 1 to 128 ASCII letters, digits and punctuation.
func validID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// checkRequest checks the transport and the SigV4 signature: POST of a
// form, signed by AccessKeyID for the sns service with a signature the
// server can reproduce.
func checkRequest(r *http.Request, body []byte) *apiError {
	if r.Method != http.MethodPost {
		return &apiError{code: "InvalidHttpRequest", status: http.StatusMethodNotAllowed, msg: "notifytest: want POST, got " + r.Method}
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return &apiError{code: "InvalidHttpRequest", status: http.StatusBadRequest, msg: "notifytest: want a form, got Content-Type " + ct}
	}
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return &apiError{code: "MissingAuthenticationToken", status: http.StatusForbidden, msg: "Request is missing Authentication Token"}
	}
	const algorithm = "AWS4-HMAC-SHA256 "
	incomplete := &apiError{code: "IncompleteSignature", status: http.StatusBadRequest, msg: "Authorization header requires Credential, SignedHeaders and Signature: " + auth}
	if !strings.HasPrefix(auth, algorithm) {
		return incomplete
	}
	var credential, signedHeaders, signature string
	for _, part := range strings.Split(strings.TrimPrefix(auth, algorithm), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			credential = v
		case "SignedHeaders":
			signedHeaders = v
		case "Signature":
			signature = v
		}
	}
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || signedHeaders == "" || signature == "" || scope[4] != "aws4_request" {
		return incomplete
	}
	if scope[0] != AccessKeyID {
		return &apiError{code: "InvalidClientTokenId", status: http.StatusForbidden, msg: "The security token included in the request is invalid."}
	}
	if scope[3] != "sns" {
		return &apiError{code: "SignatureDoesNotMatch", status: http.StatusForbidden, msg: "Credential should be scoped to correct service: 'sns'."}
	}
	signTime, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil || signTime.Format("20060102") != scope[1] {
		return incomplete
	}

	// Sign a copy holding only the signed headers and compare signatures.
	c, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return incomplete
	}
	c.Host = r.Host
	c.ContentLength = r.ContentLength
	for _, h := range strings.Split(signedHeaders, ";") {
		if h == "host" || h == "content-length" {
			continue
		}
		c.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey, SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if err := v4.NewSigner().SignHTTP(r.Context(), creds, c, hex.EncodeToString(sum[:]), scope[3], scope[2], signTime); err != nil {
		return incomplete
	}
	if !strings.HasSuffix(c.Header.Get("Authorization"), "Signature="+signature) {
		return &apiError{code: "SignatureDoesNotMatch", status: http.StatusForbidden, msg: "The request signature we calculated does not match the signature you provided."}
	}
	return nil
}

// writeError writes e as an awsQuery ErrorResponse.
func writeError(w http.ResponseWriter, reqID string, e *apiError) {
	typ := "Sender"
	if e.status >= 500 {
		typ = "Receiver"
	}
	var code, msg bytes.Buffer
	xml.EscapeText(&code, []byte(e.code))
	xml.EscapeText(&msg, []byte(e.msg))
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", reqID)
	w.WriteHeader(e.status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="%s"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
		xmlNamespace, typ, code.String(), msg.String(), reqID)
}
