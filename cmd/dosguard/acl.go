package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/enforce"
	"github.com/dosguard/dosguard/guard"
	"github.com/dosguard/dosguard/wafipset"
)

const aclUsage = `usage: dosguard acl list|unblock <addr|cidr>|flush [flags]

  list     the deny entries of the managed rule range and the members of
           the WAF IP sets, with their ban (since, expiry, offences) from
           State_File; "unmanaged" marks NACL entries dosguard does not
           know, "not dosguard's" IP set members it did not add
  unblock  delete the entries of an address or prefix (and of an aggregate
           covering it) and record it in State_File; an IP set member
           dosguard did not add stays
  flush    delete every entry dosguard manages, nothing else

flags:
`

// aclCommand runs "dosguard acl ...": the operator's view of the bans, with
// the same config (file and -p properties) as the plugin.
func aclCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("acl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cf := addConfigFlags(fs)
	dryRun := fs.Bool("dry-run", false, "print what would be done; change nothing")
	verbose := fs.Bool("v", false, "also print dosguard's own log lines")
	fs.Usage = func() {
		fmt.Fprint(stderr, aclUsage)
		fs.PrintDefaults()
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fs.Usage()
			return flag.ErrHelp
		}
		fs.Usage()
		return errors.New("dosguard acl: want a command: list, unblock or flush")
	}
	sub := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	var pos []string
	for fs.NArg() > 0 { // flags may follow the address
		pos = append(pos, fs.Arg(0))
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return err
		}
	}
	var target netip.Prefix
	switch sub {
	case "list", "flush":
		if len(pos) != 0 {
			return fmt.Errorf("dosguard acl %s: unexpected argument %q", sub, pos[0])
		}
	case "unblock":
		if len(pos) != 1 {
			return errors.New("dosguard acl unblock: want exactly one address or CIDR")
		}
		p, err := conf.ParsePrefix(pos[0])
		if err != nil {
			return fmt.Errorf("dosguard acl unblock: %q is not an IP address or CIDR", pos[0])
		}
		if p.Bits() == 0 {
			return fmt.Errorf("dosguard acl unblock: %s would lift every ban; use flush", p)
		}
		target = p
	default:
		fs.Usage()
		return fmt.Errorf("dosguard acl: unknown command %q", sub)
	}

	all, err := cf.load("dosguard acl", stderr)
	if err != nil {
		return err
	}
	if *dryRun {
		all["dry_run"] = "on"
	}
	cfg, err := conf.Parse(all)
	if err != nil {
		return err
	}
	if !cfg.Targets() {
		return fmt.Errorf("dosguard acl: %s is not set: no Network ACL to look at (nor %s)", conf.KeyNetworkACLID, conf.KeyWAFIPSetARN)
	}
	ctx := context.Background()
	deps, err := guard.ACLDeps(ctx, cfg)
	if err != nil {
		return err
	}
	level := slog.LevelError
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(guard.NewLogHandler(stderr, "output:dosguard:acl", level))
	// With Redis_URL, the bans are the instances' shared ones.
	st, closeStore, err := guard.OpenSharedStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeStore()
	// The CLI reports unknown entries, never takes them over (noAdopt).
	m, err := guard.NewEnforcerIn(cfg, deps, nil, true, st, logger)
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Second)

	if sub == "list" {
		m.Load()
		entries, err := m.Entries(ctx)
		if err != nil {
			return err
		}
		printListing(stdout, entries)
		return nil
	}
	if _, err := m.Start(ctx, now, false); err != nil {
		return err
	}
	var evs []ban.Event
	if sub == "unblock" {
		evs, err = m.Unblock(ctx, target, now)
		if len(evs) == 0 && err == nil {
			fmt.Fprintf(stdout, "%s is not denied in the managed range: nothing to do\n", target)
		}
	} else {
		evs, err = m.Flush(ctx, now)
		if len(evs) == 0 && err == nil {
			fmt.Fprintln(stdout, "no entry managed by dosguard: nothing to do")
		}
	}
	for _, e := range evs {
		printEvent(stdout, e, cfg.DryRun)
	}
	return err
}

func printListing(w io.Writer, entries []enforce.Listing) {
	if len(entries) == 0 {
		fmt.Fprintln(w, "no deny entry in the managed rule range")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tACL:RULE\tSINCE\tEXPIRES\tOFFENCES\t")
	for _, e := range entries {
		since, expires, offences, note := "-", "-", "-", "unmanaged"
		where := fmt.Sprintf("%s:%d", e.Target, e.Rule)
		if wafipset.IsTarget(e.Target) {
			note, where = "not dosguard's", e.Target
		}
		if b := e.Ban; b != nil {
			since, expires, offences, note = stamp(b.Since), "never", fmt.Sprint(b.Offences), ""
			if !b.ExpiresAt.IsZero() {
				expires = stamp(b.ExpiresAt)
			}
			for _, be := range b.Entries {
				if be.Target == e.Target && be.Rule == e.Rule && be.Foreign {
					note = "another writer's"
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Prefix, where, since, expires, offences, note)
	}
	tw.Flush()
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func printEvent(w io.Writer, e ban.Event, dry bool) {
	var rules []string
	for _, en := range e.Entries {
		if wafipset.IsTarget(en.Target) {
			rules = append(rules, en.Target)
			continue
		}
		rules = append(rules, fmt.Sprintf("%s:%d", en.Target, en.Rule))
	}
	what := string(e.Status)
	if dry {
		what = "would be " + what
	}
	line := fmt.Sprintf("%s %s %s", what, e.Prefix, strings.Join(rules, ","))
	if r := e.Text(); r != "" {
		line += " (" + r + ")"
	}
	if dry {
		line += " [dry-run: nothing changed]"
	}
	fmt.Fprintln(w, line)
}
