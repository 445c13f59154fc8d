#!/usr/bin/env python3
"""Asks the kernel (EEVDF, Linux 6.12 and later) for a scheduler slice of SLICE_US microseconds for the
threads of PID whose name starts with one of PREFIXES (comma-separated), through sched_setattr with
SCHED_OTHER and sched_runtime set (nice stays 0): a shorter slice lets a waking thread preempt sooner
without changing its share of the CPU. open-loop-fresh.sh calls it with SLICE_US=…;
docs/performance.md, "Issue 16, ninth session", has what it did to the open-loop p99 (nothing good).

    python3 Tests/Scripts/bench/thread-slice.py PID heyan-loop,heyan-writer 300
"""
import ctypes
import os
import struct
import sys

SYS_SCHED_SETATTR = 314  # x86_64

pid, prefixes, slice_us = int(sys.argv[1]), sys.argv[2].split(","), int(sys.argv[3])
libc = ctypes.CDLL(None, use_errno=True)
for tid in sorted(os.listdir(f"/proc/{pid}/task")):
    comm = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
    if not any(comm.startswith(p) for p in prefixes):
        continue
    # struct sched_attr (56 bytes): size, policy, flags, nice, priority, runtime, deadline, period,
    # util_min, util_max.
    attr = ctypes.create_string_buffer(struct.pack("IIQiIQQQII", 56, 0, 0, 0, 0, slice_us * 1000, 0, 0, 0, 0))
    failed = libc.syscall(SYS_SCHED_SETATTR, int(tid), attr, 0) != 0
    print(f"{comm} {tid}: " + (f"errno {ctypes.get_errno()}" if failed else f"slice {slice_us} µs"), file=sys.stderr)
