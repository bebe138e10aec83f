package enforce_test

import (
	"context"
	"testing"
	"time"

	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/wafipset/waftest"
)

// TestWAFRemovedByHand: a ban, once seen in the IP set, whose member
// someone else then took out of it is forgotten at the next reconcile, and its event names the IP
// set, not the NACL.
func TestWAFRemovedByHand(t *testing.T) {
	env := newWAFEnv(t, wafConfig{})
	a := attackers(1)
	env.batch(a, at(time.Second))
	ctx := context.Background()
	if evs, err := env.m.Reconcile(ctx, at(30*time.Second)); err != nil || len(evs) != 0 { // seen in place
		t.Fatalf("first reconcile: %v, %v; want nothing to do", short(evs), err)
	}
	env.waf.Write(waftest.Regional, "v4", "id4", nil, hosts(a))
	evs, err := env.m.Reconcile(ctx, at(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Status != ban.Unblocked || evs[0].Text() != "removed by hand from the IP set" {
		t.Fatalf("reconcile events %v, want one unblocked, removed by hand from the IP set", short(evs))
	}
}
