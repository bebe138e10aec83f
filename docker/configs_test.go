package docker

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dosguard/dosguard/conf"
)

// fluentBitConfigs lists the Fluent Bit configs under docker/ outside eks/
// (those are in ConfigMaps, tested with the manifests): every .conf, .yaml
// and .yml file except the parsers file.
func fluentBitConfigs(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p == "eks" || p == "samples" {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(p) {
		case ".conf", ".yaml", ".yml":
			if filepath.Base(p) != "parsers.conf" {
				out = append(out, filepath.ToSlash(p))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 4 {
		t.Fatalf("found only %v: the walk is broken", out)
	}
	return out
}

// configContext says how a config under docker/ resolves paths: from the
// repository root as in the README's "fluent-bit -c docker/..." commands,
// or inside the image (docker/image/), with the Dockerfile's ENV.
type configContext struct {
	inImage bool
	env     map[string]string
	image   map[string]string // image path -> repository file
}

func contextFor(t *testing.T, file string) configContext {
	t.Helper()
	df, _ := parseDockerfile(t, "Dockerfile")
	if strings.HasPrefix(file, "image/") {
		return configContext{inImage: true, env: df.final().env, image: df.imageFiles(t)}
	}
	return configContext{env: map[string]string{}}
}

// resolveFile returns the local file a config's path names, the way
// Fluent Bit resolves it: absolute paths inside the image through the
// Dockerfile's COPY lines; relative ones from the working directory (the
// repository root), then, for a parsers_file, from the config's directory.
func (c configContext) resolveFile(configFile, p string, parsersFile bool) (string, bool) {
	if c.inImage {
		local, ok := c.image[p]
		return local, ok && local != ""
	}
	if filepath.IsAbs(p) {
		return "", false
	}
	candidates := []string{filepath.Join(repoRoot, p)}
	if parsersFile {
		candidates = append(candidates, filepath.Join(filepath.Dir(configFile), p))
	}
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			return c, true
		}
	}
	return "", false
}

// resolveGlob returns the local files a tail Path glob matches.
func (c configContext) resolveGlob(p string) []string {
	if c.inImage {
		var out []string
		for img, local := range c.image {
			if ok, _ := path.Match(p, img); ok && local != "" {
				out = append(out, local)
			}
		}
		slices.Sort(out)
		return out
	}
	if filepath.IsAbs(p) {
		return nil
	}
	m, _ := filepath.Glob(filepath.Join(repoRoot, p))
	return m
}

// blockingEnv is what a user sets to switch a config to real blocking.
var blockingEnv = map[string]string{
	"DOSGUARD_NACL_ID":   exampleACLID,
	"AWS_REGION":         exampleRegion,
	"DOSGUARD_TOPIC_ARN": exampleTopicARN,
}

// TestConfigsParse loads every Fluent Bit config under docker/ with the
// plugin's own parser and validates each dosguard output with conf.Parse:
// with no AWS settings it must be a dry run; where the config takes its
// NACL from ${DOSGUARD_NACL_ID}, setting it must switch to real blocking,
// unless DOSGUARD_DRY_RUN=on.
func TestConfigsParse(t *testing.T) {
	for _, file := range fluentBitConfigs(t) {
		t.Run(file, func(t *testing.T) {
			ctx := contextFor(t, file)
			refs := varRefs(t, file)
			type step struct {
				name     string
				env      map[string]string
				wantDry  bool
				wantACLs []string
				wantARN  string
			}
			steps := []step{{name: "no AWS settings", env: ctx.env, wantDry: true}}
			if slices.Contains(refs, "DOSGUARD_NACL_ID") {
				wantARN := ""
				if slices.Contains(refs, "DOSGUARD_TOPIC_ARN") {
					wantARN = exampleTopicARN
				}
				steps = append(steps,
					step{"blocking", merge(ctx.env, blockingEnv), false, []string{exampleACLID}, wantARN},
					step{"blocking, dry run first", merge(ctx.env, merge(blockingEnv, map[string]string{"DOSGUARD_DRY_RUN": "on"})), true, []string{exampleACLID}, wantARN},
				)
			}
			for i, s := range steps {
				f := loadConfig(t, file, s.env)
				cfgs := parseDosguardOutputs(t, file, f)
				if len(cfgs) == 0 {
					t.Fatalf("step %d (%s): no valid dosguard output", i, s.name)
				}
				for j, c := range cfgs {
					if c.DryRun != s.wantDry {
						t.Errorf("step %d (%s): output %d: DryRun = %v, want %v", i, s.name, j, c.DryRun, s.wantDry)
					}
					if !slices.Equal(c.ACLIDs, s.wantACLs) {
						t.Errorf("step %d (%s): output %d: ACLIDs = %v, want %v", i, s.name, j, c.ACLIDs, s.wantACLs)
					}
					if c.TopicARN != s.wantARN {
						t.Errorf("step %d (%s): output %d: TopicARN = %q, want %q", i, s.name, j, c.TopicARN, s.wantARN)
					}
					if s.env["AWS_REGION"] != "" && slices.Contains(refs, "AWS_REGION") && c.Region != s.env["AWS_REGION"] {
						t.Errorf("step %d (%s): output %d: Region = %q, want %q", i, s.name, j, c.Region, s.env["AWS_REGION"])
					}
				}
			}
		})
	}
}

// TestConfigsPaths checks what conf.Parse cannot: the files a config names
// exist where Fluent Bit will look for them, every parser it uses is
// defined in its parsers_file, and every dosguard output shares its Match
// with another output, so the logs still reach a store.
func TestConfigsPaths(t *testing.T) {
	for _, file := range fluentBitConfigs(t) {
		t.Run(file, func(t *testing.T) {
			ctx := contextFor(t, file)
			f := loadConfig(t, file, ctx.env)

			pf := serviceParsersFile(f)
			if pf == "" {
				t.Fatalf("no parsers_file in the service section")
			}
			local, ok := ctx.resolveFile(file, pf, true)
			if !ok {
				t.Fatalf("parsers_file %s: no such file (image: %v)", pf, ctx.inImage)
			}
			defined := parserNames(loadConfig(t, local, nil))
			for n := range parserNames(f) {
				defined[n] = true
			}
			for _, p := range referencedParsers(f) {
				if !defined[p] {
					t.Errorf("parser %q is not defined in %s", p, pf)
				}
			}

			tails := 0
			for _, in := range f.Sections("input") {
				if !strings.EqualFold(in.Get("name"), "tail") {
					continue
				}
				tails++
				p := in.Get("path")
				if len(ctx.resolveGlob(p)) == 0 {
					t.Errorf("tail path %q matches no file", p)
				}
				if ctx.inImage && in.Get("db") != "" {
					t.Errorf("tail db %q: the image's root filesystem may be read-only", in.Get("db"))
				}
			}
			if tails == 0 {
				t.Errorf("no tail input")
			}

			outputs := f.Sections("output")
			for _, d := range f.Outputs("dosguard") {
				shared := false
				for _, o := range outputs {
					if !strings.EqualFold(o.Get("name"), "dosguard") && o.Get("match") == d.Get("match") {
						shared = true
					}
				}
				if !shared {
					t.Errorf("dosguard output on match %q has no other output beside it: the logs would reach no store", d.Get("match"))
				}
			}
		})
	}
}

// TestImageConfigVariables: every variable the image's configs use has a
// non-empty default in the Dockerfile, so a bare "docker run" starts without
// Fluent Bit's "[env] variable ${X} is used but not set" warning (its
// flb_env_get reads a variable set to "" as unset, so an empty default
// would not do); and those defaults configure exactly what leaving the
// optional keys out would: a dry run, no NACL, no topic, no allowlist, the
// automatic rule range, blocking for 1h.
func TestImageConfigVariables(t *testing.T) {
	df, _ := parseDockerfile(t, "Dockerfile")
	env := df.final().env
	files, _ := filepath.Glob("image/*.yaml")
	if len(files) == 0 {
		t.Fatal("no config under image/")
	}
	for _, file := range files {
		for _, v := range varRefs(t, file) {
			if env[v] == "" {
				t.Errorf("%s: ${%s} has no non-empty default in the Dockerfile: a bare docker run would warn it is used but not set", file, v)
			}
		}
		for i, c := range parseDosguardOutputs(t, file, loadConfig(t, file, env)) {
			if !c.DryRun || len(c.ACLIDs) != 0 || c.TopicARN != "" || len(c.Allowlist) != 0 ||
				c.RuleMin != 0 || c.RuleMax != 0 || c.Region != "" {
				t.Errorf("%s: output %d with the Dockerfile's defaults = dry run %v, ACLs %v, topic %q, allowlist %v, range %d-%d, region %q; want what leaving the keys out gives",
					file, i, c.DryRun, c.ACLIDs, c.TopicARN, c.Allowlist, c.RuleMin, c.RuleMax, c.Region)
			}
			for _, r := range c.Rules {
				if r.Action != conf.ActionBlock || r.BlockDuration != time.Hour {
					t.Errorf("%s: output %d: rule %s = %s for %v, want block for 1h", file, i, r.Name, r.Action, r.BlockDuration)
				}
			}
		}
	}
}

// TestParsersFile checks docker/parsers.conf: unique names, a format each,
// regexes that Go's regexp accepts (the tests run them over the samples),
// and time formats the tests can translate.
func TestParsersFile(t *testing.T) {
	f := loadConfig(t, "parsers.conf", nil)
	seen := map[string]bool{}
	for _, p := range f.Sections("parser") {
		name := p.Get("name")
		if name == "" || seen[name] {
			t.Errorf("parser %q: empty or defined twice", name)
		}
		seen[name] = true
		switch strings.ToLower(p.Get("format")) {
		case "regex":
			if _, err := regexp.Compile(p.Get("regex")); err != nil {
				t.Errorf("parser %s: regex: %v", name, err)
			}
		case "json":
		default:
			t.Errorf("parser %s: format %q, want regex or json", name, p.Get("format"))
		}
		if tf := p.Get("time_format"); tf != "" {
			if _, err := strptimeLayout(tf); err != nil {
				t.Errorf("parser %s: %v", name, err)
			}
		}
	}
	for _, want := range []string{"apache2", "nginx", "wowhoneypot", "xff_client", "alb"} {
		if !seen[want] {
			t.Errorf("parser %s is missing", want)
		}
	}
}
