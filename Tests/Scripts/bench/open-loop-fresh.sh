#!/usr/bin/env bash
# The data-sharing open loop of `make bench` ("p99 at half peak") against a fresh heyan started by
# fresh-heyan.sh: RUNS runs of 10 s after 2 s warm-up at RATE per second, 64 connections, each with its
# seeding as `make bench` runs it; with --after-bench-sequence, first the main phase's other runs in its
# order (twice: healthz, handshake, data sharing, queue; 10 s each after 2 s warm-up). Prints each run's
# rate, p50, p99 and the requests the load generator sent late (docs/performance.md, "Next levers", 5:
# `make bench`'s own open-loop runs measure about twice these).
#
#   Tests/Scripts/bench/open-loop-fresh.sh 5833 [RUNS] [--after-bench-sequence]
#   HEYAN_LOG_LEVEL=info Tests/Scripts/bench/open-loop-fresh.sh 5833     # a line per request, as make bench runs heyan
#   WRITER_NICE=-10 Tests/Scripts/bench/open-loop-fresh.sh 6300 2        # the writer thread reniced after start
#   CKPT_NICE=10 Tests/Scripts/bench/open-loop-fresh.sh 5621 1             # the checkpointer thread reniced after start
#   SLICE_US=300 Tests/Scripts/bench/open-loop-fresh.sh 5871 1            # loops and writer ask for 0.3 ms slices
#                                                                          (thread-slice.py; SLICE_THREADS=… others)
#
# (var/bench made by BENCH_QUICK=1 make bench.)
set -euo pipefail
cd "$(dirname "$0")/../../.."
RATE=${1:?usage: open-loop-fresh.sh RATE [RUNS] [--after-bench-sequence]}
RUNS=${2:-2}
SEQUENCE=${3:-}
PORT=${PORT:-18560}
. Tests/Scripts/bench/fresh-heyan.sh
renice_thread() {  # NAME NICE: renices the server's thread named NAME
  for t in /proc/$PID/task/*; do
    if [ "$(cat "$t/comm")" = "$1" ]; then renice -n "$2" -p "$(basename "$t")" > /dev/null; fi
  done
}
[ -z "${WRITER_NICE:-}" ] || renice_thread heyan-writer "$WRITER_NICE"
[ -z "${CKPT_NICE:-}" ] || renice_thread heyan-ckpt "$CKPT_NICE"
if [ -n "${SLICE_US:-}" ]; then
  python3 Tests/Scripts/bench/thread-slice.py "$PID" "${SLICE_THREADS:-heyan-loop,heyan-writer}" "$SLICE_US"
fi
load() { "$BIN" bench --certs var/bench/pki --url https://127.0.0.1:$PORT --connections 64 --json "$@"; }
load --scenario data-sharing --connections 2 --duration 0.5 --warmup 0 > /dev/null  # seeds, as make bench does
if [ "$SEQUENCE" = --after-bench-sequence ]; then
  for _ in 1 2; do
    for scenario in healthz handshake data-sharing queue; do
      load --scenario $scenario --duration 10 --warmup 2 $([ $scenario = data-sharing ] && echo --no-seed) > /dev/null
    done
  done
fi
for run in $(seq "$RUNS"); do
  load --scenario data-sharing --duration 10 --warmup 2 --rate "$RATE" | RUN=$run python3 -c '
import json, os, sys
d = json.load(sys.stdin)
l = d["latencyMs"]
print("run %s: %.0f/s  p50 %.2f ms  p99 %.2f ms  late %d" % (
    os.environ["RUN"], d["requestsPerSecond"], l["p50"], l["p99"], d.get("late", 0)))'
done
