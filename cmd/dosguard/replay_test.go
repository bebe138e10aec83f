package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReplayDemo is the README's main-job command: the bundled sample, the
// bundled config, dry-run.
func TestReplayDemo(t *testing.T) {
	var out, errOut bytes.Buffer
	clock := func() time.Time { return time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC) }
	rc := runAt(clock, []string{"replay", "-c", filepath.Join("..", "..", "docker", "fluent-bit.conf"),
		filepath.Join("..", "..", "docker", "samples", "apache_access.log")}, nil, &out, &errOut)
	if rc != 0 {
		t.Fatalf("replay rc = %d\n%s", rc, errOut.String())
	}
	var blocked []string
	for _, l := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[1] == "blocked" {
			blocked = append(blocked, f[2])
			if !strings.Contains(l, "(dry-run)") {
				t.Errorf("decision not marked dry-run: %q", l)
			}
		}
	}
	if strings.Join(blocked, " ") != "203.0.113.7 2001:db8::bad" {
		t.Errorf("blocked = %q, want the IPv4 and the IPv6 flood only\n%s", blocked, out.String())
	}
	if !strings.Contains(out.String(), `sns message: {"rule":"block.apache","host":"203.0.113.7","requests":1000`) {
		t.Errorf("no SNS message printed:\n%s", out.String())
	}
	if !strings.Contains(out.String(), `"processed_at":"2026-11-21T12:00:00Z"`) {
		t.Errorf("decisions not dated by the injected clock:\n%s", out.String())
	}
	if !strings.Contains(errOut.String(), "2 blocked") || !strings.Contains(errOut.String(), "no Network ACL was changed") {
		t.Errorf("summary = %q", errOut.String())
	}
}

// TestReplayBlocksForReal replays with --no-dry-run against the local EC2
// endpoint: the flood gets its deny entry.
func TestReplayBlocksForReal(t *testing.T) {
	srv, flags, _ := aclEnv(t)
	before := len(denied(srv))
	log := "203.0.113.77 - - [21/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"x\"\n"
	var out, errOut bytes.Buffer
	args := append([]string{"replay", "--no-dry-run", "-q", "-p", "Block_Duration=1h"}, flags...)
	rc := run(append(args, "-"), strings.NewReader(strings.Repeat(log, 3)), &out, &errOut)
	if rc != 0 {
		t.Fatalf("replay rc = %d\n%s", rc, errOut.String())
	}
	got := denied(srv)
	if len(got) != before+1 || !strings.Contains(strings.Join(got, " "), "203.0.113.77/32") {
		t.Errorf("denies = %q, want 203.0.113.77/32 added", got)
	}
	if !strings.Contains(out.String(), "blocked") || strings.Contains(out.String(), "dry-run") {
		t.Errorf("output = %q, want a real block", out.String())
	}
}

func TestReplayErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"replay"}, "exactly one log file"},
		{[]string{"replay", "-p", "Threshold=0", "x.log"}, `Threshold: "0"`},
		{[]string{"replay", "--format", "csv", "-p", "Threshold=1", "x.log"}, "--format"},
		{[]string{"replay", "-p", "Threshold=1", "/nonexistent.log"}, "no such file"},
		{[]string{"frobnicate"}, "unknown command"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		if rc := run(tt.args, nil, &out, &errOut); rc == 0 || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("run(%q) rc = %d, stderr %q; want an error containing %q", tt.args, rc, errOut.String(), tt.want)
		}
	}
}
