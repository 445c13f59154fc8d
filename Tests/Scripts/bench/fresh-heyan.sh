# Sourced by the bench's shell measurements (io-per-verification.sh, syscalls-per-response.sh): starts
# HEYAN_BIN (default .build/release/heyan) on var/bench's configuration with a fresh database in a
# temporary folder $W (or on the database HEYAN_DATABASE names, a postgresql:// address), listening on
# 127.0.0.1:$PORT (log level $HEYAN_LOG_LEVEL, default warning: no line per request), stopped and removed
# on exit (SERVE_PREFIX, e.g. `eatmydata`, runs before it); its PID in $PID, and
# run ARGS… runs `heyan bench` data sharing with 64 connections against it.
BIN=${HEYAN_BIN:-.build/release/heyan}
W=$(mktemp -d -p var/bench/db)
${SERVE_PREFIX:-} "$BIN" serve --config var/bench/config/heyan.json --listen 127.0.0.1:$PORT --database "${HEYAN_DATABASE:-$W/h.sqlite}" --log-level ${HEYAN_LOG_LEVEL:-warning} > "$W/log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; rm -rf "$W"' EXIT
for _ in $(seq 100); do ss -ltn | grep -q ":$PORT " && break; sleep 0.1; done
run() { "$BIN" bench --certs var/bench/pki --url https://127.0.0.1:$PORT --scenario data-sharing --connections 64 --warmup 0 --json "$@" > /dev/null; }
