#!/usr/bin/env bash
# Compiles and runs wal-write-calls.c (SQLite's WAL write pattern, separate calls vs gathered) twice each,
# alternating, on a file under var/ (the disk heyan's database is on). docs/storage.md, "WAL writes".
#
#   Tests/Scripts/bench/wal-write-calls.sh [COMMITS]      (needs a C compiler: cc, or the Swift toolchain's clang)
set -euo pipefail
cd "$(dirname "$0")/../../.."
COMMITS=${1:-2000}
CC=${CC:-$(command -v cc || command -v clang)}
mkdir -p var/bench
"$CC" -O2 -Wall -Wextra -o var/bench/wal-write-calls Tests/Scripts/bench/wal-write-calls.c
for _ in 1 2; do
  for mode in separate gathered; do var/bench/wal-write-calls $mode "$COMMITS" var/bench/wal-write-calls.data; done
done
