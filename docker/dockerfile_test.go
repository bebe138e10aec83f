package docker

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// runtimeGlibc is the glibc of the runtime image, fluent/fluent-bit 5.x:
// distroless Debian 13 "trixie", glibc 2.41. The .so must need nothing
// newer, or dlopen fails inside the image with "version GLIBC_2.xx not
// found".
var runtimeGlibc = glibcVersion{2, 41}

// debianGlibc is the glibc of the Debian releases Go images are built on.
var debianGlibc = map[string]glibcVersion{
	"bullseye": {2, 31},
	"bookworm": {2, 36},
	"trixie":   {2, 41},
}

// glibcVersion is a GLIBC_major.minor symbol version.
type glibcVersion struct{ major, minor int }

func (v glibcVersion) String() string { return fmt.Sprintf("%d.%d", v.major, v.minor) }
func (v glibcVersion) newerThan(o glibcVersion) bool {
	return v.major > o.major || (v.major == o.major && v.minor > o.minor)
}

var glibcSymVersion = regexp.MustCompile(`^GLIBC_(\d+)\.(\d+)(?:\.\d+)?$`)

// TestDockerfile checks the Dockerfile without a Docker engine: pinned base
// images, a build stage that runs the Makefile's command on a glibc no
// newer than the runtime's, a fluent/fluent-bit 5.x runtime running as a
// non-root user, and an exec-form command line whose -e and -c name files
// the image really has.
func TestDockerfile(t *testing.T) {
	df, keywords := parseDockerfile(t, "Dockerfile")
	for _, kw := range keywords {
		if !slices.Contains([]string{"FROM", "WORKDIR", "COPY", "RUN", "ENV", "USER", "ENTRYPOINT", "CMD"}, kw) {
			t.Errorf("instruction %s is not understood by these tests", kw)
		}
	}
	if len(df.stages) != 2 {
		t.Fatalf("%d stages, want a build stage and a runtime stage", len(df.stages))
	}
	for _, s := range df.stages {
		name, tag, ok := strings.Cut(s.from, ":")
		if !ok || tag == "" || tag == "latest" || strings.Contains(name, "$") {
			t.Errorf("FROM %s: want a pinned tag", s.from)
		}
	}

	build, run := df.stages[0], df.final()
	m := regexp.MustCompile(`^golang:1\.\d+(?:\.\d+)?-(\w+)$`).FindStringSubmatch(build.from)
	if m == nil {
		t.Fatalf("build stage FROM %s: want golang:1.N-<debian release>", build.from)
	}
	buildGlibc, ok := debianGlibc[m[1]]
	if !ok {
		t.Fatalf("build stage on %s: add its glibc to debianGlibc", m[1])
	}
	if buildGlibc.newerThan(runtimeGlibc) {
		t.Errorf("build stage glibc %v is newer than the runtime's %v", buildGlibc, runtimeGlibc)
	}
	if !slices.ContainsFunc(build.runs, func(r string) bool { return r == "make out_dosguard.so" }) {
		t.Errorf("build stage runs %q, want \"make out_dosguard.so\" (the Makefile's command)", build.runs)
	}

	if !regexp.MustCompile(`^fluent/fluent-bit:5\.\d+\.\d+$`).MatchString(run.from) {
		t.Errorf("runtime FROM %s, want fluent/fluent-bit:5.x.y", run.from)
	}
	if u := strings.Split(run.user, ":")[0]; u == "" || u == "0" || u == "root" {
		t.Errorf("USER %q: want a non-root user (65532 is distroless's nonroot)", run.user)
	}

	if !run.execForm["CMD"] || !run.execForm["ENTRYPOINT"] {
		t.Errorf("ENTRYPOINT and CMD must be JSON arrays: the distroless image has no shell")
	}
	if !slices.Contains(run.cmd, "-e") || !slices.Contains(run.cmd, "-c") {
		t.Errorf("CMD %q: want -e and -c in it", run.cmd)
	}
	argv := append(slices.Clone(run.entrypoint), run.cmd...)
	if len(argv) == 0 || argv[0] != "/fluent-bit/bin/fluent-bit" {
		t.Fatalf("command line %q does not start with /fluent-bit/bin/fluent-bit", argv)
	}
	image := df.imageFiles(t)
	flag := func(f string) string {
		i := slices.Index(argv, f)
		if i < 0 || i+1 == len(argv) {
			t.Fatalf("command line %q has no %s", argv, f)
		}
		return argv[i+1]
	}
	if local, ok := image[flag("-e")]; !ok || local != "" {
		t.Errorf("-e %s: not the .so copied from the build stage", flag("-e"))
	}
	if local := image[flag("-c")]; local != filepath.Join(repoRoot, "docker/image/dosguard.yaml") {
		t.Errorf("-c %s: comes from %q, want docker/image/dosguard.yaml", flag("-c"), local)
	}
	for _, c := range run.copies {
		if c.from != "" && (c.from != build.name || !slices.Equal(c.srcs, []string{"/src/out_dosguard.so"})) {
			t.Errorf("COPY --from=%s %v: want /src/out_dosguard.so from %s (WORKDIR /src, where make writes it)", c.from, c.srcs, build.name)
		}
	}
	for img := range image {
		if !strings.HasPrefix(img, "/fluent-bit/") {
			t.Errorf("%s: keep the image's files under /fluent-bit/", img)
		}
	}
}

// TestMakefileBuildsTheSO checks that "make out_dosguard.so", which the
// Dockerfile runs, builds the plugin as a cgo c-shared library. Simple
// variables (VAR := value, VAR ?= value, VAR = value) and $@ are expanded.
func TestMakefileBuildsTheSO(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatalf("the Dockerfile runs make out_dosguard.so: %v", err)
	}
	lines := strings.Split(string(data), "\n")
	vars := map[string]string{}
	assign := regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)\s*[:?]?=\s*(.*)$`)
	for _, l := range lines {
		if m := assign.FindStringSubmatch(l); m != nil {
			vars[m[1]] = m[2]
		}
	}
	ref := regexp.MustCompile(`\$[({]([A-Za-z_][A-Za-z0-9_]*)[)}]`)
	expand := func(s string) string {
		for range 5 {
			s = ref.ReplaceAllStringFunc(s, func(r string) string { return vars[ref.FindStringSubmatch(r)[1]] })
		}
		return s
	}
	var recipe []string
	in := false
	for _, l := range lines {
		switch {
		case in && strings.HasPrefix(l, "\t"):
			recipe = append(recipe, strings.ReplaceAll(expand(l), "$@", "out_dosguard.so"))
		case strings.Contains(l, ":") && !strings.HasPrefix(l, "\t") && !assign.MatchString(l):
			targets, _, _ := strings.Cut(expand(l), ":")
			in = slices.Contains(strings.Fields(targets), "out_dosguard.so")
		case strings.TrimSpace(l) != "" && !strings.HasPrefix(l, "#"):
			in = false
		}
	}
	all := strings.Join(recipe, "\n")
	t.Logf("make out_dosguard.so runs: %s", strings.TrimSpace(all))
	for _, want := range []string{"-buildmode=c-shared", "CGO_ENABLED=1", "./plugin", "-o out_dosguard.so"} {
		if !strings.Contains(all, want) {
			t.Errorf("Makefile: the recipe of out_dosguard.so %q lacks %s", all, want)
		}
	}
}

// dockerignored reports whether the .dockerignore patterns exclude p (a
// slash-separated path relative to the context root), following Docker's
// rules: the last matching pattern wins, "!" re-includes, "**" matches any
// number of directories, and a pattern that matches a directory excludes
// everything in it.
func dockerignored(patterns []string, p string) bool {
	excluded := false
	for _, pat := range patterns {
		neg := strings.HasPrefix(pat, "!")
		pat = strings.TrimPrefix(strings.TrimPrefix(pat, "!"), "/")
		re := regexp.MustCompile("^" + globToRegexp(path.Clean(pat)) + "(/.*)?$")
		if re.MatchString(p) {
			excluded = !neg
		}
	}
	return excluded
}

func globToRegexp(g string) string {
	var b strings.Builder
	for i := 0; i < len(g); i++ {
		switch c := g[i]; {
		case strings.HasPrefix(g[i:], "**/"):
			b.WriteString("(.*/)?")
			i += 2
		case strings.HasPrefix(g[i:], "**"):
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return b.String()
}

// TestDockerignore checks that .dockerignore keeps out what the image does
// not need and keeps in everything the build needs: every Go file of every
// package in the repository that ./plugin imports, the module files, the
// Makefile and the files the runtime stage copies.
func TestDockerignore(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}

	need := []string{"go.mod", "go.sum", "Makefile"}
	df, _ := parseDockerfile(t, "Dockerfile")
	for _, c := range df.final().copies {
		if c.from == "" {
			need = append(need, c.srcs...)
		}
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("no go command: cannot list the plugin's packages")
	}
	cmd := exec.Command(goBin, "list", "-deps", "-f", "{{if not .Standard}}{{.Dir}}{{end}}", "./plugin")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1") // the plugin's cgo files too
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps ./plugin: %v", err)
	}
	root, _ := filepath.Abs(repoRoot)
	pkgs := 0
	for _, dir := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, dir)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue // a module dependency, downloaded in the image
		}
		pkgs++
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if n := e.Name(); !e.IsDir() && !strings.HasSuffix(n, "_test.go") &&
				slices.Contains([]string{".go", ".c", ".h", ".s"}, filepath.Ext(n)) {
				need = append(need, filepath.ToSlash(filepath.Join(rel, n)))
			}
		}
	}
	if pkgs < 3 {
		t.Fatalf("go list found %d packages of this repository under ./plugin", pkgs)
	}
	for _, p := range need {
		if dockerignored(patterns, p) {
			t.Errorf("%s is needed by the build but .dockerignore excludes it", p)
		}
	}

	for _, p := range []string{".git/HEAD", "out_dosguard.so", "out_dosguard.h", "dosguard", "docker/eks/iam-policy.json",
		"docker/README.md", "plugin/testdata/flbhost.c", "conf/conf_test.go", "docker/samples/gen/main.go"} {
		if !dockerignored(patterns, p) {
			t.Errorf("%s should stay out of the build context", p)
		}
	}
}

// TestGlibcVersions builds the plugin as the Dockerfile does and lists the
// glibc symbol versions it needs (from .gnu.version_r, read with
// debug/elf): the newest must not be newer than the runtime image's glibc.
// The build here uses this machine's glibc, so the check holds for the
// image when this machine's glibc is not newer than the build stage's
// (TestDockerfile checks the build stage's against the runtime's).
func TestGlibcVersions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc: cannot build a cgo c-shared library")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	so := filepath.Join(t.TempDir(), "out_dosguard.so")
	cmd := exec.Command(goBin, "build", "-buildmode=c-shared", "-trimpath", "-o", so, "./plugin")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -buildmode=c-shared ./plugin: %v\n%s", err, out)
	}
	f, err := elf.Open(so)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.ImportedSymbols()
	if err != nil {
		t.Fatal(err)
	}
	byVersion := map[glibcVersion][]string{}
	for _, s := range syms {
		m := glibcSymVersion.FindStringSubmatch(s.Version)
		if m == nil {
			continue
		}
		major, _ := strconv.Atoi(m[1])
		minor, _ := strconv.Atoi(m[2])
		v := glibcVersion{major, minor}
		byVersion[v] = append(byVersion[v], s.Name+"@"+s.Version)
	}
	if len(byVersion) == 0 {
		t.Fatal("the .so needs no GLIBC_ symbol version: not a glibc build?")
	}
	versions := make([]glibcVersion, 0, len(byVersion))
	for v := range byVersion {
		versions = append(versions, v)
	}
	sort.Slice(versions, func(i, j int) bool { return versions[j].newerThan(versions[i]) })
	for _, v := range versions {
		sort.Strings(byVersion[v])
		t.Logf("GLIBC %v: %s", v, strings.Join(byVersion[v], " "))
	}
	if newest := versions[len(versions)-1]; newest.newerThan(runtimeGlibc) {
		t.Errorf("the .so needs GLIBC_%v (%v), newer than the runtime image's %v", newest, byVersion[newest], runtimeGlibc)
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("needed libraries: %v", libs)
	for _, l := range libs {
		if !slices.Contains([]string{"libc.so.6", "libpthread.so.0", "libdl.so.2", "libm.so.6", "libresolv.so.2"}, l) {
			t.Errorf("the .so needs %s, which the distroless runtime image may not have", l)
		}
	}
}

// TestReadmePaths checks that every docker/... path the README mentions
// exists, so the step-by-step guide does not send anyone to a missing file.
func TestReadmePaths(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile(`docker/[A-Za-z0-9_./-]*[A-Za-z0-9_/]`).FindAllString(string(data), -1)
	if len(refs) < 10 {
		t.Fatalf("README.md mentions %d docker/ paths", len(refs))
	}
	for _, r := range refs {
		if _, err := os.Stat(filepath.Join(repoRoot, r)); err != nil {
			t.Errorf("README.md mentions %s: %v", r, err)
		}
	}
}
