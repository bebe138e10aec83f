package conf

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// File is a Fluent Bit configuration file, classic or YAML, read the way
// Fluent Bit reads it: sections with properties, @INCLUDE and @SET (classic),
// env and includes (YAML), ${VAR} expanded.
type File struct {
	// Path is the file that was loaded.
	Path     string
	sections []section
	// Plugins lists the plugin paths the file loads ([PLUGINS] Path or the
	// YAML plugins list).
	Plugins []string
}

type section struct {
	kind  string // lower case: service, input, filter, output, parser, ...
	props Props
}

// Sections returns the properties of every section of the given kind
// ("service", "input", "filter", "output", "parser", "multiline_parser"), in
// file order.
func (f *File) Sections(kind string) []Props {
	var out []Props
	for _, s := range f.sections {
		if s.kind == strings.ToLower(kind) {
			out = append(out, s.props)
		}
	}
	return out
}

// Outputs returns the properties of every output whose Name is name.
func (f *File) Outputs(name string) []Props {
	var out []Props
	for _, p := range f.Sections("output") {
		if strings.EqualFold(p.Get("name"), name) {
			out = append(out, p)
		}
	}
	return out
}

// coreKeys are consumed by Fluent Bit itself and never reach a plugin.
var coreKeys = map[string]bool{
	"name": true, "match": true, "match_regex": true, "alias": true, "log_level": true,
	"host": true, "port": true, "ipv6": true, "retry_limit": true, "workers": true,
	"log_suppress_interval": true, "net.": true, "processors": true,
}

// Unknown returns the keys of p that neither dosguard nor the Fluent Bit
// core reads, sorted: most likely typos.
func Unknown(p Props) []string {
	known := map[string]bool{}
	for _, k := range Keys {
		known[strings.ToLower(k)] = true
	}
	var out []string
	for k := range p {
		lk := strings.ToLower(k)
		if known[lk] || coreKeys[lk] || strings.HasPrefix(lk, "tls") ||
			strings.HasPrefix(lk, "storage.") || strings.HasPrefix(lk, "net.") {
			continue
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// LoadFile reads a Fluent Bit configuration file: YAML when its name ends in
// .yaml or .yml, classic otherwise. env resolves ${VAR} references after the
// file's own @SET or env variables; an unresolved reference expands to "",
// as in Fluent Bit.
func LoadFile(path string, env func(string) (string, bool)) (*File, error) {
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	l := &loader{env: env, vars: map[string]string{}, f: &File{Path: path}}
	var err error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		err = l.yamlFile(path, 0)
	default:
		err = l.classicFile(path, 0)
	}
	if err != nil {
		return nil, err
	}
	return l.f, nil
}

type loader struct {
	env  func(string) (string, bool)
	vars map[string]string
	f    *File
}

// varRef matches ${VAR} and ${VAR:-default}, as Fluent Bit expands them.
var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

func (l *loader) expand(s string) string {
	return varRef.ReplaceAllStringFunc(s, func(m string) string {
		sub := varRef.FindStringSubmatch(m)
		name, hasDef, def := sub[1], sub[2] != "", sub[3]
		v, ok := l.vars[name]
		if !ok {
			v, ok = l.env(name)
		}
		if hasDef && (!ok || v == "") {
			return def
		}
		return v
	})
}

const maxIncludeDepth = 8

func (l *loader) classicFile(path string, depth int) error {
	if depth > maxIncludeDepth {
		return fmt.Errorf("conf: %s: @INCLUDE nested more than %d deep", path, maxIncludeDepth)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("conf: %w", err)
	}
	var cur *section
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		where := fmt.Sprintf("conf: %s:%d", path, n)
		switch {
		case strings.HasPrefix(line, "@"):
			cmd, arg, _ := strings.Cut(line, " ")
			arg = strings.TrimSpace(arg)
			switch strings.ToUpper(cmd) {
			case "@INCLUDE":
				pattern := l.expand(arg)
				if !filepath.IsAbs(pattern) {
					pattern = filepath.Join(filepath.Dir(path), pattern)
				}
				matches, err := filepath.Glob(pattern)
				if err != nil || len(matches) == 0 {
					return fmt.Errorf("%s: @INCLUDE %s: no such file", where, arg)
				}
				for _, m := range matches {
					if err := l.classicFile(m, depth+1); err != nil {
						return err
					}
				}
				cur = nil
			case "@SET":
				k, v, ok := strings.Cut(arg, "=")
				if !ok {
					return fmt.Errorf("%s: @SET %s: want KEY=VALUE", where, arg)
				}
				l.vars[strings.TrimSpace(k)] = l.expand(strings.TrimSpace(v))
			default:
				return fmt.Errorf("%s: unknown command %s", where, cmd)
			}
		case strings.HasPrefix(line, "["):
			if !strings.HasSuffix(line, "]") || len(line) < 3 {
				return fmt.Errorf("%s: bad section header %s", where, line)
			}
			l.f.sections = append(l.f.sections, section{
				kind: strings.ToLower(strings.TrimSpace(line[1 : len(line)-1])), props: Props{},
			})
			cur = &l.f.sections[len(l.f.sections)-1]
		default:
			if cur == nil {
				return fmt.Errorf("%s: property outside a section: %s", where, line)
			}
			k, v, _ := strings.Cut(line, " ")
			if i := strings.IndexAny(line, " \t"); i > 0 {
				k, v = line[:i], line[i+1:]
			}
			v = l.expand(strings.TrimSpace(v))
			if cur.kind == "plugins" && strings.EqualFold(k, "path") {
				l.f.Plugins = append(l.f.Plugins, v)
			}
			cur.props[k] = v
		}
	}
	return sc.Err()
}

func (l *loader) yamlFile(path string, depth int) error {
	if depth > maxIncludeDepth {
		return fmt.Errorf("conf: %s: includes nested more than %d deep", path, maxIncludeDepth)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("conf: %w", err)
	}
	var doc struct {
		Env      yaml.Node        `yaml:"env"`
		Includes []string         `yaml:"includes"`
		Service  map[string]any   `yaml:"service"`
		Parsers  []map[string]any `yaml:"parsers"`
		Plugins  []string         `yaml:"plugins"`
		Pipeline struct {
			Inputs  []map[string]any `yaml:"inputs"`
			Filters []map[string]any `yaml:"filters"`
			Outputs []map[string]any `yaml:"outputs"`
		} `yaml:"pipeline"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("conf: %s: %w", path, err)
	}
	if err := l.setEnv(&doc.Env); err != nil {
		return fmt.Errorf("conf: %s: env: %w", path, err)
	}
	for _, inc := range doc.Includes {
		p := l.expand(inc)
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(path), p)
		}
		var err error
		if ext := strings.ToLower(filepath.Ext(p)); ext == ".yaml" || ext == ".yml" {
			err = l.yamlFile(p, depth+1)
		} else {
			err = l.classicFile(p, depth+1)
		}
		if err != nil {
			return err
		}
	}
	for _, p := range doc.Plugins {
		l.f.Plugins = append(l.f.Plugins, l.expand(p))
	}
	add := func(kind string, m map[string]any) {
		props := Props{}
		for k, v := range m {
			switch v.(type) {
			case []any, map[string]any:
				continue // processors and other nested blocks are not properties
			}
			props[k] = l.expand(scalar(v))
		}
		l.f.sections = append(l.f.sections, section{kind: kind, props: props})
	}
	if doc.Service != nil {
		add("service", doc.Service)
	}
	for _, m := range doc.Parsers {
		add("parser", m)
	}
	for _, m := range doc.Pipeline.Inputs {
		add("input", m)
	}
	for _, m := range doc.Pipeline.Filters {
		add("filter", m)
	}
	for _, m := range doc.Pipeline.Outputs {
		add("output", m)
	}
	return nil
}

// setEnv sets the variables of a YAML env mapping in document order, so a
// value sees the variables defined above it (a map would lose the order).
func (l *loader) setEnv(n *yaml.Node) error {
	switch {
	case n.Kind == 0 || n.Tag == "!!null":
		return nil // no env, or an empty one
	case n.Kind != yaml.MappingNode:
		return fmt.Errorf("line %d: want a mapping of variables", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		var v any
		if err := n.Content[i+1].Decode(&v); err != nil {
			return fmt.Errorf("%s: %w", n.Content[i].Value, err)
		}
		l.vars[n.Content[i].Value] = l.expand(scalar(v))
	}
	return nil
}

func scalar(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case bool:
		if v {
			return "on"
		}
		return "off"
	case int:
		return strconv.Itoa(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}
