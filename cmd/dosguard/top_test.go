package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files of replay --top")

// TestReplayTopGolden runs replay --top on each fixture folder of
// testdata/top (rules.yaml, input.jsonl) and compares the text and the
// JSON reports with expected.txt and expected.json (go test -update
// rewrites them).
func TestReplayTopGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "top", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	clock := func() time.Time { return time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC) }
	for _, dir := range dirs {
		for _, golden := range []string{"expected.txt", "expected.json"} {
			t.Run(filepath.Base(dir)+"/"+golden, func(t *testing.T) {
				args := []string{"replay", "--top", "3", "--format", "json", "-p", "Rules_File=" + filepath.Join(dir, "rules.yaml")}
				if strings.HasSuffix(golden, ".json") {
					args = append(args, "--json")
				}
				var out, errOut bytes.Buffer
				if rc := runAt(clock, append(args, filepath.Join(dir, "input.jsonl")), nil, &out, &errOut); rc != 0 {
					t.Fatalf("rc = %d\n%s", rc, errOut.String())
				}
				path := filepath.Join(dir, golden)
				if *update {
					if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if out.String() != string(want) {
					t.Errorf("replay --top output differs from %s:\n%s\nwant:\n%s", path, out.String(), want)
				}
			})
		}
	}
}

// TestReplayTopSample is README's threshold example: on the bundled sample
// the two floods stand far above every other client.
func TestReplayTopSample(t *testing.T) {
	var out, errOut bytes.Buffer
	clock := func() time.Time { return time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC) }
	rc := runAt(clock, []string{"replay", "--top", "5", "--json", "-c", filepath.Join("..", "..", "docker", "fluent-bit.conf"),
		filepath.Join("..", "..", "docker", "samples", "apache_access.log")}, nil, &out, &errOut)
	if rc != 0 {
		t.Fatalf("rc = %d\n%s", rc, errOut.String())
	}
	var rep struct {
		Rules []struct {
			Rule      string
			Threshold int
			Top       []struct {
				Client   string
				Peak     int
				Over     bool
				Decision string
			}
			Peaks map[string]int
		}
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out.String())
	}
	if len(rep.Rules) != 1 || len(rep.Rules[0].Top) != 5 {
		t.Fatalf("want one rule with 5 clients:\n%s", out.String())
	}
	r := rep.Rules[0]
	for i, want := range []string{"203.0.113.7", "2001:db8::bad"} {
		c := r.Top[i]
		if c.Client != want || !c.Over || c.Decision != "blocked" || c.Peak < r.Threshold {
			t.Errorf("top %d = %+v, want %s over the threshold %d and blocked", i+1, c, want, r.Threshold)
		}
	}
	third := r.Top[2].Peak
	if third*10 > r.Threshold || r.Top[1].Peak < 100*third {
		t.Errorf("third peak %d: want everyone else far below the floods (%d, %d) and the threshold %d",
			third, r.Top[0].Peak, r.Top[1].Peak, r.Threshold)
	}
	if p := r.Peaks["p90"]; p == 0 || p > third {
		t.Errorf("p90 = %d, want a small nonzero peak at most the third client's %d", p, third)
	}
	if r.Peaks["max"] != r.Top[0].Peak {
		t.Errorf("max %d != top peak %d", r.Peaks["max"], r.Top[0].Peak)
	}
}

// TestReadmeShowsTop: README's replay --top example is what the command
// prints on the bundled sample.
func TestReadmeShowsTop(t *testing.T) {
	var out, errOut bytes.Buffer
	clock := func() time.Time { return time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC) }
	rc := runAt(clock, []string{"replay", "--top", "5", "-c", filepath.Join("..", "..", "docker", "fluent-bit.conf"),
		filepath.Join("..", "..", "docker", "samples", "apache_access.log")}, nil, &out, &errOut)
	if rc != 0 {
		t.Fatalf("rc = %d\n%s", rc, errOut.String())
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	block := "$ dosguard replay --top 5 -c docker/fluent-bit.conf docker/samples/apache_access.log\n" + out.String() + "```"
	if !strings.Contains(string(readme), block) {
		t.Errorf("README does not show replay --top's output:\n%s", out.String())
	}
}

func TestReplayTopErrors(t *testing.T) {
	for _, args := range [][]string{
		{"replay", "--json", "-p", "Threshold=1", "x.log"},
		{"replay", "--top", "-2", "-p", "Threshold=1", "x.log"},
	} {
		var out, errOut bytes.Buffer
		if rc := run(args, nil, &out, &errOut); rc == 0 || !strings.Contains(errOut.String(), "--top wants a number of clients >= 1") {
			t.Errorf("run(%q) rc = %d, stderr %q; want the --top error", args, rc, errOut.String())
		}
	}
}
