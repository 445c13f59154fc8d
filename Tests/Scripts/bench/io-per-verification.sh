#!/usr/bin/env bash
# Bytes and system calls per data-sharing verification, per server thread, from /proc/PID/task/*/io
# and stat over one `heyan bench` run against a fresh heyan: the WAL bytes the writer writes, what the
# checkpointer reads and copies, the loops' reads (docs/storage.md, migrations 15 and 16).
#
#   Tests/Scripts/bench/io-per-verification.sh [SECONDS]           (var/bench made by BENCH_QUICK=1 make bench)
#   HEYAN_BIN=/other/build/heyan Tests/Scripts/bench/io-per-verification.sh    # A/B another build
set -euo pipefail
cd "$(dirname "$0")/../../.."
SECONDS_=${1:-5}
PORT=${PORT:-18555}
. Tests/Scripts/bench/fresh-heyan.sh
count() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from verifications').fetchone()[0])" "$W/h.sqlite"; }
snapshot() {  # thread rchar wchar syscr syscw cpu-ticks
  for t in /proc/$PID/task/*; do
    echo "$(cat "$t/comm") $(awk '/^rchar|^wchar|^syscr|^syscw/{printf "%s ", $2}' "$t/io") $(awk '{print $14+$15}' "$t/stat")"
  done | sort
}
run --duration 1                      # seeds the subjects' records
C0=$(count); snapshot > "$W/before"
run --duration "$SECONDS_" --no-seed
snapshot > "$W/after"; C1=$(count)
N=$((C1 - C0)); HZ=$(getconf CLK_TCK)
echo "verifications $N (per verification below)"
paste "$W/before" "$W/after" | awk -v n=$N -v hz=$HZ '$1 != "heyan" {
  printf "%-13s read %7.0f B  written %7.0f B  reads %5.2f  writes %5.2f  cpu %6.1f µs\n",
    $1, ($8-$2)/n, ($9-$3)/n, ($10-$4)/n, ($11-$5)/n, ($12-$6)*1e6/hz/n }'
