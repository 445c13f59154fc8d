#!/usr/bin/env python3
"""A heyan cluster on one machine: PostgreSQL primary + synchronous standby, three `heyan serve` nodes,
HAProxy in front (docs/cluster.md).

Usage: Tests/Scripts/cluster/cluster.py start|stop|status [--dir var/cluster] [--port 8443] [--binary B]

`start` is idempotent (whatever is already running stays); `stop` stops everything it started and keeps the
data (`--wipe` removes the folder). The crash test (crashtest_cluster.py) uses the same classes on a
temporary folder with free ports.
"""

import argparse
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.dirname(HERE))
import crashtest  # noqa: E402  (Tests/Scripts/crashtest.py: the shared `heyan serve` runner)

NODE_NAMES = ("node1", "node2", "node3")
PG_NAMES = ("pg1", "pg2")


def free_ports(count):
    """Loopback ports nothing listens on right now (bound to port 0 together, read, closed)."""
    sockets = []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def pg_binaries():
    """The newest /usr/lib/postgresql/<version>/bin holding initdb (Debian `postgresql`)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise SystemExit("no PostgreSQL server binaries under /usr/lib/postgresql: run `make deps`")
    return os.path.dirname(found[-1])


def as_postgres(arguments, check=True, **kwargs):
    """PostgreSQL refuses to run as root: as root, server programs run as the postgres user (runuser),
    from / (which that user can read)."""
    prefix = ["/usr/sbin/runuser", "-u", "postgres", "--", "/usr/bin/env", "-C", "/"] if os.getuid() == 0 else []
    result = subprocess.run(prefix + arguments, capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(arguments)} failed ({result.returncode}): {result.stdout}{result.stderr}")
    return result


def hand_to_postgres(path):
    os.makedirs(path, exist_ok=True)
    if os.getuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(path, account.pw_uid, account.pw_gid)
        os.chmod(path, 0o700)


def alive(pid):
    """True while `pid` runs (a zombie waiting for init to reap it counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


class Postgres:
    """One PostgreSQL server of the pair: `directory/data`, `directory/server.log`, its socket in `directory`.

    Both list both names in `synchronous_standby_names` ('FIRST 1 (pg1, pg2)'): a server never streams from
    itself, so on each primary the other one is the synchronous standby, and the setting survives the base
    backup and the promotion unchanged. A promoted server therefore waits for the rebuilt old primary before
    any COMMIT returns: no acknowledged write rests on one machine (docs/cluster.md)."""

    def __init__(self, name, directory, port):
        self.name, self.directory, self.port = name, directory, port
        self.data = f"{directory}/data"
        self.log = f"{directory}/server.log"
        self.binaries = pg_binaries()

    def settings(self):
        # Appended after initdb or pg_basebackup, so these lines win over whatever the copy carried.
        return f"""
# heyan cluster ({self.name})
listen_addresses = '127.0.0.1'
port = {self.port}
unix_socket_directories = '{self.directory}'
cluster_name = '{self.name}'
lc_messages = 'C'
synchronous_commit = on
synchronous_standby_names = 'FIRST 1 ({", ".join(PG_NAMES)})'
wal_keep_size = '128MB'
# A standby retries its lost primary every 5 s by default, and a promotion waited for that retry.
wal_retrieve_retry_interval = '100ms'
max_connections = 200
recovery_init_sync_method = syncfs
# CPU per commit; durability unchanged: fsync, synchronous_commit and full_page_writes stay on
# (docs/postgresql.md, "Server settings").
# Room for the working set (evicting a dirty page costs a write and a later re-read).
shared_buffers = '256MB'
# Checkpoints by time, not WAL volume, and three times rarer (15 min; PostgreSQL's default is 5): each page
# first changed after a checkpoint logs a whole 8 KB image (full_page_writes), so fewer checkpoints mean fewer
# images. Crash recovery replays at most ~15 min of WAL.
checkpoint_timeout = '15min'
max_wal_size = '4GB'
# audit_queue is a queue: every verification inserts a row that the integrator deletes within a
# second. Its dead rows and index entries are scanned by every "anything queued?" probe until vacuum
# removes them; autovacuum visiting each database every 10 s instead of every minute keeps that short.
autovacuum_naptime = '10s'
"""

    def conninfo(self, user="postgres", database="postgres"):
        return f"host=127.0.0.1 port={self.port} user={user} dbname={database} connect_timeout=2"

    def initdb(self):
        hand_to_postgres(self.directory)
        as_postgres([f"{self.binaries}/initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                     "--locale=C.UTF-8", "-k", "--no-sync"])
        self.append_settings()

    def rebuild_from(self, source):
        """A fresh standby of `source`: the old data removed, `pg_basebackup -R -X stream` (whose
        primary_conninfo carries this server's name, the one synchronous_standby_names lists)."""
        hand_to_postgres(self.directory)
        as_postgres(["/bin/rm", "-rf", self.data])
        as_postgres([f"{self.binaries}/pg_basebackup", "-d",
                     f"host=127.0.0.1 port={source.port} user=postgres application_name={self.name}",
                     "-D", self.data, "-R", "-X", "stream", "-c", "fast"])
        # A degraded primary's ALTER SYSTEM (see Cluster.crash_primary_and_promote) must not come along.
        as_postgres(["/bin/sed", "-i", "/^synchronous_standby_names/d", f"{self.data}/postgresql.auto.conf"])
        self.append_settings()

    def append_settings(self):
        as_postgres(["/bin/sh", "-c", f"cat >> {self.data}/postgresql.conf"], input=self.settings())

    def pid(self):
        try:
            with open(f"{self.data}/postmaster.pid") as f:
                pid = int(f.readline())
        except (FileNotFoundError, ValueError, PermissionError):
            return None
        return pid if alive(pid) else None

    def start(self):
        if self.pid():
            return
        self.remove_stale_locks()
        as_postgres([f"{self.binaries}/pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "start"])

    def remove_stale_locks(self):
        """A SIGKILLed postmaster that init has not reaped yet still answers kill(pid, 0), which is how
        PostgreSQL judges the lock files it finds (`postmaster.pid`, `.s.PGSQL.<port>.lock`): the next start
        would refuse them ("lock file ... already exists"; one crashtest-cluster run failed so). A lock
        whose process `alive` calls gone — exited, or a zombie — is stale, and removed."""
        for lock in (f"{self.data}/postmaster.pid", f"{self.directory}/.s.PGSQL.{self.port}.lock"):
            try:
                with open(lock) as f:
                    pid = int(f.readline())
            except (FileNotFoundError, ValueError, PermissionError):
                continue
            if not alive(pid):
                os.remove(lock)

    def stop(self, mode="fast"):
        if self.pid():
            as_postgres([f"{self.binaries}/pg_ctl", "-D", self.data, "-m", mode, "-w", "stop"], check=False)

    def crash(self):
        """The machine dies: freeze the postmaster and its children, then SIGKILL them all."""
        pid = self.pid()
        if pid is None:
            return
        children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout.split()
        processes = [pid] + [int(c) for c in children]
        for process in processes:
            os.kill(process, signal.SIGSTOP)
        for process in processes:
            os.kill(process, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.01)

    def promote(self):
        as_postgres([f"{self.binaries}/pg_ctl", "-D", self.data, "-w", "-t", "60", "promote"])

    def psql(self, sql, database="postgres"):
        result = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", self.conninfo(database=database),
                                 "-c", sql], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"psql on {self.name}: {sql}: {result.stderr.strip()}")
        return result.stdout.strip()

    def in_recovery(self):
        return self.psql("SELECT pg_is_in_recovery()") == "t"

    def set_synchronous(self, synchronous):
        """Degraded (False): commits stop waiting for a standby (ALTER SYSTEM, reload); True: back to the
        configured 'FIRST 1 (pg1, pg2)'."""
        if synchronous:
            self.psql("ALTER SYSTEM RESET synchronous_standby_names")
        else:
            self.psql("ALTER SYSTEM SET synchronous_standby_names = ''")
        self.psql("SELECT pg_reload_conf()")

    def wait_for_sync_standby(self, standby, timeout=60, state="sync"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            column = "sync_state" if state == "sync" else "state"
            found = self.psql(f"SELECT {column} FROM pg_stat_replication WHERE application_name = '{standby.name}'")
            if found == state:
                return
            time.sleep(0.05)
        raise RuntimeError(f"{standby.name} did not stream as the synchronous standby of {self.name} in {timeout} s")


class Node(crashtest.Server):
    """One `heyan serve` of the cluster: its folder, its port, started and killed like the crash test's server."""

    def __init__(self, binary, name, directory, port):
        super().__init__(binary, f"{directory}/heyan.json", f"{directory}/heyan.log")
        self.name, self.directory, self.listen_port = name, directory, port


class Cluster:
    """The whole deployment under `root`. Ports: HAProxy `port`, nodes `node_ports`, PostgreSQL `pg_ports`."""

    def __init__(self, root, binary, port, node_ports, pg_ports, pki, departments, catalog, drain_seconds=1.5):
        self.root, self.binary, self.port = os.path.abspath(root), binary, port
        self.pki, self.departments, self.catalog = pki, departments, catalog
        self.drain_seconds = drain_seconds
        self.pg = [Postgres(name, f"{self.root}/pg/{name}", p) for name, p in zip(PG_NAMES, pg_ports)]
        self.nodes = [Node(binary, name, f"{self.root}/nodes/{name}", node_port)
                      for name, node_port in zip(NODE_NAMES, node_ports)]
        self.haproxy_dir = f"{self.root}/haproxy"

    # -- the pieces ---------------------------------------------------------------------------

    @classmethod
    def temporary(cls, work, binary, pki, drain_seconds):
        """A cluster in `work/cluster` on free loopback ports, with the departments and catalog crashtest.setup
        wrote into `work`: for the crash test and the rolling restart."""
        port, *others = free_ports(6)
        return cls(f"{work}/cluster", binary, port, others[:3], others[3:], pki, f"{work}/departments.json",
                   f"{work}/catalog.json", drain_seconds=drain_seconds)

    def database_uri(self, user="heyan"):
        """The same database as a `postgresql://` URI (what `heyan audit verify --database` and psycopg2 take)."""
        hosts = ",".join(f"127.0.0.1:{p.port}" for p in self.pg)
        return f"postgresql://{user}@{hosts}/heyan?target_session_attrs=read-write&connect_timeout=2"

    @property
    def database(self):
        """The multi-host libpq string every node uses: libpq keeps the first host taking writes."""
        hosts = ",".join("127.0.0.1" for _ in self.pg)
        ports = ",".join(str(p.port) for p in self.pg)
        return f"host={hosts} port={ports} user=heyan dbname=heyan target_session_attrs=read-write connect_timeout=2"

    def primary(self):
        for server in self.pg:
            if server.pid() and not server.in_recovery():
                return server
        return None

    def start_postgres(self):
        first, second = self.pg
        made = f"{self.root}/pg/initialized"
        if not os.path.exists(made):
            # Nothing, or a setup that stopped half-way: start from scratch.
            for server in self.pg:
                server.stop("immediate")
            shutil.rmtree(f"{self.root}/pg", ignore_errors=True)
            first.initdb()
            first.start()
            second.rebuild_from(first)
            second.start()
            first.wait_for_sync_standby(second)
            # After the standby streams: with it absent every COMMIT would wait.
            first.psql("CREATE ROLE heyan LOGIN")
            first.psql("CREATE DATABASE heyan OWNER heyan")
            with open(made, "w") as f:
                f.write("pg1 primary, pg2 synchronous standby, role and database heyan\n")
            return
        for server in self.pg:
            server.start()
        primary = self.primary()
        if primary is None:
            raise RuntimeError("no PostgreSQL server of the pair takes writes; see docs/cluster.md, \"Switchback\"")
        standby = next(s for s in self.pg if s is not primary)
        primary.wait_for_sync_standby(standby)

    def write_node_config(self, node):
        os.makedirs(node.directory, exist_ok=True)
        with open(f"{ROOT}/config/heyan.json") as f:
            config = json.load(f)
        config.pop("$schema", None)
        pki = os.path.abspath(self.pki)
        config.update({
            "listen": f"127.0.0.1:{node.listen_port}",
            "store": "postgresql",
            "database": self.database,
            "departments": os.path.abspath(self.departments),
            "catalog": os.path.abspath(self.catalog),
            "tls": {"certificate": f"{pki}/server.pem", "privateKey": f"{pki}/server.key",
                    "clientCA": f"{pki}/ca.pem", "crl": f"{pki}/crl.pem"},
            "signing": {"certificate": f"{pki}/signing.pem", "privateKey": f"{pki}/signing.key",
                        "chain": [f"{pki}/ca.pem"]},
            "workers": 2,
            "drainSeconds": self.drain_seconds,
        })
        config["audit"] = dict(config.get("audit", {}), logKey=f"{pki}/log.key")
        with open(node.config, "w") as f:
            json.dump(config, f, indent=2, ensure_ascii=False)

    def node_pid(self, node):
        try:
            with open(f"{node.directory}/heyan.pid") as f:
                pid = int(f.read())
        except (FileNotFoundError, ValueError):
            return None
        return pid if alive(pid) else None

    def start_node(self, node):
        if node.process is None and self.node_pid(node):
            return  # left running by an earlier `make cluster`
        self.write_node_config(node)
        node.start()
        with open(f"{node.directory}/heyan.pid", "w") as f:
            f.write(str(node.process.pid))

    def write_haproxy_config(self):
        os.makedirs(self.haproxy_dir, exist_ok=True)
        pki = os.path.abspath(self.pki)
        # The health check is an mTLS client like any other: a department certificate and its key in one file.
        department = sorted(os.listdir(f"{pki}/departments"))[0].rsplit(".", 1)[0]
        check_pem = f"{self.haproxy_dir}/check-client.pem"
        with open(check_pem, "w") as out:
            for part in ("pem", "key"):
                with open(f"{pki}/departments/{department}.{part}") as f:
                    out.write(f.read())
        os.chmod(check_pem, 0o600)
        servers = "\n".join(f"    server {n.name} 127.0.0.1:{n.listen_port}" for n in self.nodes)
        user = "    user haproxy\n    group haproxy\n" if os.getuid() == 0 else ""
        config = f"""# Written by Tests/Scripts/cluster/cluster.py (docs/cluster.md)
global
{user}    maxconn 4096
    pidfile {self.haproxy_dir}/haproxy.pid
    stats socket {self.haproxy_dir}/admin.sock mode 600 level admin

defaults
    mode tcp
    # Also the pause before retrying a refused connection (min(timeout connect, 1 s)): loopback connects at once.
    timeout connect 250ms
    timeout client 120s
    timeout server 120s
    timeout check 2s
    # A node that refuses the connection (killed, or draining and no longer accepting): try again, on another node.
    retries 3
    option redispatch 1

frontend heyan
    bind 127.0.0.1:{self.port}
    default_backend nodes

backend nodes
    balance leastconn
    # The TLS stays end to end (mode tcp): heyan sees the client's certificate. The health check opens its own
    # mTLS connection and asks GET /readyz: 200 ready, 503 when the node cannot commit or is draining.
    option httpchk
    http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host localhost hdr Connection close
    http-check expect status 200
    default-server check check-ssl inter 300 fall 1 rise 2 crt {check_pem} ca-file {pki}/ca.pem verify required verifyhost localhost
{servers}
"""
        with open(f"{self.haproxy_dir}/haproxy.cfg", "w") as f:
            f.write(config)

    def haproxy_pid(self):
        try:
            with open(f"{self.haproxy_dir}/haproxy.pid") as f:
                pid = int(f.readline())
        except (FileNotFoundError, ValueError):
            return None
        return pid if alive(pid) else None

    def start_haproxy(self):
        if self.haproxy_pid():
            return
        self.write_haproxy_config()
        subprocess.run(["haproxy", "-c", "-q", "-f", f"{self.haproxy_dir}/haproxy.cfg"], check=True)
        subprocess.run(["haproxy", "-D", "-f", f"{self.haproxy_dir}/haproxy.cfg"], check=True)

    def haproxy_state(self):
        """{node name: "UP" | "DOWN" | …} from HAProxy's admin socket."""
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect(f"{self.haproxy_dir}/admin.sock")
        connection.sendall(b"show servers state nodes\n")
        text = b""
        while chunk := connection.recv(65536):
            text += chunk
        connection.close()
        states = {}
        for line in text.decode().splitlines():
            fields = line.split()
            if len(fields) > 5 and fields[1] == "nodes":
                states[fields[3]] = {"2": "UP", "0": "DOWN", "1": "STARTING", "3": "STOPPING"}.get(fields[5], fields[5])
        return states

    def wait_until_up(self, names=None, timeout=30):
        deadline = time.monotonic() + timeout
        names = set(names or (n.name for n in self.nodes))
        while time.monotonic() < deadline:
            states = self.haproxy_state()
            if all(states.get(name) == "UP" for name in names):
                return
            time.sleep(0.05)
        raise RuntimeError(f"HAProxy does not see {sorted(names)} up: {self.haproxy_state()}")

    # -- the whole ------------------------------------------------------------------------------

    def start(self):
        self.start_postgres()
        for node in self.nodes:
            self.start_node(node)
        self.start_haproxy()
        self.wait_until_up()

    def stop(self):
        pid = self.haproxy_pid()
        if pid:
            os.kill(pid, signal.SIGTERM)
        for node in self.nodes:
            pid = self.node_pid(node)
            if pid:
                os.kill(pid, signal.SIGTERM)
        for node in self.nodes:
            deadline = time.monotonic() + 20
            while self.node_pid(node) and time.monotonic() < deadline:
                time.sleep(0.05)
            if node.process is not None:
                node.process.poll()
        for server in self.pg:
            server.stop()

    def crash_primary_and_promote(self, strict=False):
        """The failover the crash test drives: SIGKILL the primary, promote the standby, rebuild the old
        primary as the new standby (a fresh pg_basebackup). Returns (old, new, seconds to promoted, seconds
        until the new standby is synchronous).

        Not strict (the default, like Patroni's synchronous_mode and pg_auto_failover's wait_primary): the
        promoted server commits without a standby until the rebuilt one streams, then waits for it again.
        Acknowledged writes of that window are on one machine: losing a second machine within it loses them.
        Strict: synchronous_standby_names stays, so every COMMIT waits until the rebuilt standby streams —
        nothing acknowledged ever rests on one machine, and writes stop for the whole rebuild."""
        old = self.primary()
        new = next(s for s in self.pg if s is not old)
        started = time.monotonic()
        old.crash()
        new.promote()
        if not strict:
            new.set_synchronous(False)
        promoted = time.monotonic() - started
        old.rebuild_from(new)
        old.start()
        if not strict:
            new.wait_for_sync_standby(old, state="streaming")
            new.set_synchronous(True)
        new.wait_for_sync_standby(old)
        return old, new, promoted, time.monotonic() - started


def default_cluster(args):
    port = args.port
    pg_port = args.pg_port or port + 100
    pki = f"{ROOT}/certs/dev"
    return Cluster(args.dir, args.binary, port, [port + 1, port + 2, port + 3], [pg_port, pg_port + 1],
                   pki, f"{ROOT}/config/departments.json", f"{ROOT}/config/catalog.json")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument("--dir", default=f"{ROOT}/var/cluster")
    parser.add_argument("--port", type=int, default=int(os.environ.get("CLUSTER_PORT", "8443")))
    parser.add_argument("--pg-port", type=int, default=None, help="the first PostgreSQL port (default: --port + 100)")
    parser.add_argument("--binary", default=f"{ROOT}/.build/release/heyan")
    parser.add_argument("--wipe", action="store_true", help="with stop: also remove the folder")
    args = parser.parse_args()
    cluster = default_cluster(args)
    if args.command == "start":
        if not os.path.isdir(cluster.pki):
            raise SystemExit(f"no development PKI in {cluster.pki}: run `make pki`")
        cluster.start()
        primary = cluster.primary()
        print(f"heyan cluster: https://localhost:{cluster.port} (HAProxy, mode tcp) -> "
              + ", ".join(f"{n.name} 127.0.0.1:{n.listen_port}" for n in cluster.nodes))
        print(f"PostgreSQL: primary {primary.name} 127.0.0.1:{primary.port}, synchronous standby "
              + ", ".join(f"{s.name} 127.0.0.1:{s.port}" for s in cluster.pg if s is not primary))
        print(f"folder {cluster.root}; stop with `make cluster-stop`")
    elif args.command == "stop":
        cluster.stop()
        if args.wipe:
            shutil.rmtree(cluster.root, ignore_errors=True)
        print("heyan cluster stopped")
    else:
        print(json.dumps({"haproxy": cluster.haproxy_pid(), "nodes": {n.name: cluster.node_pid(n) for n in cluster.nodes},
                          "postgres": {s.name: s.pid() for s in cluster.pg},
                          "backends": cluster.haproxy_state() if cluster.haproxy_pid() else {}}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
