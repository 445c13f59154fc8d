#!/usr/bin/env python3
"""Rolling restart under load: every heyan node of a temporary cluster (cluster.py) is stopped with SIGTERM
and started again, one after the other, while crashtest.py's mixed load runs through HAProxy. The clients
retry only where an HTTP client would: idempotent methods (GET, PUT) and requests carrying an
Idempotency-Key; any other request that fails, and any 5xx, fails the run (docs/cluster.md, "Rolling restart").

Usage: Tests/Scripts/cluster/rolling_restart.py [--binary .build/release/heyan] [--rounds 1] [--drain 1.5]

Prints `restarted=N requests=M failed=0 retried=R …` and exits 1 on a failed request or a failed check.
"""

import argparse
import os
import random
import select
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import crashtest  # noqa: E402
from cluster import Cluster  # noqa: E402
from crashtest_cluster import Balancer  # noqa: E402

IDEMPOTENT = ("GET", "HEAD", "PUT", "DELETE", "OPTIONS")


class CarefulClient(crashtest.Client):
    """A client that behaves like common HTTP libraries: before reusing a keep-alive connection it checks
    that the server has not closed it (urllib3's `is_connection_dropped`), and it resends a request after a
    lost connection only when the method is idempotent or the request carries an Idempotency-Key (Go's
    net/http rule). Everything else that fails is a failed request."""

    def _connect(self):
        connection = self.connection
        if connection is not None and connection.sock is not None:
            readable, _, _ = select.select([connection.sock], [], [], 0)
            if readable:  # closed by the server (or unexpected bytes): not reusable
                self.ledger.count("pooled-connections-dropped")
                self.close()
        return super()._connect()

    def once(self, method, path, body=None, headers=None, drop=False):
        self.ledger.count("requests")
        return super().once(method, path, body, headers, drop)

    def until_answered(self, method, path, body=None, headers=None, drop_first=False):
        if method in IDEMPOTENT or "Idempotency-Key" in (headers or {}):
            result = super().until_answered(method, path, body, headers, drop_first)
            if result is not None and result[3] > 1:
                self.ledger.count("requests-retried")
            return result
        sent = time.time()
        try:
            status, data, received = self.once(method, path, body, headers)
        except crashtest.ConnectionLost as error:
            self.ledger.count("requests-failed")
            raise RuntimeError(f"{method} {path} failed and may not be retried: {error}") from error
        return status, data, received, 1, sent, sent


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    crashtest.common_arguments(parser, kills=False)
    parser.add_argument("--rounds", type=int, default=1, help="restart every node this many times")
    parser.add_argument("--drain", type=float, default=1.5, help="drainSeconds of the nodes")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().getrandbits(32)
    work = tempfile.mkdtemp(prefix="heyan-rolling-")
    os.chmod(work, 0o755)
    print(f"rolling-restart: seed={seed} rounds={args.rounds} drain={args.drain} work={work}", flush=True)
    pki, _, _ = crashtest.setup(work, args.binary)
    cluster = Cluster.temporary(work, args.binary, pki, drain_seconds=args.drain)
    database = cluster.database_uri()
    cluster.start()

    ledger = crashtest.Ledger(f"{work}/ack.jsonl")
    stop = threading.Event()
    # Unlike the crash test, a 503 is not retried here: nothing should answer one.
    load = crashtest.Load(pki, Balancer(cluster.port, retry_unavailable=False), ledger, stop, seed)
    load.client_class = CarefulClient
    load.drop_rate = 0.0  # no deliberate hang-ups: every lost connection here is the restart's doing
    threads = crashtest.start_clients(load)

    restarted, drains = 0, []
    started = time.monotonic()
    try:
        time.sleep(1.0)
        for _ in range(args.rounds):
            for node in cluster.nodes:
                if stop.is_set():
                    break
                began = time.monotonic()
                node.stop()  # SIGTERM: drain, finish in-flight requests, exit
                drains.append(time.monotonic() - began)
                cluster.start_node(node)
                cluster.wait_until_up([node.name])
                restarted += 1
                time.sleep(0.5)
        time.sleep(0.5)
    finally:
        crashtest.stop_clients(stop, threads)
    elapsed = time.monotonic() - started
    for node in cluster.nodes:
        node.stop()
    lost, failures, figures, audit_line = crashtest.final_checks(load, ledger, threads, args.binary, database, pki)
    # Retries of submissions are not required here (nothing may fail), unlike the crash test.
    failures = [f for f in failures if "was retried with its Idempotency-Key" not in f]
    counters = ledger.counters
    print(f"restarted={restarted} requests={counters['requests']} failed={counters['requests-failed']} "
          f"retried={counters['requests-retried']} status-5xx={counters['status-5xx'] + counters['status-503']} "
          f"pooled-connections-dropped={counters['pooled-connections-dropped']} "
          f"{crashtest.summary(ledger, lost, figures)} seconds={elapsed:.1f}", flush=True)
    print(f"drain: SIGTERM to exit {', '.join(f'{d:.2f}' for d in drains)} s; audit: {audit_line}")
    if restarted < args.rounds * len(cluster.nodes):
        failures.append(f"only {restarted} restarts happened")
    if counters["requests-failed"]:
        failures.append(f"{counters['requests-failed']} requests failed")
    cluster.stop()
    return crashtest.conclude(failures, lost, work, args.keep)


if __name__ == "__main__":
    sys.exit(main())
