#!/usr/bin/env python3
"""The failover crash test: crashtest.py's mixed load through HAProxy while heyan nodes are SIGKILLed and the
PostgreSQL primary is SIGKILLed and its standby promoted, then crashtest.py's checker (docs/crashtest.md).

Usage: Tests/Scripts/cluster/crashtest_cluster.py [--binary .build/release/heyan] [--kills 20] [--failovers 2]
       [--seconds S] [--seed N] [--keep] [--prove-checker]

A temporary cluster (cluster.py: PostgreSQL primary + synchronous standby, three `heyan serve`, HAProxy) on
free loopback ports. Prints `kills=N failovers=F acknowledged=M lost=L …` and the longest time no request
succeeded around a node kill and around a failover; exits 1 on any loss or failed check.
"""

import argparse
import bisect
import json
import os
import random
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import crashtest  # noqa: E402
from cluster import Cluster  # noqa: E402



class Balancer:
    """What every client connects to: HAProxy's port, which stays up while nodes come and go. With
    `retry_unavailable` a 503 (a node whose database is failing over) is retried like a lost connection:
    same request, same key."""

    def __init__(self, port, retry_unavailable):
        self.port, self.retry_unavailable = port, retry_unavailable
        self.up = threading.Event()
        self.up.set()
        self.generation = 0  # node kills so far (a lease's `generation` in the ledger)


def longest_gap(successes, periods):
    """The longest time with no success (sorted times) inside any of the periods (start, end): from the
    last success before the start up to the first success after the end."""
    longest = 0.0
    for start, end in periods:
        first = max(0, bisect.bisect_right(successes, start) - 1)
        last = bisect.bisect_right(successes, end)
        inside = successes[first:last + 1]
        longest = max([longest] + [b - a for a, b in zip(inside, inside[1:])])
    return longest


def prove_checker(cluster, ledger):
    """Deletes one acknowledged record from the database and runs the checker again: it must count it lost."""
    import psycopg2
    record = ledger.of("record")[-1]
    connection = psycopg2.connect(cluster.database_uri(user="postgres"))
    connection.autocommit = True
    connection.cursor().execute("DELETE FROM records WHERE certificate_type = %s AND subject_id = %s",
                                (record["type"], record["subject"]))
    connection.close()
    lost, failures, _ = crashtest.check(cluster.database_uri(), ledger)
    caught = sum(lost.values()) >= 1 and failures
    print(f"checker: one acknowledged record deleted -> lost={sum(lost.values())} "
          f"{'caught' if caught else 'NOT CAUGHT'}", flush=True)
    return bool(caught)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    crashtest.common_arguments(parser)
    parser.add_argument("--failovers", type=int, default=int(os.environ.get("CRASH_FAILOVERS", "2")))
    parser.add_argument("--strict-sync", action="store_true",
                        help="keep every COMMIT waiting for a standby while the old primary is rebuilt (docs/cluster.md)")
    parser.add_argument("--prove-checker", action="store_true",
                        help="after a clean run, delete one acknowledged record and show the checker reports it")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().getrandbits(32)
    rng = random.Random(seed)
    work = tempfile.mkdtemp(prefix="heyan-cluster-crashtest-")
    os.chmod(work, 0o755)  # PostgreSQL runs as postgres and must traverse it
    print(f"crashtest-cluster: seed={seed} kills={args.kills} failovers={args.failovers} work={work}", flush=True)
    pki, _, _ = crashtest.setup(work, args.binary)
    cluster = Cluster.temporary(work, args.binary, pki, drain_seconds=0)
    database = cluster.database_uri()
    setup_started = time.monotonic()
    cluster.start()
    print(f"cluster up in {time.monotonic() - setup_started:.1f} s: HAProxy 127.0.0.1:{cluster.port}", flush=True)

    balancer = Balancer(cluster.port, retry_unavailable=True)
    ledger = crashtest.Ledger(f"{work}/ack.jsonl")
    stop = threading.Event()
    load = crashtest.Load(pki, balancer, ledger, stop, seed)
    threads = crashtest.start_clients(load)

    mean = args.seconds / max(1, args.kills) if args.seconds > 0 else 0.9
    failover_before = {round((i + 1) * args.kills / (args.failovers + 1)) for i in range(args.failovers)}
    kills, failovers, kill_moments, failover_moments, failover_figures = 0, 0, [], [], []
    kill_wall, failover_wall = [], []
    started = time.monotonic()
    try:
        for index in range(args.kills):
            time.sleep(rng.uniform(mean / 3, mean * 5 / 3))
            if stop.is_set():
                break
            if index in failover_before:
                began, began_wall = time.monotonic(), time.time()
                old, new, promoted, rejoined = cluster.crash_primary_and_promote(strict=args.strict_sync)
                # The window looked at: from the SIGKILL until a second after the standby is back.
                failover_moments.append((began, time.monotonic() + 1))
                failover_wall.append((began_wall, time.time() + 1))
                failovers += 1
                failover_figures.append(f"{old.name}->{new.name} promoted {promoted:.2f} s, standby back {rejoined:.2f} s")
                time.sleep(rng.uniform(mean / 3, mean))
            node = rng.choice(cluster.nodes)
            kill_moments.append((time.monotonic(), time.monotonic() + 2))  # the kill and 2 s after it
            kill_wall.append((time.time(), time.time() + 2))
            node.kill()
            kills += 1
            balancer.generation += 1
            time.sleep(rng.uniform(0, 0.1))
            cluster.start_node(node)
        time.sleep(1.0)  # a last stretch of load with every node back
    finally:
        crashtest.stop_clients(stop, threads)
    elapsed = time.monotonic() - started
    api_failures = crashtest.api_check(load, ledger, sample=300)
    for node in cluster.nodes:
        node.stop()
    lost, failures, figures, audit_line = crashtest.final_checks(load, ledger, threads, args.binary, database, pki)
    failures += api_failures
    successes = sorted(ledger.successes)
    print(f"kills={kills} failovers={failovers} {crashtest.summary(ledger, lost, figures)} "
          f"status-503-retried={ledger.counters['status-503']} seconds={elapsed:.1f}", flush=True)
    with open(f"{work}/events.json", "w") as f:  # for reading ack.jsonl against the kills and failovers
        json.dump({"kills": kill_wall, "failovers": failover_wall}, f)
    writes = sorted(e["at"] for e in ledger.entries if e["kind"] != "lease")
    print(f"unavailable (longest time with no successful request): at a node kill "
          f"{longest_gap(successes, kill_moments):.2f} s, at a database failover {longest_gap(successes, failover_moments):.2f} s; "
          f"with no acknowledged write: at a node kill {longest_gap(writes, kill_wall):.2f} s, "
          f"at a database failover {longest_gap(writes, failover_wall):.2f} s", flush=True)
    for line in failover_figures:
        print(f"failover: {line}")
    deadlocks = 0
    for server in cluster.pg:
        with open(server.log, errors="replace") as f:
            deadlocks += sum("ERROR:  deadlock detected" in line for line in f)
    # Each is a second (deadlock_timeout) in which the writers of every node wait: docs/cluster.md, "Measured".
    print(f"postgresql: deadlocks detected {deadlocks}")
    print(f"audit: {audit_line}")
    if kills < args.kills:
        failures.append(f"only {kills} of {args.kills} kills happened")
    if failovers < args.failovers:
        failures.append(f"only {failovers} of {args.failovers} failovers happened")
    if args.prove_checker and not failures and sum(lost.values()) == 0 and not prove_checker(cluster, ledger):
        failures.append("the checker did not catch a deleted acknowledged record")
    cluster.stop()
    return crashtest.conclude(failures, lost, work, args.keep)


if __name__ == "__main__":
    sys.exit(main())
