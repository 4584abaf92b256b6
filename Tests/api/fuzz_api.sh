#!/usr/bin/env bash
# Fuzzes the HTTP API with Schemathesis against docs/openapi.yaml: a real `interlock serve` on the Examples
# repository, authenticated with an API token of an auditor/operator; every generated request must be answered
# without a server error (5xx). Usage: Tests/api/fuzz_api.sh [interlock binary] [examples per operation]
set -euo pipefail
top="$(cd "$(dirname "$0")/../.." && pwd)"
interlock="${1:-$top/.build/debug/interlock}"
examples="${2:-30}"
command -v st >/dev/null 2>&1 || python3 -m pip install --quiet schemathesis || python3 -m pip install --quiet --break-system-packages schemathesis

work="$(mktemp -d "${TMPDIR:-/tmp}/interlock-api-fuzz.XXXXXX")"
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
cp -r "$top/Examples" "$work/repo"
rm -f "$work/repo/try.sh"
git -C "$work/repo" -c init.defaultBranch=main init -q
git -C "$work/repo" add -A
git -C "$work/repo" -c user.name="Flow Manager" -c user.email=flows@example.com -c commit.gpgsign=false commit -qm "Examples"

generated="$("$interlock" hash-password --new-token)"
token="$(echo "$generated" | sed -n 's/^token: *//p')"
hash="$(echo "$generated" | sed -n 's/^apiTokens entry: *//p')"
cat > "$work/interlock.yaml" <<CONFIG
stateDirectory: $work/state
targetBase: $work/targets
webhooks:
  git:
    secret: "api-fuzzing-secret-$(date +%s%N)"
users:
  - { id: api-fuzzer, name: API fuzzer, title: auditor, roles: [viewer, auditor, operator], sites: ["*"], apiTokens: ["$hash"] }
CONFIG
chmod 600 "$work/interlock.yaml"
export INTERLOCK_CONFIG="$work/interlock.yaml"
"$interlock" init >/dev/null

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$interlock" serve --repo "$work/repo" --address "127.0.0.1:$port" --interval 30 --hooks skip > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
    python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.3
done
st run "$top/docs/openapi.yaml" -u "http://127.0.0.1:$port" -H "Authorization: Bearer $token" \
    -c not_a_server_error -n "$examples" --seed 2026 --exclude-tag agent   # /agent/v1: the agent listener (mutual TLS), tested by the agent tests
