#!/usr/bin/env bash
# Where the two cores go in a closed-loop run (issue 16, eleventh session): against one fresh heyan, `heyan bench`
# SCENARIO (default data-sharing; healthz for the floor of any request) for SECONDS_EACH at each connection count in
# turn (default 64 128 64 128), and for each run the rate, the server's CPU per request (/proc/PID/stat), the load
# generator's (its own rusage), and the
# share of the machine's CPU time that was idle or waiting for I/O (/proc/stat) while it ran. With
# SERVE_PREFIX=eatmydata heyan runs with fdatasync made a no-op (apt-get install eatmydata): an upper bound for
# what overlapping the writer's flush with its next batch could give, not a configuration heyan supports.
#
#   Tests/Scripts/bench/closed-loop-idle.sh                 # 64 128 64 128 connections, 6 s each
#   SECONDS_EACH=8 Tests/Scripts/bench/closed-loop-idle.sh 64 64 64
#   SERVE_PREFIX=eatmydata Tests/Scripts/bench/closed-loop-idle.sh 64 64
#   SCENARIO=healthz Tests/Scripts/bench/closed-loop-idle.sh 64 64
#
# (var/bench made by BENCH_QUICK=1 make bench.)
set -euo pipefail
cd "$(dirname "$0")/../../.."
PORT=${PORT:-18571}
if [ $# -gt 0 ]; then COUNTS=("$@"); else COUNTS=(64 128 64 128); fi
. Tests/Scripts/bench/fresh-heyan.sh
run --duration 1  # seeds the subjects' records
cpu() { awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8, $5, $6}' /proc/stat; }  # total, idle, iowait (ticks)
ticks() { awk '{print $14+$15}' "/proc/$PID/stat"; }
for connections in "${COUNTS[@]}"; do
    read -r t0 i0 w0 < <(cpu); s0=$(ticks)
    out=$( { /usr/bin/time -f "client %U %S" "$BIN" bench --certs var/bench/pki --url https://127.0.0.1:$PORT \
        --scenario "${SCENARIO:-data-sharing}" --connections "$connections" --duration "${SECONDS_EACH:-6}" --warmup 0 --no-seed; } 2>&1)
    read -r t1 i1 w1 < <(cpu); s1=$(ticks)
    requests=$(awk '/^requests/{print $2}' <<< "$out")
    rate=$(awk '/^requests/{gsub(/[()]/, "", $3); print $3}' <<< "$out")
    client=$(awk '/^client/{print $2 + $3}' <<< "$out")
    awk -v c="$connections" -v n="$requests" -v r="$rate" -v s=$((s1 - s0)) -v cl="$client" \
        -v t=$((t1 - t0)) -v i=$((i1 - i0)) -v w=$((w1 - w0)) -v p="${SERVE_PREFIX:-}" -v sc="${SCENARIO:-data-sharing}" 'BEGIN {
        hz = 100
        printf "%s%s, %3d connections: %7.0f requests/s, server %5.1f µs and client %4.1f µs of CPU per request; machine idle %4.1f %%, waiting for I/O %4.1f %%\n",
            (p == "" ? "" : p ": "), sc, c, r, s / hz / n * 1e6, cl / n * 1e6, 100 * i / t, 100 * w / t }'
done
