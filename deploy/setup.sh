#!/usr/bin/env bash
# Installs what Interlock needs to build and test on Debian/Ubuntu: libgit2 (headers + pkg-config file), git,
# and for the tests of the example MQTT command driver: mosquitto, mosquitto-clients and python3;
# for the web console's browser test: chromium and chromium-driver (.ci/run adds Selenium from PyPI);
# for the PostgreSQL store's tests: Debian's postgresql server (the tests start throwaway clusters of their own);
# for the plant agents' tests: openssl (a certificate from another authority); rsync, a peer in Benchmarks/agents.sh;
# for the browser test of the printed change record: poppler-utils (pdftotext).
# Safe to run again: it installs nothing when everything is present.
set -euo pipefail

missing=()
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists libgit2; then
    missing+=(libgit2-dev)
fi
command -v git >/dev/null 2>&1 || missing+=(git)
# The tests start a real Mosquitto broker for the example command driver (Examples/drivers/mqtt-retained).
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
command -v mosquitto_pub >/dev/null 2>&1 || missing+=(mosquitto-clients)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
python3 -m pip --version >/dev/null 2>&1 || python3 -c 'import aiosmtpd' 2>/dev/null || missing+=(python3-pip)
# The web console's browser test (Tests/browser/approve_test.py): headless Chromium and its WebDriver.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
# The PostgreSQL store's tests start real throwaway clusters (Tests/postgres/cluster.sh): initdb, pg_ctl, psql.
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
# The plant agents' TLS tests use openssl; the agents' benchmark compares report bytes with rsync.
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v rsync >/dev/null 2>&1 || missing+=(rsync)
# The browser test prints a change record to PDF and reads it back with pdftotext.
command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
# The Prometheus alerting rules (deploy/interlock-alerts.yaml) are checked with promtool.
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)

# The notification tests start a real SMTP server (aiosmtpd, from PyPI; STARTTLS and authentication).
install_aiosmtpd() {
    python3 -c 'import aiosmtpd' 2>/dev/null && return 0
    echo "setup: installing aiosmtpd (PyPI)"
    python3 -m pip install --quiet aiosmtpd 2>/dev/null || python3 -m pip install --quiet --break-system-packages aiosmtpd
}

if [ "${#missing[@]}" -eq 0 ]; then
    install_aiosmtpd
    echo "setup: libgit2 $(pkg-config --modversion libgit2), git, mosquitto, python3, chromium, postgresql, openssl, rsync, pdftotext and promtool are present"
    exit 0
fi

echo "setup: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "setup: need root (or sudo) to install ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
echo "setup: libgit2 $(pkg-config --modversion libgit2) installed"
install_aiosmtpd
