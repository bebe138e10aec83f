#!/usr/bin/env bash
# bench/flb.sh: what dosguard costs inside a real Fluent Bit.
#
# Usage: bench/flb.sh [clients...]        (default: 1000 20000)
#        FLUENT_BIT=/path/to/fluent-bit bench/flb.sh 20000
#        bench/flb.sh --check                 (only: is there a Fluent Bit?)
#
# For each number of distinct clients it writes an Apache combined log of
# LINES lines (default 1,000,000) and runs the same pipeline, tail + the
# apache2 parser of docker/parsers.conf, into `out null` and into dosguard
# (dry run, one sliding rule whose Threshold is never reached), alternately,
# ROUNDS times each (default 5). Each run reads the file from its head and
# exits at its end (Exit_On_Eof). It measures the user+sys CPU time of the
# whole Fluent Bit process and prints, per round, both times and their
# ratio, then the medians and the median of the per-round ratios. CPU time,
# not wall time, and medians, because other work on the machine moves single
# runs by several per cent.
#
# Every run is pinned to one CPU (CPU, default the machine's last; CPU=none
# does not pin) when taskset is there. Unpinned, the same run cost 5.8 or
# 8.7 s of CPU for out null by the run, on a 2-CPU virtual machine, which
# a few rounds cannot average out; pinned, it mostly moves by a few per
# cent. Pinning leaves the work the same: it is still the CPU time of the
# whole process, dosguard's Go runtime included.
#
# Both runs use the same fixed glibc malloc thresholds (MALLOC=fixed, the
# default: GLIBC_TUNABLES with mmap_threshold 4 MiB and trim_threshold
# 128 MiB, unless GLIBC_TUNABLES is already set; MALLOC=default leaves
# glibc as it is). Left to itself, glibc moves those thresholds as Fluent
# Bit frees its 2 MB chunks, and by the run ends up either reusing chunk
# memory or mapping it afresh: out null itself took about 20,000 or about
# 55,000 page faults by the run, and the second kind cost 0.5 to 1.5 s
# more CPU, in either pipeline. Fixed, every run took 11,000 to 13,500. A
# Fluent Bit not linked with glibc ignores the variable.
#
# Measure against a release build of Fluent Bit (cmake -DFLB_RELEASE=On,
# as the official packages and images are built). cmake's default is a debug
# build without optimisation: its own work, the ratio's denominator, costs
# about twice as much, and every plugin's ratio looks smaller than it is.
# When the binary carries debug information, the script reads the compiler
# flags it was built with and warns about such a build. It also prints
# dosguard's extra CPU per line, in ns, which does not depend on how fast
# the Fluent Bit around it is.
#
# The last column, flush, is the CPU time of dosguard's own flushes per
# record, in ns, from the line the plugin logs at exit (the thread's CPU
# clock read around each flush). It is the steadier figure on a busy
# machine, where other work moves the process's CPU time by more than
# dosguard's whole share; but it leaves out what dosguard costs the rest of
# the process (loading, the Go runtime, what its memory does to Fluent Bit's
# caches), which the ratio includes.
#
# It needs a Fluent Bit (FLUENT_BIT, or fluent-bit on PATH) and the plugin
# (PLUGIN, default ./out_dosguard.so; `make bench-flb` builds it first).
# Without a Fluent Bit it says so and does nothing else.
set -euo pipefail

FLB=${FLUENT_BIT:-$(command -v fluent-bit || true)}
if [ -z "$FLB" ] || [ ! -x "$FLB" ]; then
	echo "bench-flb needs a Fluent Bit: put fluent-bit on PATH or set FLUENT_BIT=/path/to/fluent-bit" >&2
	exit 2
fi
[ "${1:-}" != --check ] || exit 0 # only whether there is a Fluent Bit

root=$(cd "$(dirname "$0")/.." && pwd)
PLUGIN=${PLUGIN:-$root/out_dosguard.so}
LINES=${LINES:-1000000}
ROUNDS=${ROUNDS:-5}
CPU=${CPU:-$(($(nproc 2>/dev/null || echo 1) - 1))}
pin=()
if [ "$CPU" != none ] && command -v taskset >/dev/null; then
	pin=(taskset -c "$CPU")
else
	CPU=none
fi
MALLOC=${MALLOC:-fixed}
case $MALLOC in
fixed) export GLIBC_TUNABLES=${GLIBC_TUNABLES:-glibc.malloc.mmap_threshold=4194304:glibc.malloc.trim_threshold=134217728} ;;
default) ;;
*)
	echo "bench-flb: MALLOC=$MALLOC: must be fixed or default" >&2
	exit 2
	;;
esac
if [ ! -f "$PLUGIN" ]; then
	echo "bench-flb: no plugin at $PLUGIN: run make first" >&2
	exit 2
fi
[ $# -gt 0 ] || set -- 1000 20000

# The log goes to memory (/dev/shm, when it has room for it) unless TMPDIR
# says where: where the page cache does not keep a 200 MB file, every run
# reads it from disk again, at a CPU cost of its own that varies by run.
tmp=${TMPDIR:-/tmp}
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ] &&
	[ "$(df -Pk /dev/shm | awk 'NR == 2 { print $4 }')" -gt $((LINES / 2)) ]; then
	tmp=/dev/shm # the log is about 180 bytes a line
fi
work=$(mktemp -d "$tmp/dosguard-bench-flb.XXXXXX")
trap 'rm -rf "$work"' EXIT

# genlog N FILE writes LINES combined-format lines from N distinct clients
# in 198.18.0.0/15 (RFC 2544's benchmarking range: public, so never exempt),
# chosen by a fixed pseudo-random sequence, one hour of timestamps.
genlog() {
	awk -v n="$1" -v lines="$LINES" 'BEGIN {
		split("/ /index.html /api/v1/items /api/v1/users/42 /static/app.css /static/app.js /login /search?q=shoes", paths, " ")
		split("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36|Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148|curl/8.5.0", agents, "|")
		x = 42
		for (i = 0; i < lines; i++) {
			x = (x * 16807) % 2147483647
			c = x % n
			s = int(i * 3600 / lines)
			printf "198.%d.%d.%d - - [21/Nov/2026:%02d:%02d:%02d +0000] \"GET %s HTTP/1.1\" %d %d \"https://www.example.com/\" \"%s\"\n",
				18 + int(c / 65536), int(c / 256) % 256, c % 256,
				10 + int(s / 3600), int(s / 60) % 60, s % 60,
				paths[1 + x % 8], (x % 10 == 0) ? 404 : 200, 200 + x % 5000, agents[1 + x % 3]
		}
	}'
}

# conf OUT FILE writes the classic config of one run into OUT.
conf() {
	local out=$1 log=$2 sink=$3
	cat >"$out" <<EOF
[SERVICE]
    Flush        1
    Grace        30
    Log_Level    warn
    Parsers_File $root/docker/parsers.conf

[INPUT]
    Name           tail
    Path           $log
    Tag            apache.access
    Parser         apache2
    Read_from_Head On
    Exit_On_Eof    On
EOF
	if [ "$sink" = null ]; then
		printf '\n[OUTPUT]\n    Name  null\n    Match *\n' >>"$out"
	else
		printf '\n[OUTPUT]\n    Name      dosguard\n    Match     *\n    Key       host\n    Window    60s\n    Threshold 1000000000\n    Dry_Run   On\n    Log_Level info\n' >>"$out"
	fi
}

# cpu CONF [-e PLUGIN] prints the user+sys seconds of one Fluent Bit run
# (bash's time keyword: the child's rusage).
cpu() {
	local conf=$1 TIMEFORMAT='%U %S'
	shift
	if ! { time "${pin[@]}" "$FLB" "$@" -c "$conf" >/dev/null 2>"$work/stderr"; } 2>"$work/time"; then
		echo "bench-flb: $FLB failed:" >&2
		tail -20 "$work/stderr" >&2
		exit 1
	fi
	if [ $# -gt 0 ] && ! grep -q "records=$LINES " "$work/stderr"; then
		echo "bench-flb: dosguard did not report records=$LINES at exit:" >&2
		tail -5 "$work/stderr" >&2
		exit 1
	fi
	awk '{ printf "%.3f", $1 + $2 }' "$work/time"
}

# steady FILE warns when out null's CPU times, one a round, lie more than
# 10 % apart. On a shared virtual machine the speed of the CPU can change
# for minutes at a time: out null took 3.5 s in some rounds and 5.1 s in
# others of one measure, and dosguard's extra cost per line grew more than
# Fluent Bit's own in the slow ones. The median of such rounds mixes two
# machines.
steady() {
	awk 'NR == 1 || $1 < lo { lo = $1 } NR == 1 || $1 > hi { hi = $1 }
		END { if (hi > 1.1 * lo) printf "bench-flb: warning: out null took %.3f to %.3f s by the round (+%.0f %%): the machine'"'"'s speed changed during the measure; rerun with more ROUNDS, or when the machine is quiet\n", lo, hi, (hi / lo - 1) * 100 }' "$1" >&2
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# build names how Fluent Bit was compiled, from the flags its compiler
# recorded in the debug information of the first compilation unit.
build=unknown
if command -v readelf >/dev/null; then
	producer=$(readelf --debug-dump=info "$FLB" 2>/dev/null | grep -m1 DW_AT_producer || true)
	case $producer in
	'') ;; # no debug information: unknown
	*' -O0'*) build='not optimised' ;;
	*' -O'*) build=optimised ;;
	*) build='not optimised' ;; # no -O at all: the compiler's default, -O0
	esac
fi
echo "Fluent Bit: $FLB ($("$FLB" --version | head -1), build: $build); plugin: $PLUGIN"
if [ "$build" = 'not optimised' ]; then
	echo "bench-flb: warning: this Fluent Bit was built without optimisation (cmake's default, FLB_DEBUG):" >&2
	echo "bench-flb: its own work costs about twice a release build's, so the ratios will look smaller; build with -DFLB_RELEASE=On" >&2
fi
echo "lines: $LINES; rounds: $ROUNDS; pinned to CPU: $CPU; log in: $tmp; malloc: $MALLOC${GLIBC_TUNABLES:+ (GLIBC_TUNABLES=$GLIBC_TUNABLES)}"
echo "CPU = user+sys of the whole process, in seconds"
for n in "$@"; do
	log=$work/access-$n.log
	genlog "$n" >"$log"
	conf "$work/null.conf" "$log" null
	conf "$work/dosguard.conf" "$log" dosguard
	echo
	echo "clients: $n"
	printf '%-6s %10s %10s %8s %9s %9s\n' round null dosguard ratio ns/line flush
	: >"$work/nulls" && : >"$work/dgs" && : >"$work/ratios" && : >"$work/extras" && : >"$work/flushes"
	for r in $(seq 1 "$ROUNDS"); do
		a=$(cpu "$work/null.conf")
		b=$(cpu "$work/dosguard.conf" -e "$PLUGIN")
		flush=$(sed -n 's/.*\] flush cpu .* ns_per_record=\([0-9]*\).*/\1/p' "$work/stderr" | head -1)
		[ -z "$flush" ] || echo "$flush" >>"$work/flushes"
		ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b / a }')
		extra=$(awk -v a="$a" -v b="$b" -v n="$LINES" 'BEGIN { printf "%.0f", (b - a) / n * 1e9 }')
		echo "$a" >>"$work/nulls"
		echo "$b" >>"$work/dgs"
		echo "$ratio" >>"$work/ratios"
		echo "$extra" >>"$work/extras"
		printf '%-6s %10s %10s %8s %9s %9s\n' "$r" "$a" "$b" "$ratio" "$extra" "${flush:--}"
	done
	flush=-
	[ ! -s "$work/flushes" ] || flush=$(median <"$work/flushes")
	printf '%-6s %10s %10s %8s %9s %9s\n' median "$(median <"$work/nulls")" "$(median <"$work/dgs")" "$(median <"$work/ratios")" "$(median <"$work/extras")" "$flush"
	steady "$work/nulls"
	rm -f "$log"
done
