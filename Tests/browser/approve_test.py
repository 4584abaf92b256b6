#!/usr/bin/env python3
"""Real-browser test of the web console (headless Chromium through Selenium).

Prepares its own desired-state repository from Examples/ (as Examples/try.sh does), an instance
configuration with password hashes, and a state directory; starts `interlock serve` on a free loopback
port, standing inside Plant A's maintenance window. Then, as Plant A's manager (Anna Berger):
signs in, opens Plant A's waiting change, approves it with password and reason, and sees it move on
(ready → applied); opens Plant B's change and finds no way to approve it (no form, and a forged POST is
refused with 403 and audited). Screenshots go to $INTERLOCK_ARTIFACTS (default .build/browser-artifacts).

Usage: Tests/browser/approve_test.py [path/to/interlock]
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
INTERLOCK = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(TOP, ".build", "debug", "interlock"))
ARTIFACTS = os.path.abspath(os.environ.get("INTERLOCK_ARTIFACTS", os.path.join(TOP, ".build", "browser-artifacts")))
PASSWORD = "anna-browser-test-1"
GIT = ["git", "-c", "user.name=Flow Manager", "-c", "user.email=flows@example.com", "-c", "init.defaultBranch=main",
       "-c", "commit.gpgsign=false"]


def run(args, env, check=True, input=None):
    result = subprocess.run(args, env=env, capture_output=True, text=True, input=input)
    if check and result.returncode != 0:
        sys.exit(f"failed: {' '.join(args)}\n{result.stdout}\n{result.stderr}")
    return result


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(work):
    repo = os.path.join(work, "desired-state")
    shutil.copytree(os.path.join(TOP, "Examples"), repo)
    os.remove(os.path.join(repo, "try.sh"))
    env = dict(os.environ, INTERLOCK_STATE_DIR=os.path.join(work, "state"), INTERLOCK_TARGET_BASE=os.path.join(work, "targets"))
    env.pop("INTERLOCK_CONFIG", None)
    env.pop("INTERLOCK_NOW", None)
    env.pop("INTERLOCK_REHEARSAL", None)
    run(GIT + ["-C", repo, "init", "-q"], env)
    run(GIT + ["-C", repo, "add", "-A"], env)
    run(GIT + ["-C", repo, "commit", "-qm", "Initial desired state for Plant A and Plant B"], env)
    hashes = {u: run([INTERLOCK, "hash-password", "--iterations", "100000"], env, input=PASSWORD + "\n").stdout.strip()
              for u in ["mgr-plant-a", "mgr-plant-b", "ops"]}
    config = os.path.join(work, "interlock.yaml")
    with open(config, "w") as f:
        f.write(f"""stateDirectory: {env['INTERLOCK_STATE_DIR']}
targetBase: {env['INTERLOCK_TARGET_BASE']}
repository: {repo}
pollInterval: 2s
users:
  - {{ id: mgr-plant-a, name: Anna Berger, email: anna.berger@example.com, title: plant manager, roles: [approver, viewer], sites: [plant-a], groups: [plant-a-managers], passwordHash: "{hashes['mgr-plant-a']}" }}
  - {{ id: mgr-plant-b, name: Maria Lopez, email: maria.lopez@example.com, title: plant manager, roles: [approver, viewer], sites: [plant-b], groups: [plant-b-managers], passwordHash: "{hashes['mgr-plant-b']}" }}
  - {{ id: ops, name: Olga Operator, title: operator, roles: [operator], sites: ["*"], passwordHash: "{hashes['ops']}" }}
""")
    env["INTERLOCK_CONFIG"] = config
    run([INTERLOCK, "init"], env)  # the state directory now trusts this configuration for its users
    # Plant A's first deployment, ungated by the operator (as try.sh does); then a flow change that waits for approval.
    plan = json.loads(run([INTERLOCK, "plan", "--site", "plant-a", "--repo", repo, "--json"], env, check=False).stdout)
    plan_id = plan["sites"][0]["plan"]["id"] if "sites" in plan else plan[0]["plan"]["id"]
    run([INTERLOCK, "apply", "--site", "plant-a", "--plan", plan_id[7:19], "--ungated", "--hooks", "skip", "--repo", repo,
         "--as", "ops", "--password-stdin"], env, input=PASSWORD + "\n")
    # Plant B too: its rules are trusted from then on, so a signature there can carry over to a successor.
    plan = json.loads(run([INTERLOCK, "plan", "--site", "plant-b", "--repo", repo, "--json"], env, check=False).stdout)
    plan_id = plan["sites"][0]["plan"]["id"] if "sites" in plan else plan[0]["plan"]["id"]
    run([INTERLOCK, "apply", "--site", "plant-b", "--plan", plan_id[7:19], "--ungated", "--hooks", "skip", "--repo", repo,
         "--as", "ops", "--password-stdin"], env, input=PASSWORD + "\n")
    flow = os.path.join(repo, "flows", "energy-monitoring.yaml")
    text = open(flow).read()
    start = text.index("id: meter-line-3")
    at = text.index("interval: 5s", start)
    open(flow, "w").write(text[:at] + "interval: 2s" + text[at + len("interval: 5s"):])
    run(GIT + ["-C", repo, "commit", "-qam", "Poll line 3 every 2 s"], env)
    # A second commit in the same change: the broker takes more connections. The change page lists both commits and
    # says which operation each one brought.
    broker = os.path.join(repo, "components", "mqtt-broker.yaml")
    text = open(broker).read()
    open(broker, "w").write(text.replace("max_connections: 1000", "max_connections: 1200"))
    run(GIT + ["-C", repo, "commit", "-qam", "Broker takes 1200 connections"], env)

    # Stand 5 minutes into Plant A's next window, so the approved change may be applied at once.
    windows = json.loads(run([INTERLOCK, "windows", "plant-a", "--count", "1", "--json", "--repo", repo], env).stdout)
    start = windows["windows"][0]["start"] if "windows" in windows else windows[0]["windows"][0]["start"]
    opens = datetime.fromisoformat(start.replace("Z", "+00:00"))
    # A simulated gate clock is a rehearsal: every page shows it, every record carries it.
    env["INTERLOCK_NOW"] = (opens + timedelta(minutes=5)).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    env["INTERLOCK_REHEARSAL"] = "1"
    return env, repo, config


def wait_ready(base, server, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if server.poll() is not None:
            sys.exit(f"interlock serve exited with {server.returncode}:\n{server.stdout.read()}")
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except Exception:
            pass
        time.sleep(0.3)
    sys.exit("interlock serve did not become ready")


def browser():
    options = Options()
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1024,1366"]:
        options.add_argument(argument)
    for binary in ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]:
        if os.path.exists(binary):
            options.binary_location = binary
            break
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    return webdriver.Chrome(service=Service(driver_path), options=options)


def sign_in(driver, user):
    driver.find_element(By.ID, "username").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "sign-in").click()
    # Signing in checks a slow (PBKDF2) password hash: wait for the redirect instead of racing it.
    try:
        WebDriverWait(driver, 30).until(lambda d: "/login" not in d.current_url)
    except Exception:
        pass
    assert driver.current_url.endswith("/queue") or driver.current_url.endswith("/sites"), driver.current_url


def wait_for_status(driver, url, wanted, seconds=60):
    deadline = time.time() + seconds
    driver.get(url)
    status = driver.find_element(By.ID, "change-status").text
    while status != wanted and time.time() < deadline:
        time.sleep(1)
        driver.get(url)
        status = driver.find_element(By.ID, "change-status").text
    assert status == wanted, f"{url} is {status}, expected {wanted}"


def commit(repo, env, path, old, new, message):
    text = open(os.path.join(repo, path)).read()
    assert old in text, f"{path} lacks {old!r}"
    open(os.path.join(repo, path), "w").write(text.replace(old, new))
    run(GIT + ["-C", repo, "commit", "-qam", message], env)


def main():
    os.makedirs(ARTIFACTS, exist_ok=True)
    work = tempfile.mkdtemp(prefix="interlock-browser.")
    env, repo, config = prepare(work)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(os.path.join(ARTIFACTS, "serve.log"), "w")
    server = subprocess.Popen([INTERLOCK, "serve", "--address", f"127.0.0.1:{port}", "--interval", "2", "--hooks", "skip"],
                              env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    driver = None
    try:
        wait_ready(base, server)
        driver = browser()
        driver.implicitly_wait(20)

        driver.get(base + "/queue")  # not signed in: the sign-in form
        assert "/login" in driver.current_url, driver.current_url
        sign_in(driver, "mgr-plant-a")
        assert "Anna Berger" in driver.page_source

        rows = driver.find_elements(By.CSS_SELECTOR, "tbody tr")
        a_row = next(r for r in rows if r.get_attribute("id").startswith("row-plant-a-") and "waiting" in r.text)
        b_row = next(r for r in rows if r.get_attribute("id").startswith("row-plant-b-"))
        a_change, b_change = a_row.get_attribute("id")[4:], b_row.get_attribute("id")[4:]
        a_row.find_element(By.LINK_TEXT, a_change).click()
        assert driver.find_element(By.ID, "change-status").text == "waiting"
        page = driver.page_source
        assert "flows/energy-monitoring" in page and "2s" in page, "the readable diff names the flow and the new interval"
        driver.save_screenshot(os.path.join(ARTIFACTS, "change-before-approval.png"))
        # The flow drawn: the brick whose interval changes is marked changed (glyph and dotted line, not only colour),
        # and the picture reads the same to a viewer with deuteranopia (screenshot kept as an artifact).
        changed = driver.find_elements(By.CSS_SELECTOR, "svg.flow-picture g.brick.changed")
        assert changed, "the change page draws the flow with the changed brick marked"
        assert "~" in changed[0].text or "~" in changed[0].get_attribute("innerHTML"), "a changed brick carries the ~ glyph"
        assert driver.find_elements(By.CSS_SELECTOR, "svg.flow-picture g.brick.unchanged"), "unchanged bricks are drawn where they were"
        driver.execute_script("document.querySelector('svg.flow-picture').scrollIntoView()")
        driver.execute_cdp_cmd("Emulation.setEmulatedVisionDeficiency", {"type": "deuteranopia"})
        driver.save_screenshot(os.path.join(ARTIFACTS, "change-flow-deuteranopia.png"))
        driver.execute_cdp_cmd("Emulation.setEmulatedVisionDeficiency", {"type": "none"})
        driver.save_screenshot(os.path.join(ARTIFACTS, "change-flow.png"))
        print(f"ok: {a_change} draws its flow (changed brick marked by glyph and line style; deuteranopia screenshot kept)")

        # Every commit the change carries is listed, each with the operations it brought; who is accountable for the
        # broker and which lines the change affects stand at the top.
        commits = driver.find_element(By.ID, "commits").text
        assert "Poll line 3 every 2 s" in commits and "Broker takes 1200 connections" in commits, commits
        rows = {r.find_elements(By.TAG_NAME, "td")[1].text: r.find_elements(By.TAG_NAME, "td")[4].text
                for r in driver.find_elements(By.CSS_SELECTOR, "#commits tbody tr")}
        assert "flows/energy-monitoring" in rows["Poll line 3 every 2 s"], rows
        assert "components/mqtt-broker" in rows["Broker takes 1200 connections"], rows
        assert "flows/" not in rows["Broker takes 1200 connections"], rows
        introduced = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#plan p.introduced")]
        assert any("Poll line 3 every 2 s" in t for t in introduced) and any("Broker takes 1200 connections" in t for t in introduced), introduced
        owners = driver.find_element(By.ID, "owners").text
        assert "OT infrastructure team" in owners and "mqtt-broker" in owners, owners
        assert "Line 3" in driver.find_element(By.ID, "affects").text
        risk = driver.find_element(By.ID, "risk").text
        assert "nil" not in risk.split() and "None" not in risk, risk
        print(f"ok: {a_change} lists both commits, the operations each brought, the broker's owner and the lines affected")

        # Approval with the keyboard only: from the top of the page, Tab reaches the skip link first, then (past the
        # plan) the reason, the password and the button; Enter signs.
        driver.execute_script("window.scrollTo(0, 0); if (document.activeElement) document.activeElement.blur();")
        keys = ActionChains(driver)
        keys.send_keys(Keys.TAB).perform()
        assert "skip" in (driver.switch_to.active_element.get_attribute("class") or ""), "the first Tab stop is the skip link"
        for _ in range(600):
            if driver.switch_to.active_element.get_attribute("id") == "approve-reason":
                break
            ActionChains(driver).send_keys(Keys.TAB).perform()
        else:
            sys.exit("Tab never reached the approval reason")
        ActionChains(driver).send_keys("Line 3 meter polling agreed with the energy team").perform()
        ActionChains(driver).send_keys(Keys.TAB).perform()
        assert driver.switch_to.active_element.get_attribute("id") == "approve-password", driver.switch_to.active_element.get_attribute("outerHTML")
        ActionChains(driver).send_keys(PASSWORD).perform()
        ActionChains(driver).send_keys(Keys.TAB).perform()
        assert driver.switch_to.active_element.get_attribute("id") == "approve-button", driver.switch_to.active_element.get_attribute("outerHTML")
        ActionChains(driver).send_keys(Keys.ENTER).perform()
        WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.ID, "flash"))
        assert "Your approval was signed" in driver.find_element(By.ID, "flash").text
        status = driver.find_element(By.ID, "change-status").text
        deadline = time.time() + 40
        while status != "applied" and time.time() < deadline:
            time.sleep(1)
            driver.refresh()
            status = driver.find_element(By.ID, "change-status").text
        driver.save_screenshot(os.path.join(ARTIFACTS, "change-after-approval.png"))
        assert status == "applied", f"{a_change} is {status}, expected it to move on to applied"
        signatures = driver.find_element(By.ID, "signatures").text
        assert "Anna Berger" in signatures
        assert "local-password" in signatures, "the page says how the signer was authenticated"
        assert "Rehearsal" in driver.find_element(By.ID, "rehearsal").text, "every page shows the simulated clock"
        print(f"ok: {a_change} approved by Anna Berger with the keyboard only, and applied")

        # The printed change record: every section, the signature with printed name, meaning, time and reason, and
        # the record's hash with the chain head; no navigation, no sign form; page numbers.
        import base64, subprocess as sp
        pdf_path = os.path.join(ARTIFACTS, f"{a_change}.pdf")
        with open(pdf_path, "wb") as f:
            f.write(base64.b64decode(driver.print_page()))
        text = " ".join(sp.run(["pdftotext", pdf_path, "-"], capture_output=True, text=True, check=True).stdout.split())
        # A table cell may wrap at a hyphen ("plant-" / "a"), which pdftotext may join without it: compare the
        # letters only.
        squashed = "".join(c for c in text if c.isalnum())
        for needed in ["Anna Berger", "approved as plant manager of plant-a", "Line 3 meter polling agreed with the energy team",
                       "Head of the audit chain", "Last record of this change", "Timeline", "page 1 of",
                       "OT infrastructure team", "Broker takes 1200 connections"]:
            assert "".join(c for c in needed if c.isalnum()) in squashed, f"the printed record lacks {needed!r}"
        last_hash = driver.find_element(By.ID, "integrity").text
        assert any(len(w) == 64 and all(c in "0123456789abcdef" for c in w.replace("sha256:", "")) or w.startswith("sha256:") for w in last_hash.split()), last_hash
        assert "Sign out" not in text and "Approve and sign" not in text, "no navigation and no form on paper"
        print(f"ok: {a_change} prints as a change record ({pdf_path}): signature, hashes, page numbers")

        driver.get(f"{base}/changes/{b_change}")
        assert driver.find_element(By.ID, "change-status").text == "waiting"
        assert not driver.find_elements(By.ID, "approve-button"), "no approve button for Plant B"
        assert not driver.find_elements(By.CSS_SELECTOR, "form[action$='/approve']"), "no approve form for Plant B"
        assert "You do not sign changes for plant-b" in driver.find_element(By.ID, "sign-note").text
        driver.save_screenshot(os.path.join(ARTIFACTS, "plant-b-change.png"))
        # Forging the form anyway (the session's cookie and CSRF token, posted outside the page: the page's
        # Content-Security-Policy would block a script doing it) is refused with 403 and audited.
        csrf = driver.find_element(By.CSS_SELECTOR, "form.signout input[name=csrf]").get_attribute("value")
        session = next(c["value"] for c in driver.get_cookies() if c["name"] == "interlock_session")
        forged = urllib.request.Request(
            f"{base}/changes/{b_change}/approve", method="POST",
            data=urllib.parse.urlencode({"csrf": csrf, "reason": "forged", "password": PASSWORD}).encode(),
            headers={"Cookie": f"interlock_session={session}", "Content-Type": "application/x-www-form-urlencoded"})
        try:
            result = urllib.request.urlopen(forged, timeout=10).status
        except urllib.error.HTTPError as error:
            result = error.code
        assert result == 403, f"a forged Plant B approval answered {result}"
        print(f"ok: {b_change} shows no way to approve; a forged approval is refused (403)")

        # Maria Lopez signs Plant B's change. A commit that changes only Plant A gives it a new plan id with the same
        # operations and live state: her signature carries over, and the old page links the new change. A commit that
        # changes Plant B's work lets it lapse, and the page says so.
        driver.find_element(By.CSS_SELECTOR, "form.signout button").click()
        driver.get(base + "/queue")
        sign_in(driver, "mgr-plant-b")
        driver.get(f"{base}/changes/{b_change}")
        driver.find_element(By.ID, "approve-reason").send_keys("Broker and line 3 polling reviewed for Plant B")
        driver.find_element(By.ID, "approve-password").send_keys(PASSWORD)
        driver.find_element(By.ID, "approve-button").click()
        assert "Your approval was signed" in driver.find_element(By.ID, "flash").text
        commit(repo, env, "sites/plant-a/site.yaml", "opcua_port: 4840", "opcua_port: 4841", "Plant A's OPC UA server moves to port 4841")
        wait_for_status(driver, f"{base}/changes/{b_change}", "superseded")
        successor_note = driver.find_element(By.ID, "successor").text
        assert "Maria Lopez carried over" in successor_note, successor_note
        b_next = driver.find_element(By.CSS_SELECTOR, "#successor a").text
        driver.get(f"{base}/changes/{b_next}")
        signatures = driver.find_element(By.ID, "signatures").text
        assert "Maria Lopez" in signatures and "carried over" in signatures, signatures
        driver.save_screenshot(os.path.join(ARTIFACTS, "signature-carried-over.png"))
        commit(repo, env, "sites/plant-b/site.yaml", "  lines: 3\n", "  lines: 4\n", "Plant B runs a fourth line")
        wait_for_status(driver, f"{base}/changes/{b_next}", "superseded")
        lapsed_note = driver.find_element(By.ID, "successor").text
        assert "signatures of Maria Lopez lapsed" in lapsed_note, lapsed_note
        driver.save_screenshot(os.path.join(ARTIFACTS, "signature-lapsed.png"))
        print(f"ok: Maria Lopez's signature carried from {b_change} to {b_next} over a Plant-A-only commit, and lapsed on a Plant B commit")

        # The notifications page is for operators, auditors and admins: Maria (an approver) is refused, Olga sees it.
        driver.get(f"{base}/notifications")
        assert "Not allowed" in driver.page_source, "an approver may not read the notifications outbox"
        driver.get(f"{base}/queue")
        driver.find_element(By.CSS_SELECTOR, "form.signout button").click()
        driver.get(base + "/queue")
        sign_in(driver, "ops")
        driver.find_element(By.LINK_TEXT, "Notifications").click()
        assert "has no notifications section" in " ".join(driver.find_element(By.ID, "main").text.split()), driver.find_element(By.ID, "main").text
        print("ok: the notifications page is refused to an approver and shown to an operator")

        audit = run([INTERLOCK, "audit", "log", "--json", "--limit", "0"], env).stdout
        actions = [r["action"] for r in json.loads(audit)["records"]]
        assert "change.approved" in actions and "approve.refused" in actions and "apply.succeeded" in actions, actions
        assert "change.approval.carried" in actions, actions
        print("ok: the audit log holds the signature, the refusal and the apply")
    finally:
        if driver:
            driver.quit()
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            code = "killed"
        log.close()
        print(f"interlock serve stopped on SIGTERM (exit {code}); log and screenshots in {ARTIFACTS}")
    assert code == 0, f"interlock serve exited with {code} on SIGTERM"
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
