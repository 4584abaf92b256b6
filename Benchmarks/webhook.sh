#!/usr/bin/env bash
# Push webhooks (docs/performance.md, "Push webhooks"): from the git host's signed webhook to the new change in
# GET /api/v1/queue, on a generated repository, with a peer in the same run: the same pushes found by the poll.
#
#   Benchmarks/webhook.sh [small|medium|large]          (default: large; release build; ROUNDS=10 POLL_SECONDS=10;
#                                                        FLEET=both also measures a fleet where no site was deployed)
#   BENCH_CONFIGURATION=debug ROUNDS=2 POLL_SECONDS=3 Benchmarks/webhook.sh small    (a smoke test, as CI runs it)
set -euo pipefail
size="${1:-large}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
work="${BENCH_DIR:-${TMPDIR:-/tmp}/interlock-bench}"
seed="${SEED:-1}"
generator=v1   # as Benchmarks/run.sh: datasets are shared
mkdir -p "$work"
case "$size" in small|medium|large) ;; *) echo "usage: $0 [small|medium|large]" >&2; exit 64 ;; esac

if [ "${BENCH_CONFIGURATION:-release}" = debug ]; then
    (cd "$root" && swift build --product interlock 2>&1 | tail -1 && swift build --product interlock-bench 2>&1 | tail -1)
    bin="$root/.build/debug"
else
    (cd "$root" && swift build -c release --scratch-path "$root/.build-bench" --product interlock 2>&1 | tail -1 \
        && swift build -c release --scratch-path "$root/.build-bench" --product interlock-bench 2>&1 | tail -1)
    bin="$root/.build-bench/release"
fi
repo="$work/repo-$size-seed$seed-$generator"
if [ ! -f "$repo/HEAD" ]; then
    echo "== generating $size (seed $seed) into $repo"
    "$bin/interlock-bench" generate --size "$size" --seed "$seed" --out "$repo"
fi
echo "== machine: $(nproc) cores, $(uname -sr); dataset $size ($repo)"
python3 "$here/webhook/webhook.py" "$bin/interlock" "$bin/interlock-bench" "$repo" "$work/webhook-$size"
