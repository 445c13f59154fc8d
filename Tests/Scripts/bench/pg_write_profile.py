#!/usr/bin/env python3
"""Instructions the PostgreSQL server spends on a data-sharing verification's writes, by schema version.

`make bench`'s statement times (BENCH_PG_STATEMENTS=1) are wall-clock and move by tens of percent on a loaded
machine; instruction counts do not. For each heyan binary given, this makes a database on a throwaway
PostgreSQL (cluster.py's `Postgres`, its settings) and lets that binary migrate it (`heyan stats --database`
opens the store, which migrates), then runs a `postgres --single` backend on that database under
`valgrind --tool=callgrind` with the statements the group-commit writer sends per data-sharing verification:
INSERT INTO verifications, attestations (a JWS shaped as a real one, ~2.7 KB), jws_headers … ON CONFLICT DO NOTHING and
audit_queue … RETURNING id, each verification in its own SAVEPOINT, 14 to a transaction, prepared once. From schema 8
on (attestations.header_id) the attestation is stored as the writer stores it under a header known committed: the
header's id and only the payload and signature segments, after the jws_headers statement.
Instructions per verification = (run of 12 transactions − run of 2) / 140, so start-up cancels out. Also prints
the WAL bytes per verification: the same statements through psql on the running server (2 transactions to warm
up, then 10 measured by pg_current_wal_insert_lsn), each schema on a fresh copy of its database. The totals
include single-user mode's parsing of each statement's text (the same for every schema); `executor` is
`standard_ExecutorRun`, the part the schema changes. docs/postgresql.md, "Database CPU per write".

    python3 Tests/Scripts/bench/pg_write_profile.py OLD_HEYAN_BIN [NEW_HEYAN_BIN ...]

Needs root (PostgreSQL runs as the postgres user through runuser), valgrind and Debian's PostgreSQL.
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cluster"))
import cluster  # noqa: E402

JOBS_PER_TRANSACTION = 14
FUNCTIONS = ["standard_ExecutorRun", "pglz_compress", "ExecConstraints", "heap_toast_insert_or_update",
             "ExecInsertIndexTuples", "AfterTriggerEndQuery"]



def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def attestation_jws() -> tuple[str, str]:
    """A JWS shaped as heyan's attestations are (~2.7 KB): a protected header carrying a two-certificate
    x5c chain (standard base64 inside base64url, ~1.9 KB), a JSON payload and an ES256 signature. Certificates
    and signature are pseudo-random bytes, fixed by seed; compressibility is what matters here."""
    rng = random.Random(13)
    chain = [base64.b64encode(rng.randbytes(n)).decode() for n in (510, 470)]
    header = json.dumps({"alg": "ES256", "typ": "heyan-attestation+jwt", "kid": b64url(rng.randbytes(32)),
                         "x5c": chain}, separators=(",", ":"))
    payload = json.dumps({"iss": "public-security", "sub": "110105195001010004", "aud": "hrss",
                          "certificateType": "PSB-NO-CRIMINAL-RECORD", "outcome": "confirmed",
                          "claims": {"hasCriminalRecord": False}, "purpose": "事业单位招聘：核验无犯罪记录",
                          "matterCode": "HR-RECRUIT-001", "verificationId": "ver_01M950QP8D8RFK1YTF4Z9W924Z",
                          "jti": "att_01M950QP8DPKANGBH01W3SW28N", "iat": 1796538620, "exp": 1804314620,
                          "catalogVersion": 1, "logIndex": 4002, "subjectName": "张三", "subjectIdType": "resident-id", "disclosed": {}, "method": "data-sharing", "requesterName": "人力资源和社会保障局"}, ensure_ascii=False, separators=(",", ":"))
    protected = b64url(header.encode())
    return protected, f"{protected}.{b64url(payload.encode())}.{b64url(rng.randbytes(64))}"


HEADER, JWS = attestation_jws()
VERIFICATION_COLUMNS = ("id, certificate_type, method, requester, owner, matter_code, purpose, subject_id_type, subject_id, "
                        "subject_name, claims, status, outcome, disclosed, note, created_at, due_at, answered_at, "
                        "attestation_id, catalog_version")
ATTESTATION_COLUMNS = ("id, verification_id, issuer, requester, certificate_type, subject_id, outcome, jws, issued_at, "
                       "expires_at, revoked_at, revocation_reason, revoked_by")
REST = JWS[len(HEADER) + 1:]
PREPARE = [
    "PREPARE iv(text,text,text,text,text,text,text,text,text,text,text,text,text,text,text,bigint,bigint,bigint,text,integer) "
    f"AS INSERT INTO verifications ({VERIFICATION_COLUMNS}) VALUES "
    "($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20)",
    "PREPARE ia(text,text,text,text,text,text,text,text,bigint,bigint,bigint,text,text) "
    f"AS INSERT INTO attestations ({ATTESTATION_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)",
    "PREPARE ia8(text,text,text,text,text,text,text,text,bigint,bigint,bigint,text,text,bigint) "
    f"AS INSERT INTO attestations ({ATTESTATION_COLUMNS}, header_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)",
    "PREPARE ih(text) AS INSERT INTO jws_headers (header) VALUES ($1) ON CONFLICT (header) DO NOTHING",
    "PREPARE iq(bigint,text,text,text,text,text,text,text,text,text,text,bytea,text) AS INSERT INTO audit_queue (time, "
    "action, actor, requester, owner, certificate_type, subject_id, verification_id, attestation_id, queue_item_id, "
    "detail, salt, clerk) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13) RETURNING id",
]
DETAIL = '{"matterCode":"HR-RECRUIT-001","method":"data-sharing","outcome":"confirmed","routedTo":"data-sharing"}'


def verification_writes(n: int, by_reference: bool) -> list[str]:
    v, a, t, subject = f"ver_01M950QP8D{n:016d}", f"att_01M950QP8D{n:016d}", 1796538620173 + n, f"1101051950{n:08d}"
    header = f"EXECUTE ih('{HEADER}')"
    if by_reference:
        attestation = [header, f"EXECUTE ia8('{a}','{v}','public-security','hrss','PSB-NO-CRIMINAL-RECORD','{subject}',"
                               f"'confirmed','{REST}',{t},{t + 7776000000},NULL,NULL,NULL,1)"]
    else:
        attestation = [f"EXECUTE ia('{a}','{v}','public-security','hrss','PSB-NO-CRIMINAL-RECORD','{subject}','confirmed',"
                       f"'{JWS}',{t},{t + 7776000000},NULL,NULL,NULL)", header]
    return [
        "SAVEPOINT job",
        f"EXECUTE iv('{v}','PSB-NO-CRIMINAL-RECORD','data-sharing','hrss','public-security','HR-RECRUIT-001',"
        f"'事业单位招聘：核验无犯罪记录','resident-id','{subject}','张三','{{\"hasCriminalRecord\":false}}','answered',"
        f"'confirmed','{{}}',NULL,{t},NULL,{t},'{a}',1)",
        *attestation,
        f"EXECUTE iq({t},'verification.submitted','hrss','hrss','public-security','PSB-NO-CRIMINAL-RECORD','{subject}',"
        f"'{v}','{a}',NULL,'{DETAIL}','\\x{'ab' * 32}',NULL)",
        "RELEASE SAVEPOINT job",
    ]


def script(transactions: int, version: int) -> str:
    """One statement per line: what `postgres --single` reads."""
    by_reference = version >= 8
    lines, n = [p for p in PREPARE if by_reference or not p.startswith("PREPARE ia8")], 0
    for _ in range(transactions):
        lines.append("BEGIN ISOLATION LEVEL READ COMMITTED")
        for _ in range(JOBS_PER_TRANSACTION):
            n += 1
            lines += verification_writes(n, by_reference)
        lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def wal_per_verification(server, template: str, version: int) -> float:
    """WAL bytes per verification: 10 transactions of `script`'s writes after 2 to warm up, one psql session."""
    server.psql(f"CREATE DATABASE wal TEMPLATE {template}")
    try:
        lines = script(12, version).splitlines()
        prepares = sum(1 for line in lines if line.startswith("PREPARE"))
        per_transaction = 2 + JOBS_PER_TRANSACTION * 6
        warm = prepares + 2 * per_transaction
        mark = "SELECT pg_current_wal_insert_lsn()"
        sql = ";\n".join(lines[:warm] + [mark] + lines[warm:] + [mark]) + ";\n"
        result = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", server.conninfo(database="wal")],
                                input=sql, capture_output=True, text=True, check=True)
        marks = [line for line in result.stdout.splitlines() if "/" in line]
        return (lsn(marks[-1]) - lsn(marks[-2])) / (10 * JOBS_PER_TRANSACTION)
    finally:
        server.psql("DROP DATABASE wal")


def inclusive(profile: str) -> dict[str, int]:
    text = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", profile],
                          capture_output=True, text=True, check=True).stdout
    found: dict[str, int] = {}
    for line in text.splitlines():
        match = re.match(r"\s*([\d,]+) \(.*?\)\s+\S*?:(\w+) ", line)
        if match and match.group(2) in FUNCTIONS and match.group(2) not in found:
            found[match.group(2)] = int(match.group(1).replace(",", ""))
    return found


def main() -> None:
    binaries = [Path(b).resolve() for b in sys.argv[1:]]
    if not binaries:
        raise SystemExit(__doc__)
    work = tempfile.mkdtemp(prefix="heyan-pgprof-", dir="/tmp")
    os.chmod(work, 0o755)
    server = cluster.Postgres("pgprof", f"{work}/pg", cluster.free_ports(1)[0])
    server.initdb()
    server.start()
    try:
        server.set_synchronous(False)
        for index, binary in enumerate(binaries):
            database = f"schema{index}"
            server.psql(f"CREATE DATABASE {database}")
            subprocess.run([str(binary), "stats", "--format", "json", "--database",
                            f"postgresql://postgres@127.0.0.1:{server.port}/{database}"],
                           check=True, capture_output=True)
        versions = [server.psql("SELECT max(version) FROM heyan_schema_migrations", database=f"schema{i}")
                    for i in range(len(binaries))]
        wal = [wal_per_verification(server, f"schema{i}", int(versions[i])) for i in range(len(binaries))]
    finally:
        server.stop()
    cluster.hand_to_postgres(f"{work}/out")
    for index, binary in enumerate(binaries):
        counts = []
        for transactions in (2, 12):
            path = Path(work) / f"writes-{transactions}.sql"
            path.write_text(script(transactions, int(versions[index])))
            os.chmod(path, 0o644)
            profile = f"{work}/out/callgrind-{index}-{transactions}"
            # Each run on a copy, so both start from the same empty tables.
            server.start()
            server.psql("DROP DATABASE IF EXISTS run")
            server.psql(f"CREATE DATABASE run TEMPLATE schema{index}")
            server.psql("CHECKPOINT")
            server.stop()
            prefix = ["/usr/sbin/runuser", "-u", "postgres", "--", "/usr/bin/env", "-C", "/"] if os.getuid() == 0 else []
            with open(path) as statements:
                run = subprocess.run(prefix + ["valgrind", "--tool=callgrind", f"--callgrind-out-file={profile}",
                                               f"{server.binaries}/postgres", "--single", "-D", server.data, "run"],
                                     stdin=statements, capture_output=True, text=True)
            total = re.search(r"Collected : (\d+)", run.stderr)
            if run.returncode != 0 or not total or "ERROR" in run.stdout:
                raise SystemExit(f"postgres --single failed:\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
            counts.append((int(total.group(1)), inclusive(profile)))
        (small, small_functions), (large, large_functions) = counts
        verifications = 10 * JOBS_PER_TRANSACTION
        per = {f: (large_functions.get(f, 0) - small_functions.get(f, 0)) / verifications for f in FUNCTIONS}
        print(f"{binary} (schema version {versions[index]}): {(large - small) / verifications:,.0f} instructions per "
              f"verification; executor {per['standard_ExecutorRun']:,.0f}, pglz {per['pglz_compress']:,.0f}, "
              f"CHECKs {per['ExecConstraints']:,.0f}, TOAST {per['heap_toast_insert_or_update']:,.0f}, "
              f"index inserts {per['ExecInsertIndexTuples']:,.0f}, FK checks {per['AfterTriggerEndQuery']:,.0f}; "
              f"WAL {wal[index]:,.0f} bytes per verification")
    if os.environ.get("KEEP"):
        print(f"kept {work} (callgrind files in out/)")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
