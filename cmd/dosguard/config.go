package main

import (
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
