#!/usr/bin/env python3
"""WAL pages per commit by b-tree (docs/storage.md, migrations 15 and 16): starts heyan on a fresh database
(var/bench's configuration: make it once with `BENCH_QUICK=1 BENCH_ONLY=main make bench`), runs data sharing,
kills heyan with SIGKILL so that the WAL stays as written, then reads the last WAL cycle frame by frame and
names each frame's page by its table or index (SQLite's `dbstat` on a copy of the database and WAL).

    python3 Tests/Scripts/bench/wal-pages.py [--seconds 4] [--heyan .build/release/heyan]
"""

from __future__ import annotations

import argparse
import collections
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402


def frames(wal: bytes) -> list[tuple[int, bool]]:
    """(page number, commit frame) of each frame of the WAL's current cycle (its header's salts)."""
    _, _, page_size, _, salt1, salt2, _, _ = struct.unpack(">IIIIIIII", wal[:32])
    out, offset = [], 32
    while offset + 24 + page_size <= len(wal):
        page, commit, s1, s2, _, _ = struct.unpack(">IIIIII", wal[offset:offset + 24])
        if (s1, s2) != (salt1, salt2):
            break
        out.append((page, commit != 0))
        offset += 24 + page_size
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=4)
    p.add_argument("--heyan", type=Path, default=bench.ROOT / ".build" / "release" / "heyan")
    args = p.parse_args()
    s = bench.parse_settings(["--duration", str(args.seconds), "--warmup", "0"])
    s.heyan_bin = args.heyan.resolve()
    s.bench_cmd = [str(s.heyan_bin), "bench"]
    folder = Path(tempfile.mkdtemp(prefix="wal-pages-", dir=bench.VAR / "db"))
    database = folder / "heyan.sqlite"
    heyan = bench.Heyan("wal-pages", database, bench.VAR / "config" / "heyan.json", s).start()
    try:
        bench.Bench(s).run("wal-pages", "heyan", heyan, "data-sharing")
        heyan.proc.send_signal(signal.SIGKILL)
        heyan.proc.wait(timeout=10)
        wal = (folder / "heyan.sqlite-wal").read_bytes()
        # dbstat on a copy of the database and its WAL (opening it recovers the WAL): every page the
        # frames name, those the last commits added to the file too.
        copy = folder / "copy.sqlite"
        copy.write_bytes(database.read_bytes())
        Path(f"{copy}-wal").write_bytes(wal)
        names = {page: name for name, page in sqlite3.connect(copy).execute("SELECT name, pageno FROM dbstat")}
    finally:
        heyan.stop()
        subprocess.run(["rm", "-rf", str(folder)], check=False)
    found = frames(wal)
    commits = max(1, sum(1 for _, commit in found if commit))
    print(f"{len(found)} frames in {commits} commits: {len(found) / commits:.1f} pages per commit")
    for name, n in collections.Counter(names.get(page, "(free)") for page, _ in found).most_common():
        print(f"{n / commits:7.2f} per commit  {name}")


if __name__ == "__main__":
    main()
