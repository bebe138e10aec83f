package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dosguard/dosguard/ban"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
)

// MaxBatchBytes is the largest message body NotifyBatch sends. It leaves
// more than 16 KiB of MaxMessageBytes for the message attributes (at most
// about 600 bytes).
const MaxBatchBytes = 240 << 10

// mixed is the "status" or "rule" attribute of a batch whose decisions do
// not share one.
const mixed = "mixed"

// statusOrder is the order of the counts in a batch message and its
// subject; other statuses follow in the order they first appear.
var statusOrder = [...]ban.Status{ban.Blocked, ban.Failed, ban.Unblocked, ban.Detected}

// batchOverhead bounds the bytes of a batch body around its decisions and
// counts: 20 bytes per number, 64 for the time.
const batchOverhead = len(`{"decisions":[`) + len(`],"counts":{`) + len(`},"total":`) + 20 +
	len(`,"part":`) + 20 + len(`,"parts":`) + 20 + len(`,"processed_at":`) + 64 + len(`,"dry_run":false}`)

// NotifyBatch publishes ds, in order, in as few messages as fit. A single
// decision is published exactly as Notify does. Several go out as one
// message (see BatchInputs for the format), or as several when their JSON
// would exceed MaxBatchBytes; no decision is ever cut or left out. It
// returns nil at once when n has no topic or ds is empty.
//
// Every message is tried even when an earlier one fails; the error joins
// the failures, each naming its message and the topic, e.g. "notify:
// publish 4 decisions to arn:...: Throttling: Rate exceeded (after 5
// attempts)".
func (n *Notifier) NotifyBatch(ctx context.Context, ds []Decision) error {
	if n.api == nil {
		return nil
	}
	var errs []error
	for _, m := range n.batch(ds) {
		if err := n.publish(ctx, m); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// BatchInputs returns the Publish inputs NotifyBatch sends for ds: none for
// no decisions, Input(ds[0]) for one. For several, each message body is
//
//	{"decisions":[<Decision.AppendJSON of each>,...],
//	 "counts":{"blocked":3,"failed to block":1},"total":4,
//	 "processed_at":"2024-05-01T12:00:05Z","dry_run":false}
//
// counts has a key for each status present, in the order blocked, failed
// to block, unblocked, detected, then any other in order of appearance;
// total is the number of decisions in the message; processed_at is the
// latest ProcessedAt among them (null if none is set), so the same
// decisions always give the same body; dry_run is true only when every
// decision is a dry run. When the decisions need several messages, each is
// a complete batch of its own share (counts and total are per message) and
// carries "part":i,"parts":n (1-based) after total.
//
// The subject reads "dosguard: 4 decisions (3 blocked, 1 failed to block)",
// with "[1/3]" after "decisions" when split; it does not use the subject
// template, which is made for one decision. The "status" and "rule"
// attributes carry the status or rule the decisions share, or "mixed". On a
// FIFO topic, MessageGroupId is the shared rule (as for one decision) or
// "dosguard", and MessageDeduplicationId the hex SHA-256 of the body.
func (n *Notifier) BatchInputs(ds []Decision) []*sns.PublishInput {
	ms := n.batch(ds)
	ins := make([]*sns.PublishInput, len(ms))
	for i, m := range ms {
		ins[i] = m.in
	}
	return ins
}

// message is one Publish input with what the Publisher and the errors say
// about it.
type message struct {
	in   *sns.PublishInput
	what string // "blocked 203.0.113.7", "4 decisions", "700 decisions (part 1/8)"
	n    int    // decisions in it
}

// single is the message for one decision in the one-decision form.
func (n *Notifier) single(d Decision) message {
	return message{in: n.Input(d), what: string(d.Status) + " " + d.Host, n: 1}
}

// batch splits ds into messages of at most MaxBatchBytes each.
func (n *Notifier) batch(ds []Decision) []message {
	switch len(ds) {
	case 0:
		return nil
	case 1:
		return []message{n.single(ds[0])}
	}
	// Encode every decision once, into one buffer.
	buf := make([]byte, 0, 400*len(ds))
	enc := make([][]byte, len(ds))
	for i := range ds {
		from := len(buf)
		buf = ds[i].AppendJSON(buf)
		enc[i] = buf[from:len(buf):len(buf)]
	}

	// Group greedily: a decision starts a new message when the current one,
	// with a bound for its counts, would grow past MaxBatchBytes. A single
	// decision always fits (AppendJSON stays under 150 KB).
	var cuts []int // index of the first decision of each message after the first
	size := batchOverhead
	seen := make(map[string]bool)
	for i := range ds {
		k := statusKey(ds[i].Status)
		add := len(enc[i]) + 1
		if !seen[k] {
			add += countBound(k)
		}
		if i > 0 && size+add > MaxBatchBytes {
			cuts = append(cuts, i)
			size = batchOverhead
			clear(seen)
			add = len(enc[i]) + 1 + countBound(k)
		}
		seen[k] = true
		size += add
	}

	parts := len(cuts) + 1
	ms := make([]message, 0, parts)
	lo := 0
	for p := range parts {
		hi := len(ds)
		if p < len(cuts) {
			hi = cuts[p]
		}
		part, what := 0, strconv.Itoa(hi-lo)+" decisions"
		if parts > 1 {
			part = p + 1
			what += fmt.Sprintf(" (part %d/%d)", part, parts)
		}
		body := batchBody(ds[lo:hi], enc[lo:hi], part, parts)
		ms = append(ms, message{in: n.batchInput(ds[lo:hi], body, part, parts), what: what, n: hi - lo})
		lo = hi
	}
	return ms
}

// countBound bounds the bytes the count of status key k adds to a batch
// body: the quoted key, a colon, a number and a comma.
func countBound(k string) int {
	return len(appendJSON(nil, k)) + len(`:,`) + 20
}

// statusCount is one entry of a batch's counts.
type statusCount struct {
	status string
	n      int
}

// statusKey is the status as it appears in a decision's JSON.
func statusKey(s ban.Status) string { return truncate(string(s), maxRuleBytes) }

// countStatuses counts ds by status in the order of statusOrder, then in
// order of first appearance, leaving out statuses with no decision.
func countStatuses(ds []Decision) statusCounts {
	counts := make([]statusCount, len(statusOrder), len(statusOrder)+1)
	index := make(map[string]int, len(statusOrder))
	for i, s := range statusOrder {
		counts[i].status = string(s)
		index[string(s)] = i
	}
	for i := range ds {
		k := statusKey(ds[i].Status)
		j, ok := index[k]
		if !ok {
			j = len(counts)
			index[k] = j
			counts = append(counts, statusCount{status: k})
		}
		counts[j].n++
	}
	out := counts[:0]
	for _, c := range counts {
		if c.n > 0 {
			out = append(out, c)
		}
	}
	return out
}

// batchBody returns the batch body for ds, whose JSON objects are enc;
// part is 0 for an unsplit batch.
func batchBody(ds []Decision, enc [][]byte, part, parts int) []byte {
	size := batchOverhead + 256
	for _, e := range enc {
		size += len(e) + 1
	}
	b := batchJSON{Decisions: make([]json.RawMessage, len(enc)), Counts: countStatuses(ds), Total: len(ds), DryRun: true}
	for i, e := range enc {
		b.Decisions[i] = e
	}
	if part > 0 {
		b.Part, b.Parts = part, parts
	}
	var latest time.Time
	for i := range ds {
		if ds[i].ProcessedAt.After(latest) {
			latest = ds[i].ProcessedAt
		}
		b.DryRun = b.DryRun && ds[i].DryRun
	}
	b.ProcessedAt = jsonTime(latest)
	return appendJSON(make([]byte, 0, size), b)
}

// batchJSON is a batch message, its fields in the order of the message
// (see BatchInputs).
type batchJSON struct {
	Decisions   []json.RawMessage `json:"decisions"`
	Counts      statusCounts      `json:"counts"`
	Total       int               `json:"total"`
	Part        int               `json:"part,omitempty"`
	Parts       int               `json:"parts,omitempty"`
	ProcessedAt jsonTime          `json:"processed_at"`
	DryRun      bool              `json:"dry_run"`
}

// statusCounts are a batch's counts: a JSON object with one key per
// status, in the order of the list (which a map would not keep).
type statusCounts []statusCount

// MarshalJSON implements json.Marshaler; the keys are escaped as the
// message's other strings are.
func (cs statusCounts) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, c := range cs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSON(b, c.status)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(c.n), 10)
	}
	return append(b, '}'), nil
}

// batchInput returns the Publish input for a batch message of ds with body.
func (n *Notifier) batchInput(ds []Decision, body []byte, part, parts int) *sns.PublishInput {
	status, rule := string(ds[0].Status), ds[0].Rule
	for i := range ds[1:] {
		if string(ds[i+1].Status) != status {
			status = mixed
		}
		if ds[i+1].Rule != rule {
			rule = mixed
		}
	}
	msg := string(body)
	in := &sns.PublishInput{
		TopicArn: aws.String(n.topic),
		Subject:  aws.String(batchSubject(countStatuses(ds), len(ds), part, parts)),
		Message:  aws.String(msg),
	}
	attrs := make(map[string]types.MessageAttributeValue, 2)
	if v := attributeValue(status); v != "" {
		attrs["status"] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	if v := attributeValue(rule); v != "" {
		attrs["rule"] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	if len(attrs) > 0 {
		in.MessageAttributes = attrs
	}
	if n.fifo {
		group := fallbackSubject
		if rule != mixed {
			group = groupID(rule)
		}
		sum := sha256.Sum256(body)
		in.MessageGroupId = aws.String(group)
		in.MessageDeduplicationId = aws.String(hex.EncodeToString(sum[:]))
	}
	return in
}

// batchSubject returns "dosguard: 4 decisions (3 blocked, 1 failed to
// block)", with " [1/3]" after "decisions" when part > 0, made acceptable to
// SNS as Subject does.
func batchSubject(counts []statusCount, total, part, parts int) string {
	buf := make([]byte, 0, 2*MaxSubjectLen)
	buf = append(buf, "dosguard: "...)
	buf = strconv.AppendInt(buf, int64(total), 10)
	buf = append(buf, " decisions"...)
	if part > 0 {
		buf = append(buf, " ["...)
		buf = strconv.AppendInt(buf, int64(part), 10)
		buf = append(buf, '/')
		buf = strconv.AppendInt(buf, int64(parts), 10)
		buf = append(buf, ']')
	}
	buf = append(buf, " ("...)
	for i, c := range counts {
		if i > 0 {
			buf = append(buf, ", "...)
		}
		buf = strconv.AppendInt(buf, int64(c.n), 10)
		buf = append(buf, ' ')
		n := len(buf)
		buf = appendPrintable(buf, c.status)
		if len(buf) == n {
			buf = append(buf, "unknown"...)
		}
		if len(buf) > MaxSubjectLen {
			break
		}
	}
	buf = append(buf, ')')
	if len(buf) > MaxSubjectLen {
		buf = buf[:MaxSubjectLen]
	}
	return strings.TrimRight(string(buf), " ")
}
