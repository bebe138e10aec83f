package detector_test

// The rule fixtures: each folder of testdata/ holds rules.yaml (a rules
// file), an optional props file (flat properties, "Key Value" lines), an
// input log (input.log: Apache combined; input.jsonl: JSON lines) and
// expected.txt, the decisions in order ("status rule host requests"). One
// table test replays each input through the same config parser, guard and
// detector as the plugin, in dry-run. Regenerate the inputs with
// `go run gen.go` in testdata/.

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dosguard/dosguard/chunk/logline"
	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/guard"
	"github.com/dosguard/dosguard/notify"
)

func TestFixtures(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "*", "expected.txt"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, exp := range dirs {
		dir := filepath.Dir(exp)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			got := replayFixture(t, dir)
			want := readLines(t, exp)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("decisions of %s:\n got: %q\nwant: %q", dir, got, want)
			}
		})
	}
}

func replayFixture(t *testing.T, dir string) []string {
	t.Helper()
	props := conf.Props{"Rules_File": filepath.Join(dir, "rules.yaml"), "Dry_Run": "on"}
	if lines, err := os.ReadFile(filepath.Join(dir, "props")); err == nil {
		for _, l := range strings.Split(string(lines), "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(l), " "); ok {
				props[k] = strings.TrimSpace(v)
			}
		}
	}
	cfg, err := conf.Parse(props)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []string
	g, err := guard.New(cfg, guard.Deps{
		Now: func() time.Time { return time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC) },
		OnDecision: func(d notify.Decision) {
			mu.Lock()
			got = append(got, fmt.Sprintf("%s %s %s %d", d.Status, d.Rule, d.Host, d.Requests))
			mu.Unlock()
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	input := filepath.Join(dir, "input.log")
	if _, err := os.Stat(input); err != nil {
		input = filepath.Join(dir, "input.jsonl")
	}
	f, err := os.Open(input)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := logline.Chunk{Parser: logline.Parser{Format: "auto"}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if !c.Add(sc.Bytes()) {
			t.Fatalf("%s: unparsed line %q", input, sc.Text())
		}
		if c.Records() == 500 {
			g.Flush(c.Bytes(), "apache.access")
			c.Reset()
		}
	}
	g.Flush(c.Bytes(), "apache.access")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Close(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return got
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}
