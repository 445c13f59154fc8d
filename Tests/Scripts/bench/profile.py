#!/usr/bin/env python3
"""Instructions per data-sharing verification or per queue round trip, counted by callgrind
(`make profile-verification`).

Instruction counts do not depend on what else the machine is doing, so this measures a change on a
loaded machine where throughput and even CPU seconds do not hold still. It starts the release heyan
under `valgrind --tool=callgrind --separate-threads=yes` on a fresh database (var/profile/), seeds
the subjects' records with `heyan bench`, zeroes the counters (`callgrind_control -z`), runs
`heyan bench --scenario data-sharing --no-seed`, dumps them (`callgrind_control -d`) and divides by
the verifications stored meanwhile (`select count(*) from verifications` before and after). Then:
instructions per verification for the whole server, per thread group (writer, loops, checkpointer,
log, maintenance), per function group (Swift runtime, allocator, SQLite, libcrypto, heyan's modules)
and the costliest functions (self cost). var/profile/summary.json keeps the figures; the callgrind
files stay in var/profile/ for `callgrind_annotate`.

With `--store postgresql` the node serves the PostgreSQL store instead: a throwaway server is made in
var/profile/pg (initdb, a free loopback port, no standby, synchronous_commit and fsync on: the bench's
pg phase server, through Tests/Scripts/cluster/cluster.py) and removed afterwards. The server's own CPU
is not counted (it runs natively); heyan's threads that libpq calls block in are, by group: loops, the
writer queue, the audit integrator, the change listener, leader election (told apart by what they ran,
since they carry no thread name of their own).

    python3 Tests/Scripts/bench/profile.py [--seconds 10] [--connections 2] [--subjects 200]
    python3 Tests/Scripts/bench/profile.py --store postgresql              # heyan's CPU on PostgreSQL
    HEYAN_BIN=/other/build/heyan python3 Tests/Scripts/bench/profile.py     # A/B another build
    python3 Tests/Scripts/bench/profile.py --scenario queue                 # per queue round trip

`--scenario queue` runs `heyan bench --scenario queue` instead (submit 202, lease, answer 200 with the
attestation, fetch the attestation: four requests, three durable writes, one signature) and divides by
the attestations stored meanwhile (one per answered round trip). Each request's share of the loops is
printed from the route handlers' inclusive cost (`callgrind_annotate --inclusive=yes`).

The counters are zeroed after the measured run's connections are up (the client is stopped with
SIGSTOP meanwhile), so their TLS handshakes are not counted. The count is not bit-for-bit the same
twice: group-commit batch sizes and timer ticks depend on timing; compare builds with the same
--connections. The client runs natively (not under valgrind) and is not counted; nor is the kernel.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402  (the harness's settings, PKI and heyan config)

OUT = bench.ROOT / "var" / "profile"

def thread_names(pid: int) -> list[str]:
    """The process's thread names in creation order (tid order): valgrind numbers its threads the same way,
    so the n-th name belongs to callgrind's thread n (files `….1-0n`)."""
    names = []
    for task in sorted(Path(f"/proc/{pid}/task").glob("*"), key=lambda t: int(t.name)):
        try:
            names.append((task / "comm").read_text().strip())
        except OSError:
            names.append("?")
    return names


# Threads without a name of their own (the PostgreSQL store's: libdispatch's worker running the writer
# queue, and the threads `Thread.detach` starts, which inherit the main thread's name) are told apart by a
# function only they run; checked in this order, on the mangled names of the thread's dump.
UNNAMED_THREAD_MARKERS = (
    ("commitPending", "pg writer queue"),
    ("integrateBatch", "pg integrator"),
    ("runPass", "pg integrator"),
    ("waitForNotifications", "pg listener"),
    ("LeaderElection", "pg election"),
)


def thread_group(name: str, functions: dict[tuple[str, str], int] | None = None) -> str:
    if functions and (name.startswith("callgrind") or name in ("heyan", "?") or not name.startswith("heyan-")):
        for marker, group in UNNAMED_THREAD_MARKERS:
            if any(marker in function for function, _ in functions):
                return group
    if name.startswith("heyan-loop"):
        return "loops"
    if name.startswith("callgrind") or name == "heyan":  # valgrind names the main thread after itself
        return "main"
    return {"heyan-writer": "writer", "heyan-ckpt": "checkpointer", "heyan-log": "log",
            "heyan-maint": "maintenance"}.get(name, name)


def function_group(name: str, obj: str, binary: str = "heyan") -> str:
    base = os.path.basename(obj)
    if "libswiftCore" in base or "libswift" in base or "libFoundation" in base or "libdispatch" in base:
        if re.search(r"retain|release|Retain|Release|RefCount|doDecrement", name):
            return "swift retain/release"
        if "Hasher" in name or "hash" in name.lower():
            return "swift hashing"
        return "swift runtime/stdlib (other)"
    if base.startswith("libc.so") or base.startswith("ld-linux"):
        if re.search(r"malloc|free|_int_|arena|tcache|realloc|calloc|memalign", name):
            return "malloc/free"
        if re.search(r"mem(cpy|move|set|cmp|chr)|str", name):
            return "libc mem*/str*"
        return "libc (other)"
    if "libsqlite3" in base:
        return "SQLite"
    if "libpq" in base:
        return "libpq"
    if "libcrypto" in base:
        return "libcrypto"
    if "libssl" in base:
        return "libssl"
    if base == binary:  # heyan, or the build HEYAN_BIN names
        match = re.match(r"\$s(\d+)(\w+)", name)
        if match:
            module = match.group(2)[: int(match.group(1))]
            if module.startswith("Heyan"):
                return f"heyan: {module}"
            if module == "s":
                return "heyan: stdlib specialisations"
        if name.startswith("$ss") or name.startswith("$sS"):
            return "heyan: stdlib specialisations"
        return "heyan: other"
    return base or "unknown"


def function_groups(functions: dict[tuple[str, str], int], binary: str = "heyan") -> dict[str, int]:
    """Self cost summed by `function_group`."""
    groups: dict[str, int] = {}
    for (name, obj), cost in functions.items():
        group = function_group(name, obj, binary)
        groups[group] = groups.get(group, 0) + cost
    return groups


def print_shares(title: str, costs: dict[str, int], whole: int, per, at_least: float = 0.0) -> None:
    """`title`, then each cost of at least `at_least` of `whole`, largest first: per unit (`per`) and share."""
    print(title)
    for name, n in sorted(costs.items(), key=lambda kv: -kv[1]):
        if n / whole >= at_least:
            print(f"  {name:<38} {per(n):>12,.0f}  {100 * n / whole:5.1f} %")


def stop_server(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 120) -> None:
    """Signals a server started here and waits for it to exit; SIGKILL after `timeout` seconds."""
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def resolve_name(table: dict[str, str], value: str) -> str:
    """A name in callgrind's compressed form: `(id) name` defines id in `table`, `(id)` alone refers to it."""
    m = re.match(r"\((\d+)\)(?: (.*))?", value)
    if not m:
        return value
    if m.group(2) is not None:
        table[m.group(1)] = m.group(2)
    return table.get(m.group(1), value)


def parse_callgrind(path: Path) -> tuple[int, dict[tuple[str, str], int]]:
    """(total Ir, self Ir per (function, object)) from one callgrind output file."""
    names: dict[str, str] = {}
    objects: dict[str, str] = {}
    costs: dict[tuple[str, str], int] = {}
    total = 0
    current_obj = ""
    current = ("?", "")
    skip_next = False
    text = path.read_text(errors="replace")
    for line in text.splitlines():
        if not line:
            continue
        c = line[0]
        if c.isdigit() or c in "+-*":
            if skip_next:
                skip_next = False
                continue
            parts = line.split()
            if len(parts) >= 2:
                cost = int(parts[-1])
                costs[current] = costs.get(current, 0) + cost
            continue
        if line.startswith("fn="):
            current = (resolve_name(names, line[3:]), current_obj)
        elif line.startswith("ob="):
            current_obj = resolve_name(objects, line[3:])
        elif line.startswith("cob="):
            resolve_name(objects, line[4:])
        elif line.startswith("cfn="):
            resolve_name(names, line[4:])
        elif line.startswith("calls="):
            skip_next = True
        elif line.startswith("totals:") or line.startswith("summary:"):
            total = max(total, int(line.split()[1]))
    if total == 0:
        total = sum(costs.values())
    return total, costs


def remove_postgres(postgres: "bench.PostgresServer") -> None:
    """Stops the throwaway server of --store postgresql and removes var/profile/pg."""
    postgres.stop()
    shutil.rmtree(postgres.folder, ignore_errors=True)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=float(os.environ.get("PROFILE_SECONDS", 10)))
    p.add_argument("--connections", type=int, default=int(os.environ.get("PROFILE_CONNECTIONS", 2)))
    p.add_argument("--subjects", type=int, default=200)
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--store", choices=("sqlite", "postgresql"), default=os.environ.get("PROFILE_STORE", "sqlite"),
                   help="the store the profiled node serves (postgresql: a throwaway server in var/profile/pg)")
    p.add_argument("--scenario", choices=["data-sharing", "queue"], default="data-sharing")
    a = p.parse_args(argv)
    s = bench.parse_settings([])
    bench.VAR.mkdir(parents=True, exist_ok=True)
    bench.ensure_pki(s)
    config = bench.write_heyan_config(s)
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("callgrind.out.*"):
        old.unlink()
    # One data-sharing verification stores one verification; one queue round trip one attestation (its answer).
    count_sql = ("select count(*) from attestations" if a.scenario == "queue"
                 else "select count(*) from verifications")
    unit = "queue round trip" if a.scenario == "queue" else "verification"
    postgres: bench.PostgresServer | None = None
    if a.store == "postgresql":
        postgres = bench.PostgresServer(bench.import_cluster(), OUT / "pg", "profile").start(["heyan"])
        database = postgres.uri("heyan")
        config = bench.write_pg_config(config, database)
        count = postgres.count("heyan", count_sql)
    else:
        sqlite = OUT / "profile.sqlite"
        bench.remove_database(sqlite)
        database = str(sqlite)
        count = lambda: bench.sqlite_scalar(sqlite, count_sql) or 0  # noqa: E731
    log_path = OUT / "heyan.log"
    cmd = ["valgrind", "--tool=callgrind", "--separate-threads=yes",
           f"--callgrind-out-file={OUT}/callgrind.out.%p", str(s.heyan_bin), "serve", "--config", str(config),
           "--listen", f"{bench.HOST}:0", "--database", database, "--log-level", "info"]
    try:
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
    except BaseException:
        if postgres:
            remove_postgres(postgres)
        raise
    try:
        port = None
        deadline = time.monotonic() + 180
        while port is None and time.monotonic() < deadline and proc.poll() is None:
            port = bench.listening_port(log_path)
            time.sleep(0.2)
        if port is None:
            print(bench.tail(log_path), file=sys.stderr)
            raise SystemExit("heyan did not start under valgrind")
        url = f"https://{bench.HOST}:{port}"
        load = [str(s.heyan_bin), "bench", "--url", url, "--certs", str(s.pki), "--scenario", a.scenario,
                "--subjects", str(a.subjects), "--json"]
        # Seeding stores the data-sharing records; for the queue it is a first round of the scenario, which
        # also warms the server's caches the same way.
        seeded = bench.run(load + ["--connections", "2", "--duration", "2", "--warmup", "0"], timeout=300)
        if seeded.returncode != 0:
            raise SystemExit(f"seeding failed: {seeded.stdout}{seeded.stderr}")
        # Zero the counters once the measured run's connections are up (their handshakes are not a
        # verification's cost): wait for its first verifications, stop the client (SIGSTOP), let the
        # server finish what is in flight, count, zero, continue the client.
        start = count()
        client = subprocess.Popen(load + ["--no-seed", "--connections", str(a.connections), "--duration",
                                          f"{a.seconds + 2:g}", "--warmup", "0"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while count() < start + 2 * a.connections:
            if client.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the load did not start: {client.communicate()}")
            time.sleep(0.1)
        client.send_signal(signal.SIGSTOP)
        time.sleep(1.5)
        before = count()
        subprocess.run(["callgrind_control", "-z", str(proc.pid)], capture_output=True, timeout=120, check=True)
        client.send_signal(signal.SIGCONT)
        out, err = client.communicate(timeout=a.seconds + 300)
        result = subprocess.CompletedProcess(client.args, client.returncode, out, err)
        time.sleep(1.0)  # the last responses' commits and log lines
        names = thread_names(proc.pid)
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], capture_output=True, timeout=120, check=True)
        after = count()
        if result.returncode != 0:
            raise SystemExit(f"the load failed: {result.stdout}{result.stderr}")
    finally:
        if proc.poll() is None:
            stop_server(proc)
        if postgres:
            remove_postgres(postgres)
    verifications = (after or 0) - (before or 0)
    if verifications <= 0:
        raise SystemExit(f"no {unit} was stored during the measured run")
    dumps = sorted(f for f in OUT.glob(f"callgrind.out.{proc.pid}.1-*"))
    if not dumps:
        raise SystemExit(f"no callgrind dump in {OUT}")
    threads: dict[str, int] = {}
    functions: dict[tuple[str, str], int] = {}
    loop_dumps: list[Path] = []  # for the route handlers' inclusive costs below
    for dump in dumps:
        total, costs = parse_callgrind(dump)
        number = int(dump.name.rsplit("-", 1)[1])
        group = thread_group(names[number - 1], costs) if number <= len(names) else f"thread {number}"
        threads[group] = threads.get(group, 0) + total
        if group == "loops":
            loop_dumps.append(dump)
        for key, cost in costs.items():
            functions[key] = functions.get(key, 0) + cost
    whole = sum(threads.values())
    groups = function_groups(functions, os.path.basename(s.heyan_bin))

    per = lambda n: n / verifications  # noqa: E731
    print(f"heyan {s.heyan_bin}: {verifications} {unit}s ({a.scenario}) under callgrind on {a.store} "
          f"({a.connections} connections, {a.seconds:g} s)")
    print(f"\n{'instructions per ' + unit:<40} {per(whole):>12,.0f}")
    print_shares("\nby thread", threads, whole, per)
    print_shares("\nby function group (self)", groups, whole, per, at_least=0.001)
    top = sorted(functions.items(), key=lambda kv: -kv[1])[: a.top]
    demangled = demangle([name for (name, _), _ in top])
    print(f"\ncostliest functions (self, top {a.top})")
    for ((name, obj), n), pretty in zip(top, demangled):
        print(f"  {per(n):>10,.0f}  {100 * n / whole:5.1f} %  {pretty[:150]}  [{os.path.basename(obj)}]")
    routes = route_costs(loop_dumps)
    if routes:
        print("\non the loops, by route handler (inclusive; the response's delivery is not in it)")
        for name, n in sorted(routes.items(), key=lambda kv: -kv[1]):
            print(f"  {name:<38} {per(n):>12,.0f}")
    summary = {"heyan": str(s.heyan_bin), "store": a.store, "scenario": a.scenario, "unit": unit,
               "verifications": verifications, "connections": a.connections,
               "seconds": a.seconds, "instructionsPerVerification": round(per(whole)),
               "threads": {k: round(per(v)) for k, v in threads.items()},
               "loopRoutes": {k: round(per(v)) for k, v in routes.items()},
               "functionGroups": {k: round(per(v)) for k, v in sorted(groups.items(), key=lambda kv: -kv[1])},
               "top": [{"function": pretty, "object": os.path.basename(obj), "perVerification": round(per(n))}
                       for ((name, obj), n), pretty in zip(top, demangled)]}
    (OUT / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    print(f"\n{OUT / 'summary.json'}; callgrind files: {OUT}/callgrind.out.{proc.pid}.1-*")
    return 0


def route_costs(dumps: list[Path]) -> dict[str, int]:
    """Inclusive instructions of each route handler (`closure #n in XRoutes.register(in:)`), summed over the
    given threads' dumps, by `callgrind_annotate --inclusive=yes`; {} when it is not installed."""
    routes: dict[str, int] = {}
    for dump in dumps:
        try:
            done = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", "--auto=no", str(dump)],
                                  capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired):
            return {}
        lines = [line for line in done.stdout.splitlines() if re.match(r"\s*[\d,]+ \(", line)]
        pretty = demangle([line.split(":", 1)[1].rsplit(" [", 1)[0] if ":" in line else "" for line in lines])
        seen: set[str] = set()
        for line, name in zip(lines, pretty):
            m = re.search(r"(closure #\d+ in \w+Routes\.register\(in:\))", name)
            # The innermost of the nested thunks and closures carries the same cost: count each name once.
            if not m or m.group(1) in seen or name.startswith("partial apply"):
                continue
            seen.add(m.group(1))
            routes[m.group(1)] = routes.get(m.group(1), 0) + int(line.split()[0].replace(",", ""))
    return routes


def demangle(names: list[str]) -> list[str]:
    try:
        done = subprocess.run(["swift", "demangle", "--simplified"], input="\n".join(names), capture_output=True,
                              text=True, timeout=60)
        lines = done.stdout.splitlines()
        if done.returncode == 0 and len(lines) == len(names):
            return lines
    except (OSError, subprocess.TimeoutExpired):
        pass
    return names


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
