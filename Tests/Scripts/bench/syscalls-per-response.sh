#!/usr/bin/env bash
# System calls of a fresh heyan under data-sharing load: `strace -f -c` attached for 3 s in the middle of a
# 6 s `heyan bench` run (docs/performance.md, "Issue 16, fifth session"). Divide each count by the
# responses: socket writes, or `getpid` (one per signature). strace slows the server; the counts per
# response hold, the rates do not.
#
#   Tests/Scripts/bench/syscalls-per-response.sh        (var/bench made by BENCH_QUICK=1 make bench; needs strace)
#   HEYAN_BIN=/other/build/heyan Tests/Scripts/bench/syscalls-per-response.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
command -v strace > /dev/null || { echo "strace is not installed (apt-get install strace)" >&2; exit 1; }
PORT=${PORT:-18558}
. Tests/Scripts/bench/fresh-heyan.sh
run --duration 1  # seeds the subjects' records
run --duration 6 --no-seed &
LOAD=$!
sleep 1
timeout -s INT 3 strace -f -c -p $PID -o "$W/strace.txt" || true
wait $LOAD
head -25 "$W/strace.txt"
