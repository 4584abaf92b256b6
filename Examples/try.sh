#!/usr/bin/env bash
# Turns Examples/ into a git repository in a temporary directory and runs Interlock's commands against it:
# validate, sites, show plant-b, plan and apply Plant A, plan a flow change, detect drift,
# follow the rollout, compare the plants, read and verify the audit log. Usage: Examples/try.sh [interlock binary]   (default: builds with swift build)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/.." && pwd)"
if [ $# -ge 1 ]; then
    interlock="$1"
else
    (cd "$top" && swift build --product interlock >/dev/null)
    interlock="$top/.build/debug/interlock"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/interlock-example.XXXXXX")"
repo="$work/desired-state"
export INTERLOCK_STATE_DIR="$work/state"
cp -r "$here" "$repo"
rm -f "$repo/try.sh" "$repo/try-agent.sh"
git -C "$repo" -c init.defaultBranch=main init -q
git -C "$repo" add -A
git -C "$repo" -c user.name="Flow Manager" -c user.email=flows@example.com -c commit.gpgsign=false \
    commit -qm "Initial desired state for Plant A and Plant B"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step interlock validate --repo "$repo"
"$interlock" validate --repo "$repo"

step interlock sites --repo "$repo"
"$interlock" sites --repo "$repo"

step interlock show plant-b --repo "$repo"
"$interlock" show plant-b --repo "$repo"

export INTERLOCK_TARGET_BASE="$work/targets"

cat > "$work/interlock.yaml" <<'CONFIG'
# Instance configuration for this demonstration (see docs/configuration.md and deploy/interlock.example.yaml).
# DEMO ONLY: every user's password is "interlock-demo".
users:
  - { id: mgr-plant-a, name: Anna Berger, email: anna.berger@example.com, title: plant manager, roles: [approver], sites: [plant-a], groups: [plant-a-managers],
      passwordHash: "pbkdf2-sha256$600000$LV2GuMxnPCUqf5D8hQ213A==$5eMvGZn30hcrRvRdO95nIHpYbTablvt+Af4D8MOO04A=" }
  - { id: mgr-plant-b, name: Maria Lopez, email: maria.lopez@example.com, title: plant manager, roles: [approver], sites: [plant-b], groups: [plant-b-managers],
      passwordHash: "pbkdf2-sha256$600000$n4Fs7hbArKFEgF85s1l4XA==$Z6mZt/uosPsIJJGYljtZVTfsgxN671wfE0TJvFToZfA=" }
  - { id: ot-lead-plant-b, name: Darnell Hayes, title: OT lead, roles: [approver], sites: [plant-b],
      passwordHash: "pbkdf2-sha256$600000$LU6ElCXz7kBX7r0TV62+DA==$5YZlT/tMtbgZVvkiRlnyU4E6sy1JlhIh7lQfLgaR91Q=" }
  - { id: ops-oncall, name: IT operations on call, title: operator, roles: [operator], sites: ["*"],
      passwordHash: "pbkdf2-sha256$600000$zRQa+etvvEAGkIxSvftnpg==$oWNQySLghD+NwgVoE3lrFWZY2cVrxRiS1CP85zJSG0A=" }
  - { id: audit-office, name: Quality & Compliance, title: auditor, roles: [auditor], sites: ["*"],
      passwordHash: "pbkdf2-sha256$600000$Rk98OgPXvijLOHU6TQY+yQ==$NAB8iKRnx+mGScU7XYdbxJ5qam1kkKepoLfaLRDOClg=" }
CONFIG
printf 'stateDirectory: %s\ntargetBase: %s\n' "$INTERLOCK_STATE_DIR" "$INTERLOCK_TARGET_BASE" >> "$work/interlock.yaml"
chmod 600 "$work/interlock.yaml"
export INTERLOCK_CONFIG="$work/interlock.yaml"

step "interlock init   # the state directory now trusts $INTERLOCK_CONFIG for its users"
"$interlock" init
"$interlock" audit public-key > "$work/auditor-copy.pub"
echo "(an auditor keeps this public key outside the system: $work/auditor-copy.pub)"

# The checkpoint key moves to a signing helper (in production: an account of its own, deploy/interlock-signer.service):
# the service can no longer read it, and the helper signs only a log that extends what it accepted before.
mkdir -m 700 "$work/signer"
"$interlock" signer keygen --key "$work/signer/audit-signing.key" > /dev/null
"$interlock" signer serve --key "$work/signer/audit-signing.key" --socket "$work/signer.sock" --state-dir "$work/signer" 2> "$work/signer.log" &
signer_pid=$!
trap 'kill "$signer_pid" 2> /dev/null || true' EXIT
for _ in $(seq 100); do [ -S "$work/signer.sock" ] && break; sleep 0.1; done
step interlock init --signer "$work/signer.sock"
"$interlock" init --signer "$work/signer.sock"

step interlock plan --site plant-a --repo "$repo"
set +e; "$interlock" plan --site plant-a --repo "$repo" | head -n 12; set -e
echo "  … (first deployment: every resource is created)"

plan_id="$( ("$interlock" plan --site plant-a --repo "$repo" --json || true) | sed -n 's/.*"id": "\(sha256:[0-9a-f]*\)".*/\1/p' | head -n 1)"
# The first deployment may bypass the queue, by an operator who signs in: --as and the password (here on stdin).
# No Ignition or Grafana runs here, so the components' reload and health commands are skipped (also signed and audited).
step "echo interlock-demo | interlock apply --site plant-a --plan ${plan_id:7:12} --ungated --hooks skip --as ops-oncall --password-stdin --repo $repo"
echo interlock-demo | "$interlock" apply --site plant-a --plan "${plan_id:7:12}" --ungated --hooks skip --as ops-oncall --password-stdin --repo "$repo"

step "# a second --ungated apply is refused: Plant A has been deployed, its changes go through the queue"
set +e; echo interlock-demo | "$interlock" apply --site plant-a --plan "${plan_id:7:12}" --ungated --hooks skip --as ops-oncall --password-stdin --repo "$repo"; echo "(exit code $?)"; set -e


step "# a flow manager changes a meter's polling interval in git"
sed -i '/id: meter-line-3/,/interval:/ s/interval: 5s/interval: 2s/' "$repo/flows/energy-monitoring.yaml"
git -C "$repo" -c user.name="Flow Manager" -c user.email=flows@example.com -c commit.gpgsign=false \
    commit -qam "Poll line 3 every 2 s"
git -C "$repo" log --oneline -1

step interlock plan --site plant-a --repo "$repo"
set +e; "$interlock" plan --site plant-a --repo "$repo"; echo "(exit code $?: changes pending)"; set -e

step "interlock plan --site plant-a --format html > $work/plant-a-review.html   # the flow drawn, for a review"
set +e; "$interlock" plan --site plant-a --repo "$repo" --format html > "$work/plant-a-review.html"; set -e
grep -o 'class="brick [a-z]*"' "$work/plant-a-review.html" | sort | uniq -c

# (--hooks skip: the health checks of the changes baking at Plant A would call Grafana, which does not run here.)
step interlock reconcile --hooks skip --repo "$repo"
"$interlock" reconcile --hooks skip --repo "$repo"

step interlock queue --repo "$repo"
"$interlock" queue --repo "$repo"

step interlock windows plant-a --count 3 --repo "$repo"
"$interlock" windows plant-a --count 3 --repo "$repo"

step "# a wrong password signs nothing (refused and audited)"
set +e; echo not-her-password | "$interlock" approve plant-a-2 --as mgr-plant-a --password-stdin --reason "test" --repo "$repo"; echo "(exit code $?)"; set -e

# Anna Berger signs with her password (asked on the terminal without echo; scripts pass it on stdin).
step "echo interlock-demo | interlock approve plant-a-2 --as mgr-plant-a --password-stdin --reason \"Line 3 meter polling agreed with energy team\" --repo $repo"
echo interlock-demo | "$interlock" approve plant-a-2 --as mgr-plant-a --password-stdin --reason "Line 3 meter polling agreed with energy team" --repo "$repo"

# Rehearse inside Plant A's next window: 5 minutes after it opens. A simulated gate clock is only accepted in a
# rehearsal (INTERLOCK_REHEARSAL=1), and every audit record written meanwhile says so.
opens="$("$interlock" windows plant-a --count 1 --json --repo "$repo" | sed -n '/"windows"/,$p' | sed -n 's/.*"start": "\([^"]*\)".*/\1/p' | head -n 1)"
export INTERLOCK_REHEARSAL=1
export INTERLOCK_NOW="$(date -u -d "$opens + 5 minutes" +%Y-%m-%dT%H:%M:%SZ)"
step "INTERLOCK_REHEARSAL=1 INTERLOCK_NOW=$INTERLOCK_NOW interlock apply --hooks skip --as ops-oncall --password-stdin --repo $repo   # no Ignition or Mosquitto runs here"
echo interlock-demo | "$interlock" apply --hooks skip --as ops-oncall --password-stdin --repo "$repo"
if grep -q '"interval":"2s"' "$INTERLOCK_TARGET_BASE/plant-a/flows/energy-monitoring.json"; then
    echo "plant-a/flows/energy-monitoring.json now polls line 3 every 2 s"
fi

step "# a broker change whose health check fails is rolled back"
broker="$repo/components/mqtt-broker.yaml"
sed -i -e 's/max_connections: 1000/max_connections: 1500/' -e 's/command: \[systemctl, reload, mosquitto\]/command: ["true"]/' "$broker"
sed -i '/^health:/,$d' "$broker"
cat >> "$broker" <<'YAML'
health:
  command: [sh, -c, "echo broker not answering on port ${config.port} >&2; exit 1"]
  timeout: 10s
YAML
git -C "$repo" -c user.name="Flow Manager" -c user.email=flows@example.com -c commit.gpgsign=false \
    commit -qam "Raise broker connection limit"
"$interlock" reconcile --hooks skip --repo "$repo" >/dev/null
echo interlock-demo | "$interlock" approve plant-a-3 --as mgr-plant-a --password-stdin --reason "More gateways on line 4" --repo "$repo" >/dev/null
step "echo interlock-demo | interlock apply --change plant-a-3 --as ops-oncall --password-stdin --repo $repo"
set +e; echo interlock-demo | "$interlock" apply --change plant-a-3 --as ops-oncall --password-stdin --repo "$repo"; echo "(exit code $?: rolled back)"; set -e
if grep -q "max_connections 1000" "$INTERLOCK_TARGET_BASE/plant-a/mosquitto/mosquitto.conf"; then
    echo "plant-a/mosquitto/mosquitto.conf still has max_connections 1000"
fi
unset INTERLOCK_NOW INTERLOCK_REHEARSAL

step "# someone edits a deployed file by hand at Plant A"
sed -i 's/^max_connections .*/max_connections 10/' "$INTERLOCK_TARGET_BASE/plant-a/mosquitto/mosquitto.conf"
echo "edited $INTERLOCK_TARGET_BASE/plant-a/mosquitto/mosquitto.conf"

step interlock status --repo "$repo"
set +e; "$interlock" status --repo "$repo"; echo "(exit code $?: a site drifted)"; set -e

step interlock rollout status --repo "$repo"
"$interlock" rollout status --repo "$repo"

step interlock compare plant-a plant-b --repo "$repo"
set +e; "$interlock" compare plant-a plant-b --repo "$repo"; echo "(exit code $?: Plant B is not deployed yet, Plant A drifted)"; set -e

step interlock audit log --site plant-a --limit 25
"$interlock" audit log --site plant-a --limit 25

step interlock audit verify --public-key "$work/auditor-copy.pub"
"$interlock" audit verify --public-key "$work/auditor-copy.pub"
echo "(the auditors' copy of the first key follows the recorded move to the signing helper, which the old key endorsed)"

# The same Plant A once more, on a fresh state, reached through a plant agent (mutual TLS, outbound only).
printf '\n\033[1m# Plant A reached through its agent: Examples/try-agent.sh\033[0m\n'
env -u INTERLOCK_STATE_DIR -u INTERLOCK_TARGET_BASE -u INTERLOCK_CONFIG -u INTERLOCK_NOW -u INTERLOCK_REHEARSAL -u INTERLOCK_SIGNER \
    "$here/try-agent.sh" "$interlock"

echo
echo "The example repository is at $repo, Plant A's files under $INTERLOCK_TARGET_BASE/plant-a."
echo "Try more commands against it, e.g."
echo "  INTERLOCK_TARGET_BASE=$INTERLOCK_TARGET_BASE $interlock plan --all --repo $repo"
echo "  $interlock show plant-a --repo $repo --content"
echo "  $interlock validate --repo file://$repo --json"
