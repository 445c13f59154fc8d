#!/usr/bin/env bash
# The queue round trip (`heyan bench --scenario queue`) while the owner already holds LEASED items
# leased for an hour and never answered — a department whose clerks keep a backlog open. Every lease
# also looks for the owner's expired leases; this shows what that look costs on the writer as the
# backlog grows. Prints round trips/s, the writer thread's CPU per round trip and heyan's whole CPU per
# round trip. POSTGRESQL=1 serves a throwaway PostgreSQL server's empty database instead of a new SQLite
# file (throwaway-postgres.py, stopped at the end), HEYAN_DATABASE=postgresql://… one of yours (empty);
# PostgreSQL's own CPU is not counted, and heyan has no writer thread there.
#
#   Tests/Scripts/bench/queue-backlog.sh [LEASED] [SECONDS]        # default 5000 leased, 6 s
#   HEYAN_BIN=/other/build/heyan Tests/Scripts/bench/queue-backlog.sh 5000   # A/B another build
#   POSTGRESQL=1 Tests/Scripts/bench/queue-backlog.sh 2000                      # on PostgreSQL
#
# (var/bench made by BENCH_QUICK=1 make bench.)
set -euo pipefail
cd "$(dirname "$0")/../../.."
LEASED=${1:-5000}
SECONDS_RUN=${2:-6}
PORT=${PORT:-18621}
if [ -n "${POSTGRESQL:-}" ]; then
    PGLOG=$(mktemp)
    python3 Tests/Scripts/bench/throwaway-postgres.py var/bench/pg-backlog > "$PGLOG" 2>&1 &
    PGHELPER=$!
    for _ in $(seq 300); do grep -q '^postgresql://' "$PGLOG" && break; sleep 0.2; done
    HEYAN_DATABASE=$(grep -m1 '^postgresql://' "$PGLOG") || { cat "$PGLOG" >&2; kill $PGHELPER; exit 1; }
    export HEYAN_DATABASE
fi
. Tests/Scripts/bench/fresh-heyan.sh
if [ -n "${PGHELPER:-}" ]; then
    trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$W"; kill $PGHELPER; wait $PGHELPER; rm -f "$PGLOG"' EXIT
fi
python3 - "$PORT" "$LEASED" <<'PY'
import http.client, json, ssl, sys
port, leased = int(sys.argv[1]), int(sys.argv[2])
def connection(department):
    context = ssl.create_default_context(cafile="var/bench/pki/ca.pem")
    context.load_cert_chain(f"var/bench/pki/departments/{department}.pem", f"var/bench/pki/departments/{department}.key")
    context.check_hostname = False
    return http.client.HTTPSConnection("127.0.0.1", port, context=context)
requester, owner = connection("housing-fund"), connection("civil-affairs")
body = {"certificateType": "CIV-MARRIAGE", "matterCode": "HF-WITHDRAW-001", "purpose": "积压测试",
        "subject": {"idType": "resident-id", "id": "11010519491231002X", "name": "张三"}, "claims": {"maritalStatus": "married"}}
for _ in range(leased):
    requester.request("POST", "/v1/verifications", json.dumps(body, ensure_ascii=False).encode(), {"Content-Type": "application/json"})
    response = requester.getresponse(); response.read()
    assert response.status == 202, response.status
taken = 0
while taken < leased:
    owner.request("GET", f"/v1/queue?limit={min(100, leased - taken)}&lease=3600")
    response = owner.getresponse()
    taken += len(json.loads(response.read())["items"])
print(f"backlog: {taken} items leased for an hour")
PY
writer_cpu() {
    local ticks=0
    for t in /proc/$PID/task/*; do if [ "$(cat $t/comm)" = heyan-writer ]; then ticks=$(awk '{print $14+$15}' $t/stat); fi; done
    echo "$ticks $(awk '{print $14+$15}' /proc/$PID/stat)"
}
before=$(writer_cpu)
"$BIN" bench --certs var/bench/pki --url https://127.0.0.1:$PORT --scenario queue --connections 64 \
    --duration "$SECONDS_RUN" --warmup 0 --json > "$W/queue.json"
after=$(writer_cpu)
python3 - "$W/queue.json" "$before" "$after" "$SECONDS_RUN" "$(getconf CLK_TCK)" <<'PY'
import json, sys
result = json.load(open(sys.argv[1]))
trips = result["requests"] / 4
(writer0, all0), (writer1, all1) = (map(int, sys.argv[i].split()) for i in (2, 3))
per_trip = lambda ticks: ticks / int(sys.argv[5]) * 1e6 / trips
writer = f"writer {per_trip(writer1 - writer0):.0f} µs, " if writer1 else ""
print(f"queue: {trips / float(sys.argv[4]):,.0f} round trips/s, {writer}heyan {per_trip(all1 - all0):.0f} µs CPU per round trip")
PY
