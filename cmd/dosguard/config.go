package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/dosguard/dosguard/conf"
)

// loadProps merges the properties of dosguard output number output of the
// Fluent Bit config file cfgPath ("" for none) with the -p flags, which win.
// Keys are lower-cased. Unknown keys of the file are warned about on stderr,
// prefixed by cmd ("dosguard acl").
func loadProps(cmd, cfgPath string, output int, props propFlags, stderr io.Writer) (conf.Props, error) {
	all := conf.Props{}
	if cfgPath != "" {
		f, err := conf.LoadFile(cfgPath, os.LookupEnv)
		if err != nil {
			return nil, err
		}
		outs := f.Outputs("dosguard")
		if output < 0 || output >= len(outs) {
			return nil, fmt.Errorf("%s: %s has %d dosguard outputs, no output %d", cmd, cfgPath, len(outs), output)
		}
		for k, v := range outs[output] {
			all[strings.ToLower(k)] = v
		}
		for _, k := range conf.Unknown(outs[output]) {
			fmt.Fprintf(stderr, "%s: warning: %s: unknown key %s (ignored)\n", cmd, cfgPath, k)
		}
	}
	for k, v := range props {
		all[strings.ToLower(k)] = v
	}
	return all, nil
}

// configFlags are the flags every command uses to find its config: a Fluent
// Bit config file, which dosguard output of it, and -p overrides.
type configFlags struct {
	path   *string
	output *int
	props  propFlags
}

// addConfigFlags registers -c, --output and -p on fs.
func addConfigFlags(fs *flag.FlagSet) *configFlags {
	c := &configFlags{props: propFlags{}}
	c.path = fs.String("c", "", "Fluent Bit config file (classic or YAML) with a dosguard output")
	c.output = fs.Int("output", 0, "which dosguard output of the config file to use (0 = the first)")
	fs.Var(c.props, "p", "set a property, Key=Value (repeatable; overrides the config file)")
	return c
}

// load merges the file's output with the -p flags (see loadProps).
func (c *configFlags) load(cmd string, stderr io.Writer) (conf.Props, error) {
	return loadProps(cmd, *c.path, *c.output, c.props, stderr)
}
