#!/usr/bin/env python3
"""A stand-in for `heyan bench` to test Tests/Scripts/bench/run.py before the real load generator exists.

    HEYAN_BENCH_BIN="python3 Tests/Scripts/bench/stub_heyan_bench.py" BENCH_QUICK=1 python3 Tests/Scripts/bench/run.py

Same command line and the same one JSON object on stdout. It really talks mTLS to the target for
healthz, handshake, idle and data-sharing (Python threads: a few thousand requests/s at most, so
its numbers measure the stub, not the server); `queue` and `url` report made-up numbers. It exists
to exercise nginx's generated config, heyan's start and stop, the idle-connection count, the
database fill loop, aggregation and the table.
"""

import argparse
import http.client
import json
import random
import ssl
import sys
import threading
import time
from pathlib import Path

p = argparse.ArgumentParser()
p.add_argument("--url", required=True)
p.add_argument("--certs", required=True)
p.add_argument("--department", default="hrss")
p.add_argument("--scenario", required=True, choices=["healthz", "data-sharing", "queue", "handshake", "idle", "url"])
p.add_argument("--path", default="/healthz")
p.add_argument("--connections", type=int, default=16)
p.add_argument("--threads", type=int)
p.add_argument("--duration", type=float, default=5)
p.add_argument("--warmup", type=float, default=0)
p.add_argument("--rate", type=float)
p.add_argument("--subjects", type=int, default=1000)
p.add_argument("--json", action="store_true")
p.add_argument("--no-seed", action="store_true")
a = p.parse_args()

host, port = a.url.removeprefix("https://").rsplit(":", 1)
port = int(port)
certs = Path(a.certs)


def context(department: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    ctx.check_hostname = False  # the dev server certificate names localhost
    ctx.load_cert_chain(str(certs / "departments" / f"{department}.pem"), str(certs / "departments" / f"{department}.key"))
    return ctx


def connect(ctx):
    c = http.client.HTTPSConnection(host, port, context=ctx, timeout=10)
    c.connect()
    return c


def subject(i: int) -> str:
    base = f"110105{19490101 + (i % 28):08d}{i % 1000:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = (12 - sum(int(d) * w for d, w in zip(base, weights)) % 11) % 11
    return base + ("X" if check == 10 else str(check))


lock = threading.Lock()
latencies: list[float] = []
statuses: dict[str, int] = {}
errors: dict[str, int] = {}
stop_at = time.monotonic() + a.warmup + a.duration
measure_from = time.monotonic() + a.warmup


def count(status=None, error=None, latency=None):
    with lock:
        if time.monotonic() < measure_from:
            return
        if status is not None:
            statuses[str(status)] = statuses.get(str(status), 0) + 1
        if error is not None:
            errors[error] = errors.get(error, 0) + 1
        if latency is not None:
            latencies.append(latency * 1000)


def worker(n: int) -> None:
    dept = "hrss" if a.scenario == "data-sharing" else a.department
    ctx = context(dept)
    conn = None
    while time.monotonic() < stop_at:
        t0 = time.monotonic()
        try:
            if conn is None or a.scenario == "handshake":
                if conn is not None:
                    conn.close()
                conn = connect(ctx)
            if a.scenario == "data-sharing":
                body = json.dumps({"certificateType": "PSB-NO-CRIMINAL-RECORD", "matterCode": "HR-RECRUIT-001",
                                   "purpose": "事业单位招聘：核验无犯罪记录",
                                   "subject": {"idType": "resident-id", "id": subject(random.randrange(a.subjects)),
                                               "name": "张三"},
                                   "claims": {"hasCriminalRecord": False}})
                conn.request("POST", "/v1/verifications", body, {"Content-Type": "application/json"})
            else:
                conn.request("GET", a.path if a.scenario == "url" else "/healthz")
            r = conn.getresponse()
            r.read()
            count(status=r.status, latency=time.monotonic() - t0)
        except Exception as e:  # noqa: BLE001 - a stub counts every failure by kind
            count(error=type(e).__name__)
            conn = None
            time.sleep(0.01)
        if a.rate:
            time.sleep(max(0.0, a.connections / a.rate - (time.monotonic() - t0)))


def seed() -> None:
    ctx = context("public-security")
    conn = connect(ctx)
    for i in range(min(a.subjects, 200)):
        conn.request("PUT", f"/v1/records/PSB-NO-CRIMINAL-RECORD/{subject(i)}",
                     json.dumps({"claims": {"hasCriminalRecord": False}}), {"Content-Type": "application/json"})
        conn.getresponse().read()
    conn.close()
    a.subjects = min(a.subjects, 200)


def percentile(values, q):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


result = {"scenario": a.scenario, "target": a.url, "connections": a.connections, "threads": a.threads or 1,
          "duration": a.duration}
if a.rate:
    result["rate"] = a.rate

if a.scenario == "queue":
    time.sleep(a.warmup + a.duration)
    n = int(1234 * a.duration)
    result.update({"requests": 3 * n, "requestsPerSecond": 3 * n / a.duration, "roundTrips": n,
                   "roundTripsPerSecond": n / a.duration, "errors": {}, "statuses": {"200": 2 * n, "202": n}})
    lat = {"p50": 1.0, "p90": 2.0, "p99": 3.0, "p999": 4.0, "max": 5.0, "mean": 1.2}
elif a.scenario == "idle":
    ctx = context(a.department)
    held = []
    for _ in range(a.connections):
        try:
            c = connect(ctx)
            c.request("GET", "/healthz")
            r = c.getresponse()
            r.read()
            statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
            held.append(c)
        except Exception as e:  # noqa: BLE001
            errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
    time.sleep(a.duration)
    for c in held:
        c.close()
    result.update({"requests": len(held), "requestsPerSecond": len(held) / a.duration, "errors": errors,
                   "statuses": statuses})
    lat = {"p50": 0, "p90": 0, "p99": 0, "p999": 0, "max": 0, "mean": 0}
else:
    if a.scenario == "data-sharing" and not a.no_seed:
        seed()
    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(min(a.connections, 32))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    n = len(latencies)
    result.update({"requests": n, "requestsPerSecond": n / a.duration, "errors": errors, "statuses": statuses})
    if a.scenario == "handshake":
        result["handshakesPerSecond"] = n / a.duration
    lat = {"p50": percentile(latencies, .5), "p90": percentile(latencies, .9), "p99": percentile(latencies, .99),
           "p999": percentile(latencies, .999), "max": max(latencies, default=0),
           "mean": sum(latencies) / n if n else 0}
result["latencyMs"] = lat
print(json.dumps(result))
sys.exit(0)
