// Command dosguard is the operator's CLI around the plugin's code.
//
//	dosguard replay [-c fluent-bit.conf] [-p Key=Value]... [--format auto|apache2|nginx|json] [--top N [--json]] <logfile|->
//	dosguard acl list|unblock <addr|cidr>|flush [-c fluent-bit.conf] [-p Key=Value]... [--dry-run]
//
// replay runs the same config, detector and decisions as out_dosguard.so over
// a log file and prints each decision with the message SNS would get. It is a
// dry run unless --no-dry-run is given. With --top N it prints instead, per
// rule, the N clients whose windowed count came closest to the threshold and
// the distribution of all clients' peaks (package peaks), to pick a
// threshold from one's own log.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/dosguard/dosguard/chunk/logline"
	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/guard"
	"github.com/dosguard/dosguard/notify"
)

const usage = `usage: dosguard <command> [flags]

commands:
  replay   run a config over a log file and print the decisions (dry-run)
  acl      list, unblock or flush the deny entries dosguard manages
  keys     list the configuration keys and their defaults

run "dosguard <command> -h" for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runAt(time.Now, args, stdin, stdout, stderr)
}

// runAt is run with the clock given: the one clock of the replayed instance
// (decision times, ban lengths, records without a time).
func runAt(now func() time.Time, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "replay":
		err = replay(now, args[1:], stdin, stdout, stderr)
	case "acl":
		err = aclCommand(args[1:], stdout, stderr)
	case "keys":
		for _, k := range conf.Keys {
			fmt.Fprintln(stdout, k)
		}
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "dosguard: unknown command %q\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

// propFlags collects repeated -p Key=Value flags.
type propFlags conf.Props

func (p propFlags) String() string { return "" }
func (p propFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("want Key=Value, got %q", s)
	}
	p[strings.TrimSpace(k)] = v
	return nil
}

func replay(now func() time.Time, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cf := addConfigFlags(fs)
	format := fs.String("format", "auto", "log format: auto, apache2, nginx or json (JSON lines)")
	timeKey := fs.String("time-key", "time", "JSON field holding the record time")
	tag := fs.String("tag", "access", "tag given to the records")
	noDryRun := fs.Bool("no-dry-run", false, "really write to the Network ACLs")
	publish := fs.Bool("notify", false, "really publish to SNS_Topic_ARN")
	quiet := fs.Bool("q", false, "print the decision lines only, not the SNS messages")
	verbose := fs.Bool("v", false, "also print dosguard's own log lines")
	top := fs.Int("top", 0, "print, per rule, the N clients that came closest to the threshold and the distribution of peaks, instead of the decisions")
	asJSON := fs.Bool("json", false, "with --top: print the report as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dosguard replay [flags] <logfile|->")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("dosguard replay: want exactly one log file (or - for standard input)")
	}
	if err := logline.CheckFormat(*format); err != nil {
		return err
	}
	if *top < 0 || (*asJSON && *top == 0) {
		return errors.New("dosguard replay: --top wants a number of clients >= 1 (and --json needs --top)")
	}
	all, err := cf.load("dosguard replay", stderr)
	if err != nil {
		return err
	}
	if !*noDryRun {
		all["dry_run"] = "on"
	}
	cfg, err := conf.Parse(all)
	if err != nil {
		return err
	}

	in := stdin
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("dosguard replay: %w", err)
		}
		defer f.Close()
		in = f
	}

	level := slog.LevelError
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(guard.NewLogHandler(stderr, "output:dosguard:replay", level))
	deps := guard.Deps{Now: now}
	if *noDryRun || *publish {
		aws, err := guard.AWSDeps(context.Background(), cfg)
		if err != nil {
			return err
		}
		if *noDryRun {
			deps.EC2 = aws.EC2
		}
		if *publish {
			deps.SNS = aws.SNS
		}
	}
	if !*publish {
		cfg.TopicARN = "" // print what would be published instead
	}
	var mu sync.Mutex
	deps.OnDecision = func(d notify.Decision) {
		mu.Lock()
		defer mu.Unlock()
		printDecision(stdout, d, cfg.Subject, !*quiet)
	}
	var tops *topReport
	if *top > 0 {
		if tops, err = newTopReport(cfg); err != nil {
			return err
		}
		deps.OnDecision = tops.decided
	}
	g, err := guard.New(cfg, deps, logger)
	if err != nil {
		return err
	}
	if err := g.Start(context.Background()); err != nil {
		return err
	}

	flush := g.Flush
	if tops != nil {
		flush = func(data []byte, tag string) guard.FlushStats {
			tops.tr.FlushAt(now(), data, tag)
			return g.Flush(data, tag)
		}
	}
	n, bad, err := feed(flush, in, logline.Parser{Format: *format, TimeKey: *timeKey}, *tag)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ExitTimeout)
	defer cancel()
	if cerr := g.Close(ctx); err == nil {
		err = cerr
	}
	st := g.Stats()
	mu.Lock()
	fmt.Fprintf(stderr, "dosguard replay: %d lines, %d unparsed, %d records, %d invalid key, %d no key, %d exempt; %d blocked, %d detected, %d failed%s\n",
		n, bad, st.Records, st.Invalid, st.NoKey, st.Exempt, st.Blocked, st.Detected, st.Failed, dryNote(cfg))
	mu.Unlock()
	if tops != nil && err == nil {
		err = tops.write(stdout, *top, *asJSON)
	}
	return err
}

func dryNote(cfg conf.Config) string {
	if cfg.DryRun {
		return " (dry-run: no Network ACL was changed)"
	}
	return ""
}

// feed reads lines, turns them into records and flushes them in chunks of up
// to 1000 records, as Fluent Bit's tail input would.
func feed(flush func([]byte, string) guard.FlushStats, in io.Reader, p logline.Parser, tag string) (lines, bad int, err error) {
	const perChunk = 1000
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
	c := logline.Chunk{Parser: p}
	for sc.Scan() {
		lines++
		if !c.Add(sc.Bytes()) {
			bad++
			continue
		}
		if c.Records() == perChunk {
			flush(c.Bytes(), tag)
			c.Reset()
		}
	}
	if c.Records() > 0 {
		flush(c.Bytes(), tag)
	}
	if err := sc.Err(); err != nil {
		return lines, bad, fmt.Errorf("dosguard replay: read: %w", err)
	}
	return lines, bad, nil
}

func printDecision(w io.Writer, d notify.Decision, subject string, withMessage bool) {
	dry := ""
	if d.DryRun {
		dry = "  (dry-run)"
	}
	extra := ""
	if len(d.RuleNumbers) > 0 {
		extra += fmt.Sprintf(" rule_numbers=%v", d.RuleNumbers)
	}
	if d.Reason != "" {
		extra += " reason=" + fmt.Sprintf("%q", d.Reason)
	}
	fmt.Fprintf(w, "%s  %-15s %-39s rule=%s requests=%d window=%s%s%s\n",
		d.Time.UTC().Format(time.RFC3339), d.Status, d.Host, d.Rule, d.Requests, d.Window, extra, dry)
	if withMessage {
		msg, _ := json.Marshal(d)
		fmt.Fprintf(w, "    sns subject: %s\n    sns message: %s\n", notify.Subject(subject, d), msg)
	}
}
