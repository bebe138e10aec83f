package guard

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dosguard/dosguard/acl/acltest"
	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/notify"
	"github.com/dosguard/dosguard/notify/notifytest"
	"github.com/dosguard/dosguard/wafipset"
	"github.com/dosguard/dosguard/wafipset/waftest"
)

// Test200AttackersWAF: 200 attackers in one chunk, with a NACL and an IP
// set: all 200 in the set within a few UpdateIPSet calls, the NACL holds
// its 18, every attacker is notified once, in grouped messages that name
// the IP set.
func Test200AttackersWAF(t *testing.T) {
	waf := waftest.NewServer(t)
	arn := waf.AddSet(waftest.Regional, "dosguard-v4", "id4", "IPV4", "192.0.2.1/32")
	ec2 := acltest.NewServer()
	t.Cleanup(ec2.Close)
	ec2.DefaultACL(acl1)
	sns := notifytest.NewServer()
	t.Cleanup(sns.Close)
	sns.AddTopic(topic)
	cfg, err := conf.Parse(conf.Props{"Threshold": "1", "Network_ACL_ID": acl1, "WAF_IP_Set_ARN": arn, "SNS_Topic_ARN": topic,
		"Notify_Interval": "10s", "Max_Blocks_Per_Minute": "1000", "On_Full": "refuse"})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: t0}
	decs := make(chan notify.Decision, 1000)
	g, err := New(cfg, Deps{EC2: ec2.Client(t), SNS: sns.Client(t), WAF: func(region string) wafipset.WAFAPI { return waf.Client(t, region) },
		Now: clk.Now, Tick: make(chan time.Time), NotifyTick: make(chan time.Time),
		OnDecision: func(d notify.Decision) { decs <- d }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	updates0 := waf.CallCount(waftest.UpdateIPSet) // the start-up write check
	var c []byte
	var want []string
	for i := 0; i < 200; i++ {
		a := fmt.Sprintf("203.0.%d.%d", 100+i/250, i%250+1)
		c = records(c, a, 1, t0, 0)
		want = append(want, a+"/32")
	}
	g.Flush(c, "access")
	blocked := 0
	for blocked < 200 {
		select {
		case d := <-decs:
			if d.Status != ban.Blocked || !slices.Equal(d.IPSets, []string{arn}) {
				t.Fatalf("decision %s %s %v %v: want blocked in the IP set", d.Status, d.Host, d.ACLIDs, d.IPSets)
			}
			blocked++
		case <-time.After(10 * time.Second):
			t.Fatalf("%d blocked decisions within 10s, want 200", blocked)
		}
	}
	updates := waf.CallCount(waftest.UpdateIPSet) - updates0
	t.Logf("200 attackers: %d UpdateIPSet, %d GetIPSet calls (start-up check included), %d EC2 calls",
		updates, waf.CallCount(waftest.GetIPSet), ec2.CallCount("*"))
	if updates < 1 || updates > 10 {
		t.Errorf("UpdateIPSet calls = %d for 200 attackers, want a few: batching", updates)
	}
	want = append(want, "192.0.2.1/32")
	slices.Sort(want)
	if got := waf.Addresses(waftest.Regional, "dosguard-v4", "id4"); !slices.Equal(got, want) {
		t.Errorf("IP set holds %d addresses, want the 200 and the other writer's", len(got))
	}
	if got := len(denies(ec2, acl1)); got != 18 {
		t.Errorf("NACL denies = %d, want 18", got)
	}
	clk.Set(t0.Add(time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.Close(ctx); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, m := range sns.Messages() {
		var b struct {
			Host      string
			IPSets    []string `json:"ip_sets"`
			Decisions []struct {
				Host   string
				IPSets []string `json:"ip_sets"`
			} `json:"decisions"`
		}
		if err := json.Unmarshal([]byte(m.Body), &b); err != nil {
			t.Fatal(err)
		}
		if b.Decisions == nil {
			b.Decisions = append(b.Decisions, struct {
				Host   string
				IPSets []string `json:"ip_sets"`
			}{b.Host, b.IPSets})
		}
		for _, d := range b.Decisions {
			seen[d.Host]++
			if !slices.Equal(d.IPSets, []string{arn}) {
				t.Errorf("message for %s: ip_sets %v", d.Host, d.IPSets)
			}
		}
	}
	if len(seen) != 200 || sns.PublishCount() > 3 {
		t.Errorf("%d attackers notified in %d messages, want 200 in a few", len(seen), sns.PublishCount())
	}
}
