#!/usr/bin/env python3
"""A throwaway PostgreSQL server for the bench's shell scripts: started as `make bench`'s pg phase starts
its server (no standby, synchronous_commit, fsync and full_page_writes on) in FOLDER with an empty database
`heyan`, its address printed on one line (postgresql://…), then stopped and FOLDER removed on SIGTERM or
SIGINT.

    python3 Tests/Scripts/bench/throwaway-postgres.py var/bench/pg-backlog &   # queue-backlog.sh does this
"""

import shutil
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402

folder = Path(sys.argv[1]) if len(sys.argv) > 1 else bench.VAR / "pg-throwaway"
postgres = bench.PostgresServer(bench.import_cluster(), folder.resolve(), folder.name).start(["heyan"])


def stop(*_):
    postgres.stop()
    shutil.rmtree(postgres.folder, ignore_errors=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
print(postgres.uri("heyan"), flush=True)
while True:
    time.sleep(1)
