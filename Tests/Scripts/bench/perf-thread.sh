#!/usr/bin/env bash
# Where one group of heyan's threads spends its real time: `perf record --call-graph dwarf` attached for
# 3 s to the threads whose name starts with THREAD (heyan-writer, heyan-loop, heyan-ckpt) of a fresh heyan
# under SCENARIO load (data-sharing or queue, 64 connections), then each SYMBOL's inclusive share of those
# threads' samples (a sample counts when the symbol is anywhere on its stack) and the twenty largest
# inclusive shares. What docs/storage.md ("Page cache") and docs/performance.md ("Issue 16, seventh
# session") quote from perf comes from it; callgrind (profile.py) counts instructions, this sees cache misses
# and the kernel.
#
#   Tests/Scripts/bench/perf-thread.sh heyan-writer data-sharing sqlite3PagerCommitPhaseTwo
#   HEYAN_BIN=/other/build/heyan Tests/Scripts/bench/perf-thread.sh heyan-writer      # A/B another build
#   Tests/Scripts/bench/perf-thread.sh heyan-loop data-sharing lookUpRecord __libc_pread64 sqlite3BtreeBeginTrans
#   PERF_DATA=/tmp/loops.data Tests/Scripts/bench/perf-thread.sh heyan-loop   # keep the samples for perf report
#
# (var/bench made by BENCH_QUICK=1 make bench; needs perf: apt-get install linux-perf.)
set -euo pipefail
cd "$(dirname "$0")/../../.."
command -v perf > /dev/null || { echo "perf is not installed (apt-get install linux-perf)" >&2; exit 1; }
THREAD=${1:?usage: perf-thread.sh THREAD [SCENARIO] [SYMBOL...]}
SCENARIO=${2:-data-sharing}
shift $(( $# >= 2 ? 2 : 1 ))
PORT=${PORT:-18559}
. Tests/Scripts/bench/fresh-heyan.sh
run --duration 1  # seeds the subjects' records
"$BIN" bench --certs var/bench/pki --url https://127.0.0.1:$PORT --scenario "$SCENARIO" --connections 64 \
    --duration 7 --warmup 0 --no-seed --json > /dev/null &
LOAD=$!
sleep 2
TIDS=$(for t in /proc/$PID/task/*; do case "$(cat "$t/comm")" in "$THREAD"*) basename "$t";; esac; done | paste -sd,)
[ -n "$TIDS" ] || { echo "no thread of $PID is named $THREAD*" >&2; exit 1; }
perf record -q -F 1000 --call-graph dwarf,16384 -t "$TIDS" -o "${PERF_DATA:-$W/perf.data}" -- sleep 3 2> /dev/null
wait $LOAD
perf script -i "${PERF_DATA:-$W/perf.data}" -F ip,sym 2> /dev/null | python3 -c '
import collections, re, sys
symbols = sys.argv[1:]
def name(line):
    parts = line.strip().split(" ", 1)
    return re.sub(r"\$s\d*", "", (parts[1] if len(parts) > 1 else parts[0]).split(" (")[0])
stacks = [[name(l) for l in block.strip().split("\n") if l.strip()] for block in sys.stdin.read().split("\n\n")]
stacks = [s for s in stacks if s]
total = len(stacks)
print(f"{total} samples of the threads named '"$THREAD"'* ('"$SCENARIO"', 64 connections)")
for symbol in symbols:
    n = sum(any(symbol in frame for frame in s) for s in stacks)
    print(f"  {symbol}: {n} samples, {100 * n / max(total, 1):.1f} %")
inclusive = collections.Counter(f for s in stacks for f in set(s))
print("largest inclusive shares:")
for frame, n in inclusive.most_common(40)[:20]:
    print(f"  {100 * n / total:5.1f} %  {frame[:110]}")
' "$@"
