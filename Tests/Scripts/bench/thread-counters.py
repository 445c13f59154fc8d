#!/usr/bin/env python3
"""Per-thread CPU and context switches of heyan and of its load generator during open-loop runs
(docs/performance.md, "Issue 16, eighth session"): waits for each `heyan bench … --rate` process to
start, lets 4 s of warm-up and seeding pass, then reads /proc/PID/task/*/{stat,status} of the newest
`heyan serve` and of that load generator 5 s apart and prints, per thread group, the CPU share of one
core and the voluntary and involuntary switches per second, with the machine's /proc/stat ticks.

    python3 Tests/Scripts/bench/thread-counters.py 2 &    # then: BENCH_ONLY=main make bench
    python3 Tests/Scripts/bench/thread-counters.py 2 &    # or:   Tests/Scripts/bench/open-loop-fresh.sh 5379 2
"""
import os
import re
import sys
import time


def processes():
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            yield int(pid), open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace").split("\0")
        except OSError:
            pass


def threads(pid):
    found = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = open(f"/proc/{pid}/task/{tid}/stat").read()
            status = open(f"/proc/{pid}/task/{tid}/status").read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        found[tid] = (re.sub(r"-\d+$", "", stat[stat.index("(") + 1:stat.rindex(")")]),
                      int(fields[11]) + int(fields[12]),
                      int(re.search(r"^voluntary_ctxt_switches:\s+(\d+)", status, re.M).group(1)),
                      int(re.search(r"nonvoluntary_ctxt_switches:\s+(\d+)", status).group(1)))
    return found


def machine():
    return [int(x) for x in open("/proc/stat").readline().split()[1:]]


def main():
    runs, seen, seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 2, set(), 5
    while runs:
        listed = list(processes())
        generators = [p for p, c in listed if len(c) > 2 and c[1] == "bench" and "--rate" in c and p not in seen]
        servers = [p for p, c in listed if len(c) > 2 and c[1] == "serve" and c[0].endswith("heyan")]
        if not generators or not servers:
            time.sleep(0.2)
            continue
        generator, server = generators[0], max(servers)
        seen.add(generator)
        runs -= 1
        time.sleep(4)
        before = {"server": threads(server), "generator": threads(generator)}, machine()
        time.sleep(seconds)
        after = {"server": threads(server), "generator": threads(generator)}, machine()
        ticks = [b - a for a, b in zip(before[1], after[1])]
        print(f"run: generator {generator}, server {server}; machine ticks user {ticks[0]} system {ticks[2]} "
              f"idle {ticks[3]} iowait {ticks[4]} softirq {ticks[6]} steal {ticks[7]}")
        for side in ("server", "generator"):
            groups = {}
            for tid, (name, cpu, voluntary, involuntary) in after[0][side].items():
                if tid in before[0][side]:
                    _, cpu0, voluntary0, involuntary0 = before[0][side][tid]
                    g = groups.setdefault(name, [0, 0, 0, 0])
                    g[0] += cpu - cpu0; g[1] += voluntary - voluntary0; g[2] += involuntary - involuntary0; g[3] += 1
            for name, (cpu, voluntary, involuntary, count) in sorted(groups.items()):
                if cpu or voluntary or involuntary:
                    print(f"  {side:9} {name:14} x{count}  cpu {cpu / seconds:6.1f} %  voluntary/s {voluntary / seconds:7.0f}"
                          f"  involuntary/s {involuntary / seconds:7.0f}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
