#!/usr/bin/env bash
# Builds interlock-bench (release, own scratch path), generates the datasets it needs (cached by size,
# seed and generator version), runs every operation and its peers, and prints one table per dataset.
#
#   Benchmarks/run.sh [small|medium|large|all]      (default: medium)
#
# Environment: BENCH_DIR (datasets and work files; default $TMPDIR/interlock-bench), SEED (default 1),
# BENCH_CONFIGURATION=debug (use the debug build: a smoke test, as CI runs it on the small dataset),
# RUNS (repetitions; default 5, 3 for large), LARGE_PLANS=1 (also plan all 1,000 large sites, which first
# writes ~470,000 deployed files), INSTALL_PEERS=1 (pip install ansible-core when it is missing).
set -euo pipefail

size="${1:-medium}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
work="${BENCH_DIR:-${TMPDIR:-/tmp}/interlock-bench}"
seed="${SEED:-1}"
generator=v1   # bump when the generator's output changes, so cached datasets are made again
mkdir -p "$work"

case "$size" in small|medium|large|all) ;; *) echo "usage: $0 [small|medium|large|all]" >&2; exit 64 ;; esac

if [ "${BENCH_CONFIGURATION:-release}" = debug ]; then
    # A smoke test (CI): the debug build the tests already made; the figures mean nothing.
    echo "== building interlock-bench (debug, default scratch path): figures are not meaningful"
    (cd "$root" && swift build --product interlock-bench 2>&1 | tail -1)
    bench="$root/.build/debug/interlock-bench"
else
    echo "== building interlock-bench (release, scratch path .build-bench)"
    (cd "$root" && swift build -c release --scratch-path "$root/.build-bench" --product interlock-bench 2>&1 | tail -1)
    bench="$root/.build-bench/release/interlock-bench"
fi

echo "== peers"
command -v git >/dev/null && git --version || echo "git not found: the full-read peer is skipped"
command -v rsync >/dev/null && rsync --version | sed -n 1p || echo "rsync not found: the one-site plan peer is skipped (apt-get install rsync)"
if ! command -v ansible-playbook >/dev/null && [ "${INSTALL_PEERS:-0}" = 1 ]; then pip install -q ansible-core || true; fi
command -v ansible-playbook >/dev/null && ansible-playbook --version | sed -n 1p || echo "ansible-playbook not found: the Ansible peer is skipped (pip install ansible-core, or INSTALL_PEERS=1)"

echo "== machine"
echo "$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), $(swift --version 2>&1 | head -1)"

dataset_ops() {
    case "$1" in
        small)  echo "check,read,load,compile,plan-first,plan-10pct,read+validate+plan,outline,validate-by-site,read+plan-by-site,replan,replan-by-site,replan-cold,site-plan" ;;
        medium) echo "check,read,load,compile,plan-first,plan-10pct,read+validate+plan,outline,validate-by-site,read+plan-by-site,replan,replan-by-site,replan-cold,site-plan,audit-append-batched,audit-append-single,audit-verify" ;;
        large)
            if [ "${LARGE_PLANS:-0}" = 1 ]; then
                echo "check,read,load,compile,plan-first,plan-10pct,read+validate+plan,outline,validate-by-site,read+plan-by-site,replan,replan-by-site,replan-cold,site-plan"
            else
                echo "check,read,load,compile,outline,validate-by-site,read+plan-by-site,replan,replan-by-site,replan-cold,site-plan"
            fi ;;
    esac
}

run_size() {
    local s="$1" runs="${RUNS:-5}"
    [ "$s" = large ] && runs="${RUNS:-3}"
    local repo="$work/repo-$s-seed$seed-$generator"
    if [ ! -f "$repo/HEAD" ]; then
        echo "== generating $s (seed $seed) into $repo"
        "$bench" generate --size "$s" --seed "$seed" --out "$repo"
    else
        echo "== $s dataset cached at $repo"
    fi
    echo "== running $s ($runs runs per operation)"
    "$bench" run --size "$s" --repo "$repo" --work "$work/work-$s-seed$seed-$generator" --runs "$runs" --ops "$(dataset_ops "$s")"
}

if [ "$size" = all ]; then
    for s in small medium large; do run_size "$s"; done
else
    run_size "$size"
fi
