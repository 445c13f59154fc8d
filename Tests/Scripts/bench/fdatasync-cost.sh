#!/usr/bin/env bash
# Compiles fdatasync-cost.c and runs it on a file under var/ (the disk heyan's database is on): one
# page, 34 pages (a data-sharing batch of ~14 verifications) and 68 pages per commit back to back, then
# 34 pages with 1 ms between commits; then counts, on a fresh heyan's writer thread under data-sharing
# load for 3 s, its fdatasync calls, the ext4 inode-dirty marks and the block requests they issue (perf
# tracepoints). docs/performance.md, "Issue 16, ninth session".
#
#   Tests/Scripts/bench/fdatasync-cost.sh [COUNT]      (needs cc or clang, and perf for the second part;
#                                                       var/bench made by BENCH_QUICK=1 make bench)
set -euo pipefail
cd "$(dirname "$0")/../../.."
COUNT=${1:-2000}
CC=${CC:-$(command -v cc || command -v clang)}
mkdir -p var/bench
"$CC" -O2 -Wall -Wextra -o var/bench/fdatasync-cost Tests/Scripts/bench/fdatasync-cost.c
for case in "1 $COUNT" "34 $COUNT" "68 $COUNT" "34 $COUNT 1000"; do
  # shellcheck disable=SC2086
  var/bench/fdatasync-cost var/bench/fdatasync-cost.data $case
done
command -v perf > /dev/null || { echo "perf is not installed (apt-get install linux-perf): no counts" >&2; exit 0; }
PORT=${PORT:-18562}
. Tests/Scripts/bench/fresh-heyan.sh
run --duration 1  # seeds the subjects' records
"$BIN" bench --certs var/bench/pki --url https://127.0.0.1:$PORT --scenario data-sharing --connections 64 \
    --duration 7 --warmup 0 --no-seed --json > /dev/null &
LOAD=$!
sleep 2
WRITER=$(for t in /proc/$PID/task/*; do [ "$(cat "$t/comm")" = heyan-writer ] && basename "$t"; done)
perf stat -x, -e syscalls:sys_enter_fdatasync,ext4:ext4_mark_inode_dirty,block:block_rq_issue,syscalls:sys_enter_pwrite64 \
    -t "$WRITER" -- sleep 3 2>&1 | awk -F, '{printf "writer thread, 3 s: %8d %s\n", $1, $3}'
wait $LOAD
