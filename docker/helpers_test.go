package docker

import (
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/dosguard/dosguard/conf"
)

// repoRoot is the repository root, seen from this package's directory.
const repoRoot = ".."

// The example values used across docker/ for the things a user replaces.
// Tests check that the files agree with each other on them.
const (
	exampleACLID    = "acl-0123456789abcdef0"
	exampleRegion   = "ap-northeast-1"
	exampleTopicARN = "arn:aws:sns:ap-northeast-1:111122223333:dosguard"
)

// exampleIPSetARNs are the example WAF IP sets (IPv4, IPv6) of the honeypot.
var exampleIPSetARNs = []string{
	"arn:aws:wafv2:ap-northeast-1:111122223333:regional/ipset/dosguard-v4/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
	"arn:aws:wafv2:ap-northeast-1:111122223333:regional/ipset/dosguard-v6/1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
}

// envFunc turns a map into the env argument of conf.LoadFile.
func envFunc(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// merge returns a copy of base with extra laid over it.
func merge(base, extra map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

var varRefPattern = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// varRefs lists the ${VAR} names a file refers to, sorted and unique.
func varRefs(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return uniqueSorted(varRefPattern.FindAllStringSubmatch(string(data), -1), 1)
}

func uniqueSorted(ms [][]string, group int) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range ms {
		if !seen[m[group]] {
			seen[m[group]] = true
			out = append(out, m[group])
		}
	}
	sort.Strings(out)
	return out
}

// ---- Dockerfile ----

// dockerfile is the part of a Dockerfile the tests look at.
type dockerfile struct {
	stages []*stage
}

// stage is one FROM ... of a Dockerfile.
type stage struct {
	from, name string
	runs       []string
	copies     []copyInstr
	env        map[string]string
	user       string
	entrypoint []string
	cmd        []string
	// execForm records, for ENTRYPOINT and CMD, whether they were written
	// as JSON arrays (a distroless image has no shell for the other form).
	execForm map[string]bool
}

// copyInstr is a COPY instruction.
type copyInstr struct {
	from string // --from stage, "" for the build context
	srcs []string
	dst  string
}

// parseDockerfile reads the instructions this project's Dockerfile uses:
// FROM, RUN, COPY, ENV, USER, ENTRYPOINT, CMD (others are kept out of it by
// TestDockerfileInstructions).
func parseDockerfile(t *testing.T, file string) (*dockerfile, []string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var (
		lines   []string
		pending string
	)
	for _, l := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(l)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && pending == "") {
			continue
		}
		if s, ok := strings.CutSuffix(trimmed, `\`); ok {
			pending += s + " "
			continue
		}
		lines = append(lines, strings.TrimSpace(pending+trimmed))
		pending = ""
	}
	df := &dockerfile{}
	var cur *stage
	var keywords []string
	for _, l := range lines {
		kw, rest, _ := strings.Cut(l, " ")
		kw = strings.ToUpper(kw)
		rest = strings.TrimSpace(rest)
		keywords = append(keywords, kw)
		if kw == "FROM" {
			f := strings.Fields(rest)
			cur = &stage{from: f[0], env: map[string]string{}, execForm: map[string]bool{}}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				cur.name = f[2]
			}
			df.stages = append(df.stages, cur)
			continue
		}
		if cur == nil {
			t.Fatalf("%s: %s before FROM", file, kw)
		}
		switch kw {
		case "RUN":
			// Drop --mount=... and other flags.
			f := strings.Fields(rest)
			for len(f) > 0 && strings.HasPrefix(f[0], "--") {
				f = f[1:]
			}
			cur.runs = append(cur.runs, strings.Join(f, " "))
		case "COPY":
			f := strings.Fields(rest)
			var c copyInstr
			for len(f) > 0 && strings.HasPrefix(f[0], "--") {
				if v, ok := strings.CutPrefix(f[0], "--from="); ok {
					c.from = v
				}
				f = f[1:]
			}
			if len(f) < 2 {
				t.Fatalf("%s: COPY %s: want sources and a destination", file, rest)
			}
			c.srcs, c.dst = f[:len(f)-1], f[len(f)-1]
			cur.copies = append(cur.copies, c)
		case "ENV":
			for _, kv := range strings.Fields(rest) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("%s: ENV %s: want KEY=VALUE pairs", file, rest)
				}
				cur.env[k] = strings.Trim(v, `"`)
			}
		case "USER":
			cur.user = rest
		case "ENTRYPOINT", "CMD":
			var argv []string
			exec := json.Unmarshal([]byte(rest), &argv) == nil
			if !exec {
				argv = strings.Fields(rest)
			}
			cur.execForm[kw] = exec
			if kw == "CMD" {
				cur.cmd = argv
			} else {
				cur.entrypoint = argv
			}
		}
	}
	return df, keywords
}

func (d *dockerfile) final() *stage { return d.stages[len(d.stages)-1] }

// imageFiles maps each file the final stage copies from the build context
// to its path in the repository ("" for files copied from another stage).
func (d *dockerfile) imageFiles(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range d.final().copies {
		for _, src := range c.srcs {
			if c.from != "" {
				dst := c.dst
				if strings.HasSuffix(dst, "/") {
					dst += path.Base(src)
				}
				out[dst] = ""
				continue
			}
			local := filepath.Join(repoRoot, filepath.FromSlash(src))
			st, err := os.Stat(local)
			if err != nil {
				t.Fatalf("Dockerfile: COPY %s: %v", src, err)
			}
			if !st.IsDir() {
				dst := c.dst
				if strings.HasSuffix(dst, "/") {
					dst += path.Base(src)
				} else if len(c.srcs) > 1 {
					t.Fatalf("Dockerfile: COPY of several sources to %s, which does not end in /", c.dst)
				}
				out[dst] = local
				continue
			}
			err = filepath.WalkDir(local, func(p string, e os.DirEntry, err error) error {
				if err != nil || e.IsDir() {
					return err
				}
				rel, _ := filepath.Rel(local, p)
				out[path.Join(c.dst, filepath.ToSlash(rel))] = p
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

// ---- Fluent Bit configs ----

// loadConfig loads a Fluent Bit config with conf.LoadFile, failing the test
// on error.
func loadConfig(t *testing.T, file string, env map[string]string) *conf.File {
	t.Helper()
	f, err := conf.LoadFile(file, envFunc(env))
	if err != nil {
		t.Fatalf("LoadFile(%s) = %v", file, err)
	}
	return f
}

// parseDosguardOutputs runs conf.Parse over every dosguard output of f and
// checks that none has a key dosguard does not know (a typo would be
// silently ignored by Fluent Bit, which does not validate a Go plugin's
// keys).
func parseDosguardOutputs(t *testing.T, where string, f *conf.File) []conf.Config {
	t.Helper()
	var out []conf.Config
	for i, p := range f.Outputs("dosguard") {
		c, err := conf.Parse(p)
		if err != nil {
			t.Errorf("%s: dosguard output %d: conf.Parse = %v", where, i, err)
			continue
		}
		if u := conf.Unknown(p); len(u) > 0 {
			t.Errorf("%s: dosguard output %d: unknown keys %v", where, i, u)
		}
		out = append(out, c)
	}
	return out
}

// serviceParsersFile returns the parsers_file of the config's service
// section, or "".
func serviceParsersFile(f *conf.File) string {
	for _, s := range f.Sections("service") {
		if v := s.Get("parsers_file"); v != "" {
			return v
		}
	}
	return ""
}

// parserNames returns the names of the [PARSER] sections of f.
func parserNames(f *conf.File) map[string]bool {
	out := map[string]bool{}
	for _, p := range f.Sections("parser") {
		out[p.Get("name")] = true
	}
	return out
}

// referencedParsers lists the parsers a config's inputs and parser filters
// name.
func referencedParsers(f *conf.File) []string {
	var out []string
	for _, in := range f.Sections("input") {
		if v := in.Get("parser"); v != "" {
			out = append(out, v)
		}
	}
	for _, fl := range f.Sections("filter") {
		if strings.EqualFold(fl.Get("name"), "parser") {
			out = append(out, fl.Get("parser"))
		}
	}
	return out
}

// matches reports whether a Fluent Bit Match pattern (with * wildcards)
// matches tag.
func matches(pattern, tag string) bool {
	re := "^" + strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, ".*") + "$"
	return regexp.MustCompile(re).MatchString(tag)
}
