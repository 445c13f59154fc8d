#!/usr/bin/env python3
"""A/B two heyan builds (or two configurations) on one scenario, alternating, with the server's CPU per
request by thread group and the group-commit batches of each run: the figures behind an issue-16 change.

    python3 Tests/Scripts/bench/ab.py --a .build/release/heyan --b /tmp/heyan-new [--scenario data-sharing]
        [--rounds 4] [--duration 5] [--connections 64] [--rate 5000] [--set-b 'sqlite.x=1']

CPU per request (from /proc, utime + stime, per thread group) holds up on a loaded machine where
throughput does not; the rounds alternate A and B (ABAB…), each on a fresh database, and the medians
are printed. `--rate R` runs the measured interval open loop at R per second instead of closed loop: its p99
is the figure to compare (docs/performance.md's fixed-rate p99 A/Bs). Uses var/bench's PKI and configuration (make the bench once first: `BENCH_QUICK=1 BENCH_ONLY=main make bench`).
`--set-a`/`--set-b` put dotted keys into that side's heyan.json (values parsed as JSON when they parse).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402


def configured(base: Path, settings: list[str], folder: Path) -> Path:
    service = json.loads(base.read_text())
    for item in settings:
        key, _, raw = item.partition("=")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = service
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    path = folder / "heyan.json"
    path.write_text(json.dumps(service, ensure_ascii=False))
    return path


def one_run(side: str, binary: Path, config: Path, s, args, round_: int) -> dict | None:
    environment = dict(item.split("=", 1) for item in (args.env_a if side == "A" else args.env_b))
    saved = {key: os.environ.get(key) for key in environment}
    os.environ.update(environment)  # the server inherits it
    try:
        return measured(side, binary, config, s, args, round_)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def measured(side: str, binary: Path, config: Path, s, args, round_: int) -> dict | None:
    folder = Path(tempfile.mkdtemp(prefix=f"ab-{side}-", dir=bench.VAR / "db"))
    s.heyan_bin = binary
    heyan = bench.Heyan(f"ab-{side}", folder / "heyan.sqlite", config, s).start()
    try:
        b = bench.Bench(s)
        if args.scenario == "data-sharing":  # seed outside the measured interval
            b.run("ab", side, heyan, "data-sharing", round_, duration=1, warmup=0)
        totals_before = bench.group_commit_totals([heyan], s.pki)
        pid = heyan.pid
        database = folder / "heyan.sqlite"
        count = "select count(*) from verifications" + (" where status = 'answered'" if args.scenario == "queue" else "")
        stored_before = bench.sqlite_scalar(database, count)
        before = bench.thread_cpu(pid)
        result = b.run("ab", side, heyan, args.scenario, round_, rate=args.rate, no_seed=args.scenario == "data-sharing")
        after = bench.thread_cpu(pid)
        totals_after = bench.group_commit_totals([heyan], s.pki)
        stored_after = bench.sqlite_scalar(database, count)
    finally:
        heyan.stop()
        for path in folder.glob("*"):
            path.unlink()
        folder.rmdir()
    if result is None:
        return None
    units = (stored_after or 0) - (stored_before or 0)  # warm-up included, as the CPU interval
    if units <= 0:
        return None
    groups = bench.cpu_per_thread_group(pid, before, after)
    batches = bench.group_commit_batches(totals_before, totals_after) or {}
    out = {"rate": result.get("roundTripsPerSecond") or result["requestsPerSecond"], "p99": result["latencyMs"]["p99"],
           "us": {k: v * 1e6 / units for k, v in groups.items()}, "jobsPerBatch": batches.get("jobsPerBatch"),
           "commitMs": batches.get("commitMillisecondsPerBatch")}
    print(f"  {side} round {round_}: {out['rate']:,.0f}/s p99 {out['p99']:.2f} ms  µs per unit " +
          ", ".join(f"{k} {v:.1f}" for k, v in sorted(out["us"].items(), key=lambda kv: -kv[1]) if v >= 0.5) +
          f"  batch {out['jobsPerBatch']} jobs, {out['commitMs']} ms", flush=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--a", type=Path, default=bench.ROOT / ".build" / "release" / "heyan")
    p.add_argument("--b", type=Path)
    p.add_argument("--scenario", default="data-sharing")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--duration", type=float, default=5)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--rate", type=float, help="open loop at this many per second (default: closed loop)")
    p.add_argument("--set-a", action="append", default=[])
    p.add_argument("--set-b", action="append", default=[])
    p.add_argument("--env-a", action="append", default=[], help="KEY=VALUE in that side's server environment")
    p.add_argument("--env-b", action="append", default=[])
    args = p.parse_args()
    args.b = args.b or args.a
    s = bench.parse_settings(["--duration", str(args.duration), "--warmup", "1", "--connections", str(args.connections)])
    s.bench_cmd = [str(args.a.resolve()), "bench"]  # one load generator for both sides, seeding included
    base = bench.VAR / "config" / "heyan.json"
    if not base.exists():
        sys.exit("var/bench/config/heyan.json is missing: run `BENCH_QUICK=1 BENCH_ONLY=main make bench` once")
    work = Path(tempfile.mkdtemp(prefix="ab-config-"))
    (work / "a").mkdir()
    (work / "b").mkdir()
    configs = {"A": configured(base, args.set_a, work / "a"), "B": configured(base, args.set_b, work / "b")}
    binaries = {"A": args.a.resolve(), "B": args.b.resolve()}
    runs: dict[str, list[dict]] = {"A": [], "B": []}
    print(f"A: {binaries['A']} {args.set_a} {args.env_a}\nB: {binaries['B']} {args.set_b} {args.env_b}\nscenario {args.scenario}, "
          f"{args.rounds} rounds of {args.duration:g} s, {args.connections} connections"
          + (f", open loop at {args.rate:g}/s" if args.rate else ""), flush=True)
    for round_ in range(args.rounds):
        order = ("A", "B") if round_ % 2 == 0 else ("B", "A")
        for side in order:
            out = one_run(side, binaries[side], configs[side], s, args, round_)
            if out:
                runs[side].append(out)
            time.sleep(0.5)
    print("medians:")
    for side in ("A", "B"):
        rs = runs[side]
        if not rs:
            print(f"  {side}: no run")
            continue
        keys = sorted({k for r in rs for k in r["us"]}, key=lambda k: -statistics.median(r["us"].get(k, 0) for r in rs))
        us = ", ".join(f"{k} {statistics.median(r['us'].get(k, 0) for r in rs):.1f}" for k in keys
                       if statistics.median(r["us"].get(k, 0) for r in rs) >= 0.5)
        jobs = [r["jobsPerBatch"] for r in rs if r["jobsPerBatch"]]
        print(f"  {side}: {statistics.median(r['rate'] for r in rs):,.0f}/s, p99 {statistics.median(r['p99'] for r in rs):.2f} ms,"
              f" µs per unit {us}; {statistics.median(jobs) if jobs else '?'} jobs per batch")


if __name__ == "__main__":
    main()
