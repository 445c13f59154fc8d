#!/usr/bin/env bash
# A/B of a prototype that was measured and not kept (Tests/Scripts/bench/prototypes/NAME.patch, each
# named in docs/performance.md with its figures): builds heyan with the patch applied in a temporary
# git worktree of HEAD (`make release` there), then runs ab.py with this checkout's release build as A
# and the prototype as B, with any further arguments (environment variables pass to both servers).
# The prototype's binary stays in var/bench/prototype-NAME for other scripts (wal-pages.py --heyan …).
#
#   HEYAN_GATHER_US=600 Tests/Scripts/bench/prototype-ab.sh gather-delay --rounds 4 --duration 8
#   Tests/Scripts/bench/prototype-ab.sh keyed-tables-without-rowid --rounds 4 --duration 8 --scenario queue
#   Tests/Scripts/bench/prototype-ab.sh journal-lower-bound --build-only   # the binary alone, for other scripts
#
# (var/bench made by BENCH_QUICK=1 make bench; the patches apply to the commit that added them.)
set -euo pipefail
cd "$(dirname "$0")/../../.."
NAME=${1:?usage: prototype-ab.sh NAME [ab.py options]}
shift
PATCH=$PWD/Tests/Scripts/bench/prototypes/$NAME.patch
[ -f "$PATCH" ] || { echo "no prototype $PATCH" >&2; exit 1; }
make release > /dev/null
TREE=$(mktemp -d -p var)
trap 'git worktree remove --force "$TREE"' EXIT
git worktree add --detach -q "$TREE" HEAD
(cd "$TREE" && git apply "$PATCH" && make release > /dev/null)
mkdir -p var/bench
cp "$TREE/.build/release/heyan" "var/bench/prototype-$NAME"
if [ "${1:-}" = --build-only ]; then echo "var/bench/prototype-$NAME"; exit 0; fi
python3 Tests/Scripts/bench/ab.py --a .build/release/heyan --b "var/bench/prototype-$NAME" "$@"
