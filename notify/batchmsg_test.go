package notify_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/dosguard/dosguard/ban"
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/dosguard/dosguard/notify"
	"github.com/dosguard/dosguard/notify/notifytest"
)

// batchBody is a batch message as a subscriber decodes it.
type batchBody struct {
	Decisions   []map[string]any `json:"decisions"`
	Counts      map[string]int   `json:"counts"`
	Total       int              `json:"total"`
	Part        int              `json:"part"`
	Parts       int              `json:"parts"`
	ProcessedAt *string          `json:"processed_at"`
	DryRun      bool             `json:"dry_run"`
}

// hostsIn decodes a message body in either form and returns the hosts of
// its decisions, and the batch when it is one.
func hostsIn(t *testing.T, body string) ([]string, *batchBody) {
	t.Helper()
	var b batchBody
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatalf("message body is not JSON: %v: %.200s", err, body)
	}
	if b.Decisions == nil {
		var d struct{ Host string }
		json.Unmarshal([]byte(body), &d)
		return []string{d.Host}, nil
	}
	var hs []string
	for _, d := range b.Decisions {
		hs = append(hs, d["host"].(string))
	}
	return hs, &b
}

func withStatus(s ban.Status, rule, host string) notify.Decision {
	d := blocked()
	d.Status, d.Rule, d.Host = s, rule, host
	return d
}

func TestBatchBody(t *testing.T) {
	a, b := blocked(), withStatus(ban.Failed, "block.flood", "198.51.100.2")
	b.Reason, b.ProcessedAt = "acl: create entry 17 in acl-0abc: NetworkAclEntryLimitExceeded", t2
	n := newNotifier(t, notify.Config{TopicARN: topic}, &notifytest.Fake{})
	ins := n.BatchInputs([]notify.Decision{a, b})
	if len(ins) != 1 {
		t.Fatalf("BatchInputs(2 decisions) = %d inputs, want 1", len(ins))
	}
	want := `{"decisions":[` + string(a.AppendJSON(nil)) + `,` + string(b.AppendJSON(nil)) +
		`],"counts":{"blocked":1,"failed to block":1},"total":2,"processed_at":"2024-05-01T13:00:05Z","dry_run":false}`
	if got := aws.ToString(ins[0].Message); got != want {
		t.Errorf("batch body =\n%s\nwant\n%s", got, want)
	}
}

func TestBatchInputs(t *testing.T) {
	dry := func(ds ...notify.Decision) []notify.Decision {
		for i := range ds {
			ds[i].DryRun = true
		}
		return ds
	}
	tests := []struct {
		name      string
		topic     string
		ds        []notify.Decision
		wantSubj  string
		wantAttrs map[string]string
		wantGroup string
		wantHosts []string
		wantCount map[string]int
		wantDry   bool
	}{
		{
			name: "one status, one rule", topic: topic,
			ds:       []notify.Decision{withStatus(ban.Blocked, "block.flood", "a"), withStatus(ban.Blocked, "block.flood", "b")},
			wantSubj: "dosguard: 2 decisions (2 blocked)", wantAttrs: map[string]string{"status": "blocked", "rule": "block.flood"},
			wantHosts: []string{"a", "b"}, wantCount: map[string]int{"blocked": 2},
		},
		{
			name: "every status, counts in fixed order", topic: topic,
			ds: []notify.Decision{
				withStatus(ban.Detected, "detect.scan", "a"), withStatus(ban.Unblocked, "block.flood", "b"),
				withStatus(ban.Failed, "block.flood", "c"), withStatus(ban.Blocked, "block.flood", "d"),
				withStatus(ban.Blocked, "block.flood", "e"),
			},
			wantSubj:  "dosguard: 5 decisions (2 blocked, 1 failed to block, 1 unblocked, 1 detected)",
			wantAttrs: map[string]string{"status": "mixed", "rule": "mixed"},
			wantHosts: []string{"a", "b", "c", "d", "e"},
			wantCount: map[string]int{"blocked": 2, "failed to block": 1, "unblocked": 1, "detected": 1},
		},
		{
			name: "unknown and empty statuses follow", topic: topic,
			ds: []notify.Decision{
				withStatus("quarantined", "r", "a"), withStatus("", "r", "b"), withStatus(ban.Blocked, "r", "c"),
			},
			wantSubj:  "dosguard: 3 decisions (1 blocked, 1 quarantined, 1 unknown)",
			wantAttrs: map[string]string{"status": "mixed", "rule": "r"},
			wantHosts: []string{"a", "b", "c"}, wantCount: map[string]int{"blocked": 1, "quarantined": 1, "": 1},
		},
		{
			name: "no rule: no rule attribute", topic: topic,
			ds:       []notify.Decision{withStatus(ban.Blocked, "", "a"), withStatus(ban.Blocked, "", "b")},
			wantSubj: "dosguard: 2 decisions (2 blocked)", wantAttrs: map[string]string{"status": "blocked"},
			wantHosts: []string{"a", "b"}, wantCount: map[string]int{"blocked": 2},
		},
		{
			name: "all dry runs", topic: topic,
			ds:       dry(withStatus(ban.Blocked, "block.flood", "a"), withStatus(ban.Blocked, "block.flood", "b")),
			wantSubj: "dosguard: 2 decisions (2 blocked)", wantAttrs: map[string]string{"status": "blocked", "rule": "block.flood"},
			wantHosts: []string{"a", "b"}, wantCount: map[string]int{"blocked": 2}, wantDry: true,
		},
		{
			name: "some dry runs are not a dry run", topic: topic,
			ds:       append(dry(withStatus(ban.Blocked, "block.flood", "a")), withStatus(ban.Blocked, "block.flood", "b")),
			wantSubj: "dosguard: 2 decisions (2 blocked)", wantAttrs: map[string]string{"status": "blocked", "rule": "block.flood"},
			wantHosts: []string{"a", "b"}, wantCount: map[string]int{"blocked": 2},
		},
		{
			name: "fifo, one rule: grouped by rule", topic: fifoTopic,
			ds:       []notify.Decision{withStatus(ban.Blocked, "block.flood", "a"), withStatus(ban.Failed, "block.flood", "b")},
			wantSubj: "dosguard: 2 decisions (1 blocked, 1 failed to block)", wantAttrs: map[string]string{"status": "mixed", "rule": "block.flood"},
			wantGroup: "block.flood", wantHosts: []string{"a", "b"}, wantCount: map[string]int{"blocked": 1, "failed to block": 1},
		},
		{
			name: "fifo, mixed rules: one group", topic: fifoTopic,
			ds:       []notify.Decision{withStatus(ban.Blocked, "block.flood", "a"), withStatus(ban.Blocked, "block.login", "b")},
			wantSubj: "dosguard: 2 decisions (2 blocked)", wantAttrs: map[string]string{"status": "blocked", "rule": "mixed"},
			wantGroup: "dosguard", wantHosts: []string{"a", "b"}, wantCount: map[string]int{"blocked": 2},
		},
	}
	for _, tt := range tests {
		n := newNotifier(t, notify.Config{TopicARN: tt.topic}, &notifytest.Fake{})
		ins := n.BatchInputs(tt.ds)
		if len(ins) != 1 {
			t.Errorf("%s: %d inputs, want 1", tt.name, len(ins))
			continue
		}
		in := ins[0]
		if got := aws.ToString(in.Subject); got != tt.wantSubj {
			t.Errorf("%s: Subject = %q, want %q", tt.name, got, tt.wantSubj)
		}
		attrs := make(map[string]string)
		for k, v := range in.MessageAttributes {
			attrs[k] = aws.ToString(v.StringValue)
		}
		if !maps.Equal(attrs, tt.wantAttrs) {
			t.Errorf("%s: attributes = %v, want %v", tt.name, attrs, tt.wantAttrs)
		}
		msg := aws.ToString(in.Message)
		hs, b := hostsIn(t, msg)
		if b == nil || strings.Join(hs, ",") != strings.Join(tt.wantHosts, ",") {
			t.Errorf("%s: hosts %v in batch form %v, want %v in batch form", tt.name, hs, b != nil, tt.wantHosts)
			continue
		}
		if !maps.Equal(b.Counts, tt.wantCount) || b.Total != len(tt.ds) || b.Part != 0 || b.Parts != 0 {
			t.Errorf("%s: counts %v total %d part %d/%d, want %v total %d and no parts", tt.name, b.Counts, b.Total, b.Part, b.Parts, tt.wantCount, len(tt.ds))
		}
		if b.DryRun != tt.wantDry {
			t.Errorf("%s: dry_run = %v, want %v", tt.name, b.DryRun, tt.wantDry)
		}
		if got := aws.ToString(in.MessageGroupId); got != tt.wantGroup {
			t.Errorf("%s: MessageGroupId = %q, want %q", tt.name, got, tt.wantGroup)
		}
		sum := sha256.Sum256([]byte(msg))
		if want := hex.EncodeToString(sum[:]); (tt.wantGroup != "") != (in.MessageDeduplicationId != nil) ||
			in.MessageDeduplicationId != nil && *in.MessageDeduplicationId != want {
			t.Errorf("%s: MessageDeduplicationId = %q, want the body's SHA-256 on FIFO topics only", tt.name, aws.ToString(in.MessageDeduplicationId))
		}
	}
}

func TestBatchInputsOneAndNone(t *testing.T) {
	n := newNotifier(t, notify.Config{TopicARN: fifoTopic}, &notifytest.Fake{})
	if ins := n.BatchInputs(nil); len(ins) != 0 {
		t.Errorf("BatchInputs(nil) = %d inputs, want 0", len(ins))
	}
	d := blocked()
	ins := n.BatchInputs([]notify.Decision{d})
	want := n.Input(d)
	if len(ins) != 1 || aws.ToString(ins[0].Message) != aws.ToString(want.Message) ||
		aws.ToString(ins[0].Subject) != aws.ToString(want.Subject) ||
		aws.ToString(ins[0].MessageDeduplicationId) != aws.ToString(want.MessageDeduplicationId) {
		t.Errorf("BatchInputs(one decision) = %d inputs, want exactly Input(d)", len(ins))
	}
}

// TestBatchSubjectAlwaysValid feeds statuses SNS would refuse in a subject.
func TestBatchSubjectAlwaysValid(t *testing.T) {
	n := newNotifier(t, notify.Config{TopicARN: topic}, &notifytest.Fake{})
	var ds []notify.Decision
	for i := range 30 {
		ds = append(ds, withStatus(ban.Status(fmt.Sprintf("état\n%d %s", i, strings.Repeat("x", 40))), "r", "h"))
	}
	subj := aws.ToString(n.BatchInputs(ds)[0].Subject)
	if len(subj) > notify.MaxSubjectLen || !strings.HasPrefix(subj, "dosguard: 30 decisions (1 ?tat0 xxx") {
		t.Errorf("subject = %q (%d chars), want at most %d starting with the total and the first count", subj, len(subj), notify.MaxSubjectLen)
	}
	for i := 0; i < len(subj); i++ {
		if c := subj[i]; c < 0x20 || c > 0x7e {
			t.Fatalf("subject %q has byte %#x at %d, want printable ASCII", subj, c, i)
		}
	}
}

func TestNotifyBatchPublish(t *testing.T) {
	mixedDs := []notify.Decision{
		withStatus(ban.Blocked, "block.flood", "a"), withStatus(ban.Blocked, "block.flood", "b"),
		withStatus(ban.Blocked, "block.flood", "c"), withStatus(ban.Failed, "block.flood", "d"),
	}
	tests := []struct {
		name      string
		topic     string
		ds        []notify.Decision
		wantBody  string // "" means the batch form with hosts wantHosts
		wantSubj  string
		wantHosts []string
		wantAttrs map[string]string
		wantGroup string
	}{
		{
			name: "single decision keeps the one-message form", topic: topic, ds: []notify.Decision{blocked()},
			wantBody: string(blocked().AppendJSON(nil)), wantSubj: notify.Subject("", blocked()),
			wantAttrs: map[string]string{"status": "blocked", "rule": "block.flood"},
		},
		{
			name: "mixed statuses", topic: topic, ds: mixedDs,
			wantSubj: "dosguard: 4 decisions (3 blocked, 1 failed to block)", wantHosts: []string{"a", "b", "c", "d"},
			wantAttrs: map[string]string{"status": "mixed", "rule": "block.flood"},
		},
		{
			name: "fifo", topic: fifoTopic, ds: mixedDs,
			wantSubj: "dosguard: 4 decisions (3 blocked, 1 failed to block)", wantHosts: []string{"a", "b", "c", "d"},
			wantAttrs: map[string]string{"status": "mixed", "rule": "block.flood"}, wantGroup: "block.flood",
		},
	}
	for _, tt := range tests {
		s := newServer(t)
		n := newNotifier(t, notify.Config{TopicARN: tt.topic}, s.Client(t))
		if err := n.NotifyBatch(context.Background(), tt.ds); err != nil {
			t.Fatalf("%s: NotifyBatch = %v", tt.name, err)
		}
		msgs := s.Messages()
		if len(msgs) != 1 {
			t.Fatalf("%s: %d messages stored, want 1", tt.name, len(msgs))
		}
		m := msgs[0]
		if tt.wantBody != "" {
			if m.Body != tt.wantBody {
				t.Errorf("%s: body = %s, want %s", tt.name, m.Body, tt.wantBody)
			}
		} else if hs, b := hostsIn(t, m.Body); b == nil || strings.Join(hs, ",") != strings.Join(tt.wantHosts, ",") {
			t.Errorf("%s: hosts %v (batch form %v), want %v in batch form", tt.name, hs, b != nil, tt.wantHosts)
		}
		if m.Subject != tt.wantSubj {
			t.Errorf("%s: subject = %q, want %q", tt.name, m.Subject, tt.wantSubj)
		}
		if !maps.Equal(m.Attributes, tt.wantAttrs) {
			t.Errorf("%s: attributes = %v, want %v", tt.name, m.Attributes, tt.wantAttrs)
		}
		sum := sha256.Sum256([]byte(m.Body))
		if tt.wantGroup != "" && (m.GroupID != tt.wantGroup || m.DedupID != hex.EncodeToString(sum[:])) {
			t.Errorf("%s: group %q dedup %q, want %q and the body's SHA-256", tt.name, m.GroupID, m.DedupID, tt.wantGroup)
		}
	}
}

// TestNotifyBatchFIFORetry publishes the same batch twice to a FIFO topic:
// the body (and so the deduplication ID) is the same, so SNS delivers it
// once.
func TestNotifyBatchFIFORetry(t *testing.T) {
	s := newServer(t)
	n := newNotifier(t, notify.Config{TopicARN: fifoTopic}, s.Client(t))
	ds := []notify.Decision{withStatus(ban.Blocked, "block.flood", "a"), withStatus(ban.Blocked, "block.flood", "b")}
	for i := range 2 {
		if err := n.NotifyBatch(context.Background(), ds); err != nil {
			t.Fatalf("step %d: NotifyBatch = %v", i, err)
		}
	}
	if got, calls := len(s.Messages()), s.PublishCount(); got != 1 || calls != 2 {
		t.Errorf("%d messages stored after %d calls, want 1 after 2", got, calls)
	}
}

// checkSplit checks that msgs carry exactly the hosts want, in order, each
// once, as parts 1..n of a split batch that SNS accepted.
func checkSplit(t *testing.T, msgs []notifytest.Message, want []string) {
	t.Helper()
	if len(msgs) < 2 {
		t.Fatalf("%d messages stored, want a split into several", len(msgs))
	}
	var got []string
	for i, m := range msgs {
		if len(m.Body) > notify.MaxBatchBytes {
			t.Errorf("part %d: body of %d bytes, want at most %d", i+1, len(m.Body), notify.MaxBatchBytes)
		}
		if i < len(msgs)-1 && len(m.Body) < notify.MaxBatchBytes*9/10 {
			t.Errorf("part %d of %d: body of %d bytes, want parts but the last filled to 90%% of %d", i+1, len(msgs), len(m.Body), notify.MaxBatchBytes)
		}
		hs, b := hostsIn(t, m.Body)
		if b == nil {
			t.Fatalf("part %d is not in batch form", i+1)
		}
		if b.Part != i+1 || b.Parts != len(msgs) || b.Total != len(hs) {
			t.Errorf("part %d: part %d/%d total %d, want %d/%d total %d", i+1, b.Part, b.Parts, b.Total, i+1, len(msgs), len(hs))
		}
		sum := 0
		for _, c := range b.Counts {
			sum += c
		}
		if sum != len(hs) {
			t.Errorf("part %d: counts %v add up to %d, want %d", i+1, b.Counts, sum, len(hs))
		}
		if wantSubj := fmt.Sprintf("dosguard: %d decisions [%d/%d] (", len(hs), i+1, len(msgs)); !strings.HasPrefix(m.Subject, wantSubj) {
			t.Errorf("part %d: subject %q, want it to start with %q", i+1, m.Subject, wantSubj)
		}
		got = append(got, hs...)
	}
	if len(got) != len(want) {
		t.Fatalf("%d decisions across %d messages, want %d", len(got), len(msgs), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("decision %d across the messages is %s, want %s (each exactly once, in order)", i, got[i], want[i])
		}
	}
}

func TestNotifyBatchSplit(t *testing.T) {
	hs := hosts(5000)
	small := make([]notify.Decision, len(hs))
	for i, h := range hs {
		small[i] = withStatus([]ban.Status{ban.Blocked, ban.Failed, ban.Unblocked}[i%3], "block.flood", h)
	}
	big := make([]notify.Decision, 20)
	for i := range big {
		big[i] = withStatus(ban.Failed, "block.flood", hs[i])
		big[i].Reason = strings.Repeat(`"`, 1<<20) // cut to 16 KiB, each escaped to 2 bytes
	}
	tests := []struct {
		name      string
		topic     string
		ds        []notify.Decision
		wantParts int
	}{
		{name: "5000 decisions", topic: topic, ds: small, wantParts: 7},
		{name: "5000 decisions, fifo", topic: fifoTopic, ds: small, wantParts: 7},
		{name: "20 decisions of 32 KiB", topic: topic, ds: big, wantParts: 3},
	}
	for _, tt := range tests {
		s := newServer(t)
		n := newNotifier(t, notify.Config{TopicARN: tt.topic}, s.Client(t))
		if err := n.NotifyBatch(context.Background(), tt.ds); err != nil {
			t.Fatalf("%s: NotifyBatch = %v", tt.name, err)
		}
		msgs := s.Messages()
		if len(msgs) != tt.wantParts {
			t.Errorf("%s: %d messages, want %d", tt.name, len(msgs), tt.wantParts)
		}
		checkSplit(t, msgs, hs[:len(tt.ds)])
	}
}

func TestNotifyBatchErrors(t *testing.T) {
	ds := []notify.Decision{withStatus(ban.Blocked, "block.flood", "a"), withStatus(ban.Blocked, "block.flood", "b")}
	s := newServer(t)
	n := newNotifier(t, notify.Config{TopicARN: topic}, s.Client(t))
	s.Fail("AuthorizationError", 403, 1)
	err := n.NotifyBatch(context.Background(), ds)
	want := "notify: publish 2 decisions to " + topic + ": AuthorizationError: notifytest: injected AuthorizationError"
	if err == nil || err.Error() != want {
		t.Errorf("NotifyBatch = %v, want %s", err, want)
	}

	// A failed part does not stop the others.
	hs := hosts(3000)
	many := make([]notify.Decision, len(hs))
	for i, h := range hs {
		many[i] = withStatus(ban.Blocked, "block.flood", h)
	}
	s = newServer(t)
	n = newNotifier(t, notify.Config{TopicARN: topic}, s.Client(t))
	s.Fail("AuthorizationError", 403, 1)
	err = n.NotifyBatch(context.Background(), many)
	parts := len(n.BatchInputs(many))
	wantPrefix := fmt.Sprintf("notify: publish %d decisions (part 1/%d) to %s: AuthorizationError", len(hostsOf(n.BatchInputs(many)[0])), parts, topic)
	if err == nil || !strings.HasPrefix(err.Error(), wantPrefix) {
		t.Errorf("NotifyBatch with part 1 refused = %v, want %s...", err, wantPrefix)
	}
	if got := len(s.Messages()); got != parts-1 || parts < 2 {
		t.Errorf("%d of %d parts stored, want all but the refused one", got, parts)
	}
}

// hostsOf returns the hosts of a batch input's body, without a *testing.T.
func hostsOf(in *sns.PublishInput) []string {
	var b batchBody
	json.Unmarshal([]byte(aws.ToString(in.Message)), &b)
	hs := make([]string, len(b.Decisions))
	for i, d := range b.Decisions {
		hs[i], _ = d["host"].(string)
	}
	return hs
}

func TestNotifyBatchWithoutTopic(t *testing.T) {
	fake := &notifytest.Fake{}
	n := newNotifier(t, notify.Config{}, fake)
	if err := n.NotifyBatch(context.Background(), []notify.Decision{blocked(), blocked()}); err != nil || len(fake.Inputs()) != 0 {
		t.Errorf("NotifyBatch without topic = %v after %d calls, want nil after 0", err, len(fake.Inputs()))
	}
}

func BenchmarkBatchInputs100(b *testing.B) {
	n, err := notify.New(notify.Config{TopicARN: fifoTopic}, &notifytest.Fake{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	ds := make([]notify.Decision, 100)
	for i, h := range hosts(len(ds)) {
		ds[i] = withStatus(ban.Blocked, "block.flood", h)
	}
	b.ReportAllocs()
	for b.Loop() {
		if len(n.BatchInputs(ds)) != 1 {
			b.Fatal("want one message")
		}
	}
}
