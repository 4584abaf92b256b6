#!/usr/bin/env bash
# Turns Examples/ into a git repository in a temporary directory and runs Interlock's commands against it:
# validate, sites, show plant-b, plan and apply Plant A, plan a flow change, detect drift,
# read and verify the audit log. Usage: Examples/try.sh [interlock binary]   (default: builds with swift build)
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
rm -f "$repo/try.sh"
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

step interlock init
"$interlock" init
"$interlock" audit public-key > "$work/auditor-copy.pub"
echo "(an auditor keeps this public key outside the system: $work/auditor-copy.pub)"

step interlock plan --site plant-a --repo "$repo"
set +e; "$interlock" plan --site plant-a --repo "$repo" | head -n 12; set -e
echo "  … (first deployment: every resource is created)"

plan_id="$( ("$interlock" plan --site plant-a --repo "$repo" --json || true) | sed -n 's/.*"id": "\(sha256:[0-9a-f]*\)".*/\1/p' | head -n 1)"
step interlock apply --site plant-a --plan "${plan_id:7:12}" --ungated --repo "$repo"
"$interlock" apply --site plant-a --plan "${plan_id:7:12}" --ungated --repo "$repo"

step "# a flow manager changes a meter's polling interval in git"
sed -i '/id: meter-line-3/,/interval:/ s/interval: 5s/interval: 2s/' "$repo/flows/energy-monitoring.yaml"
git -C "$repo" -c user.name="Flow Manager" -c user.email=flows@example.com -c commit.gpgsign=false \
    commit -qam "Poll line 3 every 2 s"
git -C "$repo" log --oneline -1

step interlock plan --site plant-a --repo "$repo"
set +e; "$interlock" plan --site plant-a --repo "$repo"; echo "(exit code $?: changes pending)"; set -e

step "# someone edits a deployed file by hand at Plant A"
sed -i 's/^max_connections .*/max_connections 10/' "$INTERLOCK_TARGET_BASE/plant-a/mosquitto/mosquitto.conf"
echo "edited $INTERLOCK_TARGET_BASE/plant-a/mosquitto/mosquitto.conf"

step interlock status --repo "$repo"
set +e; "$interlock" status --repo "$repo"; echo "(exit code $?: a site drifted)"; set -e

step interlock audit log
"$interlock" audit log

step interlock audit verify --public-key "$work/auditor-copy.pub"
"$interlock" audit verify --public-key "$work/auditor-copy.pub"

echo
echo "The example repository is at $repo, Plant A's files under $INTERLOCK_TARGET_BASE/plant-a."
echo "Try more commands against it, e.g."
echo "  INTERLOCK_TARGET_BASE=$INTERLOCK_TARGET_BASE $interlock plan --all --repo $repo"
echo "  $interlock show plant-a --repo $repo --content"
echo "  $interlock validate --repo file://$repo --json"
