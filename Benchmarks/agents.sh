#!/usr/bin/env bash
# Plant agents (docs/performance.md, "Plant agents"), with peers in the same run: approval -> start of the apply
# through an agent's long poll vs. the server applying itself; 1,000 idle agents held by one `interlock serve` vs.
# Mosquitto holding 1,000 idle TLS clients; the bytes an agent sends to report a 1,000-file site vs. rsync.
#
#   Benchmarks/agents.sh                                   (release build; ROUNDS=10 AGENTS=1000 IDLE_SECONDS=20)
#   BENCH_CONFIGURATION=debug ROUNDS=2 AGENTS=50 IDLE_SECONDS=2 Benchmarks/agents.sh    (a smoke test, as CI runs it)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
work="${BENCH_DIR:-${TMPDIR:-/tmp}/interlock-bench}/agents"
mkdir -p "$work"
ulimit -n 8192 2>/dev/null || true

if [ "${BENCH_CONFIGURATION:-release}" = debug ]; then
    (cd "$root" && swift build --product interlock 2>&1 | tail -1 && swift build --product interlock-bench 2>&1 | tail -1)
    bin="$root/.build/debug"
else
    (cd "$root" && swift build -c release --scratch-path "$root/.build-bench" --product interlock 2>&1 | tail -1 \
        && swift build -c release --scratch-path "$root/.build-bench" --product interlock-bench 2>&1 | tail -1)
    bin="$root/.build-bench/release"
fi

python3 "$here/agents/agents.py" "$bin/interlock" "$work"

echo "== the bytes an agent sends to report a 1,000-file site"
"$bin/interlock-bench" agent-report --work "$work/report" --files 1000 --changed 3
# Peer: rsync's own protocol for the same tree when nothing changed (file list and checksums, no content).
rm -rf "$work/report/copy" && cp -a "$work/report/site" "$work/report/copy"
sent="$(rsync -a --checksum --stats "$work/report/site/" "$work/report/copy/" | sed -n 's/^Total bytes sent: *//p')"
echo "  peer: rsync --checksum of the same unchanged tree sends ${sent} bytes"
