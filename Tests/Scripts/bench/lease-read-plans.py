#!/usr/bin/env python3
"""The lease's expired-lease read and the overdue sweep, before and after SQLite migration 18 and
PostgreSQL migration 9 (docs/storage.md, "Migration 18"; docs/postgresql.md): the figures those
docs quote come from here.

An owner with PENDING pending items, LEASED items leased and not expired, and DONE answered ones
(synthetic rows written straight into a database `heyan serve` has just migrated). Then:

- SQLite (Python's sqlite3, the same library heyan links): the expired-lease read as it was (through
  `(owner, state, due_at, created_at)` with the state bound), the same with `lease_expires_at`
  appended to that index, and as it is (a range of `queue_items_leased_by_expiry`); µs per read.
- with --postgresql, a throwaway server (var/bench/pg-plans): `EXPLAIN ANALYZE` of the lease's
  former single `OR` query and of today's two reads, and of the overdue read with its state bound
  under `plan_cache_mode = force_generic_plan` against the state written into the SQL.

    python3 Tests/Scripts/bench/lease-read-plans.py [--pending 5000] [--leased 5000] [--done 10000] [--postgresql]

(var/bench made by BENCH_QUICK=1 make bench; the release build.)
"""

from __future__ import annotations

import argparse
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run as bench  # noqa: E402

OWNER = "civil-affairs"
FAR = 9_000_000_000_000  # a lease that never expires in this measurement
NOW = 1_765_065_600_000


def migrated(database: str) -> None:
    """Runs `heyan serve` on `database` until it listens: the schema is then the release's."""
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [str(bench.ROOT / ".build/release/heyan"), "serve", "--config", str(bench.VAR / "config/heyan.json"),
             "--listen", "127.0.0.1:0", "--database", database, "--log-level", "info"], stdout=log, stderr=log)
        try:
            for _ in range(300):
                log.seek(0)
                if b'"listening"' in log.read():
                    return
                if proc.poll() is not None:
                    break
                time.sleep(0.1)
            log.seek(0)
            raise SystemExit(f"heyan serve did not start on {database}: {log.read().decode()[-2000:]}")
        finally:
            proc.terminate()
            proc.wait()


def rows(a) -> list[tuple]:
    """(id, state, due_at, created_at, lease_expires_at, lease_count, answered_token) of the synthetic queue."""
    out = []
    for i in range(a.leased):
        out.append((f"qi_l{i}", "leased", NOW + 86_400_000 + i, NOW - i, FAR, 1, None))
    for i in range(a.done):
        out.append((f"qi_d{i}", "done", NOW - 86_400_000 + i, NOW - 2 * 86_400_000 + i, None, 1, "x"))
    for i in range(a.pending):
        out.append((f"qi_p{i}", "pending", NOW + 2 * 86_400_000 + i, NOW + i, None, 0, None))
    return out


def per_read(db: sqlite3.Connection, sql: str, args: tuple, n: int = 300) -> float:
    for _ in range(20):
        db.execute(sql, args).fetchall()
    started = time.perf_counter()
    for _ in range(n):
        db.execute(sql, args).fetchall()
    return (time.perf_counter() - started) / n * 1e6


def sqlite_part(a) -> None:
    folder = Path(tempfile.mkdtemp(prefix="lease-plans-", dir=bench.VAR / "db"))
    path = folder / "h.sqlite"
    migrated(str(path))
    db = sqlite3.connect(path)
    db.executemany(
        "INSERT INTO queue_items (id, kind, verification_id, owner, created_at, due_at, state, lease_token, "
        "lease_expires_at, lease_count, answered_lease_token) VALUES (?, 'verification', 'ver_x', ?, ?, ?, ?, "
        "CASE WHEN ? = 'leased' THEN 'lt' END, ?, ?, ?)",
        [(i, OWNER, c, d, s, s, e, n, t) for (i, s, d, c, e, n, t) in rows(a)])
    db.commit()
    columns = "id, state, due_at, created_at, lease_expires_at"
    before = (f"SELECT {columns} FROM queue_items INDEXED BY queue_items_by_owner_state_due "
              "WHERE owner = ?1 AND state = ?3 AND lease_expires_at <= ?4 ORDER BY due_at, created_at LIMIT ?2")
    now = (f"SELECT {columns} FROM queue_items INDEXED BY queue_items_leased_by_expiry "
           "WHERE owner = ?1 AND state = 'leased' AND lease_expires_at <= ?3 ORDER BY due_at, created_at LIMIT ?2")
    print(f"SQLite {sqlite3.sqlite_version}, one owner: {a.pending:,} pending, {a.leased:,} leased, {a.done:,} done")
    print(f"  expired-lease read before migration 18:        {per_read(db, before, (OWNER, 1, 'leased', NOW)):8.1f} µs")
    db.execute("DROP INDEX queue_items_by_owner_state_due")
    db.execute("CREATE INDEX queue_items_by_owner_state_due ON queue_items (owner, state, due_at, created_at, lease_expires_at)")
    print(f"  the same, lease_expires_at appended to index: {per_read(db, before, (OWNER, 1, 'leased', NOW)):8.1f} µs")
    print(f"  since migration 18 (leased rows by expiry):    {per_read(db, now, (OWNER, 1, NOW)):8.1f} µs")
    db.close()
    for file in folder.iterdir():
        file.unlink()
    folder.rmdir()


def summary(plan: str) -> str:
    """An EXPLAIN ANALYZE output as its execution time and its first scan line."""
    scan = next((line.strip() for line in plan.splitlines() if re.search(r"Scan|Seq", line)), "?")
    total = re.search(r"Execution Time: ([0-9.]+) ms", plan)
    return f"{float(total.group(1)) if total else float('nan'):8.3f} ms  {scan[:110]}"


def explain(server, sql: str) -> str:
    return summary(server.psql(f"BEGIN; SET LOCAL plan_cache_mode = force_generic_plan; {sql}; COMMIT", database="heyan"))


def postgresql_part(a) -> None:
    postgres = bench.PostgresServer(bench.import_cluster(), bench.VAR / "pg-plans", "plans").start(["heyan"])
    try:
        migrated(postgres.uri("heyan"))
        server = postgres.server
        # The rows of rows(), made by the server (a VALUES list would not fit psql's command line).
        insert = ("INSERT INTO queue_items (id, kind, verification_id, owner, created_at, due_at, state, lease_token, "
                  "lease_expires_at, lease_count, answered_lease_token) SELECT ")
        server.psql(
            "SET session_replication_role = replica; "
            f"{insert} 'qi_l' || i, 'verification', 'ver_x', '{OWNER}', {NOW} - i, {NOW + 86_400_000} + i, 'leased', 'lt', "
            f"{FAR}, 1, NULL FROM generate_series(0, {a.leased - 1}) i; "
            f"{insert} 'qi_d' || i, 'verification', 'ver_x', '{OWNER}', {NOW - 2 * 86_400_000} + i, {NOW - 86_400_000} + i, "
            f"'done', NULL, NULL, 1, 'x' FROM generate_series(0, {a.done - 1}) i; "
            f"{insert} 'qi_p' || i, 'verification', 'ver_x', '{OWNER}', {NOW} + i, {NOW + 2 * 86_400_000} + i, 'pending', "
            f"NULL, NULL, 0, NULL FROM generate_series(0, {a.pending - 1}) i; ANALYZE queue_items", database="heyan")
        print("PostgreSQL, the same rows; EXPLAIN ANALYZE, generic plans (force_generic_plan):")
        old = ("PREPARE q(text, text, text, bigint, int) AS SELECT id FROM queue_items WHERE owner = $1 AND "
               "(state = $2 OR (state = $3 AND lease_expires_at <= $4)) ORDER BY due_at, created_at, id LIMIT $5 "
               f"FOR UPDATE SKIP LOCKED; EXPLAIN ANALYZE EXECUTE q('{OWNER}', 'pending', 'leased', {NOW}, 1)")
        pending = ("PREPARE q(text, int) AS SELECT id FROM queue_items WHERE owner = $1 AND state = 'pending' "
                   f"ORDER BY due_at, created_at, id LIMIT $2 FOR UPDATE SKIP LOCKED; EXPLAIN ANALYZE EXECUTE q('{OWNER}', 1)")
        expired = ("PREPARE q(text, int, bigint) AS SELECT id FROM queue_items WHERE owner = $1 AND state = 'leased' "
                   "AND lease_expires_at <= $3 ORDER BY due_at, created_at, id LIMIT $2 FOR UPDATE SKIP LOCKED; "
                   f"EXPLAIN ANALYZE EXECUTE q('{OWNER}', 1, {NOW})")
        overdue_bound = ("PREPARE q(bigint, text) AS SELECT id FROM queue_items WHERE NOT overdue AND state <> $2 AND "
                         f"due_at <= $1 ORDER BY due_at FOR UPDATE SKIP LOCKED; EXPLAIN ANALYZE EXECUTE q({NOW}, 'done')")
        overdue_written = ("PREPARE q(bigint) AS SELECT id FROM queue_items WHERE NOT overdue AND state <> 'done' AND "
                           f"due_at <= $1 ORDER BY due_at FOR UPDATE SKIP LOCKED; EXPLAIN ANALYZE EXECUTE q({NOW})")
        for label, sql in [("lease, one OR query (before migration 9)", old), ("lease, pending read", pending),
                           ("lease, expired-lease read", expired), ("overdue read, state bound", overdue_bound),
                           ("overdue read, state written", overdue_written)]:
            print(f"  {label:42} {explain(server, sql)}")
        # The default plan_cache_mode plans with the values for each of the first five executions and
        # keeps doing so while a generic plan costs more: the expired-lease read as heyan runs it.
        plan = server.psql(
            "BEGIN; " + expired.split("; EXPLAIN")[0] + "; "
            + "".join(f"EXECUTE q('{OWNER}', 1, {NOW + i}); " for i in range(7))
            + f"EXPLAIN ANALYZE EXECUTE q('{OWNER}', 1, {NOW + 7}); COMMIT", database="heyan")
        print(f"  {'lease, expired-lease read, default mode':42} {summary(plan)}")
    finally:
        postgres.stop()
        shutil.rmtree(postgres.folder, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pending", type=int, default=5000)
    p.add_argument("--leased", type=int, default=5000)
    p.add_argument("--done", type=int, default=10000)
    p.add_argument("--postgresql", action="store_true")
    a = p.parse_args()
    sqlite_part(a)
    if a.postgresql:
        postgresql_part(a)


if __name__ == "__main__":
    main()
