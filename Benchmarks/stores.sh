#!/usr/bin/env bash
# Concurrent durable audit appends on the embedded SQLite file and on a real PostgreSQL server, in the same run:
# three writers (each with its own connection, as replicas of `interlock serve`), single records and batches of 100.
# Starts a throwaway PostgreSQL cluster (Tests/postgres/cluster.sh; deploy/setup.sh installs the server) unless
# BENCH_POSTGRES names a database to use instead.
#
#   Benchmarks/stores.sh            (release build; SECONDS_PER_RUN=5, WRITERS=3)
#   BENCH_CONFIGURATION=debug SECONDS_PER_RUN=1 Benchmarks/stores.sh    (a smoke test, as CI runs it)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
work="${BENCH_DIR:-${TMPDIR:-/tmp}/interlock-bench}"
mkdir -p "$work"

if [ "${BENCH_CONFIGURATION:-release}" = debug ]; then
    (cd "$root" && swift build --product interlock-bench 2>&1 | tail -1)
    bench="$root/.build/debug/interlock-bench"
else
    (cd "$root" && swift build -c release --scratch-path "$root/.build-bench" --product interlock-bench 2>&1 | tail -1)
    bench="$root/.build-bench/release/interlock-bench"
fi

url="${BENCH_POSTGRES:-}"
if [ -z "$url" ]; then
    cluster="/tmp/interlock-bench-pg-$$"
    trap '"$root/Tests/postgres/cluster.sh" stop "$cluster"' EXIT
    url="$("$root/Tests/postgres/cluster.sh" start "$cluster")"
fi
echo "== machine: $(nproc) cores, $(uname -sr); $(postgres_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -1)"; "$postgres_bin/postgres" --version 2>/dev/null || echo "PostgreSQL at BENCH_POSTGRES")"
"$bench" stores --work "$work" --postgres "$url" --writers "${WRITERS:-3}" --seconds "${SECONDS_PER_RUN:-5}"
