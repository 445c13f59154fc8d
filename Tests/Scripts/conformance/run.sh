#!/usr/bin/env bash
# make conformance: Schemathesis against schemas/openapi.yaml and a live heyan over mTLS.
#
# A temporary PKI, configuration and database; `heyan serve` on a free loopback port; a little
# seed data (shared records, a queued verification, an attestation); then one Schemathesis run per
# department certificate, each limited to the operations that department's roles use:
#   public-security (owner + requester): catalog, verifications, queue, records, attestations
#   audit-office    (auditor):           audit, checkpoint, health, metrics
# All checks, CONFORMANCE_EXAMPLES (default 500) generated cases per operation. Exit status is
# Schemathesis's: non-zero on any 5xx, undocumented status, header or body outside the spec.
set -euo pipefail
cd "$(dirname "$0")/../../.."
ROOT=$(pwd)
VENV=${CONFORMANCE_VENV:-$ROOT/var/venv-conformance}
EXAMPLES=${CONFORMANCE_EXAMPLES:-500}
HEYAN=${HEYAN:-$ROOT/.build/release/heyan}
SCHEMATHESIS_VERSION=${SCHEMATHESIS_VERSION:-4.32.5}

if [ ! -x "$VENV/bin/st" ]; then
  echo "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi
"$VENV/bin/st" --version

WORK=$(mktemp -d "${TMPDIR:-/tmp}/heyan-conformance.XXXXXX")
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [ -z "${CONFORMANCE_KEEP:-}" ]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}
trap cleanup EXIT

"$HEYAN" pki init --out "$WORK/pki" --departments config/departments.json >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$WORK/heyan.json" <<JSON
{
  "listen": "127.0.0.1:$PORT",
  "database": "$WORK/heyan.sqlite",
  "departments": "$ROOT/config/departments.json",
  "catalog": "$ROOT/config/catalog.json",
  "tls": {"certificate": "$WORK/pki/server.pem", "privateKey": "$WORK/pki/server.key",
          "clientCA": "$WORK/pki/ca.pem", "crl": "$WORK/pki/crl.pem"},
  "signing": {"certificate": "$WORK/pki/signing.pem", "privateKey": "$WORK/pki/signing.key",
              "chain": ["$WORK/pki/ca.pem"]},
  "workers": 2,
  "limits": {"longPollMaxSeconds": 1},
  "log": {"level": "warning"}
}
JSON
"$HEYAN" serve --config "$WORK/heyan.json" > "$WORK/heyan.log" 2>&1 &
SERVER_PID=$!

URL="https://127.0.0.1:$PORT"
call() {  # call DEPARTMENT METHOD PATH [BODY]
  local dept=$1 method=$2 path=$3 body=${4:-}
  curl -sS --cacert "$WORK/pki/ca.pem" --cert "$WORK/pki/departments/$dept.pem" --key "$WORK/pki/departments/$dept.key" \
    -X "$method" -H 'Content-Type: application/json' ${body:+--data-binary "$body"} -o /dev/null -w '%{http_code}' "$URL$path"
}
for _ in $(seq 1 100); do
  [ "$(call public-security GET /healthz 2>/dev/null || true)" = 200 ] && break
  sleep 0.1
done
[ "$(call public-security GET /healthz)" = 200 ] || { cat "$WORK/heyan.log"; echo "heyan did not start"; exit 1; }

# Seed: records so data sharing has answers, a queued verification, an attestation.
SUBJECT=11010519491231002X
echo "seed: record $(call public-security PUT /v1/records/PSB-NO-CRIMINAL-RECORD/$SUBJECT '{"claims":{"hasCriminalRecord":false}}')" \
  "record $(call public-security PUT /v1/records/PSB-HOUSEHOLD-REGISTRATION/$SUBJECT '{"claims":{"hasLocalRegistration":true,"registeredRegion":"北京市朝阳区"}}')" \
  "queued $(call housing-fund POST /v1/verifications '{"certificateType":"CIV-MARRIAGE","matterCode":"HF-WITHDRAW-001","purpose":"住房公积金提取","subject":{"idType":"resident-id","id":"'$SUBJECT'","name":"张三"},"claims":{"maritalStatus":"married"}}')" \
  "answered $(call hrss POST /v1/verifications '{"certificateType":"PSB-NO-CRIMINAL-RECORD","matterCode":"HR-RECRUIT-001","purpose":"招聘","subject":{"idType":"resident-id","id":"'$SUBJECT'","name":"张三"},"claims":{"hasCriminalRecord":false}}')"

run() {  # run DEPARTMENT LABEL [filters...]
  local dept=$1 label=$2; shift 2
  echo "== schemathesis as $dept ($label)"
  "$VENV/bin/st" --config-file "$ROOT/Tests/Scripts/conformance/schemathesis.toml" run "$ROOT/schemas/openapi.yaml" --url "$URL" \
    --request-cert "$WORK/pki/departments/$dept.pem" --request-cert-key "$WORK/pki/departments/$dept.key" \
    --tls-verify "$WORK/pki/ca.pem" --checks all --max-examples "$EXAMPLES" --seed "${CONFORMANCE_SEED:-20260523}" \
    --workers 2 --request-timeout 10 --no-color \
    --report junit --report-dir "$ROOT/var/conformance/$dept" "$@"
}
status=0
# Examples, coverage and fuzzing: CONFORMANCE_EXAMPLES cases per operation.
run public-security "owner and requester" --phases examples,coverage,fuzzing --exclude-path-regex '^/v1/audit' || status=1
run audit-office "auditor" --phases examples,coverage,fuzzing --include-path-regex '^/(v1/audit|healthz|metrics)' || status=1
# Stateful sequences (links: submit -> read, records -> verify) within a time budget: each long
# poll in them costs a second, so an unbounded stateful phase takes over ten minutes.
run public-security "stateful" --phases stateful --max-time "${CONFORMANCE_STATEFUL_SECONDS:-180}" --exclude-path-regex '^/v1/audit' || status=1
if ! kill -0 "$SERVER_PID" 2>/dev/null; then echo "heyan died"; cat "$WORK/heyan.log"; status=1; fi
exit $status
