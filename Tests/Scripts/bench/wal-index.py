#!/usr/bin/env python3
"""The WAL's state read from a live database's wal-index (`<database>-shm`) every 0.5 s for SECONDS:
mxFrame (frames in the WAL), nBackfill (frames copied into the database) and the five read marks —
whether the WAL restarts under load (docs/performance.md, "Issue 16, eighth session"). Offsets are
SQLite's wal-index header (mxFrame at 16) and checkpoint info (nBackfill at 96, aReadMark at 100).

    python3 Tests/Scripts/bench/wal-index.py var/bench/db/main.sqlite-shm 150 &   # then: BENCH_QUICK=1 BENCH_ONLY=main make bench
"""
import struct
import sys
import time

path, seconds = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 120
end = time.time() + seconds
while time.time() < end:
    try:
        with open(path, "rb") as shm:
            header = shm.read(120)
        print(f"{time.strftime('%H:%M:%S')} mxFrame {struct.unpack_from('<I', header, 16)[0]:6d} "
              f"nBackfill {struct.unpack_from('<I', header, 96)[0]:6d} marks {struct.unpack_from('<5I', header, 100)}",
              flush=True)
    except (OSError, struct.error):
        pass  # not created yet, or removed between runs
    time.sleep(0.5)
