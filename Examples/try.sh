#!/usr/bin/env bash
# Turns Examples/ into a git repository in a temporary directory and runs Interlock's commands against it:
# validate, sites, show plant-b. Usage: Examples/try.sh [interlock binary]   (default: builds with swift build)
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

echo
echo "The example repository is at $repo — try more commands against it, e.g."
echo "  $interlock show plant-a --repo $repo --content"
echo "  $interlock validate --repo file://$repo --json"
