#!/usr/bin/env python3
"""heyan side by side with nginx on this machine (`make bench`).

One load generator (`heyan bench`) drives both servers over mutual TLS on 127.0.0.1, with the same
connection count and duration for every compared pair, alternating the systems (ABBA), and the
median of the repeats is the figure. The pg phase puts the PostgreSQL store (1 and 3 nodes on one throwaway
PostgreSQL, Tests/Scripts/cluster/cluster.py; 1 node on a second one with a synchronous standby) next to SQLite
the same way. Everything lands in var/bench/: the PKI, nginx's prefix, the
databases, the logs and results.json; the figures table in docs/performance.md is rewritten.

    python3 Tests/Scripts/bench/run.py                 # everything (defaults: 10 s runs, 2 repeats, 64 connections)
    BENCH_QUICK=1 python3 Tests/Scripts/bench/run.py   # a 1-2 minute pass (3 s runs, 1 repeat, 20,000 stored)
    python3 Tests/Scripts/bench/run.py --report        # reprint the table and rewrite the docs from results.json

Settings (flag or environment variable): --duration BENCH_DURATION, --warmup BENCH_WARMUP,
--repeats BENCH_REPEATS, --connections BENCH_CONNECTIONS, --threads BENCH_THREADS,
--fill BENCH_FILL (verifications stored for the "grown store" run), --idle BENCH_IDLE (idle
connections), --wake-samples BENCH_WAKE_SAMPLES (cross-node long-poll wake-ups in the pg phase),
--only BENCH_ONLY (comma list of phases: main,idle,fill,pg), --heyan-log-level
BENCH_HEYAN_LOG_LEVEL, --pki BENCH_PKI. HEYAN_BIN is the heyan executable (default
.build/release/heyan); HEYAN_BENCH_BIN replaces the `heyan bench` command (a stub for testing the
harness, e.g. "python3 Tests/Scripts/bench/stub_heyan_bench.py"). BENCH_REUSE_FILL=1 keeps a filled database from
an earlier run if it already holds enough verifications. BENCH_PG_STATEMENTS=1 loads pg_stat_statements into
the pg phase's PostgreSQL and prints the statements per data-sharing verification after each PostgreSQL run.

Standard library only. Binds nothing but 127.0.0.1. Every subprocess has a timeout; nginx and heyan
are stopped on exit, on error and on Ctrl-C.
"""

from __future__ import annotations

import argparse
import atexit
import datetime
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
VAR = ROOT / "var" / "bench"
RESULTS = VAR / "results.json"
DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
HOST = "127.0.0.1"
PHASES = ("main", "idle", "fill", "pg")


def say(*parts: object) -> None:
    print("bench:", *parts, flush=True)


class BenchError(Exception):
    pass


# --------------------------------------------------------------------------------------------
# Settings


def env_number(name: str, default, kind=int):
    value = os.environ.get(name)
    return kind(value) if value not in (None, "") else default


def parse_settings(argv: list[str]) -> argparse.Namespace:
    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", default=quick, help="~1-2 minute pass (BENCH_QUICK=1)")
    parser.add_argument("--duration", type=float)
    parser.add_argument("--warmup", type=float)
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--connections", type=int)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--fill", type=int)
    parser.add_argument("--idle", type=int)
    parser.add_argument("--wake-samples", type=int, help="cross-node long-poll wake-ups measured in the pg phase")
    parser.add_argument("--only", help="comma list of phases: main,idle,fill,pg (default all)")
    parser.add_argument("--heyan-log-level")
    parser.add_argument("--pki", help="dev PKI folder (default var/bench/pki, made if absent)")
    parser.add_argument("--fill-max-seconds", type=float, help="give up filling after this long")
    parser.add_argument("--report", action="store_true", help="only reprint and rewrite docs from results.json")
    s = parser.parse_args(argv)
    q = s.quick
    s.duration = s.duration or env_number("BENCH_DURATION", 3.0 if q else 10.0, float)
    s.warmup = s.warmup if s.warmup is not None else env_number("BENCH_WARMUP", 1.0 if q else 2.0, float)
    s.repeats = s.repeats or env_number("BENCH_REPEATS", 1 if q else 2)
    s.connections = s.connections or env_number("BENCH_CONNECTIONS", 64)
    s.threads = s.threads or env_number("BENCH_THREADS", None)
    s.fill = s.fill or env_number("BENCH_FILL", 20_000 if q else 1_000_000)
    s.idle = s.idle or env_number("BENCH_IDLE", 1000)
    s.wake_samples = s.wake_samples or env_number("BENCH_WAKE_SAMPLES", 100 if q else 200)
    s.only = set((s.only or os.environ.get("BENCH_ONLY") or ",".join(PHASES)).replace(" ", "").split(","))
    unknown = s.only - set(PHASES)
    if unknown:
        parser.error(f"unknown phase(s) {sorted(unknown)}; expected {', '.join(PHASES)}")
    s.heyan_log_level = s.heyan_log_level or os.environ.get("BENCH_HEYAN_LOG_LEVEL") or "info"
    s.pki = Path(s.pki or os.environ.get("BENCH_PKI") or VAR / "pki").resolve()
    s.fill_max_seconds = s.fill_max_seconds or env_number("BENCH_FILL_MAX_SECONDS", 3600.0, float)
    s.reuse_fill = os.environ.get("BENCH_REUSE_FILL", "") not in ("", "0")
    s.heyan_bin = Path(os.environ.get("HEYAN_BIN") or ROOT / ".build" / "release" / "heyan").resolve()
    stub = os.environ.get("HEYAN_BENCH_BIN")
    s.bench_cmd = shlex.split(stub) if stub else [str(s.heyan_bin), "bench"]
    s.stub = bool(stub)
    return s


# --------------------------------------------------------------------------------------------
# Processes: everything started here is registered and stopped on exit


STARTED: list["Service"] = []
BACKGROUND: list[subprocess.Popen] = []  # load generator runs in the background (idle)


def cleanup() -> None:
    for proc in BACKGROUND[:]:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        BACKGROUND.remove(proc)
    for service in reversed(STARTED[:]):
        try:
            service.stop()
        except Exception as error:  # keep stopping the others
            say(f"cleanup of {service.name} failed: {error}")


def on_signal(signum, _frame):
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # a second signal must not cut cleanup short
        signal.signal(s, signal.SIG_IGN)
    raise KeyboardInterrupt(f"signal {signum}")


def run(cmd: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def established(port: int) -> int:
    """Server-side ESTABLISHED TCP sockets on 127.0.0.1:port (from /proc/net/tcp)."""
    count = 0
    wanted = f"{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[1].rsplit(":", 1)[1] == wanted and fields[3] == "01":
                count += 1
    return count


def listening_port(log: Path) -> int | None:
    """The port in the `listening` event of heyan's JSON log (`serve --listen HOST:0`); None while not there."""
    for line in log.read_text(errors="replace").splitlines():
        if '"event":"listening"' in line:
            try:
                return int(json.loads(line)["port"])
            except (ValueError, KeyError):  # a line still being written
                continue
    return None


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class Service:
    name = "service"
    proc: subprocess.Popen | None = None

    def stop(self) -> None:
        raise NotImplementedError

    def _forget(self) -> None:
        if self in STARTED:
            STARTED.remove(self)

    def _kill_after(self, proc: subprocess.Popen, grace: float) -> int | None:
        try:
            return proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            say(f"{self.name} did not stop within {grace:.0f} s; SIGKILL {proc.pid}")
            proc.kill()
            return proc.wait(timeout=10)


class Nginx(Service):
    """nginx in its own prefix (var/bench/nginx), in the foreground (`daemon off`), so the Popen
    pid is the master's."""

    def __init__(self, settings: argparse.Namespace, pki: Path):
        self.name = "nginx"
        self.prefix = VAR / "nginx"
        self.conf = self.prefix / "nginx.conf"
        self.pki = pki
        self.port = 0

    def config_text(self, port: int) -> str:
        p, k = self.prefix, self.pki
        user = "user root root;\n" if os.geteuid() == 0 else ""
        return f"""# Generated by Tests/Scripts/bench/run.py; rewritten on every run.
{user}worker_processes 2;
worker_rlimit_nofile 16384;
daemon off;
master_process on;
pid {p}/nginx.pid;
error_log {p}/logs/error.log warn;

events {{
    worker_connections 4096;
}}

http {{
    access_log off;
    server_tokens off;
    client_body_temp_path {p}/tmp/client_body;
    proxy_temp_path {p}/tmp/proxy;
    fastcgi_temp_path {p}/tmp/fastcgi;
    uwsgi_temp_path {p}/tmp/uwsgi;
    scgi_temp_path {p}/tmp/scgi;

    keepalive_requests 1000000;
    keepalive_timeout 60s;

    server {{
        listen {HOST}:{port} ssl;
        server_name localhost;

        ssl_certificate {k}/server.pem;
        ssl_certificate_key {k}/server.key;
        ssl_client_certificate {k}/ca.pem;
        ssl_crl {k}/crl.pem;
        ssl_verify_client on;
        ssl_verify_depth 2;
        ssl_protocols TLSv1.2 TLSv1.3;
        # No resumption: every new connection is a full handshake, as it is against heyan
        # because the load generator never offers a session.
        ssl_session_cache off;
        ssl_session_tickets off;

        location = /healthz {{
            default_type application/json;
            return 200 '{{"status":"ok"}}';
        }}
        location / {{
            return 404;
        }}
    }}
}}
"""

    def write_config(self, port: int) -> None:
        for sub in ("logs", "tmp"):
            (self.prefix / sub).mkdir(parents=True, exist_ok=True)
        self.conf.write_text(self.config_text(port))

    def stop_stale(self) -> None:
        """A master left by an earlier, killed run of this script (its pid file, our config)."""
        pidfile = self.prefix / "nginx.pid"
        try:
            pid = int(pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            return
        if "nginx" in cmdline and str(self.conf) in cmdline:
            say(f"stopping nginx {pid} left by an earlier run")
            os.kill(pid, signal.SIGQUIT)
            for _ in range(100):
                if not Path(f"/proc/{pid}").exists():
                    break
                time.sleep(0.1)

    def start(self) -> "Nginx":
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.stop_stale()
        for attempt in range(5):
            self.port = free_port()
            self.write_config(self.port)
            check = run([nginx, "-t", "-q", "-c", str(self.conf), "-p", str(self.prefix),
                         "-e", str(self.prefix / "logs" / "error.log")], timeout=30)
            if check.returncode != 0:
                raise BenchError(f"nginx -t failed:\n{check.stderr}")
            log = open(self.prefix / "logs" / "console.log", "ab")
            self.proc = subprocess.Popen(
                [nginx, "-c", str(self.conf), "-p", str(self.prefix), "-e", str(self.prefix / "logs" / "error.log")],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
            log.close()
            STARTED.append(self)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if port_open(self.port):
                    say(f"nginx {self.proc.pid} on {HOST}:{self.port}")
                    return self
                time.sleep(0.05)
            self.stop()
            if "Address already in use" not in tail(self.prefix / "logs" / "error.log"):
                raise BenchError("nginx did not start:\n" + tail(self.prefix / "logs" / "error.log"))
        raise BenchError("nginx could not bind a free port after 5 attempts")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        self._forget()
        if proc is None or proc.poll() is not None:
            return
        quit = run([shutil.which("nginx") or "/usr/sbin/nginx", "-s", "quit", "-c", str(self.conf),
                    "-p", str(self.prefix), "-e", str(self.prefix / "logs" / "error.log")], timeout=15)
        if quit.returncode != 0:
            proc.send_signal(signal.SIGQUIT)
        self._kill_after(proc, 20)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def url(self) -> str:
        return f"https://{HOST}:{self.port}"


class Heyan(Service):
    """`heyan serve` (release) on a free loopback port chosen by heyan (--listen 127.0.0.1:0); `database` is an
    SQLite file, or a PostgreSQL connection string with a config whose `store` is `postgresql`."""

    counter = 0

    def __init__(self, name: str, database: Path | str, config: Path, settings: argparse.Namespace):
        self.name = f"heyan-{name}"
        self.database = database
        self.config = config
        self.settings = settings
        self.port = 0
        Heyan.counter += 1
        self.log = VAR / "logs" / f"{self.name}-{Heyan.counter}.log"

    def start(self) -> "Heyan":
        self.log.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(self.database, Path):  # not for a PostgreSQL connection string
            self.database.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [str(self.settings.heyan_bin), "serve", "--config", str(self.config), "--listen", f"{HOST}:0",
                 "--database", str(self.database), "--log-level", self.settings.heyan_log_level],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        STARTED.append(self)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            port = listening_port(self.log)
            if port is not None:
                self.port = port
                say(f"{self.name} {self.proc.pid} on {HOST}:{self.port} database {self.database}")
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise BenchError(f"{self.name} did not start (log {self.log}):\n{tail(self.log)}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        self._forget()
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        self._kill_after(proc, 30)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def url(self) -> str:
        return f"https://{HOST}:{self.port}"


def tls_probe(target, pki: Path) -> dict:
    """The protocol and cipher one mTLS connection negotiates (as hrss), for the record."""
    import ssl
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    ctx.check_hostname = False
    ctx.load_cert_chain(str(pki / "departments" / "hrss.pem"), str(pki / "departments" / "hrss.key"))
    try:
        with socket.create_connection((HOST, target.port), timeout=5) as raw:
            with ctx.wrap_socket(raw) as tls:
                return {"version": tls.version(), "cipher": tls.cipher()[0]}
    except (OSError, ssl.SSLError) as error:
        return {"error": str(error)}


STAGE_HISTOGRAMS = ("heyan_http_request_duration_seconds", "heyan_group_commit_duration_seconds")


def metrics_text(target, pki: Path) -> str | None:
    """heyan's `/metrics` (as data-office, which may read it); None when the scrape fails."""
    import http.client
    import ssl
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    ctx.check_hostname = False
    ctx.load_cert_chain(str(pki / "departments" / "data-office.pem"), str(pki / "departments" / "data-office.key"))
    try:
        connection = http.client.HTTPSConnection(HOST, target.port, context=ctx, timeout=10)
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        text = response.read().decode()
        connection.close()
    except (OSError, ssl.SSLError, http.client.HTTPException):
        return None
    return text if response.status == 200 else None


def metric_samples(text: str) -> dict[str, float]:
    """Every sample of a Prometheus text exposition, by its name with labels (`name{le="0.005"}`)."""
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def scrape_histograms(target, pki: Path) -> dict[str, list[tuple[float, float]]] | None:
    """heyan's latency histograms from `/metrics`: per family, the cumulative (upper bound, count) pairs, `+Inf`
    last. None when the scrape fails."""
    text = metrics_text(target, pki)
    if text is None:
        return None
    found: dict[str, list[tuple[float, float]]] = {name: [] for name in STAGE_HISTOGRAMS}
    for sample, value in metric_samples(text).items():
        for name in STAGE_HISTOGRAMS:
            prefix = name + '_bucket{le="'
            if sample.startswith(prefix):
                bound = sample[len(prefix):-2]
                found[name].append((float("inf") if bound == "+Inf" else float(bound), value))
    return found


def stage_summary(before: dict | None, after: dict | None) -> dict | None:
    """What the server saw of one run, from two scrapes: per histogram, the requests (or commits) in the run,
    the bucket bound holding their 99th percentile, and the share over 5 ms. Server-side time starts at the
    parsed request: TLS, the socket and the client's own scheduling are outside it."""
    if not before or not after:
        return None
    summary = {}
    for name in STAGE_HISTOGRAMS:
        delta = [(bound, a - b) for (bound, a), (_, b) in zip(after[name], before[name])]
        total = delta[-1][1] if delta else 0
        if not total:
            continue
        p99_bound = next((bound for bound, count in delta if count >= 0.99 * total), float("inf"))
        within_5ms = next((count for bound, count in delta if bound == 0.005), total)
        summary[name] = {"count": int(total), "p99AtMostMs": None if p99_bound == float("inf") else p99_bound * 1000,
                         "over5msShare": round((total - within_5ms) / total, 4)}
    return summary


GROUP_COMMIT_SAMPLES = ("heyan_group_commit_batch_size_sum", "heyan_group_commit_batch_size_count",
                        "heyan_group_commit_duration_seconds_sum", "heyan_group_commit_duration_seconds_count")


def group_commit_totals(nodes: list, pki: Path) -> dict[str, float] | None:
    """The `_sum` and `_count` of `heyan_group_commit_batch_size` and `heyan_group_commit_duration_seconds` in every
    node's `/metrics` (metrics_text), added over the nodes; None when a scrape fails."""
    totals = dict.fromkeys(GROUP_COMMIT_SAMPLES, 0.0)
    for node in nodes:
        text = metrics_text(node, pki)
        if text is None:
            return None
        samples = metric_samples(text)
        for name in totals:
            totals[name] += samples.get(name, 0.0)
    return totals


def group_commit_batches(before: dict | None, after: dict | None) -> dict | None:
    """Group-commit batches between two `group_commit_totals`: how many, jobs per batch (requests sharing one
    transaction) and milliseconds per batch from BEGIN to COMMIT returned (with a synchronous standby, its flush
    included)."""
    if before is None or after is None:
        return None
    delta = {name: after[name] - before[name] for name in GROUP_COMMIT_SAMPLES}
    batches = delta["heyan_group_commit_batch_size_count"]
    if batches <= 0:
        return None
    timed = delta["heyan_group_commit_duration_seconds_count"]
    return {"batches": int(batches), "jobs": int(delta["heyan_group_commit_batch_size_sum"]),
            "jobsPerBatch": round(delta["heyan_group_commit_batch_size_sum"] / batches, 2),
            "commitMillisecondsPerBatch": round(1000 * delta["heyan_group_commit_duration_seconds_sum"] / timed, 3)
            if timed > 0 else None}


def remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# Prerequisites


def apt_install(package: str, command: str) -> None:
    if shutil.which(command):
        return
    if os.geteuid() != 0:
        raise BenchError(f"'{command}' is missing; run: sudo apt-get install -y {package}")
    say(f"installing {package}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update", "-qq"], timeout=300, env=env)
    result = run(["apt-get", "install", "-y", "-qq", package], timeout=600, env=env)
    if result.returncode != 0 or not shutil.which(command):
        raise BenchError(f"apt-get install {package} failed:\n{result.stderr[-2000:]}")


def prerequisites(s: argparse.Namespace) -> None:
    if not s.heyan_bin.exists():
        say("building heyan (make release)")
        result = subprocess.run(["make", "release"], cwd=ROOT, timeout=1800)
        if result.returncode != 0:
            raise BenchError("make release failed")
    if "main" in s.only:
        apt_install("nginx", "nginx")
    apt_install("sqlite3", "sqlite3")
    if "pg" in s.only and not (list(Path("/usr/lib/postgresql").glob("*/bin/initdb")) and shutil.which("psql")):
        raise BenchError("the pg phase needs Debian's postgresql (server binaries and psql): run `make deps`")
    ensure_pki(s)


def ensure_pki(s: argparse.Namespace) -> None:
    """The development PKI in s.pki, made (or remade, when about to expire) with `heyan pki init`."""
    if (s.pki / "ca.pem").exists() and not pki_current(s.pki):
        if s.pki != (VAR / "pki").resolve():
            raise BenchError(f"{s.pki}: a certificate or the CRL expires within a day; make a new PKI")
        say(f"{s.pki}: a certificate or the CRL expires within a day; making a new one")
        shutil.rmtree(s.pki)
    if not (s.pki / "ca.pem").exists():
        say(f"making a development PKI in {s.pki}")
        result = run([str(s.heyan_bin), "pki", "init", "--out", str(s.pki),
                      "--departments", str(ROOT / "config" / "departments.json")], timeout=120)
        if result.returncode != 0:
            raise BenchError(f"heyan pki init failed:\n{result.stdout}{result.stderr}")
    for needed in ("ca.pem", "crl.pem", "server.pem", "server.key", "signing.pem", "signing.key",
                   "departments/hrss.pem", "departments/public-security.pem",
                   "departments/housing-fund.pem", "departments/civil-affairs.pem"):
        if not (s.pki / needed).exists():
            raise BenchError(f"{s.pki / needed} is missing: not a heyan dev PKI folder")


def pki_current(pki: Path) -> bool:
    """Every certificate valid for another day and the CRL not due (nginx refuses an expired CRL)."""
    for cert in ("ca.pem", "server.pem", "signing.pem", "departments/hrss.pem"):
        if run(["openssl", "x509", "-in", str(pki / cert), "-noout", "-checkend", "86400"], timeout=30).returncode:
            return False
    result = run(["openssl", "crl", "-in", str(pki / "crl.pem"), "-noout", "-nextupdate"], timeout=30)
    match = re.search(r"nextUpdate=(.+)", result.stdout)
    if match:
        try:
            due = datetime.datetime.strptime(match.group(1).strip(), "%b %d %H:%M:%S %Y %Z")
        except ValueError:
            return True
        return due - datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) > datetime.timedelta(days=1)
    return True


def write_heyan_config(s: argparse.Namespace) -> Path:
    """var/bench/config: config/heyan.json with absolute paths to the bench PKI, and
    departments.json with every rate limit lifted (a benchmark measures capacity, not the
    per-department token bucket). Longer idle timeout only when an idle hold would outlast 60 s."""
    folder = VAR / "config"
    folder.mkdir(parents=True, exist_ok=True)
    departments = json.loads((ROOT / "config" / "departments.json").read_text())
    for department in departments["departments"]:
        department["rateLimit"] = {"requestsPerSecond": 10_000_000, "burst": 10_000_000}
    (folder / "departments.json").write_text(json.dumps(departments, ensure_ascii=False, indent=2) + "\n")
    shutil.copyfile(ROOT / "config" / "catalog.json", folder / "catalog.json")
    service = json.loads((ROOT / "config" / "heyan.json").read_text())
    service.pop("$schema", None)
    k = s.pki
    service.update({
        "listen": f"{HOST}:0",
        "database": str(VAR / "db" / "unused.sqlite"),
        "departments": str(folder / "departments.json"),
        "catalog": str(folder / "catalog.json"),
        "tls": {"certificate": str(k / "server.pem"), "privateKey": str(k / "server.key"),
                "clientCA": str(k / "ca.pem"), "crl": str(k / "crl.pem")},
        "signing": {"certificate": str(k / "signing.pem"), "privateKey": str(k / "signing.key"),
                    "chain": [str(k / "ca.pem")]},
    })
    if "audit" in service and "logKey" in service["audit"]:  # the transparency log's note-signing key
        service["audit"]["logKey"] = str(k / "log.key")
    hold = idle_hold_seconds(s)
    limits = service.setdefault("limits", {})
    limits["idleTimeoutSeconds"] = max(int(limits.get("idleTimeoutSeconds", 60)), int(hold) + 30)
    limits["maxConnections"] = max(int(limits.get("maxConnections", 10000)), s.idle + 4 * s.connections + 100)
    path = folder / "heyan.json"
    path.write_text(json.dumps(service, ensure_ascii=False, indent=2) + "\n")
    return path


def command_output(cmd: list[str], timeout: float = 30) -> str:
    try:
        result = run(cmd, timeout=timeout)
        return (result.stdout + result.stderr).strip()
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unavailable ({error})"


def machine_info(s: argparse.Namespace) -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    meminfo = Path("/proc/meminfo").read_text()
    mem = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.M)
    nginx_v = command_output([shutil.which("nginx") or "nginx", "-V"])
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpuModel": model.group(1).strip() if model else platform.processor(),
        "memoryMiB": int(mem.group(1)) // 1024 if mem else None,
        "kernel": platform.release(),
        "loadAverageAtStart": Path("/proc/loadavg").read_text().split()[:3],
        "swift": command_output(["swift", "--version"]).splitlines()[0] if shutil.which("swift") else "unavailable",
        "nginx": nginx_v.splitlines()[0].removeprefix("nginx version: ") if nginx_v else "",
        "nginxOpenSSL": next((l for l in nginx_v.splitlines() if "OpenSSL" in l), ""),
        "openssl": command_output(["openssl", "version"]),
        "sqlite3": command_output(["sqlite3", "--version"]).split(" ")[0],
        "python": platform.python_version(),
        "heyanCommit": command_output(["git", "-C", str(ROOT), "rev-parse", "HEAD"]),
        "heyanDirty": bool(command_output(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"])),
        "loadGenerator": " ".join(s.bench_cmd) + (" (STUB: figures are not measurements)" if s.stub else ""),
    }


# --------------------------------------------------------------------------------------------
# Load generator runs


def idle_hold_seconds(s: argparse.Namespace) -> float:
    # connect N (1,000 full handshakes ≈ 0.5 s here; 10 s allowed) + settling (one malloc_trim
    # period) + the measured run + margin
    return 10 + SETTLE_SECONDS + s.warmup + s.duration + 5


# heyan returns freed heap to the kernel every 5 s (malloc_trim, maintenance schedule): RSS 0.5 s
# after 1,000 concurrent handshakes still holds their transient buffers. The figure is the RSS
# while the connections are held, read after one trim period (and after the /healthz run on
# top); the transient peak is kept in results.json and shown in the notes.
SETTLE_SECONDS = 6


class Bench:
    def __init__(self, s: argparse.Namespace):
        self.s = s
        self.runs: list[dict] = []
        self.extra_args: list[str] = []  # appended to every load generator command (a phase's own settings)

    def args(self, target, scenario: str, connections: int, duration: float, warmup: float,
             department: str | None = None, rate: float | None = None, no_seed: bool = False) -> list[str]:
        a = ["--url", target.url(), "--certs", str(self.s.pki), "--scenario", scenario,
             "--connections", str(connections), "--duration", f"{duration:g}", "--warmup", f"{warmup:g}", "--json"]
        if department:
            a += ["--department", department]
        if rate:
            a += ["--rate", f"{rate:.0f}"]
        if no_seed:
            a += ["--no-seed"]
        if self.s.threads:
            a += ["--threads", str(self.s.threads)]
        return a + self.extra_args

    def record(self, phase: str, system: str, scenario: str, round_: int, cmd: list[str]) -> dict:
        entry = {"id": len(self.runs) + 1, "phase": phase, "system": system, "scenario": scenario, "round": round_,
                 "command": " ".join(shlex.quote(c) for c in cmd),
                 "startedAt": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                 "loadAverageBefore": Path("/proc/loadavg").read_text().split()[:3]}
        self.runs.append(entry)
        return entry

    def finish(self, entry: dict, returncode: int | None, stdout: str, stderr: str, elapsed: float) -> dict | None:
        entry["elapsedSeconds"] = round(elapsed, 2)
        entry["returncode"] = returncode
        result = parse_result(stdout)
        entry["result"] = result
        if result is None or returncode != 0:
            entry["failed"] = True
            entry["stdoutTail"] = stdout[-2000:]
            entry["stderrTail"] = stderr[-2000:]
            say(f"  run {entry['id']} FAILED (exit {returncode}): {(stderr or stdout).strip()[-400:]}")
            return None
        problems = problems_of(result)
        if problems:
            entry["problems"] = problems
        say(f"  run {entry['id']}: {entry['system']} {entry['scenario']} {summary(result)}"
            + (f"  [{problems}]" if problems else ""))
        return result

    def run(self, phase: str, system: str, target, scenario: str, round_: int = 0, *, connections: int | None = None,
            duration: float | None = None, warmup: float | None = None, department: str | None = None,
            rate: float | None = None, label: str | None = None, no_seed: bool = False) -> dict | None:
        """One load generator run; `label` names it in results.json when it differs from the scenario."""
        s = self.s
        duration = s.duration if duration is None else duration
        warmup = s.warmup if warmup is None else warmup
        cmd = s.bench_cmd + self.args(target, scenario, connections or s.connections, duration, warmup, department, rate,
                                      no_seed)
        entry = self.record(phase, system, label or scenario, round_, cmd)
        started = time.monotonic()
        try:
            done = run(cmd, timeout=warmup + duration + 60, cwd=ROOT)
        except subprocess.TimeoutExpired as error:
            return self.finish(entry, None, str(error.stdout or ""), f"timed out: {error}", time.monotonic() - started)
        return self.finish(entry, done.returncode, done.stdout, done.stderr, time.monotonic() - started)

    def start_background(self, phase: str, system: str, target, scenario: str, round_: int, connections: int,
                         duration: float, warmup: float = 0, no_seed: bool = False
                         ) -> tuple[dict, subprocess.Popen, Path, Path]:
        cmd = self.s.bench_cmd + self.args(target, scenario, connections, duration, warmup, no_seed=no_seed)
        entry = self.record(phase, system, scenario, round_, cmd)
        out, err = VAR / "logs" / f"run-{entry['id']}.out", VAR / "logs" / f"run-{entry['id']}.err"
        with open(out, "w") as o, open(err, "w") as e:
            proc = subprocess.Popen(cmd, stdout=o, stderr=e, stdin=subprocess.DEVNULL, cwd=ROOT, start_new_session=True)
        BACKGROUND.append(proc)
        entry["_started"] = time.monotonic()
        return entry, proc, out, err

    def wait_background(self, entry: dict, proc: subprocess.Popen, out: Path, err: Path, timeout: float) -> dict | None:
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait(timeout=10)
        if proc in BACKGROUND:
            BACKGROUND.remove(proc)
        started = entry.pop("_started")
        return self.finish(entry, code, out.read_text(errors="replace"), err.read_text(errors="replace"),
                           time.monotonic() - started)

    def run_parallel(self, phase: str, system: str, targets: list, scenario: str, round_: int,
                     no_seed: bool = False) -> dict | None:
        """One load generator per target (nodes of one service) at once, the connections split among them;
        each run is kept in results.json, and the sum of their rates is returned (None if any failed)."""
        s = self.s
        share = [s.connections // len(targets) + (1 if i < s.connections % len(targets) else 0) for i in range(len(targets))]
        started = [self.start_background(phase, f"{system}-{n + 1}", target, scenario, round_, connections, s.duration,
                                         s.warmup, no_seed)
                   for n, (target, connections) in enumerate(zip(targets, share))]
        results = [self.wait_background(entry, proc, out, err, timeout=s.warmup + s.duration + 60)
                   for entry, proc, out, err in started]
        if any(r is None for r in results):
            return None
        total = {"requestsPerSecond": sum(r.get("requestsPerSecond") or 0 for r in results), "parallelRuns": len(results)}
        if all(r.get("roundTripsPerSecond") is not None for r in results):
            total["roundTripsPerSecond"] = sum(r["roundTripsPerSecond"] for r in results)
        say(f"  {system} {scenario}, {len(results)} clients together: {summary(total)}")
        return total


def parse_result(stdout: str) -> dict | None:
    text = stdout.strip()
    if not text:
        return None
    try:
        value = json.loads(text)
        return value if isinstance(value, dict) else None
    except json.JSONDecodeError:
        pass
    for line in reversed(text.splitlines()):  # tolerate progress lines before the object
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
                if isinstance(value, dict):
                    return value
            except json.JSONDecodeError:
                continue
    return None


def problems_of(result: dict) -> str:
    parts = []
    errors = {k: v for k, v in (result.get("errors") or {}).items() if v}
    if errors:
        parts.append("errors " + ", ".join(f"{k}={v}" for k, v in sorted(errors.items())))
    statuses = {k: v for k, v in (result.get("statuses") or {}).items() if v and not str(k).startswith("2")}
    if statuses:
        parts.append("statuses " + ", ".join(f"{k}={v}" for k, v in sorted(statuses.items())))
    return "; ".join(parts)


def summary(result: dict) -> str:
    lat = result.get("latencyMs") or {}
    parts = [f"{result.get('requestsPerSecond', 0):,.0f} req/s"]
    if result.get("roundTripsPerSecond") is not None:
        parts.append(f"{result['roundTripsPerSecond']:,.0f} round trips/s")
    if result.get("handshakesPerSecond") is not None:
        parts.append(f"{result['handshakesPerSecond']:,.0f} handshakes/s")
    if lat:
        parts.append(f"p50 {lat.get('p50', 0):.2f} ms p99 {lat.get('p99', 0):.2f} ms")
    return ", ".join(parts)


def rps(r: dict | None) -> float | None:
    return None if r is None else r.get("requestsPerSecond")


def handshakes(r: dict | None) -> float | None:
    if r is None:
        return None
    return r.get("handshakesPerSecond") if r.get("handshakesPerSecond") is not None else r.get("requestsPerSecond")


def round_trips(r: dict | None) -> float | None:
    return None if r is None else r.get("roundTripsPerSecond")


def p99(r: dict | None) -> float | None:
    return None if r is None else (r.get("latencyMs") or {}).get("p99")


def median(values) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def sqlite_scalar(database: Path, sql: str) -> int | None:
    try:
        result = run(["sqlite3", "-readonly", str(database), sql], timeout=120)
    except subprocess.TimeoutExpired:
        return None
    try:
        return int(result.stdout.strip() or "0")
    except ValueError:
        say(f"sqlite3 {database}: {result.stderr.strip()}")
        return None


def thread_cpu(pid: int | None) -> dict[int, tuple[str, int]]:
    """tid -> (thread name, user + system clock ticks) from /proc/PID/task/*/stat."""
    threads: dict[int, tuple[str, int]] = {}
    if pid is None:
        return threads
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            comm = (task / "comm").read_text().strip()
            stat = (task / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "; utime, stime are fields 14, 15
        threads[int(task.name)] = (comm, int(fields[11]) + int(fields[12]))
    return threads


def thread_group(pid: int, tid: int, comm: str) -> str:
    """The writer is `heyan-writer` (an older build left it `heyan`, like the idle main thread)."""
    if comm == "heyan-writer" or (comm == "heyan" and tid != pid):
        return "writer"
    if comm.startswith("heyan-loop"):
        return "loops"
    return comm.removeprefix("heyan-") if comm.startswith("heyan-") else "other"


def cpu_per_thread_group(pid: int, before: dict, after: dict) -> dict[str, float]:
    """CPU seconds spent between two thread_cpu snapshots, by thread group, and their total."""
    hz = os.sysconf("SC_CLK_TCK")
    groups: dict[str, float] = {}
    for tid, (comm, ticks) in after.items():
        spent = (ticks - before.get(tid, (comm, 0))[1]) / hz
        group = thread_group(pid, tid, comm)
        groups[group] = groups.get(group, 0.0) + spent
    groups["total"] = sum(groups.values())
    return groups


def process_tree_seconds(pid: int) -> float | None:
    """CPU seconds of a process and all its children, exited ones included — the postmaster and its backends:
    utime + stime of the process and of every live child, plus the cutime + cstime of the children it reaped."""
    def stat(path: Path) -> list[str] | None:
        try:
            text = path.read_text()
        except OSError:
            return None
        return text[text.rindex(")") + 2:].split()  # state ppid … utime(11) stime(12) cutime(13) cstime(14)

    root = stat(Path(f"/proc/{pid}/stat"))
    if root is None:
        return None
    ticks = sum(int(v) for v in root[11:15])
    for path in Path("/proc").glob("[0-9]*/stat"):
        fields = stat(path)
        if fields is not None and fields[1] == str(pid):
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def openssl_ecdsa_speed(seconds: int = 2) -> dict:
    """ES256 (ECDSA P-256) signatures/s on one core: `openssl speed -seconds N ecdsap256`."""
    try:
        done = run(["openssl", "speed", "-seconds", str(seconds), "ecdsap256"], timeout=seconds * 2 + 60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return {"error": str(error)}
    match = re.search(r"256 bits ecdsa \(nistp256\)\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)", done.stdout)
    if not match:
        return {"error": (done.stderr or done.stdout).strip()[-300:]}
    signs = float(match.group(1))
    return {"command": f"openssl speed -seconds {seconds} ecdsap256", "signPerSecond": signs,
            "verifyPerSecond": float(match.group(2)), "signMicroseconds": 1e6 / signs,
            "loadAverageBefore": Path("/proc/loadavg").read_text().split()[:3]}


# --------------------------------------------------------------------------------------------
# Figures


def figure(name: str, value, unit: str, target: str, *, peer: str | None = None, peer_value=None,
           on: str = "ratio", op: str = ">=", limit: float | None = 0.0, note: str = "") -> dict:
    """One row of the table; `limit` None: no target (shown "—", met left blank)."""
    ratio = (value / peer_value) if (value is not None and peer_value) else None
    checked = ratio if on == "ratio" else value
    met = None if checked is None or limit is None else (checked >= limit if op == ">=" else checked <= limit)
    return {"figure": name, "value": value, "unit": unit, "peer": peer, "peerValue": peer_value,
            "ratio": ratio, "target": target, "targetOn": on, "targetOp": op, "targetValue": limit,
            "met": met, "note": note}


def join_notes(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def problems_note(bench: Bench, phase: str, system: str | None = None, scenario: str | None = None) -> str:
    notes = []
    for entry in bench.runs:
        if entry["phase"] != phase or (system and entry["system"] != system) or (scenario and entry["scenario"] != scenario):
            continue
        if entry.get("failed"):
            notes.append(f"run {entry['id']} failed")
        elif entry.get("problems"):
            notes.append(f"run {entry['id']}: {entry['problems']}")
    return "; ".join(notes)


# --------------------------------------------------------------------------------------------
# Phases


def phase_main(bench: Bench, nginx: Nginx, config: Path, figures: list, extra: dict) -> None:
    s = bench.s
    say("phase main: healthz keep-alive, new handshakes, data-sharing, queue (nginx and heyan alternating)")
    database = VAR / "db" / "main.sqlite"
    remove_database(database)
    extra["openssl"] = openssl_ecdsa_speed()
    say(f"openssl speed ecdsap256: {extra['openssl'].get('signPerSecond', 0):,.0f} signatures/s on one core"
        + (f" ({extra['openssl']['error']})" if "error" in extra["openssl"] else ""))
    heyan = Heyan("main", database, config, s).start()
    extra["tls"] = {"nginx": tls_probe(nginx, s.pki), "heyan": tls_probe(heyan, s.pki)}
    say(f"negotiated: nginx {extra['tls']['nginx']}, heyan {extra['tls']['heyan']}")
    try:
        got = {"nginx-healthz": [], "heyan-healthz": [], "nginx-handshake": [], "heyan-handshake": [],
               "heyan-data-sharing": [], "heyan-queue": [], "heyan-open-loop": []}
        # The subjects' records once, so that the measured data-sharing runs (--no-seed) are verifications only.
        bench.run("main", "heyan", heyan, "data-sharing", -1, connections=2, duration=0.5, warmup=0,
                  label="data-sharing-seed")
        for r in range(s.repeats):
            order = [("nginx", nginx), ("heyan", heyan)]
            if r % 2:
                order.reverse()
            for scenario in ("healthz", "handshake"):
                for system, target in order:
                    got[f"{system}-{scenario}"].append(bench.run("main", system, target, scenario, r))
            got["heyan-data-sharing"].append(measured_data_sharing(bench, heyan, database, r))
            got["heyan-queue"].append(bench.run("main", "heyan", heyan, "queue", r))
        peak = median(rps(x) for x in got["heyan-data-sharing"])
        if peak:
            stages = []
            for r in range(s.repeats):
                # Open loop: a fixed arrival rate, latency counted from each request's intended send time.
                before = scrape_histograms(heyan, s.pki)
                got["heyan-open-loop"].append(bench.run("main", "heyan", heyan, "data-sharing", r, rate=peak / 2,
                                                        label="data-sharing-open-loop"))
                # Latency by stage: the same run as the server measured it (parsed request → response) and the
                # writer's commits — whether the client's tail is the server's, the commits', or neither.
                stage = stage_summary(before, scrape_histograms(heyan, s.pki))
                stages.append(stage)
                for name, st in (stage or {}).items():
                    say(f"    server side, {name}: {st['count']:,}, p99 ≤ {st['p99AtMostMs']} ms (bucket), "
                        f"{st['over5msShare'] * 100:.2f} % over 5 ms")
            extra["openLoopStages"] = stages
        extra["dataSharingPeak"] = peak
        extra["mainDatabaseVerifications"] = sqlite_scalar(database, "select count(*) from verifications")
    finally:
        heyan.stop()

    nginx_healthz = median(rps(x) for x in got["nginx-healthz"])
    figures.append(figure("/healthz keep-alive requests/s", median(rps(x) for x in got["heyan-healthz"]), "req/s",
                          "ratio ≥ 0.9", peer="nginx", peer_value=nginx_healthz, limit=0.9,
                          note=problems_note(bench, "main", scenario="healthz")))
    figures.append(figure("new mTLS handshakes/s (full, no resumption)",
                          median(handshakes(x) for x in got["heyan-handshake"]), "handshakes/s", "ratio ≥ 0.95",
                          peer="nginx", peer_value=median(handshakes(x) for x in got["nginx-handshake"]), limit=0.95,
                          note=problems_note(bench, "main", scenario="handshake")))
    figures.append(figure("data-sharing verifications/s (201 + signed attestation)", peak, "verifications/s",
                          "ratio ≥ 0.4", peer="nginx static /healthz", peer_value=nginx_healthz, limit=0.4,
                          note=problems_note(bench, "main", scenario="data-sharing")))
    figures.extend(cpu_figures(bench, extra))
    figures.append(figure("queue round trips/s (submit, lease, answer, fetch)",
                          median(round_trips(x) for x in got["heyan-queue"]), "round trips/s", "≥ 5,000",
                          on="value", limit=5000, note=problems_note(bench, "main", scenario="queue")))
    figures.append(figure("data-sharing p99 at half peak rate, open loop",
                          median(p99(x) for x in got["heyan-open-loop"]), "ms", "≤ 5 ms", on="value", op="<=",
                          limit=5.0, note=join_notes(f"rate {peak / 2:,.0f}/s" if peak else "no peak measured",
                                                     stages_note(extra.get("openLoopStages") or []),
                                                     problems_note(bench, "main", scenario="data-sharing-open-loop"))))


def stages_note(stages: list) -> str:
    """The open-loop runs' server-side view (stage_summary), medians over the runs."""
    parts = []
    for name, label in (("heyan_http_request_duration_seconds", "server side (parsed request → response)"),
                        ("heyan_group_commit_duration_seconds", "group commits")):
        values = [st[name] for st in stages if st and name in st]
        if values:
            bound = median(v["p99AtMostMs"] for v in values if v["p99AtMostMs"] is not None)
            share = median(v["over5msShare"] for v in values)
            shown = f"≤ {bound:g} ms (histogram bucket)" if bound is not None else "over the largest bucket"
            parts.append(f"{label} p99 {shown}, {share * 100:.2f} % over 5 ms")
    return "; ".join(parts)


def measured_data_sharing(bench: Bench, heyan: "Heyan", database: Path, round_: int) -> dict | None:
    """One data-sharing run (no seeding) with heyan's per-thread CPU, kept in its runs entry (measured_run)."""
    result, cpu = measured_run(bench, "main", "heyan", [heyan], round_,
                               lambda: sqlite_scalar(database, "select count(*) from verifications"))
    if cpu:
        bench.runs[-1]["serverCpu"] = cpu
    return result


def measured_run(bench: Bench, phase: str, system: str, nodes: list, round_: int, count,
                 postgres_pids: list[int | None] = ()) -> tuple[dict | None, dict | None]:
    """One data-sharing run (no seeding; one load generator per node at once when several) with the server's
    CPU from /proc before and after it: every node's threads by group, summed over the nodes, and on PostgreSQL
    each postmaster with all its backends (`postgres`: the primary's and, with a standby, the standby's, whose
    share is also kept apart as `standby`); divided by the verifications stored meanwhile (`count()` before and
    after; warm-up included: the CPU interval covers it too)."""
    count_before = count()
    before = [thread_cpu(node.pid) for node in nodes]
    pg_before = [process_tree_seconds(pid) if pid else None for pid in postgres_pids]
    if len(nodes) == 1:
        result = bench.run(phase, system, nodes[0], "data-sharing", round_, no_seed=True)
    else:
        result = bench.run_parallel(phase, system, nodes, "data-sharing", round_, no_seed=True)
    after = [thread_cpu(node.pid) for node in nodes]
    pg_after = [process_tree_seconds(pid) if pid else None for pid in postgres_pids]
    count_after = count()
    if result is None or count_before is None or count_after is None or count_after <= count_before or not all(before):
        return result, None
    verifications = count_after - count_before
    seconds: dict[str, float] = {}
    for node, b, a in zip(nodes, before, after):
        for group, spent in cpu_per_thread_group(node.pid, b, a).items():
            seconds[group] = seconds.get(group, 0.0) + spent
    if pg_before and None not in pg_before + pg_after:
        spent = [a - b for a, b in zip(pg_after, pg_before)]
        seconds["postgres"] = sum(spent)
        if len(spent) > 1:
            seconds["standby"] = sum(spent[1:])
        seconds["total"] += seconds["postgres"]
    cpu = {"verifications": verifications, "cpuSeconds": {k: round(v, 4) for k, v in seconds.items()},
           "microsecondsPerVerification": {k: round(v * 1e6 / verifications, 2) for k, v in seconds.items()}}
    per = cpu["microsecondsPerVerification"]
    say(f"  server CPU per verification: {per['total']:.1f} µs (" +
        ", ".join(f"{k} {v:.1f}" for k, v in sorted(per.items(), key=lambda kv: -kv[1]) if k != "total" and v >= 0.05) + ")")
    return result, cpu


def cpu_figures(bench: Bench, extra: dict) -> list[dict]:
    """Server and writer-thread CPU per data-sharing verification, in ES256 signatures of `openssl speed`."""
    sign_us = (extra.get("openssl") or {}).get("signMicroseconds")
    per = [e["serverCpu"]["microsecondsPerVerification"] for e in bench.runs
           if e["phase"] == "main" and e["scenario"] == "data-sharing" and "serverCpu" in e]
    total, writer, loops = (median(p.get(k) for p in per) for k in ("total", "writer", "loops"))
    note = "no CPU measured" if not per else (
        f"{total:.0f} µs per verification (loops {loops or 0:.0f}, writer {writer or 0:.0f}); "
        f"one ES256 signature {sign_us:.1f} µs (openssl speed)" if sign_us else "openssl speed failed")
    in_signatures = lambda us: us / sign_us if (us is not None and sign_us) else None
    return [
        figure("server CPU per data-sharing verification, in ES256 signatures", in_signatures(total), "signatures",
               "≤ 4", on="value", op="<=", limit=4.0, note=note),
        figure("writer-thread CPU per data-sharing verification, in ES256 signatures", in_signatures(writer),
               "signatures", "≤ 1", on="value", op="<=", limit=1.0,
               note=f"{writer:.0f} µs per verification" if writer is not None else ""),
    ]


def phase_idle(bench: Bench, config: Path, figures: list, extra: dict) -> None:
    s = bench.s
    say(f"phase idle: /healthz with and without {s.idle:,} idle keep-alive connections held; heyan RSS")
    database = VAR / "db" / "idle.sqlite"
    remove_database(database)
    heyan = Heyan("idle", database, config, s).start()
    rss = {"afterStart": rss_kib(heyan.pid)}
    without, with_idle, rss_held = [], [], []
    try:
        bench.run("idle", "heyan", heyan, "healthz", -1, duration=max(1.0, s.warmup), warmup=0)  # warm the process
        rss["withoutIdle"] = rss_kib(heyan.pid)
        hold = idle_hold_seconds(s)
        for r in range(s.repeats):
            without.append(bench.run("idle", "heyan", heyan, "healthz", r))
            rss.setdefault("withoutIdleAfterLoad", []).append(rss_kib(heyan.pid))
            entry, proc, out, err = bench.start_background("idle", "heyan", heyan, "idle", r, s.idle, hold)
            deadline, count = time.monotonic() + 10, 0
            while time.monotonic() < deadline and proc.poll() is None:
                count = established(heyan.port)
                if count >= s.idle:
                    break
                time.sleep(0.1)
            time.sleep(0.5)
            entry["establishedBeforeMeasuring"] = count = established(heyan.port)
            if count < s.idle:
                say(f"  only {count} of {s.idle} idle connections established")
            transient = rss_kib(heyan.pid)
            time.sleep(SETTLE_SECONDS)
            held_before = rss_kib(heyan.pid)
            with_idle.append(bench.run("idle", "heyan", heyan, "healthz", r, label="healthz-with-idle"))
            held_after = rss_kib(heyan.pid)
            entry["heyanRssKiB"] = {"justEstablished": transient, "idleEstablished": held_before, "afterHealthz": held_after}
            rss.setdefault("justEstablished", []).append(transient)
            rss_held.append(max(v for v in (held_before, held_after) if v is not None) if (held_before or held_after) else None)
            bench.wait_background(entry, proc, out, err, timeout=hold + 30)
        rss["withIdle"] = rss_held
    finally:
        heyan.stop()
    extra["idleRssKiB"] = rss
    rss_mb = median(v / 1024 for v in rss_held if v is not None)
    base_mb = rss["withoutIdle"] / 1024 if rss.get("withoutIdle") else None
    figures.append(figure(f"heyan RSS with {s.idle:,} idle keep-alive connections", rss_mb, "MiB", "≤ 64 MiB",
                          peer="heyan without them", peer_value=base_mb, on="value", op="<=", limit=64.0,
                          note="; ".join(filter(None, [
                              problems_note(bench, "idle", scenario="idle"),
                              "held, after one 5 s trim period; 0.5 s after the 1,000 handshakes: "
                              + ", ".join(f"{v / 1024:.1f} MiB" for v in rss.get("justEstablished", []) if v)]))))
    figures.append(figure(f"/healthz requests/s with {s.idle:,} idle connections held",
                          median(rps(x) for x in with_idle), "req/s", "ratio ≥ 0.8", peer="without them",
                          peer_value=median(rps(x) for x in without), limit=0.8,
                          note=problems_note(bench, "idle", scenario="healthz-with-idle")))


def phase_fill(bench: Bench, config: Path, figures: list, extra: dict) -> None:
    s = bench.s
    say(f"phase fill: data-sharing with {s.fill:,} verifications stored vs an empty store; audit verify")
    filled_db = VAR / "db" / "filled.sqlite"
    count = sqlite_scalar(filled_db, "select count(*) from verifications") if filled_db.exists() else None
    if not (s.reuse_fill and count is not None and count >= s.fill):
        remove_database(filled_db)
        count = 0
        # about 2.5 KB a verification (attestation without its repeated header, one audit entry, indexes)
        needed = s.fill * 5 * 1024
        free = shutil.disk_usage(VAR).free
        if free < needed:
            raise BenchError(f"filling {s.fill:,} verifications needs about {needed / 2**30:.1f} GiB in "
                             f"{VAR}; {free / 2**30:.1f} GiB free (lower BENCH_FILL)")
    filled = Heyan("filled", filled_db, config, s).start()
    fill = {"target": s.fill, "reused": count >= s.fill, "chunks": []}
    started = time.monotonic()
    try:
        rate = None
        while count < s.fill:
            elapsed = time.monotonic() - started
            if elapsed > s.fill_max_seconds:
                say(f"  fill stopped after {elapsed:.0f} s at {count:,} verifications (BENCH_FILL_MAX_SECONDS)")
                break
            remaining = s.fill - count
            chunk = 5.0 if not rate else min(120.0, max(2.0, remaining / rate * 1.05))
            result = bench.run("fill", "heyan", filled, "data-sharing", len(fill["chunks"]), duration=chunk, warmup=0)
            before, count = count, sqlite_scalar(filled_db, "select count(*) from verifications") or count
            fill["chunks"].append({"seconds": chunk, "verifications": count})
            if result is None and count == before:
                raise BenchError("filling made no progress (the data-sharing run failed)")
            rate = max(1.0, (count - before) / chunk)
            say(f"  stored {count:,} of {s.fill:,} verifications ({time.monotonic() - started:.0f} s)")
        fill["seconds"] = round(time.monotonic() - started, 1)
        fill["verifications"] = count
        # Measure the filled store as a freshly started service, like the empty one.
        filled.stop()
        filled = Heyan("filled", filled_db, config, s).start()
        empty_runs, filled_runs = [], []
        for r in range(s.repeats):
            order = ["empty", "filled"] if r % 2 == 0 else ["filled", "empty"]
            for which in order:
                if which == "filled":
                    filled_runs.append(bench.run("fill", "heyan-filled", filled, "data-sharing", r))
                else:
                    database = VAR / "db" / "empty.sqlite"
                    remove_database(database)
                    empty = Heyan("empty", database, config, s).start()
                    try:
                        empty_runs.append(bench.run("fill", "heyan-empty", empty, "data-sharing", r))
                    finally:
                        empty.stop()
                        remove_database(database)
    finally:
        filled.stop()
    fill["verificationsAfterMeasuring"] = sqlite_scalar(filled_db, "select count(*) from verifications")
    fill["auditEntries"] = sqlite_scalar(filled_db, "select count(*) from audit_log")
    extra["fill"] = fill
    figures.append(figure(f"data-sharing verifications/s with {count:,} stored", median(rps(x) for x in filled_runs),
                          "verifications/s", "ratio ≥ 0.85", peer="empty store",
                          peer_value=median(rps(x) for x in empty_runs), limit=0.85,
                          note=join_notes(f"{count:,} stored, not 1,000,000" if count < 1_000_000 else "",
                                          problems_note(bench, "fill", scenario="data-sharing"))))

    say(f"  heyan audit verify over {fill['auditEntries']:,} audit entries")
    cmd = [str(s.heyan_bin), "audit", "verify", "--database", str(filled_db), "--trust", str(s.pki / "ca.pem")]
    t0 = time.monotonic()
    try:
        done = run(cmd, timeout=900)
        code, output = done.returncode, (done.stdout + done.stderr).strip()
    except subprocess.TimeoutExpired:
        code, output = None, "timed out after 900 s"
    seconds = time.monotonic() - t0
    extra["auditVerify"] = {"command": " ".join(cmd), "seconds": round(seconds, 3), "returncode": code,
                            "output": output[-2000:], "entries": fill["auditEntries"]}
    say(f"  audit verify: {seconds:.2f} s, exit {code}: {output[-200:]}")
    entries = fill["auditEntries"] or 0
    # The target is per 1,000,000 entries; the fill leaves more (record uploads are audited too).
    # Verification is one pass over the hash chain, linear in the entries, so the time is scaled
    # to 1,000,000 and the measured time and count are kept in the note.
    per_million = seconds * 1_000_000 / entries if entries else None
    note = join_notes(f"measured {seconds:.2f} s over {entries:,} entries, scaled linearly",
                      f"only {entries:,} entries" if entries < 1_000_000 else "",
                      "" if code == 0 else f"audit verify exit {code}: {output[-200:]}")
    fig = figure("heyan audit verify, per 1,000,000 audit entries", per_million if code == 0 else None, "s",
                 "≤ 10 s", on="value", op="<=", limit=10.0, note=note)
    figures.append(fig)


def import_cluster():
    """Tests/Scripts/cluster/cluster.py (its Postgres: a throwaway server, as root through runuser), and
    Tests/Scripts on the path for crashtest.py, which it and longpoll_wake.py import."""
    for folder in (ROOT / "Tests" / "Scripts", ROOT / "Tests" / "Scripts" / "cluster", Path(__file__).resolve().parent):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    import cluster
    return cluster


class PostgresServer(Service):
    """One PostgreSQL for the pg phase in var/bench/pg (profile.py's --store postgresql: var/profile/pg), on a free
    loopback port: cluster.py's `Postgres`, alone. cluster.py's settings name a synchronous standby; there is none
    here, so `synchronous_standby_names` is emptied (ALTER SYSTEM) before anything commits. Its CPU settings
    (shared_buffers, checkpoints, autovacuum_naptime; docs/postgresql.md, "Server settings") apply as they are;
    `synchronous_commit`, `fsync` and `full_page_writes` stay on (checked)."""

    standby = None  # SynchronousPostgresServer's second server

    def __init__(self, cluster_module, folder: Path = VAR / "pg", cluster_name: str = "bench"):
        self.name = "postgres"
        self.folder = folder
        self.server = cluster_module.Postgres(cluster_name, str(self.folder), free_port())
        self.as_postgres = cluster_module.as_postgres

    def start(self, databases: list[str]) -> "PostgresServer":
        self.remove_stale()
        self.server.initdb()
        if STATEMENT_STATS:
            self.as_postgres(["/bin/sh", "-c", f"cat >> {self.server.data}/postgresql.conf"],
                                       input="shared_preload_libraries = 'pg_stat_statements'\n"
                                             "pg_stat_statements.track = 'all'\n")
        STARTED.append(self)
        self.server.start()
        self.replicate()
        self.server.psql("CREATE ROLE heyan LOGIN")
        for database in databases:
            self.server.psql(f"CREATE DATABASE {database} OWNER heyan")
        if STATEMENT_STATS:
            self.server.psql("CREATE EXTENSION pg_stat_statements")
        self.settings = dict(line.split("|", 1) for line in self.server.psql(
            "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', "
            "'synchronous_standby_names', 'full_page_writes', 'shared_buffers', 'max_connections', 'server_version', "
            "'checkpoint_timeout', 'max_wal_size', 'autovacuum_naptime', 'wal_compression')"
        ).splitlines())
        durable = ("fsync", "synchronous_commit", "full_page_writes")
        if tuple(self.settings.get(name) for name in durable) != ("on", "on", "on"):
            raise BenchError(f"PostgreSQL is not durable as configured: {self.settings}")
        say(f"PostgreSQL {self.settings.get('server_version')} {self.pid} on {HOST}:{self.server.port} ({self.folder}); "
            f"{self.describe()}, synchronous_commit on, fsync on, full_page_writes on")
        return self

    def remove_stale(self) -> None:
        """A server left running by an earlier, killed run is stopped, and its folder removed."""
        if self.server.pid():
            self.server.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    def replicate(self) -> None:
        """No standby: commits must not wait for one (before anything commits)."""
        self.server.set_synchronous(False)

    def describe(self) -> str:
        return "no standby"

    @property
    def pid(self) -> int | None:
        return self.server.pid()

    @property
    def pids(self) -> list[int | None]:
        """The postmasters whose process trees count as the database's CPU."""
        return [self.pid]

    def uri(self, database: str) -> str:
        return f"postgresql://heyan@{HOST}:{self.server.port}/{database}?connect_timeout=2"

    def count(self, database: str, sql: str = "select count(*) from verifications"):
        return lambda: int(self.server.psql(sql, database=database))

    def stop(self) -> None:
        self._forget()
        self.server.stop("fast")


class SynchronousPostgresServer(PostgresServer):
    """A PostgresServer with a synchronous standby, as `make cluster` runs the pair (docs/cluster.md) and as
    `Cluster.start_postgres` starts it: the primary in `folder`/primary, then a second PostgreSQL in
    `folder`/standby made from it by `pg_basebackup` (cluster.py's `Postgres.rebuild_from`), streaming from it
    under the name pg2, which the primary's `synchronous_standby_names = 'FIRST 1 (pg1, pg2)'` names. With
    `synchronous_commit = on` a COMMIT returns once the standby has flushed its WAL (remote flush). The role and
    the databases are created once `pg_stat_replication.sync_state` is 'sync' (before that every COMMIT would
    wait); `check_synchronous` asks again before every measured run."""

    def __init__(self, cluster_module, folder: Path = VAR / "pg-sync"):
        super().__init__(cluster_module, folder / "primary", "bench-sync")
        self.root = folder
        port = free_port()
        while port == self.server.port:
            port = free_port()
        self.standby = cluster_module.Postgres(cluster_module.PG_NAMES[1], str(folder / "standby"), port)

    def remove_stale(self) -> None:
        for server in (self.standby, self.server):
            if server.pid():
                server.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def replicate(self) -> None:
        self.standby.rebuild_from(self.server)
        self.standby.start()
        self.server.wait_for_sync_standby(self.standby)
        self.check_synchronous()

    def describe(self) -> str:
        return (f"synchronous standby {self.standby.name} {self.standby.pid()} on {HOST}:{self.standby.port} "
                f"({self.standby.directory}, sync_state 'sync')")

    def check_synchronous(self) -> None:
        """pg_stat_replication on the primary: the standby streams, as the synchronous one (else BenchError)."""
        row = self.server.psql("SELECT state, sync_state FROM pg_stat_replication "
                               f"WHERE application_name = '{self.standby.name}'")
        if row != "streaming|sync":
            raise BenchError(f"the standby {self.standby.name} is not the synchronous standby of the pg phase's "
                             f"primary (pg_stat_replication: {row or 'no row'}; {self.standby.log})")

    def standby_info(self) -> dict:
        """What results.json keeps under `extra.pg.standby`: how the pair replicates, and the standby's settings."""
        replication = self.server.psql(
            "SELECT application_name, state, sync_state, sync_priority, write_lag, flush_lag, replay_lag "
            f"FROM pg_stat_replication WHERE application_name = '{self.standby.name}'").split("|")
        keys = ("applicationName", "state", "syncState", "syncPriority", "writeLag", "flushLag", "replayLag")
        settings = dict(line.split("|", 1) for line in self.standby.psql(
            "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', "
            "'hot_standby', 'hot_standby_feedback', 'wal_receiver_status_interval', 'shared_buffers', "
            "'server_version', 'cluster_name')").splitlines())
        return {"name": self.standby.name, "port": self.standby.port, "folder": str(self.standby.directory),
                "inRecovery": self.standby.in_recovery(), "replication": dict(zip(keys, replication)),
                "settings": settings, "primarySettings": self.settings}

    @property
    def pids(self) -> list[int | None]:
        return [self.pid, self.standby.pid()]

    def stop(self) -> None:
        self._forget()
        self.server.stop("fast")  # the standby receives the shutdown checkpoint, then stops too
        self.standby.stop("fast")


def write_pg_config(config: Path, database: str) -> Path:
    """The bench's heyan.json with `"store": "postgresql"`; each node's connection string comes with --database."""
    service = json.loads(config.read_text())
    service.update({"store": "postgresql", "database": database})
    path = config.with_name("heyan-pg.json")
    path.write_text(json.dumps(service, ensure_ascii=False, indent=2) + "\n")
    return path


PG_PHASE_SUBJECTS = 4000
# BENCH_PG_STATEMENTS=1: pg_stat_statements in the pg phase's server, and per PostgreSQL run the statements
# per data-sharing verification (calls, execution time) printed — to see where the database spends its time.
STATEMENT_STATS = os.environ.get("BENCH_PG_STATEMENTS", "") not in ("", "0")


def statement_stats(pg: "PostgresServer", database: str, verifications: int) -> None:
    rows = pg.server.psql(
        "SELECT s.calls, round(s.total_exec_time::numeric * 1000), round(s.total_plan_time::numeric * 1000), "
        "regexp_replace(left(s.query, 110), '\\s+', ' ', 'g') FROM pg_stat_statements s "
        f"JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '{database}' ORDER BY s.total_exec_time DESC")
    calls = exec_us = 0
    lines = []
    for line in rows.splitlines():
        n, e, _, q = line.split("|", 3)
        calls, exec_us = calls + int(n), exec_us + int(e)
        lines.append(f"    {int(n) / verifications:6.2f} calls {int(e) / verifications:7.1f} µs  {q}")
    say(f"  statements per verification ({database}, {verifications:,} verifications): {calls / verifications:.2f} "
        f"calls, {exec_us / verifications:.1f} µs executing")
    for line in lines[:30]:
        say(line)


def start_postgres(server: PostgresServer, databases: list[str]) -> PostgresServer:
    try:
        return server.start(databases)
    except (RuntimeError, OSError, SystemExit) as error:  # cluster.py's failures: initdb, pg_basebackup, pg_ctl, psql
        logs = [server.server.log] + ([server.standby.log] if server.standby else [])
        raise BenchError(f"PostgreSQL did not start ({', '.join(logs)}): {error}") from error


def phase_pg(bench: Bench, config: Path, figures: list, extra: dict) -> None:
    """SQLite, PostgreSQL with 1 node, PostgreSQL with 1 node whose database has a synchronous standby, and
    PostgreSQL with 3 nodes on one database, alternating each round: data-sharing (with the server's CPU,
    database included, and the nodes' group-commit batches) and queue round trips; then the cross-node
    long-poll wake-up. Two PostgreSQL systems on this machine: one alone (pg1, pg3), one primary with its
    synchronous standby (pg1sync)."""
    s = bench.s
    say("phase pg: data-sharing and queue on SQLite, PostgreSQL 1 node, PostgreSQL 1 node with a synchronous standby, "
        "PostgreSQL 3 nodes (alternating); CPU per verification with the database's; cross-node long-poll wake-ups")
    cluster = import_cluster()
    import longpoll_wake
    if "openssl" not in extra:
        extra["openssl"] = openssl_ecdsa_speed()
    pg = start_postgres(PostgresServer(cluster), ["heyan1", "heyan3"])
    pg_sync = start_postgres(SynchronousPostgresServer(cluster), ["heyan1"])
    pg_config = write_pg_config(config, pg.uri("heyan1"))
    sqlite_db = VAR / "db" / "pg-sqlite.sqlite"
    remove_database(sqlite_db)
    info: dict = {"postgres": pg.settings, "standby": pg_sync.standby_info(), "nodes3": 3, "wake": None}
    extra["pg"] = info
    # name: (nodes, count of verifications, PostgreSQL server or None, its database)
    systems = {
        "sqlite": ([Heyan("pg-sqlite", sqlite_db, config, s)],
                   lambda: sqlite_scalar(sqlite_db, "select count(*) from verifications"), None, None),
        "pg1": ([Heyan("pg1", pg.uri("heyan1"), pg_config, s)], pg.count("heyan1"), pg, "heyan1"),
        "pg1sync": ([Heyan("pg1sync", pg_sync.uri("heyan1"), pg_config, s)], pg_sync.count("heyan1"), pg_sync,
                    "heyan1"),
        "pg3": ([Heyan(f"pg3-node{n}", pg.uri("heyan3"), pg_config, s) for n in (1, 2, 3)], pg.count("heyan3"), pg,
                "heyan3"),
    }
    # 4,000 subjects, not `heyan bench`'s 10,000, for every system of this phase: the PostgreSQL store once refused
    # the 10,000-record seed (10,000 audit entries in one transaction, over its 4,096-entry queue limit); admission
    # is decided at a write's first entry since (docs/postgresql.md), and the smaller seed is kept so that runs stay
    # comparable (docs/performance.md, "PostgreSQL").
    bench.extra_args = ["--subjects", str(PG_PHASE_SUBJECTS)]
    info["subjects"] = PG_PHASE_SUBJECTS
    rates = {name: [] for name in systems}
    queues = {name: [] for name in systems}
    cpus = {name: [] for name in systems}
    commits = {name: [] for name in systems}
    try:
        for nodes, _, _, _ in systems.values():
            for node in nodes:
                node.start()
        for name, (nodes, _, _, _) in systems.items():
            # The subjects' records once per database, so that the measured runs (--no-seed) are verifications only.
            bench.run("pg", name, nodes[0], "data-sharing", -1, connections=2, duration=0.5, warmup=0,
                      label="data-sharing-seed")
        ports = [node.port for node in systems["pg3"][0]]
        say(f"  cross-node long-poll wake-ups: {s.wake_samples} samples over nodes {ports}")
        try:
            info["wake"] = longpoll_wake.measure(s.pki, ports, s.wake_samples)
            w = info["wake"]
            say(f"  wake − acknowledgement: p50 {w['p50Ms'] or 0:.2f} ms, p99 {w['p99Ms'] or 0:.2f} ms "
                f"({w['woken']} of {w['samples']} woken)")
        except Exception as error:  # the throughput figures still follow
            info["wake"] = {"error": str(error)}
            say(f"  long-poll wake-up measurement failed: {error}")
        for r in range(s.repeats):
            for name in (list(systems) if r % 2 == 0 else list(reversed(systems))):
                nodes, count, postgres, database = systems[name]
                if postgres and postgres.standby:
                    postgres.check_synchronous()
                if STATEMENT_STATS and postgres:
                    postgres.server.psql("SELECT pg_stat_statements_reset()")
                commits_before = group_commit_totals(nodes, s.pki)
                result, cpu = measured_run(bench, "pg", name, nodes, r, count, postgres.pids if postgres else [])
                batches = group_commit_batches(commits_before, group_commit_totals(nodes, s.pki))
                if batches:
                    commits[name].append(batches)
                    say(f"  group commit: {batches['batches']:,} batches of {batches['jobsPerBatch']:.1f} jobs, "
                        f"{batches['commitMillisecondsPerBatch'] or 0:.2f} ms from BEGIN to COMMIT returned")
                if STATEMENT_STATS and postgres and cpu:
                    statement_stats(postgres, database, cpu["verifications"])
                rates[name].append(rps(result))
                if cpu:
                    cpus[name].append(cpu)
                if len(nodes) == 1:
                    queues[name].append(round_trips(bench.run("pg", name, nodes[0], "queue", r)))
                else:
                    queues[name].append(round_trips(bench.run_parallel("pg", name, nodes, "queue", r)))
    finally:
        bench.extra_args = []
        for nodes, _, _, _ in systems.values():
            for node in nodes:
                node.stop()
        pg_sync.stop()
        pg.stop()
    info["serverCpu"] = cpus
    info["groupCommit"] = commits
    pg_figures(bench, figures, extra, rates, queues, cpus)


def pg_figures(bench: Bench, figures: list, extra: dict, rates: dict, queues: dict, cpus: dict) -> None:
    sign_us = (extra.get("openssl") or {}).get("signMicroseconds")
    rate = {name: median(values) for name, values in rates.items()}
    queue = {name: median(values) for name, values in queues.items()}
    per = {name: {group: median(c["microsecondsPerVerification"].get(group) for c in values)
                  for group in ("total", "loops", "writer", "postgres", "standby")} for name, values in cpus.items()}
    for p in per.values():  # heyan's threads besides the loops (writer, checkpointer; on PostgreSQL unnamed ones)
        if p["total"] is not None:
            p["other"] = p["total"] - (p["postgres"] or 0) - (p["loops"] or 0)
    signatures = {name: (p["total"] / sign_us if p["total"] is not None and sign_us else None) for name, p in per.items()}
    problems = lambda system: problems_note(bench, "pg", system=system)
    figures.append(figure("PostgreSQL, 1 node: data-sharing verifications/s", rate["pg1"], "verifications/s",
                          "ratio ≥ 0.5", peer="SQLite, same phase", peer_value=rate["sqlite"], limit=0.5,
                          note=join_notes("one PostgreSQL on the same two cores, no standby", problems("pg1"),
                                          problems("sqlite"))))
    batches = {name: {key: median(b[key] for b in values) for key in ("jobsPerBatch", "commitMillisecondsPerBatch")}
               for name, values in (extra["pg"].get("groupCommit") or {}).items()}

    def batch_note(name: str) -> str:
        b = batches.get(name) or {}
        if b.get("jobsPerBatch") is None:
            return "no group-commit batches read"
        return (f"{b['jobsPerBatch']:.1f} jobs per group-commit batch, "
                f"{b['commitMillisecondsPerBatch'] or 0:.2f} ms BEGIN to COMMIT")

    def cpu_short(name: str) -> str:
        p = per[name]
        if p["total"] is None:
            return "no CPU measured"
        standby = f", of which standby {p['standby']:.0f}" if p["standby"] is not None else ""
        return f"{p['total']:.0f} µs CPU per verification (postgres {p['postgres'] or 0:.0f}{standby})"

    standby = extra["pg"].get("standby") or {}
    sync = (standby.get("replication") or {}).get("syncState")
    figures.append(figure("PostgreSQL, 1 node, synchronous standby: data-sharing verifications/s", rate["pg1sync"],
                          "verifications/s", "—", peer="PostgreSQL, 1 node without standby, same phase",
                          peer_value=rate["pg1"], limit=None,
                          note=join_notes(f"standby streaming on this machine (sync_state {sync or '?'}), "
                                          "synchronous_commit on: COMMIT after the standby's flush",
                                          f"with standby: {batch_note('pg1sync')}, {cpu_short('pg1sync')}",
                                          f"without: {batch_note('pg1')}, {cpu_short('pg1')}",
                                          problems("pg1sync"))))
    figures.append(figure("PostgreSQL, 3 nodes on one database: data-sharing verifications/s", rate["pg3"],
                          "verifications/s", "—", peer="PostgreSQL, 1 node", peer_value=rate["pg1"], limit=None,
                          note=join_notes("one load generator per node, connections split", problems("pg3-1"),
                                          problems("pg3-2"), problems("pg3-3"))))
    figures.append(figure("PostgreSQL, 1 node: queue round trips/s", queue["pg1"], "round trips/s", "—",
                          peer="SQLite, same phase", peer_value=queue["sqlite"], limit=None))
    figures.append(figure("PostgreSQL, 1 node, synchronous standby: queue round trips/s", queue["pg1sync"],
                          "round trips/s", "—", peer="PostgreSQL, 1 node without standby", peer_value=queue["pg1"],
                          limit=None))
    figures.append(figure("PostgreSQL, 3 nodes: queue round trips/s", queue["pg3"], "round trips/s", "—",
                          peer="PostgreSQL, 1 node", peer_value=queue["pg1"], limit=None))

    def cpu_note(name: str) -> str:
        p = per[name]
        if p["total"] is None:
            return "no CPU measured"
        if p["postgres"] is None:
            return f"{p['total']:.0f} µs per verification (heyan loops {p['loops'] or 0:.0f}, writer {p['writer'] or 0:.0f})"
        return (f"{p['total']:.0f} µs per verification (heyan loops {p['loops'] or 0:.0f}, other heyan threads "
                f"{p['other']:.0f}, postgres {p['postgres']:.0f})")

    main_cpu = next((f for f in figures if f["figure"].startswith("server CPU per data-sharing verification, in")), None)
    sqlite_note = join_notes(f"SQLite: {cpu_note('sqlite')}",
                             f"main phase SQLite: {main_cpu['value']:.2f} signatures" if main_cpu and main_cpu["value"] else "",
                             f"one ES256 signature {sign_us:.1f} µs (openssl speed)" if sign_us else "openssl speed failed")
    for name, label in (("pg1", "1 node"), ("pg3", "3 nodes")):
        figures.append(figure(f"PostgreSQL, {label}: server CPU per data-sharing verification (heyan + postgres), "
                              "in ES256 signatures", signatures[name], "signatures", "—", peer="SQLite, same phase",
                              peer_value=signatures["sqlite"], limit=None,
                              note=join_notes(f"PostgreSQL: {cpu_note(name)}", sqlite_note)))
    figures.append(figure("PostgreSQL, 1 node, synchronous standby: server CPU per data-sharing verification "
                          "(heyan + primary + standby), in ES256 signatures", signatures["pg1sync"], "signatures", "—",
                          peer="PostgreSQL, 1 node without standby", peer_value=signatures["pg1"], limit=None,
                          note=join_notes(f"with standby: {cpu_note('pg1sync')}",
                                          f"of which the standby {per['pg1sync']['standby']:.0f}"
                                          if per["pg1sync"]["standby"] is not None else "",
                                          f"without: {cpu_note('pg1')}")))
    wake = extra["pg"].get("wake") or {}
    figures.append(figure("cross-node long-poll wake-up p99 (wake on node A − commit acknowledged by node B)",
                          wake.get("p99Ms"), "ms", "≤ 100 ms", on="value", op="<=", limit=100.0,
                          note=wake.get("error") or join_notes(
                              f"p50 {wake['p50Ms']:.2f} ms, min {wake['minMs']:.2f} ms, max {wake['maxMs']:.2f} ms over "
                              f"{wake['woken']} of {wake['samples']} samples" if wake.get("woken") else "no sample woke",
                              f"{wake['missed']} not woken within {wake['waitSeconds']} s" if wake.get("missed") else "")))


# --------------------------------------------------------------------------------------------
# Output


def fmt(value, unit: str = "") -> str:
    if value is None:
        return "—"
    if unit in ("ms", "s", "MiB") or abs(value) < 100:
        text = f"{value:,.2f}"
    else:
        text = f"{value:,.0f}"
    return f"{text} {unit}".strip() if unit in ("ms", "s", "MiB") else text


def mark(met, target: str = "") -> str:
    return "✓" if met is True else "✗" if met is False else "" if target == "—" else "?"


def table_rows(figures: list) -> list[list[str]]:
    rows = []
    for f in figures:
        peer = f"{fmt(f['peerValue'], f['unit'])} ({f['peer']})" if f.get("peer") else "—"
        ratio = f"{f['ratio']:.2f}" if f.get("ratio") is not None else "—"
        value = fmt(f["value"], f["unit"])
        if f["unit"] not in ("ms", "s", "MiB") and f["value"] is not None:
            value += f" {f['unit']}"
        rows.append([f["figure"], value, peer, ratio, f["target"], mark(f["met"], f["target"]), f.get("note") or ""])
    return rows


HEADER = ["figure", "heyan", "peer", "ratio", "target", "met", "notes"]


def markdown_table(results: dict) -> str:
    m = results["machine"]
    s = results["settings"]
    lines = [
        f"Measured {m['date']} on {m['nproc']} × {m['cpuModel']}, {m['memoryMiB']:,} MiB, Linux {m['kernel']}; "
        f"{m['swift']}; {m['nginx']} ({m['nginxOpenSSL'].strip()}); {m['openssl'].split(' (')[0]}. "
        f"heyan {m['heyanCommit'][:12]}{' (uncommitted changes)' if m.get('heyanDirty') else ''}. "
        f"{s['duration']:g} s runs after {s['warmup']:g} s warm-up, {s['connections']} connections, "
        f"median of {s['repeats']}{' (quick mode)' if s['quick'] else ''}. "
        f"Load average at start {' '.join(m['loadAverageAtStart'])}. Raw runs: `var/bench/results.json`.",
        "",
    ]
    if "STUB" in m.get("loadGenerator", ""):
        lines += ["**These numbers come from a stub load generator (HEYAN_BENCH_BIN) and measure nothing.**", ""]
    lines.append("| " + " | ".join(HEADER) + " |")
    lines.append("|" + "|".join("---" for _ in HEADER) + "|")
    for row in table_rows(results["figures"]):
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    return "\n".join(lines)


def print_table(results: dict) -> None:
    rows = [HEADER[:-1]] + [row[:-1] for row in table_rows(results["figures"])]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER) - 1)]
    print()
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
    notes = [(f["figure"], f["note"]) for f in results["figures"] if f.get("note")]
    for name, note in notes:
        print(f"  note: {name}: {note}")
    if "STUB" in results["machine"].get("loadGenerator", ""):
        print("  (stub load generator: these numbers measure nothing)")
    print(f"\nraw runs and machine info: {RESULTS.relative_to(ROOT)}")


def update_doc(results: dict) -> None:
    if not DOC.exists():
        say(f"{DOC} is missing; table not written")
        return
    text = DOC.read_text()
    if BEGIN not in text or END not in text:
        say(f"{DOC} has no {BEGIN} … {END} markers; table not written")
        return
    head, rest = text.split(BEGIN, 1)
    _, tail_ = rest.split(END, 1)
    DOC.write_text(f"{head}{BEGIN}\n{markdown_table(results)}\n{END}{tail_}")
    say(f"rewrote the results table in {DOC.relative_to(ROOT)}")


def save(results: dict) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    tmp.replace(RESULTS)


# --------------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    s = parse_settings(argv)
    if s.report:
        results = json.loads(RESULTS.read_text())
        print_table(results)
        update_doc(results)
        return 0

    atexit.register(cleanup)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGINT too: it may arrive ignored
        signal.signal(signum, on_signal)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, 65536)) if hard != resource.RLIM_INFINITY else max(soft, 65536)
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    if wanted < s.idle + 4 * s.connections + 256:
        say(f"warning: open-file limit {wanted} is low for {s.idle} idle connections")

    VAR.mkdir(parents=True, exist_ok=True)
    (VAR / "logs").mkdir(exist_ok=True)
    prerequisites(s)
    config = write_heyan_config(s)
    bench = Bench(s)
    figures: list = []
    extra: dict = {}
    settings = {k: (str(v) if isinstance(v, Path) else sorted(v) if isinstance(v, set) else v)
                for k, v in vars(s).items() if k not in ("report",)}
    results = {"machine": machine_info(s), "settings": settings, "figures": figures, "extra": extra, "runs": bench.runs}
    if float(results["machine"]["loadAverageAtStart"][0]) > 0.5:
        say(f"warning: load average {results['machine']['loadAverageAtStart'][0]} at start: "
            "something else is using the cores; the figures will be noisy")
    say(f"{s.duration:g} s runs, {s.warmup:g} s warm-up, {s.repeats} repeats, {s.connections} connections; "
        f"load generator: {' '.join(s.bench_cmd)}")
    t0 = time.monotonic()
    status = 0
    try:
        if "main" in s.only:
            nginx = Nginx(s, s.pki).start()
            try:
                preflight = bench.run("preflight", "nginx", nginx, "healthz", connections=2, duration=1, warmup=0)
                if preflight is None:
                    raise BenchError("the load generator failed against nginx; is `heyan bench` built? "
                                     "(see the run above, or set HEYAN_BENCH_BIN)")
                phase_main(bench, nginx, config, figures, extra)
            finally:
                nginx.stop()
            save(results)
        if "idle" in s.only:
            phase_idle(bench, config, figures, extra)
            save(results)
        if "fill" in s.only:
            phase_fill(bench, config, figures, extra)
            save(results)
        if "pg" in s.only:
            phase_pg(bench, config, figures, extra)
    except BenchError as error:
        say(f"error: {error}")
        status = 1
    except KeyboardInterrupt:
        say("interrupted; stopping nginx and heyan")
        status = 130
    finally:
        cleanup()
        results["machine"]["loadAverageAtEnd"] = Path("/proc/loadavg").read_text().split()[:3]
        results["elapsedSeconds"] = round(time.monotonic() - t0, 1)
        save(results)
    if figures:
        print_table(results)
        if s.stub:
            say("stub load generator: docs/performance.md not rewritten (`python3 Tests/Scripts/bench/run.py --report` forces it)")
        elif s.only == set(PHASES) and status == 0:
            update_doc(results)
        else:
            say("partial run: docs/performance.md not rewritten (`python3 Tests/Scripts/bench/run.py --report` forces it)")
    say(f"done in {results['elapsedSeconds']:.0f} s")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
