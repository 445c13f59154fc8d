#!/usr/bin/env python3
"""Instructions per new mTLS handshake (callgrind), heyan and nginx on the same PKI (issue 16).

The `handshake` figure of `make bench` (connect, full TLS 1.3 handshake with a client certificate,
one `/healthz`, close) compared by instruction counts, which do not depend on what else the machine
is doing. Each server runs alone under `valgrind --tool=callgrind`: heyan with the bench config
(`heyan serve`, log level info), nginx with the bench's server block but one process
(`master_process off`, `worker_processes 1`). Once the server listens, its counters are zeroed
(`callgrind_control -z`), `heyan bench --scenario handshake` runs natively (not counted) for
`--seconds`, the counters are dumped and divided by the handshakes the client completed. Then the
costliest functions (self cost) and the inclusive cost of a few OpenSSL entry points, per handshake.

    python3 Tests/Scripts/bench/profile_handshake.py [--seconds 20] [--connections 2] [--only heyan|nginx] [--client]
    HEYAN_BIN=/other/build/heyan python3 Tests/Scripts/bench/profile_handshake.py --only heyan   # A/B

The client runs natively from HEYAN_BIN (or .build/release/heyan) and is not counted; nor is the kernel.
`--client` then counts the client itself against each server running natively (a short and a long
run under callgrind, the difference divided by the extra handshakes): in `make bench` client and
server share two cores, so server + client instructions per handshake predict the ratio.
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
import profile as verification_profile  # noqa: E402  (the callgrind parser and the demangler)
import run as bench  # noqa: E402  (the harness's settings, PKI, heyan config and nginx config)

OUT = bench.ROOT / "var" / "profile-handshake"

# How each server is stopped (SIGQUIT: nginx's graceful shutdown).
STOP_SIGNAL = {"heyan": signal.SIGTERM, "nginx": signal.SIGQUIT}

# Inclusive cost of these functions (per handshake) says where a handshake goes.
ENTRY_POINTS = [
    "SSL_do_handshake", "SSL_read", "SSL_write", "SSL_shutdown", "SSL_new", "SSL_free", "SSL_set_fd",
    "tls_process_client_certificate", "tls_construct_certificate_request", "tls_construct_new_session_ticket",
    "ssl_verify_cert_chain", "X509_verify_cert", "tls_construct_server_certificate", "tls_construct_cert_verify",
    "tls_process_cert_verify", "tls_construct_stoc_key_share", "tls_parse_ctos_key_share", "ssl_derive",
    "tls13_generate_handshake_secret", "ssl_generate_pkey", "tls_process_client_hello",
    "ssl_update_cache", "SSL_CTX_add_session", "remove_session_lock", "ssl_get_new_session",
    "d2i_X509", "X509_free", "SSL_get1_peer_certificate", "X509_check_ca", "X509_STORE_CTX_get1_crls",
    "check_crl", "X509_CRL_free", "EVP_DigestSign", "EVP_DigestVerify", "EVP_PKEY_derive",
    "EVP_PKEY_keygen", "OSSL_DECODER_from_bio", "OSSL_DECODER_from_data", "X509_get_pubkey", "X509_PUBKEY_get0",
    "x509_pubkey_ex_d2i_ex", "ossl_x509v3_cache_extensions", "X509_NAME_dup", "SSL_dup_CA_list",
    "ERR_clear_error", "malloc", "free", "CRYPTO_malloc", "CRYPTO_free",
]


def parse_inclusive(path: Path, wanted: set[str]) -> dict[str, int]:
    """Inclusive cost of the functions in `wanted` (self plus callees, recursion not corrected)."""
    names: dict[str, str] = {}
    inclusive: dict[str, int] = {}
    current = "?"
    for line in path.read_text(errors="replace").splitlines():
        if not line:
            continue
        c = line[0]
        if c.isdigit() or c in "+-*":
            parts = line.split()
            if len(parts) >= 2 and current in wanted:
                inclusive[current] = inclusive.get(current, 0) + int(parts[-1])
            continue
        if line.startswith("fn="):
            current = verification_profile.resolve_name(names, line[3:])
        elif line.startswith("cfn="):
            verification_profile.resolve_name(names, line[4:])
    return inclusive


def wait_listening(log_path: Path, proc: subprocess.Popen, port: int | None) -> int:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        if port is not None:
            if bench.port_open(port):
                return port
        elif (listening := bench.listening_port(log_path)) is not None:
            return listening
        time.sleep(0.2)
    print(bench.tail(log_path), file=sys.stderr)
    raise SystemExit("the server did not start under valgrind")


def start(system: str, s, folder: Path, under_valgrind: bool = True) -> tuple[subprocess.Popen, int]:
    valgrind = ["valgrind", "--tool=callgrind", "--separate-threads=yes",
                f"--callgrind-out-file={folder}/callgrind.out.%p"] if under_valgrind else []
    log_path = folder / "server.log"
    if system == "heyan":
        config = bench.write_heyan_config(s)
        database = folder / "profile.sqlite"
        bench.remove_database(database)
        cmd = valgrind + [str(s.heyan_bin), "serve", "--config", str(config), "--listen", f"{bench.HOST}:0",
                          "--database", str(database), "--log-level", "info"]
        port = None
    else:
        nginx = bench.Nginx(s, s.pki)
        nginx.prefix = folder / "nginx"
        nginx.conf = nginx.prefix / "nginx.conf"
        port = bench.free_port()
        nginx.write_config(port)
        text = nginx.conf.read_text()
        text = re.sub(r"worker_processes \d+;", "worker_processes 1;", text)
        text = text.replace("master_process on;", "master_process off;")
        nginx.conf.write_text(text)
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        cmd = valgrind + [binary, "-c", str(nginx.conf), "-p", str(nginx.prefix),
                          "-e", str(nginx.prefix / "logs" / "error.log")]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    return proc, wait_listening(log_path, proc, port)


def profile(system: str, s, a) -> dict:
    folder = OUT / system
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("callgrind.out.*"):
        old.unlink()
    proc, port = start(system, s, folder)
    try:
        load = [str(s.heyan_bin), "bench", "--url", f"https://{bench.HOST}:{port}", "--certs", str(s.pki),
                "--scenario", "handshake", "--json", "--timeout", "60"]
        # One short run first: lazy initialisation (provider loads, first CRL parse, caches) is not a handshake's cost.
        bench.run(load + ["--connections", "1", "--duration", "2", "--warmup", "0"], timeout=300)
        subprocess.run(["callgrind_control", "-z", str(proc.pid)], capture_output=True, timeout=120, check=True)
        done = bench.run(load + ["--connections", str(a.connections), "--duration", f"{a.seconds:g}", "--warmup", "0"],
                         timeout=a.seconds + 300)
        time.sleep(1.0)
        names = verification_profile.thread_names(proc.pid)
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], capture_output=True, timeout=120, check=True)
    finally:
        if proc.poll() is None:
            verification_profile.stop_server(proc, STOP_SIGNAL[system])
    result = bench.parse_result(done.stdout)
    if done.returncode != 0 or not result:
        raise SystemExit(f"{system}: the load failed: {done.stdout}{done.stderr}")
    handshakes = int(result.get("handshakes") or 0)
    if handshakes <= 0:
        raise SystemExit(f"{system}: no handshakes completed: {done.stdout}")
    dumps = sorted(folder.glob(f"callgrind.out.{proc.pid}.1-*"))  # the dump of `callgrind_control -d`
    threads: dict[str, int] = {}
    functions: dict[tuple[str, str], int] = {}
    inclusive: dict[str, int] = {}
    for dump in dumps:
        if dump.stat().st_size == 0:
            continue
        total, costs = verification_profile.parse_callgrind(dump)
        match = re.search(r"-(\d+)$", dump.name)
        number = int(match.group(1)) if match else 1
        name = names[number - 1] if number <= len(names) else f"thread {number}"
        threads[name] = threads.get(name, 0) + total
        for key, cost in costs.items():
            functions[key] = functions.get(key, 0) + cost
        for key, cost in parse_inclusive(dump, set(ENTRY_POINTS)).items():
            inclusive[key] = inclusive.get(key, 0) + cost
    whole = sum(threads.values())
    per = lambda n: n / handshakes  # noqa: E731
    groups = verification_profile.function_groups(functions)
    print(f"\n== {system}: {handshakes} handshakes under callgrind ({a.connections} connections, {a.seconds:g} s), "
          f"errors {result.get('errors', {})}")
    print(f"{'instructions per handshake':<40} {per(whole):>12,.0f}")
    verification_profile.print_shares("by thread", threads, whole, per)
    verification_profile.print_shares("by function group (self)", groups, whole, per, at_least=0.002)
    print("inclusive, per handshake")
    for name in ENTRY_POINTS:
        if name in inclusive:
            print(f"  {name:<38} {per(inclusive[name]):>12,.0f}")
    top = sorted(functions.items(), key=lambda kv: -kv[1])[: a.top]
    demangled = verification_profile.demangle([name for (name, _), _ in top])
    print(f"costliest functions (self, top {a.top})")
    for ((name, obj), n), pretty in zip(top, demangled):
        print(f"  {per(n):>10,.0f}  {100 * n / whole:5.1f} %  {pretty[:120]}  [{os.path.basename(obj)}]")
    return {"system": system, "handshakes": handshakes, "instructionsPerHandshake": round(per(whole)),
            "threads": {k: round(per(v)) for k, v in threads.items()},
            "functionGroups": {k: round(per(v)) for k, v in sorted(groups.items(), key=lambda kv: -kv[1])},
            "inclusive": {k: round(per(inclusive[k])) for k in ENTRY_POINTS if k in inclusive},
            "top": [{"function": pretty, "object": os.path.basename(obj), "perHandshake": round(per(n))}
                    for ((name, obj), n), pretty in zip(top, demangled)]}


def profile_client(system: str, s, a) -> dict:
    """The load generator's instructions per handshake against `system` running natively: it shares the
    two cores with the server in `make bench`, so what the server sends it (a longer chain to decode)
    moves the handshakes/s figure too. Counted as the difference of a short and a long run under
    callgrind, which cancels the client's start-up."""
    folder = OUT / f"client-{system}"
    folder.mkdir(parents=True, exist_ok=True)
    proc, port = start(system, s, folder, under_valgrind=False)
    counts = []
    try:
        for seconds in (2, 2 + a.seconds):
            out = folder / "callgrind.out.client"
            done = bench.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", str(s.heyan_bin), "bench",
                              "--url", f"https://{bench.HOST}:{port}", "--certs", str(s.pki), "--scenario", "handshake",
                              "--json", "--timeout", "60", "--connections", str(a.connections),
                              "--duration", f"{seconds:g}", "--warmup", "0"], timeout=seconds + 300)
            result = bench.parse_result(done.stdout)
            collected = re.search(r"Collected : (\d+)", done.stderr)
            if done.returncode != 0 or not result or not collected:
                raise SystemExit(f"client against {system} failed: {done.stdout}{done.stderr[-2000:]}")
            counts.append((int(result["handshakes"]), int(collected.group(1))))
    finally:
        verification_profile.stop_server(proc, STOP_SIGNAL[system], timeout=60)
    (short_h, short_ir), (long_h, long_ir) = counts
    per = (long_ir - short_ir) / max(1, long_h - short_h)
    print(f"\n== client against {system}: {per:,.0f} instructions per handshake ({long_h - short_h} handshakes)")
    return {"system": f"client against {system}", "handshakes": long_h - short_h, "instructionsPerHandshake": round(per)}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--connections", type=int, default=2)
    p.add_argument("--top", type=int, default=40)
    p.add_argument("--only", choices=["heyan", "nginx"])
    p.add_argument("--client", action="store_true", help="also count the load generator's instructions per handshake")
    a = p.parse_args(argv)
    s = bench.parse_settings([])
    bench.VAR.mkdir(parents=True, exist_ok=True)
    bench.ensure_pki(s)
    OUT.mkdir(parents=True, exist_ok=True)
    summary = [profile(system, s, a) for system in ("heyan", "nginx") if a.only in (None, system)]
    if len(summary) == 2 and summary[1]["instructionsPerHandshake"]:
        print(f"\nheyan / nginx instructions per handshake: "
              f"{summary[0]['instructionsPerHandshake'] / summary[1]['instructionsPerHandshake']:.3f}")
    if a.client:
        clients = [profile_client(system, s, a) for system in ("heyan", "nginx") if a.only in (None, system)]
        for server, client in zip(summary, clients):
            server["client"] = client["instructionsPerHandshake"]
        if len(summary) == 2:
            both = [x["instructionsPerHandshake"] + x["client"] for x in summary]
            print(f"server + client per handshake: heyan {both[0]:,}, nginx {both[1]:,}; "
                  f"nginx / heyan {both[1] / both[0]:.3f} (the handshakes/s ratio if both fill the same cores)")
    (OUT / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    print(f"\n{OUT / 'summary.json'}; callgrind files in {OUT}/<system>/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
