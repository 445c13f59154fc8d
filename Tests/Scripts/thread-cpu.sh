#!/usr/bin/env bash
# CPU microseconds per request, per server thread (`heyan-writer`, `heyan-loop-N`, `heyan-ckpt`, …),
# read from /proc/PID/task/*/stat before and after one `heyan bench` run against a fresh heyan.
# The figures behind docs/performance.md "Where the time goes" / "What changed"; unlike
# throughput they hold up on a loaded machine.
#
#   Tests/Scripts/thread-cpu.sh SCENARIO [SECONDS] [CONNECTIONS]     (needs make release, make pki)
#   HEYAN_BIN=/path/to/other/heyan Tests/Scripts/thread-cpu.sh data-sharing 6    # A/B another build
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
SCENARIO=${1:?scenario: healthz, data-sharing, queue, handshake}
SECONDS_=${2:-6}
CONNECTIONS=${3:-64}
HEYAN=${HEYAN_BIN:-$ROOT/.build/release/heyan}
PORT=${PORT:-18443}
WORK=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT

python3 - "$ROOT" "$WORK" "$PORT" <<'PY'
import json, sys
root, work, port = sys.argv[1:4]
c = json.load(open(f"{root}/config/heyan.json"))
c["listen"] = f"127.0.0.1:{port}"
c["database"] = f"{work}/heyan.sqlite"
c["departments"] = f"{root}/config/departments.json"
c["catalog"] = f"{root}/config/catalog.json"
fix = lambda p: f"{root}/config/{p}"
c["tls"] = {k: fix(v) for k, v in c["tls"].items()}
c["signing"] = {k: ([fix(x) for x in v] if isinstance(v, list) else fix(v)) for k, v in c["signing"].items()}
if "audit" in c and "logKey" in c["audit"]: c["audit"]["logKey"] = fix(c["audit"]["logKey"])
json.dump(c, open(f"{work}/heyan.json", "w"))
PY
"$HEYAN" serve --config "$WORK/heyan.json" > "$WORK/heyan.log" 2>&1 &
PID=$!
for _ in $(seq 50); do ss -ltn | grep -q ":$PORT " && break; sleep 0.1; done

snapshot() { for t in /proc/$PID/task/*; do echo "${t##*/} $(cat "$t/comm") $(awk '{print $14+$15}' "$t/stat")"; done; }
snapshot > "$WORK/before"
OUT=$("$HEYAN" bench --certs "$ROOT/certs/dev" --url "https://127.0.0.1:$PORT" --scenario "$SCENARIO" \
  --connections "$CONNECTIONS" --duration "$SECONDS_" --warmup 0 --json)
snapshot > "$WORK/after"
REQUESTS=$(echo "$OUT" | python3 -c "import json,sys; print(json.load(sys.stdin)['requests'])")
TICK=$(getconf CLK_TCK)
echo "scenario=$SCENARIO requests=$REQUESTS (includes the scenario's seeding)"
join "$WORK/before" "$WORK/after" | awk -v r="$REQUESTS" -v hz="$TICK" \
  '{ us = ($5 - $3) * 1e6 / hz / r; if (us > 0.05) printf "%-14s %8.1f us/request\n", $2, us }' | sort -k2 -nr
