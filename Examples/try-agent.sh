#!/usr/bin/env bash
# Plant A reached through its agent: the server never touches Plant A's files; an agent inside the plant enrols
# (one-time token, an admin approves, mutual TLS from then on), reports the live state the server plans from, and
# applies the approved change in its window. Usage: Examples/try-agent.sh [interlock binary]   (default: swift build)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/.." && pwd)"
if [ $# -ge 1 ]; then
    interlock="$1"
else
    (cd "$top" && swift build --product interlock >/dev/null)
    interlock="$top/.build/debug/interlock"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/interlock-agent-example.XXXXXX")"
repo="$work/desired-state"
export INTERLOCK_STATE_DIR="$work/state" INTERLOCK_TARGET_BASE="$work/server-targets"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

cp -r "$here" "$repo"
rm -f "$repo/try.sh" "$repo/try-agent.sh"
# The one line that makes Plant A a plant reached through its agent (docs/repository-format.md).
sed -i 's/^  root: plant-a$/  root: plant-a\n  via: agent/' "$repo/sites/plant-a/site.yaml"
git -C "$repo" -c init.defaultBranch=main init -q
git -C "$repo" add -A
git -C "$repo" -c user.name="Flow Manager" -c user.email=flows@example.com -c commit.gpgsign=false \
    commit -qm "Plant A is reached through its agent"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND…: until COMMAND succeeds
    local limit=$1 what=$2; shift 2
    for _ in $(seq $((limit * 4))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
    echo "gave up waiting for $what" >&2; tail -n 20 "$work"/*.log >&2; exit 1
}

cat > "$work/interlock.yaml" <<'CONFIG'
# DEMO ONLY: every user's password is "interlock-demo".
users:
  - { id: mgr-plant-a, name: Anna Berger, email: anna.berger@example.com, title: plant manager, roles: [approver], sites: [plant-a], groups: [plant-a-managers],
      passwordHash: "pbkdf2-sha256$600000$LV2GuMxnPCUqf5D8hQ213A==$5eMvGZn30hcrRvRdO95nIHpYbTablvt+Af4D8MOO04A=" }
  - { id: ops-oncall, name: IT operations on call, title: operator, roles: [operator], sites: ["*"],
      passwordHash: "pbkdf2-sha256$600000$zRQa+etvvEAGkIxSvftnpg==$oWNQySLghD+NwgVoE3lrFWZY2cVrxRiS1CP85zJSG0A=" }
  - { id: it-admin, name: Ina Admin, title: administrator, roles: [admin], sites: ["*"],
      passwordHash: "pbkdf2-sha256$600000$YJOg1sYb8RHk4GQfCI4ceg==$gNqiXY1a5UzhusvXo/CuVeGP9qCoQKUFG7pr9EDgj4Y=" }
CONFIG
printf 'stateDirectory: %s\ntargetBase: %s\n' "$INTERLOCK_STATE_DIR" "$INTERLOCK_TARGET_BASE" >> "$work/interlock.yaml"
port=$((20000 + RANDOM % 20000)); agent_port=$((port + 1)); smtp_port=$((port + 2))

# Plant A's managers are told by e-mail (docs/notifications.md). A local SMTP server stands in for the plant's mail
# relay: STARTTLS with its own certificate, and a login (aiosmtpd from PyPI; deploy/setup.sh installs it).
mail=""
if python3 -c 'import aiosmtpd' 2>/dev/null && command -v openssl >/dev/null; then
    mail="$work/mailbox"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/smtp-key.pem" -out "$work/smtp-cert.pem" -days 2 \
        -subj /CN=localhost -addext subjectAltName=DNS:localhost 2>/dev/null
    echo "smtp-demo-password" > "$work/smtp-password"
    python3 "$top/Tests/notifications/smtp_server.py" --port "$smtp_port" --dir "$mail" --cert "$work/smtp-cert.pem" \
        --key "$work/smtp-key.pem" --user interlock --password smtp-demo-password > "$work/smtp.log" 2>&1 &
    pids+=($!)
    cat >> "$work/interlock.yaml" <<NOTIFY
notifications:
  consoleURL: http://127.0.0.1:$port
  email: { host: localhost, port: $smtp_port, security: starttls, username: interlock, passwordFile: $work/smtp-password,
           from: "Interlock <interlock@plants.example>", caFile: $work/smtp-cert.pem }
  rules:
    - { events: [approval-needed, applied, rolled-back, failed], sites: [plant-a], to: [approvers] }
NOTIFY
fi
chmod 600 "$work/interlock.yaml"
export INTERLOCK_CONFIG="$work/interlock.yaml"
"$interlock" init >/dev/null

# A rehearsal inside Plant A's Saturday-night window (the gates use this time; certificates use the real clock).
export INTERLOCK_NOW="2026-11-28T23:00:00+01:00" INTERLOCK_REHEARSAL=1
step "interlock serve --repo \$repo --address 127.0.0.1:$port --agent-address 127.0.0.1:$agent_port --interval 5 --hooks skip &"
"$interlock" serve --repo "$repo" --address "127.0.0.1:$port" --agent-address "127.0.0.1:$agent_port" --interval 5 --hooks skip 2> "$work/server.log" &
pids+=($!)
wait_for 60 "the agent listener" test -s "$INTERLOCK_STATE_DIR/agent-ca/ca.pem"
sleep 1

step "echo interlock-demo | interlock agent enrol --site plant-a --as ops-oncall --password-stdin"
enrol="$(echo interlock-demo | "$interlock" agent enrol --site plant-a --as ops-oncall --password-stdin --repo "$repo")"
echo "$enrol" | sed 's/^token: .*/token:      (printed once; not shown here)/'
token="$(echo "$enrol" | sed -n 's/^token: *//p')"
enrolment="$(echo "$enrol" | sed -n 's/^enrolment: *\([^ ]*\).*/\1/p')"

# On the plant host: its own state directory and the directory its target root lies in. Only outbound connections.
plant="$work/plant-a-host"
step "interlock agent --server https://127.0.0.1:$agent_port --server-ca ca.pem --state-dir \$plant/agent --target-base \$plant/targets --token … &"
INTERLOCK_AGENT_TOKEN="$token" "$interlock" agent --server "https://127.0.0.1:$agent_port" --server-ca "$INTERLOCK_STATE_DIR/agent-ca/ca.pem" \
    --state-dir "$plant/agent" --target-base "$plant/targets" --interval 2 2> "$work/agent.log" &
pids+=($!)
wait_for 30 "the enrolment request" sh -c "'$interlock' agent list --repo '$repo' | grep -q ' requested '"

step "interlock agent list   # compare the key fingerprint with the one the agent printed on the plant host"
"$interlock" agent list --repo "$repo"
step "echo interlock-demo | interlock agent approve $enrolment --as it-admin --password-stdin"
echo interlock-demo | "$interlock" agent approve "$enrolment" --as it-admin --password-stdin --repo "$repo"

wait_for 60 "a plan from the agent's report" sh -c "'$interlock' queue --repo '$repo' | grep -q 'plant-a-1 .*waiting'"
step "interlock queue   # planned from what the agent reported; the server never read $plant/targets"
"$interlock" queue --repo "$repo" | sed -n '/^plant-a/,/^$/p'
test ! -e "$INTERLOCK_TARGET_BASE/plant-a" && echo "(the server's own target directory has no plant-a: it never touches it)"

show_mail() {  # show_mail FILE: the headers people see and the text part
    python3 - "$1" <<'PY'
import email, sys
from email import policy
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=policy.default)
for h in ("From", "To", "Subject"):
    print(f"{h}: {m[h]}")
print()
print(m.get_body(preferencelist=("plain",)).get_content().rstrip())
PY
}
if [ -n "$mail" ]; then
    wait_for 60 "the mail to Anna Berger" test -s "$mail/1.eml"
    step "the e-mail Anna Berger received (STARTTLS, authenticated; a text and an HTML part)"
    show_mail "$mail/1.eml"
fi

step "echo interlock-demo | interlock approve plant-a-1 --as mgr-plant-a --password-stdin --reason \"First deployment through the agent\""
echo interlock-demo | "$interlock" approve plant-a-1 --as mgr-plant-a --password-stdin --reason "First deployment through the agent" --repo "$repo"
wait_for 60 "the agent's apply" sh -c "'$interlock' audit log --change plant-a-1 | grep -q apply.succeeded"

step "interlock audit log --change plant-a-1 | grep -v apply.operation   # the agent applied it, as agent:plant-a, in the one chain"
"$interlock" audit log --change plant-a-1 | grep -v apply.operation
if [ -n "$mail" ]; then
    wait_for 30 "the mail that it was applied" test -s "$mail/2.eml"
    step "interlock notifications   # the outbox: each message sent once, and recorded as notification.sent"
    "$interlock" notifications --repo "$repo"
fi
step "ls \$plant/targets/plant-a"
ls "$plant/targets/plant-a"
step "interlock agent list"
"$interlock" agent list --repo "$repo"
step "interlock audit verify"
"$interlock" audit verify
echo
echo "Plant A was reached through its agent: enrolled, planned from its report, applied in its window. Work directory: $work"
