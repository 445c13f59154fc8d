#!/usr/bin/env python3
"""heyan crash test: mixed load while the server is killed with SIGKILL, then a durability audit.

Usage: Tests/Scripts/crashtest.py [--binary .build/release/heyan] [--kills 20] [--seconds S] [--seed N] [--keep]

It makes a temporary PKI and configuration, serves on 127.0.0.1 (ephemeral port), runs several
concurrent clients (record uploads, data-sharing and queued verifications with Idempotency-Key,
leases and answers, revocations) and kills the server with SIGKILL at random moments, restarting it
on the same database each time. Every acknowledged (2xx) response is written to ack.jsonl. Then
it checks the database and the API: every acknowledged fact present and identical, one
verification per Idempotency-Key, leases and deadlines recovered, `heyan audit verify` passing.
It prints `kills=N acknowledged=M lost=L …` and exits 1 on any loss or failed check.
docs/crashtest.md explains what is checked and why.
"""

import argparse
import base64
import collections
import datetime
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA_TYPE, DATA_MATTER, DATA_OWNER, DATA_REQUESTER = "PSB-NO-CRIMINAL-RECORD", "HR-RECRUIT-001", "public-security", "hrss"
QUEUE_TYPE, QUEUE_MATTER, QUEUE_OWNER, QUEUE_REQUESTER = "CIV-MARRIAGE", "HF-WITHDRAW-001", "civil-affairs", "housing-fund"
COMMIT_TYPE, COMMIT_MATTER, COMMIT_OWNER, COMMIT_REQUESTER = "TAX-INCOME", "HF-LOAN-001", "tax-bureau", "housing-fund"
WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


class ConnectionLost(Exception):
    """The request may or may not have reached the server: retry it the same way."""


def resident_id(n, area):
    """A valid GB 11643 resident ID, unique per (area, n)."""
    birth = datetime.date(1950, 1, 1) + datetime.timedelta(days=n // 900)
    body = f"{area}{birth:%Y%m%d}{n % 900 + 100:03d}"
    check = (12 - sum(int(c) * w for c, w in zip(body, WEIGHTS)) % 11) % 11
    return body + ("X" if check == 10 else str(check))


def rfc3339_ms(text):
    """'2026-11-24T11:24:43.229Z' -> unix milliseconds."""
    moment = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    return int(round(moment.timestamp() * 1000))


def claims_hash(claims):
    return hashlib.sha256(json.dumps(claims, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


class Server:
    """`heyan serve` on one database, killed and restarted by the driver."""

    def __init__(self, binary, config, log_path):
        self.binary, self.config, self.log_path = binary, config, log_path
        self.process = None
        self.port = None
        self.up = threading.Event()
        self.generation = 0
        self.start_seconds = []

    def start(self):
        offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        started = time.monotonic()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([self.binary, "serve", "--config", self.config],
                                            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with open(self.log_path, "rb") as log:
                log.seek(offset)
                for line in log.read().decode(errors="replace").splitlines():
                    if '"event":"listening"' in line:
                        self.port = json.loads(line)["port"]
                        self.generation += 1
                        self.start_seconds.append(time.monotonic() - started)
                        self.up.set()
                        return
            if self.process.poll() is not None:
                raise RuntimeError(f"heyan serve exited with {self.process.returncode}; see {self.log_path}")
            time.sleep(0.01)
        raise RuntimeError(f"heyan serve did not start in 30 s; see {self.log_path}")

    def kill(self):
        self.up.clear()
        self.port = None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        self.up.clear()
        self.port = None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Ledger:
    """Acknowledged responses, in memory and in ack.jsonl."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.entries = []
        self.file = open(path, "w")
        self.counters = collections.Counter()
        self.successes = []  # monotonic times of every 2xx-4xx answer: the unavailability windows
        self.notes = []      # signed checkpoint notes served during the run (text)

    def ack(self, kind, **fields):
        entry = {"kind": kind, "at": time.time(), **fields}
        with self.lock:
            self.entries.append(entry)
            self.file.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self.file.flush()

    def success(self):
        with self.lock:
            self.successes.append(time.monotonic())

    def count(self, name, n=1):
        with self.lock:
            self.counters[name] += n

    def of(self, kind):
        with self.lock:
            return [e for e in self.entries if e["kind"] == kind]


class Client:
    """One department's keep-alive connection, reconnecting to whichever server is up."""

    def __init__(self, department, pki, server, ledger, stop):
        self.department, self.server, self.ledger, self.stop = department, server, ledger, stop
        self.context = ssl.create_default_context(cafile=f"{pki}/ca.pem")
        self.context.check_hostname = False
        self.context.load_cert_chain(f"{pki}/departments/{department}.pem", f"{pki}/departments/{department}.key")
        self.connection = None
        self.port = None

    def _connect(self):
        if not self.server.up.wait(timeout=30):
            raise ConnectionLost("server not up")
        port = self.server.port
        if port is None:
            raise ConnectionLost("server going down")
        if self.connection is None or self.port != port:
            self.close()
            self.connection = http.client.HTTPSConnection("127.0.0.1", port, context=self.context, timeout=20)
            self.port = port
        return self.connection

    def close(self):
        if self.connection is not None:
            try:
                self.connection.close()
            except OSError:
                pass
        self.connection = None

    def once(self, method, path, body=None, headers=None, drop=False):
        """One attempt: (status, json, received_at) or ConnectionLost. `drop` sends and hangs up."""
        payload = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        all_headers = {"Content-Type": "application/json"} if payload is not None else {}
        all_headers.update(headers or {})
        try:
            connection = self._connect()
            connection.request(method, path, body=payload, headers=all_headers)
            if drop:
                self.close()
                raise ConnectionLost("dropped on purpose")
            response = connection.getresponse()
            text = response.read()
            received = time.time()
        except (OSError, http.client.HTTPException, ssl.SSLError) as error:
            self.close()
            raise ConnectionLost(str(error)) from error
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        data = json.loads(text) if text and response.getheader("Content-Type", "").find("json") >= 0 else None
        if response.status == 503 and getattr(self.server, "retry_unavailable", False):
            # Behind a load balancer during a database failover: 503 + Retry-After says "not done, try
            # again", and the same request (same key, same body) is sent again like after a lost connection.
            self.ledger.count("status-503")
            raise ConnectionLost(f"{method} {path}: 503")
        if response.status >= 500:
            self.ledger.count("status-5xx")
            raise RuntimeError(f"{method} {path}: {response.status} {text[:300]!r}")
        self.ledger.success()
        if data is None and text and response.getheader("Content-Type", "").startswith("text/plain"):
            data = text.decode()
        return response.status, data, received

    def until_answered(self, method, path, body=None, headers=None, drop_first=False):
        """Retries the same request (same Idempotency-Key, same body) until an HTTP answer comes.
        Returns (status, json, received_at, attempts, first_sent_at, last_sent_at), or None once the
        run is stopping and the server is down."""
        attempts = 0
        first_sent = None
        while True:
            attempts += 1
            sent = time.time()
            first_sent = first_sent or sent
            try:
                status, data, received = self.once(method, path, body, headers, drop=drop_first and attempts == 1)
                return status, data, received, attempts, first_sent, sent
            except ConnectionLost:
                self.ledger.count("connection-failures")
                if self.stop.is_set() and not self.server.up.is_set():
                    return None
                time.sleep(0.02)


class Load:
    """The concurrent clients and what they share."""

    def __init__(self, pki, server, ledger, stop, seed):
        self.pki, self.server, self.ledger, self.stop = pki, server, ledger, stop
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.counter = 0
        self.area = f"{self.random.choice([110105, 310104, 440303, 510107])}"
        self.verifiable = collections.deque()  # (subject, hasCriminalRecord) with an acknowledged record
        self.revocable = collections.deque()   # attestation ids issued by public-security
        self.update_subjects = []              # subjects whose record is rewritten (never verified)
        self.errors = []
        self.drop_rate = 0.15                  # submissions sent and hung up on before the answer, on purpose
        self.client_class = Client

    def subject(self):
        with self.lock:
            self.counter += 1
            return resident_id(self.counter, self.area)

    def client(self, department):
        return self.client_class(department, self.pki, self.server, self.ledger, self.stop)

    def run(self, worker, *args):
        def body():
            rng = random.Random(self.random.random())
            try:
                while not self.stop.is_set():
                    worker(rng, *args)
            except Exception as error:  # a 5xx or a bug: the run fails
                self.errors.append(f"{worker.__name__}: {error!r}")
                self.stop.set()
        thread = threading.Thread(target=body, daemon=True)
        thread.start()
        return thread

    # -- public-security: records ---------------------------------------------------------------

    def records(self, rng, client):
        choice = rng.random()
        if choice < 0.55 or (choice < 0.75 and not self.update_subjects):
            subject, value = self.subject(), rng.random() < 0.3
            result = client.until_answered("PUT", f"/v1/records/{DATA_TYPE}/{subject}",
                                           {"claims": {"hasCriminalRecord": value}})
            if result is None:
                return
            status, data, *_ = result
            self.expect(status in (200, 201), f"PUT record: {status} {data}")
            claims = {"hasCriminalRecord": value}
            self.ledger.ack("record", type=DATA_TYPE, subject=subject, claims=claims, hash=claims_hash(claims), via="put")
            if rng.random() < 0.2:
                self.update_subjects.append(subject)
            else:
                self.verifiable.append((subject, value))
        elif choice < 0.75:
            subject, value = rng.choice(self.update_subjects), rng.random() < 0.5
            result = client.until_answered("PUT", f"/v1/records/{DATA_TYPE}/{subject}",
                                           {"claims": {"hasCriminalRecord": value}})
            if result is None:
                return
            status, data, *_ = result
            self.expect(status in (200, 201), f"PUT record update: {status} {data}")
            claims = {"hasCriminalRecord": value}
            self.ledger.ack("record", type=DATA_TYPE, subject=subject, claims=claims, hash=claims_hash(claims), via="put")
        else:
            batch = [(self.subject(), rng.random() < 0.3) for _ in range(rng.randint(5, 40))]
            body = {"records": [{"certificateType": DATA_TYPE, "subjectId": s, "claims": {"hasCriminalRecord": v}}
                                for s, v in batch]}
            result = client.until_answered("POST", "/v1/records:batch", body)
            if result is None:
                return
            status, data, *_ = result
            self.expect(status == 200 and data.get("written") == len(batch), f"records:batch: {status} {data}")
            for s, v in batch:
                claims = {"hasCriminalRecord": v}
                self.ledger.ack("record", type=DATA_TYPE, subject=s, claims=claims, hash=claims_hash(claims), via="batch")
                self.verifiable.append((s, v))

    # -- submissions with Idempotency-Key -------------------------------------------------------

    def submit(self, client, rng, body, expected_status):
        key = str(uuid.UUID(int=rng.getrandbits(128)))
        drop = rng.random() < self.drop_rate
        result = client.until_answered("POST", "/v1/verifications", body, {"Idempotency-Key": key}, drop_first=drop)
        if result is None:
            return None
        status, data, received, attempts, first_sent, last_sent = result
        self.expect(status == expected_status, f"submit {body['certificateType']}: {status} {data}")
        if attempts > 1:
            self.ledger.count("submissions-retried")
            # Created before the attempt that got the answer: the answer is a replay of an earlier
            # attempt's commit (the Idempotency-Key at work).
            if rfc3339_ms(data["createdAt"]) < int(last_sent * 1000) - 1:
                self.ledger.count("submissions-replayed")
        return data, key, attempts

    def data_sharing(self, rng, client):
        try:
            subject, value = self.verifiable.popleft()
        except IndexError:
            subject, value = self.subject(), None
        body = {"certificateType": DATA_TYPE, "matterCode": DATA_MATTER, "purpose": "招聘岗位背景核查",
                "subject": {"idType": "resident-id", "id": subject, "name": "测试"},
                "claims": {"hasCriminalRecord": False}}
        submitted = self.submit(client, rng, body, 201)
        if submitted is None:
            return
        data, key, attempts = submitted
        expected = "cannot-determine" if value is None else ("confirmed" if value is False else "denied")
        self.expect(data.get("outcome") == expected, f"data-sharing outcome {data.get('outcome')} != {expected} for {subject}")
        attestation = data.get("attestation") or {}
        self.ledger.ack("verification", id=data["id"], requester=DATA_REQUESTER, subject=subject, key=key,
                        status=data["status"], outcome=data.get("outcome"), attestation=attestation.get("id"),
                        jws=attestation.get("jws"), dueAt=None, attempts=attempts)
        if attestation.get("id"):
            self.revocable.append(attestation["id"])

    def queued(self, rng, client):
        subject = self.subject()
        body = {"certificateType": QUEUE_TYPE, "matterCode": QUEUE_MATTER, "purpose": "住房公积金提取",
                "subject": {"idType": "resident-id", "id": subject, "name": "测试"},
                "claims": {"maritalStatus": rng.choice(["married", "unmarried"])}}
        submitted = self.submit(client, rng, body, 202)
        if submitted is None:
            return
        data, key, attempts = submitted
        self.expect(data.get("status") == "pending" and data.get("dueAt"), f"queued: {data}")
        self.ledger.ack("verification", id=data["id"], requester=QUEUE_REQUESTER, subject=subject, key=key,
                        status=data["status"], outcome=None, attestation=None, jws=None,
                        dueAt=rfc3339_ms(data["dueAt"]), attempts=attempts)
        time.sleep(rng.uniform(0, 0.02))

    # -- civil-affairs: leases and answers ------------------------------------------------------

    def lease_and_answer(self, rng, client):
        abandon = rng.random() < 0.25
        path = "/v1/queue?limit=1&lease=2" if abandon else "/v1/queue?limit=5&lease=60&wait=1"
        try:
            status, data, received = client.once("GET", path)
        except ConnectionLost:
            # The lease may have been granted and lost with the response: that item stays leased
            # until its lease expires (not acknowledged, so not checked).
            self.ledger.count("connection-failures")
            time.sleep(0.02)
            return
        self.expect(status == 200, f"GET queue: {status} {data}")
        for item in data["items"]:
            self.ledger.ack("lease", item=item["id"], verification=item["verification"]["id"], token=item["leaseToken"],
                            expiresAt=rfc3339_ms(item["leaseExpiresAt"]), leaseCount=item["leaseCount"],
                            dueAt=rfc3339_ms(item["dueAt"]), received=received, generation=self.server.generation,
                            abandoned=abandon)
        if abandon or not data["items"]:
            time.sleep(0.05 if abandon else 0)
            return
        for item in data["items"]:
            outcome = rng.choice(["confirmed", "denied", "cannot-determine"])
            result = client.until_answered("POST", f"/v1/queue/{item['id']}/answer",
                                           {"leaseToken": item["leaseToken"], "outcome": outcome})
            if result is None:
                return
            status, answer, *_ = result
            if status == 409:  # the lease expired while the server was down and someone re-leased it
                self.ledger.count("answers-stale-lease")
                continue
            self.expect(status == 200, f"answer: {status} {answer}")
            attestation = answer.get("attestation") or {}
            self.ledger.ack("answer", item=item["id"], verification=answer["id"], token=item["leaseToken"],
                            outcome=answer.get("outcome"), attestation=attestation.get("id"), jws=attestation.get("jws"))
            self.expect(answer.get("outcome") == outcome, f"answer outcome {answer.get('outcome')} != {outcome}")

    # -- housing-fund: commitments (告知承诺) with Idempotency-Key ---------------------------------

    def commitments(self, rng, client):
        subject = self.subject()
        text = f"crashtest commitment {subject}"
        body = {"certificateType": COMMIT_TYPE, "matterCode": COMMIT_MATTER, "purpose": "住房公积金贷款：收入情况",
                "subject": {"idType": "resident-id", "id": subject, "name": "测试"},
                "claims": {"annualIncome": rng.randint(10_000, 500_000)},
                "commitment": {"textSha256": hashlib.sha256(text.encode()).hexdigest(),
                               "signedAt": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                               "signedVia": "online"}}
        key = str(uuid.UUID(int=rng.getrandbits(128)))
        result = client.until_answered("POST", "/v1/commitments", body, {"Idempotency-Key": key})
        if result is None:
            return
        status, data, *_ = result
        self.expect(status == 201, f"commitment: {status} {data}")
        receipt = data.get("receipt") or {}
        self.ledger.ack("commitment", id=data["id"], requester=COMMIT_REQUESTER, subject=subject, key=key,
                        status=data["status"], receipt=receipt.get("id"), jws=receipt.get("jws"))
        time.sleep(rng.uniform(0.02, 0.1))

    # -- any department: the signed checkpoint notes the log serves ------------------------------

    def checkpoints(self, rng, client):
        try:
            status, note, _ = client.once("GET", "/v1/audit/log/checkpoint")
        except ConnectionLost:
            self.ledger.count("connection-failures")
            time.sleep(0.05)
            return
        if status == 200 and isinstance(note, str):
            with self.ledger.lock:
                self.ledger.notes.append(note)
        time.sleep(rng.uniform(0.1, 0.4))

    # -- public-security: revocations -----------------------------------------------------------

    def revoke(self, rng, client):
        try:
            attestation = self.revocable.popleft() if rng.random() < 0.4 else None
        except IndexError:
            attestation = None
        if attestation is None:
            time.sleep(0.05)
            return
        reason = f"crashtest revocation {rng.getrandbits(32):08x}"
        result = client.until_answered("POST", f"/v1/attestations/{attestation}/revoke", {"reason": reason})
        if result is None:
            return
        status, data, *_ = result
        self.expect(status == 200, f"revoke: {status} {data}")
        # A retry after a lost answer returns the attestation as it is: revoked with the first reason.
        self.ledger.ack("revocation", attestation=attestation, reason=data.get("revocationReason", reason),
                        sentReason=reason, revokedAt=data.get("revokedAt"))

    def expect(self, condition, message):
        if not condition:
            raise RuntimeError(message)


class Database:
    """The checker's read-only view of the store: the SQLite file, or a PostgreSQL database (`database`
    a libpq connection string or `postgresql://` URI, read with psycopg2). Both engines have the same
    tables and columns (docs/postgresql.md, "Schema"); the statements use `?` placeholders."""

    def __init__(self, database):
        self.postgres = database.startswith(("postgresql://", "postgres://")) or re.match(r"^\w+=", database) is not None
        if self.postgres:
            import psycopg2  # test-only, from PyPI (Tests/Scripts/requirements-test.txt)
            self.connection = psycopg2.connect(database)
            self.connection.set_session(readonly=True, autocommit=True)
        else:
            self.connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)

    def execute(self, sql, parameters=()):
        if not self.postgres:
            return self.connection.execute(sql, parameters)
        cursor = self.connection.cursor()
        cursor.execute(sql.replace("?", "%s"), parameters)
        return cursor

    def attestation(self, attestation):
        """(whole JWS, outcome) of an attestation, or None."""
        if self.postgres:
            # Since PostgreSQL migration 8 a row may name its protected header in jws_headers (header_id) and keep
            # only the rest; rows without header_id keep the whole JWS (docs/postgresql.md).
            return self.execute(
                "SELECT CASE WHEN a.header_id IS NULL THEN a.jws ELSE h.header || '.' || a.jws END, a.outcome "
                "FROM attestations a LEFT JOIN jws_headers h ON h.id = a.header_id WHERE a.id = ?",
                (attestation,)).fetchone()
        # Since migration 3 SQLite stores the protected header once in jws_headers (docs/storage.md).
        return self.execute(
            "SELECT CASE WHEN a.jws_header IS NULL THEN a.jws ELSE h.header || '.' || a.jws END, a.outcome "
            "FROM attestations a LEFT JOIN jws_headers h ON h.id = a.jws_header WHERE a.id = ?",
            (attestation,)).fetchone()

    def close(self):
        self.connection.close()


def check(database, ledger):
    """The durability audit against the store (SQLite file or PostgreSQL). Returns (lost, failures, figures)."""
    db = Database(database)
    lost, failures, figures = collections.Counter(), [], collections.Counter()

    def fail(kind, message, missing=False):
        if missing:
            lost[kind] += 1
        failures.append(f"{kind}: {message}")

    def one_per_key(kind, table, entry):
        """Exactly one row of `table` for the entry's requester and subject (subjects are never reused, so a
        retry that made a second one shows), and its Idempotency-Key's stored response names the entry."""
        count = db.execute(f"SELECT COUNT(*) FROM {table} WHERE requester = ? AND subject_id = ?",
                           (entry["requester"], entry["subject"])).fetchone()[0]
        if count != 1:
            fail(kind, f"{count} {table} for one Idempotency-Key's subject {entry['subject']}")
        stored = db.execute("SELECT body FROM idempotency_keys WHERE requester = ? AND key = ?",
                            (entry["requester"], entry["key"])).fetchone()
        if stored is None or json.loads(bytes(stored[0]))["id"] != entry["id"]:
            fail(kind, f"Idempotency-Key {entry['key']} does not lead to {entry['id']}")

    verifications = ledger.of("verification")
    answers = {a["verification"]: a for a in ledger.of("answer")}
    for v in verifications:
        row = db.execute("SELECT status, outcome, due_at FROM verifications WHERE id = ?", (v["id"],)).fetchone()
        if row is None:
            fail("verification", f"{v['id']} acknowledged but absent", missing=True)
            continue
        one_per_key("verification", "verifications", v)
        submitted = db.execute("SELECT COUNT(*) FROM audit_log WHERE verification_id = ? AND action = 'verification.submitted'",
                               (v["id"],)).fetchone()[0]
        if submitted != 1:
            fail("verification", f"{v['id']}: {submitted} verification.submitted audit entries")
        if v["dueAt"] is not None:
            item = db.execute("SELECT due_at FROM queue_items WHERE verification_id = ?", (v["id"],)).fetchone()
            if row[2] != v["dueAt"] or item is None or item[0] != v["dueAt"]:
                fail("deadline", f"{v['id']}: dueAt {v['dueAt']} acknowledged, stored {row[2]} / {item}")
        if v["status"] == "answered":
            if row[0] != "answered" or row[1] != v["outcome"]:
                fail("verification", f"{v['id']}: acknowledged {v['outcome']}, stored {row[0]} {row[1]}")
        elif v["id"] not in answers and row[0] != "pending":
            figures["answered-without-acknowledgement"] += 1  # an answer whose response was lost

    for a in answers.values():
        row = db.execute("SELECT status, outcome FROM verifications WHERE id = ?", (a["verification"],)).fetchone()
        item = db.execute("SELECT state, answered_lease_token FROM queue_items WHERE id = ?", (a["item"],)).fetchone()
        if row is None or row[0] != "answered":
            fail("answer", f"{a['verification']} answer acknowledged but stored {row}", missing=True)
            continue
        if row[1] != a["outcome"] or item is None or item[0] != "done" or item[1] != a["token"]:
            fail("answer", f"{a['verification']}: acknowledged {a['outcome']} with {a['token']}, stored {row} {item}")

    for e in verifications + list(answers.values()):
        if not e.get("attestation"):
            continue
        row = db.attestation(e["attestation"])
        if row is None:
            fail("attestation", f"{e['attestation']} acknowledged but absent", missing=True)
        elif row[0] != e["jws"] or row[1] != e["outcome"]:
            fail("attestation", f"{e['attestation']} differs from the acknowledged JWS/outcome")

    last_record = {}
    for r in ledger.of("record"):
        last_record[(r["type"], r["subject"])] = r
    for (kind, subject), r in last_record.items():
        row = db.execute("SELECT claims FROM records WHERE certificate_type = ? AND subject_id = ?", (kind, subject)).fetchone()
        if row is None:
            fail("record", f"{kind}/{subject} acknowledged but absent", missing=True)
        elif claims_hash(json.loads(row[0])) != r["hash"]:
            fail("record", f"{kind}/{subject}: acknowledged {r['claims']}, stored {row[0]}")

    for r in ledger.of("revocation"):
        row = db.execute("SELECT revoked_at, revocation_reason, revoked_by FROM attestations WHERE id = ?",
                         (r["attestation"],)).fetchone()
        if row is None or row[0] is None:
            fail("revocation", f"{r['attestation']} revocation acknowledged but not stored", missing=True)
        elif row[1] != r["reason"] or row[2] != DATA_OWNER or (r["revokedAt"] and rfc3339_ms(r["revokedAt"]) != row[0]):
            fail("revocation", f"{r['attestation']}: acknowledged {r['reason']} at {r['revokedAt']}, stored {row}")

    # Leases: nobody gets an item again before the acknowledged lease expires, across restarts;
    # the lease count only grows; dueAt never moves; the last lease is stored as acknowledged.
    by_item = collections.defaultdict(list)
    for lease in ledger.of("lease"):
        by_item[lease["item"]].append(lease)
    due = {v["id"]: v["dueAt"] for v in verifications if v["dueAt"] is not None}
    for item, leases in by_item.items():
        leases.sort(key=lambda l: l["leaseCount"])
        for earlier, later in zip(leases, leases[1:]):
            if later["leaseCount"] <= earlier["leaseCount"]:
                fail("lease", f"{item}: lease count did not grow ({earlier['leaseCount']} then {later['leaseCount']})")
            if later["received"] * 1000 < earlier["expiresAt"]:
                fail("lease", f"{item}: leased again {earlier['expiresAt'] - later['received'] * 1000:.0f} ms before the "
                              f"acknowledged lease expired")
            if earlier["abandoned"]:
                figures["leases-expired-and-reissued"] += 1
                if later["generation"] != earlier["generation"]:
                    figures["leases-reissued-after-restart"] += 1
        for lease in leases:
            if lease["verification"] in due and lease["dueAt"] != due[lease["verification"]]:
                fail("deadline", f"{item}: dueAt {lease['dueAt']} in a lease, {due[lease['verification']]} at submission")
        last = leases[-1]
        row = db.execute("SELECT lease_token, lease_expires_at, lease_count, due_at FROM queue_items WHERE id = ?",
                         (item,)).fetchone()
        if row is None:
            fail("lease", f"{item} leased but absent", missing=True)
            continue
        if row[2] < last["leaseCount"] or row[3] != last["dueAt"]:
            fail("lease", f"{item}: stored lease count {row[2]} / dueAt {row[3]}, acknowledged {last['leaseCount']} / {last['dueAt']}")
        if row[0] == last["token"] and row[1] != last["expiresAt"]:
            fail("lease", f"{item}: lease {last['token']} stored expiring {row[1]}, acknowledged {last['expiresAt']}")

    for c in ledger.of("commitment"):
        row = db.execute("SELECT status, receipt_id, receipt_jws FROM commitments WHERE id = ?", (c["id"],)).fetchone()
        if row is None:
            fail("commitment", f"{c['id']} acknowledged but absent", missing=True)
            continue
        if row[1] != c["receipt"] or row[2] != c["jws"]:
            fail("commitment", f"{c['id']}: receipt {row[1]} stored, {c['receipt']} acknowledged (or its JWS differs)")
        one_per_key("commitment", "commitments", c)

    # Checkpoints: every signed note a client was served names the root the stored log has at that size,
    # and no two served notes of one size disagree (a failover must not fork the log).
    served = {}
    for note in ledger.notes:
        lines = note.split("\n")
        if len(lines) < 3 or not lines[1].isdigit():
            fail("checkpoint", f"unreadable checkpoint note {note[:80]!r}")
            continue
        size, root = int(lines[1]), base64.b64decode(lines[2])
        if served.setdefault(size, root) != root:
            fail("checkpoint", f"two served checkpoints of size {size} name different roots")
        stored = db.execute("SELECT root FROM audit_checkpoint_notes WHERE size = ?", (size,)).fetchone()
        if stored is None:
            fail("checkpoint", f"the served checkpoint of size {size} is not stored", missing=True)
        elif bytes(stored[0]) != root:
            fail("checkpoint", f"the served checkpoint of size {size} contradicts the stored one")
    figures["checkpoints-served"] = len(served)

    # SQLite's audit facets (migration 17): written behind the head in the writer's batches, so after
    # every SIGKILL they must still be exactly the rows the entries up to `through` give, none beyond.
    if not db.postgres:
        through = db.execute("SELECT through FROM audit_facet_progress").fetchone()[0]
        head = db.execute("SELECT coalesce(max(sequence), 0) FROM audit_log").fetchone()[0]
        derived = """
            SELECT 1, actor, sequence FROM audit_log WHERE sequence <= ?1
            UNION SELECT 1, requester, sequence FROM audit_log WHERE sequence <= ?1 AND requester IS NOT NULL
            UNION SELECT 1, owner, sequence FROM audit_log WHERE sequence <= ?1 AND owner IS NOT NULL
            UNION SELECT 2, certificate_type, sequence FROM audit_log WHERE sequence <= ?1 AND certificate_type IS NOT NULL
            UNION SELECT 3, action, sequence FROM audit_log WHERE sequence <= ?1"""
        # Compound SELECTs group left to right: each side is its own subquery.
        missing = db.execute(
            f"SELECT count(*) FROM (SELECT * FROM ({derived}) EXCEPT SELECT facet, value, sequence FROM audit_facets)",
            (through,)).fetchone()[0]
        extra = db.execute(
            f"SELECT count(*) FROM (SELECT facet, value, sequence FROM audit_facets EXCEPT SELECT * FROM ({derived}))",
            (through,)).fetchone()[0]
        if through > head or missing or extra:
            fail("audit-facets", f"facet rows through {through} (log head {head}): {missing} missing, {extra} extra")
        figures["audit-facets-through"] = through
    db.close()
    return lost, failures, figures


def api_check(load, ledger, sample):
    """After a restart: acknowledged verifications and revocations read back through the API."""
    failures = []
    clients = {d: load.client(d) for d in (DATA_REQUESTER, QUEUE_REQUESTER, DATA_OWNER)}
    answers = {a["verification"]: a for a in ledger.of("answer")}
    verifications = ledger.of("verification")
    for v in random.Random(7).sample(verifications, min(sample, len(verifications))):
        status, data, _ = clients[v["requester"]].once("GET", f"/v1/verifications/{v['id']}")
        expected = answers.get(v["id"], v)
        if status != 200 or (expected.get("outcome") and data.get("outcome") != expected["outcome"]):
            failures.append(f"api: {v['id']}: {status} {data and data.get('outcome')} != {expected.get('outcome')}")
    for r in ledger.of("revocation")[:sample]:
        status, data, _ = clients[DATA_OWNER].once("GET", f"/v1/attestations/{r['attestation']}/status")
        if status != 200 or data.get("status") != "revoked":
            failures.append(f"api: {r['attestation']}: {status} {data}")
    for client in clients.values():
        client.close()
    return failures


def audit_verify(binary, database, pki):
    """`heyan audit verify`: the hash chain, the Merkle tree rebuilt from every leaf (tree size = entries:
    each committed entry integrated exactly once), the JWS checkpoints and the signed checkpoint notes."""
    keyed = subprocess.run([binary, "pki", "log-key", "--out", pki], capture_output=True, text=True, check=True)
    vkey = keyed.stdout.strip().split()[-1]
    return subprocess.run([binary, "audit", "verify", "--database", database, "--trust", f"{pki}/ca.pem",
                           "--log-key", vkey], capture_output=True, text=True)


def verify_only(binary, work, database=None):
    """Re-runs the database checks of a kept run: shows that a tampered database is caught."""
    ledger = Ledger(os.devnull)
    with open(f"{work}/ack.jsonl") as f:
        ledger.entries = [json.loads(line) for line in f if line.strip()]
    database = database or f"{work}/db/heyan.sqlite"
    lost, failures, _ = check(database, ledger)
    audit = audit_verify(binary, database, f"{work}/pki")
    if audit.returncode != 0:
        failures.append(f"audit verify: exit {audit.returncode}: {audit.stdout.strip()} {audit.stderr.strip()}")
    print(f"verified acknowledged={len(ledger.entries)} lost={sum(lost.values())} failures={len(failures)}")
    for failure in failures[:20]:
        print(f"FAIL {failure}")
    return 0 if not failures else 1


def start_clients(load):
    """The mixed load: one thread per client, each on its own keep-alive mTLS connection."""
    threads = [load.run(load.records, load.client(DATA_OWNER))]
    threads += [load.run(load.data_sharing, load.client(DATA_REQUESTER)) for _ in range(2)]
    threads += [load.run(load.queued, load.client(QUEUE_REQUESTER)) for _ in range(2)]
    threads += [load.run(load.lease_and_answer, load.client(QUEUE_OWNER)) for _ in range(2)]
    threads += [load.run(load.revoke, load.client(DATA_OWNER))]
    threads += [load.run(load.commitments, load.client(COMMIT_REQUESTER))]
    threads += [load.run(load.checkpoints, load.client(QUEUE_OWNER))]
    return threads


def stop_clients(stop, threads):
    stop.set()
    for thread in threads:
        thread.join(timeout=60)


def final_checks(load, ledger, threads, binary, database, pki):
    """After the run: the store against the ledger, `heyan audit verify`, the clients' own errors.
    Returns (lost, failures, figures, audit line)."""
    lost, failures, figures = check(database, ledger)
    failures = load.errors + failures
    audit = audit_verify(binary, database, pki)
    if audit.returncode != 0:
        failures.append(f"audit verify: exit {audit.returncode}: {audit.stdout.strip()} {audit.stderr.strip()}")
    alive_threads = [t for t in threads if t.is_alive()]
    if alive_threads:
        failures.append(f"{len(alive_threads)} client threads did not finish")
    if ledger.counters["submissions-retried"] == 0:
        failures.append("no submission was retried with its Idempotency-Key")
    audit_line = audit.stdout.strip().splitlines()[-1] if audit.stdout.strip() else audit.stderr.strip()
    return lost, failures, figures, audit_line


def summary(ledger, lost, figures):
    """`acknowledged=M lost=L` and the figures of the run, for the one-line report."""
    kinds = collections.Counter(e["kind"] for e in ledger.entries)
    return (f"acknowledged={sum(kinds.values())} lost={sum(lost.values())} "
            + " ".join(f"{k}={kinds[k]}" for k in ("record", "verification", "lease", "answer", "revocation", "commitment"))
            + f" retried={ledger.counters['submissions-retried']} replayed={ledger.counters['submissions-replayed']}"
            + f" connection-failures={ledger.counters['connection-failures']}"
            + f" leases-reissued-after-restart={figures['leases-reissued-after-restart']}"
            + f" checkpoints-served={figures['checkpoints-served']}"
            + (f" audit-facets-through={figures['audit-facets-through']}" if "audit-facets-through" in figures else ""))


def conclude(failures, lost, work, keep):
    """Prints the failures; keeps the work directory when asked or failed. Exit code."""
    for failure in failures[:50]:
        print(f"FAIL {failure}")
    ok = not failures and sum(lost.values()) == 0
    if ok and not keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"work directory kept: {work}")
    return 0 if ok else 1


def setup(work, binary):
    pki = f"{work}/pki"
    subprocess.run([binary, "pki", "init", "--out", pki, "--departments", f"{ROOT}/config/departments.json"],
                   check=True, stdout=subprocess.DEVNULL)
    with open(f"{ROOT}/config/departments.json") as f:
        departments = json.load(f)
    for department in departments["departments"]:
        department.pop("rateLimit", None)  # the crash test measures durability, not fairness
    with open(f"{work}/departments.json", "w") as f:
        json.dump(departments, f, ensure_ascii=False)
    shutil.copy(f"{ROOT}/config/catalog.json", f"{work}/catalog.json")
    config = {
        "listen": "127.0.0.1:0", "database": f"{work}/db/heyan.sqlite",
        "departments": "departments.json", "catalog": "catalog.json",
        "tls": {"certificate": f"{pki}/server.pem", "privateKey": f"{pki}/server.key",
                "clientCA": f"{pki}/ca.pem", "crl": f"{pki}/crl.pem"},
        "signing": {"certificate": f"{pki}/signing.pem", "privateKey": f"{pki}/signing.key", "chain": [f"{pki}/ca.pem"]},
        "workers": 2,
        # Checkpoint notes every second, so kills land between and during their signing too.
        "audit": {"logKey": f"{pki}/log.key", "origin": "localhost/audit/v1", "checkpointIntervalSeconds": 1},
    }
    with open(f"{work}/heyan.json", "w") as f:
        json.dump(config, f)
    return pki, f"{work}/heyan.json", f"{work}/db/heyan.sqlite"


def common_arguments(parser, kills=True):
    """The options of every driver built on this load (this one, and Tests/Scripts/cluster/)."""
    parser.add_argument("--binary", default=f"{ROOT}/.build/release/heyan")
    if kills:
        parser.add_argument("--kills", type=int, default=int(os.environ.get("CRASH_KILLS", "20")))
        parser.add_argument("--seconds", type=float, default=float(os.environ.get("CRASH_SECONDS", "0")),
                            help="spread the kills over about this long (default: 0.3-1.5 s between kills)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    common_arguments(parser)
    parser.add_argument("--verify", metavar="WORK",
                        help="only check a kept work directory (its ack.jsonl against its database) and exit")
    args = parser.parse_args()
    if args.verify:
        return verify_only(args.binary, args.verify)
    seed = args.seed if args.seed is not None else random.SystemRandom().getrandbits(32)
    rng = random.Random(seed)
    work = tempfile.mkdtemp(prefix="heyan-crashtest-")
    print(f"crashtest: seed={seed} kills={args.kills} work={work}", flush=True)
    pki, config, database = setup(work, args.binary)
    server = Server(args.binary, config, f"{work}/heyan.log")
    ledger = Ledger(f"{work}/ack.jsonl")
    stop = threading.Event()
    load = Load(pki, server, ledger, stop, seed)
    server.start()

    threads = start_clients(load)

    mean = args.seconds / max(1, args.kills) if args.seconds > 0 else 0.9
    kills = 0
    started = time.monotonic()
    try:
        for _ in range(args.kills):
            time.sleep(rng.uniform(mean / 3, mean * 5 / 3))
            if stop.is_set():
                break
            server.kill()
            kills += 1
            time.sleep(rng.uniform(0, 0.1))
            server.start()
        time.sleep(1.0)  # a last stretch of load on the last restart
    finally:
        stop_clients(stop, threads)
    elapsed = time.monotonic() - started
    # One more SIGKILL with nothing in flight, then a restart that must recover everything.
    server.kill()
    server.start()
    api_failures = api_check(load, ledger, sample=300)
    server.stop()
    lost, failures, figures, audit_line = final_checks(load, ledger, threads, args.binary, database, pki)
    failures += api_failures
    print(f"kills={kills} {summary(ledger, lost, figures)} seconds={elapsed:.1f}", flush=True)
    if server.start_seconds:
        print(f"restart: median {sorted(server.start_seconds)[len(server.start_seconds) // 2] * 1000:.0f} ms to listening; "
              f"audit: {audit_line}")
    if kills < args.kills:
        failures.append(f"only {kills} of {args.kills} kills happened")
    return conclude(failures, lost, work, args.keep)


if __name__ == "__main__":
    sys.exit(main())
