#!/usr/bin/env python3
"""Push webhook -> new change in GET /api/v1/queue, measured with a real `interlock serve` (docs/performance.md,
"Push webhooks").

A bare copy of a generated desired-state repository is served over file://; `interlock serve` follows it with a poll
interval of an hour. Each round commits a one-file change to one site (its site.yaml's values.db.pool, which its components render), pushes it, sends the
host's signed push webhook (GitHub's scheme) and polls GET /api/v1/queue?site=S until the change for the new commit
is there: the time from sending the webhook to seeing the change.

The fleet is deployed first (every site's files written with their manifest, `interlock-bench deploy-fleet`): a fleet
in steady state, where a commit to one site makes one change. Rounds:
  - to an idle service: each push waits until no pass runs, and the pass it starts is followed to its end (the
    rest of the fleet observed, gates evaluated): its median duration is printed too;
  - during a pass: the next push follows as soon as the previous change is queued, while its pass still observes the
    rest of the fleet;
  - peer: the same pushes without a webhook, found by the poll (serve --interval POLL_SECONDS): what a commit waits
    for when the webhook is missing.
With FLEET=both, the idle rounds run once more on a fleet where no site was ever deployed (every site has a waiting
first-deployment change, which each commit re-plans).

usage: webhook.py INTERLOCK_BINARY BENCH_BINARY DATASET_BARE_REPO WORK_DIR   (environment: ROUNDS=10 POLL_SECONDS=10
       FLEET=deployed|both)
"""
import hashlib, hmac, json, os, random, re, shutil, socket, subprocess, sys, time, urllib.request, urllib.error

interlock, bench, dataset, work = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
ROUNDS = int(os.environ.get("ROUNDS", "10"))
FLEET = os.environ.get("FLEET", "deployed")
POLL_SECONDS = int(os.environ.get("POLL_SECONDS", "10"))
SECRET = "bench-" + hashlib.sha256(str(random.random()).encode()).hexdigest()[:32]
TOKEN = "ilk_bench_" + hashlib.sha256(str(random.random()).encode()).hexdigest()[:32]
processes = []


def git(*args, cwd=None):
    subprocess.run(["git", "-c", "user.name=Flow Manager", "-c", "user.email=flows@example.com", "-c", "commit.gpgsign=false", *args],
                   cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url, method="GET", headers=None, body=None):
    r = urllib.request.Request(url, method=method, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(r, timeout=120) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Setup:
    def __init__(self, name, deployed):
        self.dir = os.path.join(work, name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.origin = os.path.join(self.dir, "origin.git")
        git("clone", "-q", "--bare", dataset, self.origin)
        self.clone = os.path.join(self.dir, "clone")
        git("clone", "-q", self.origin, self.clone)
        self.branch = subprocess.run(["git", "-C", self.clone, "rev-parse", "--abbrev-ref", "HEAD"], capture_output=True, text=True).stdout.strip()
        config = os.path.join(self.dir, "interlock.yaml")
        with open(config, "w") as f:
            f.write(f"branch: {self.branch}\nstateDirectory: {self.dir}/state\ntargetBase: {self.dir}/targets\n")
            f.write(f"webhooks:\n  git:\n    secret: \"{SECRET}\"\n")
            f.write("users:\n  - { id: bench, name: Benchmark, roles: [viewer], sites: [\"*\"], apiTokens: [\"sha256:%s\"] }\n"
                    % hashlib.sha256(TOKEN.encode()).hexdigest())
        os.chmod(config, 0o600)
        self.env = dict(os.environ, INTERLOCK_CONFIG=config, INTERLOCK_STATE_DIR=f"{self.dir}/state", INTERLOCK_TARGET_BASE=f"{self.dir}/targets")
        subprocess.run([interlock, "init"], env=self.env, check=True, capture_output=True)
        if deployed:
            started = time.time()
            subprocess.run([bench, "deploy-fleet", "--repo", self.origin, "--targets", f"{self.dir}/targets"], check=True, stdout=subprocess.DEVNULL)
            print(f"  every site deployed (files and manifests written) in {time.time() - started:.1f} s")

    def serve(self, interval):
        self.port = free_port()
        log = open(os.path.join(self.dir, "serve.log"), "w")
        p = subprocess.Popen([interlock, "serve", "--repo", "file://" + self.origin, "--rev", self.branch, "--address", f"127.0.0.1:{self.port}",
                              "--interval", str(interval), "--hooks", "skip"], env=self.env, stdout=log, stderr=log)
        processes.append(p)
        started = time.time()
        while time.time() - started < 3600:
            try:
                status, _ = request(f"http://127.0.0.1:{self.port}/readyz")
                if status == 200:
                    return time.time() - started
            except Exception:
                pass
            if p.poll() is not None:
                raise SystemExit(f"serve exited: see {self.dir}/serve.log")
            time.sleep(0.5)
        raise SystemExit("serve did not become ready")

    def sites(self):
        return sorted(os.listdir(os.path.join(self.clone, "sites")))

    def change_one_site(self, site, round):
        # The site's database pool size: a value every shared component renders, so the commit changes the site's
        # files (a value no template uses would change nothing on a deployed fleet, and queue nothing).
        path = os.path.join(self.clone, "sites", site, "site.yaml")
        text = open(path).read()
        changed, count = re.subn(r"(  db: \{[^}\n]*pool: )\d+", lambda m: f"{m.group(1)}{100 + round}", text, count=1)
        if count != 1 or changed == text:
            raise SystemExit(f"{path}: no values.db.pool to change")
        open(path, "w").write(changed)
        git("commit", "-qam", f"{site}: round {round}", cwd=self.clone)
        git("push", "-q", "origin", f"HEAD:refs/heads/{self.branch}", cwd=self.clone)
        return subprocess.run(["git", "-C", self.clone, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()

    def queued(self, site, commit):
        status, body = request(f"http://127.0.0.1:{self.port}/api/v1/queue?site={site}", headers={"Authorization": f"Bearer {TOKEN}"})
        if status != 200:
            return False
        return any(c.get("commit") == commit for c in json.loads(body).get("changes", []))

    def readiness(self):
        status, body = request(f"http://127.0.0.1:{self.port}/readyz")
        return json.loads(body)

    def completed_passes(self):
        """Passes that reached every site (those that gave way to a newer push do not count), and whether one runs."""
        ready = self.readiness()
        return ready["passes"] - ready["passesGaveWay"], ready["passRunning"]

    def wait_idle(self, timeout):
        """Until no pass runs (twice in a row, 0.3 s apart): the service sleeps until the next push."""
        started = time.time()
        quiet = 0
        while quiet < 2:
            if time.time() - started > timeout:
                raise SystemExit(f"the service did not become idle within {timeout} s (see {self.dir}/serve.log)")
            quiet = quiet + 1 if not self.completed_passes()[1] else 0
            time.sleep(0.3)

    def webhook(self, commit):
        body = json.dumps({"ref": f"refs/heads/{self.branch}", "after": commit, "repository": {"full_name": "bench/desired-state"}}).encode()
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        status, answer = request(f"http://127.0.0.1:{self.port}/api/v1/hooks/git", "POST",
                                 {"Content-Type": "application/json", "X-GitHub-Event": "push", "X-Hub-Signature-256": signature}, body)
        if status != 202 or b"accepted" not in answer:
            raise SystemExit(f"webhook refused: {status} {answer[:300]}")


def rounds(setup, label, with_webhook, timeout, idle, first_round=0):
    sites = setup.sites()
    latencies, pass_seconds = [], []
    gave_way_before = setup.readiness()["passesGaveWay"]
    for index in range(first_round, first_round + ROUNDS):
        site = sites[(index * 7919) % len(sites)]
        if idle:
            # The push reaches an idle service: no pass runs, the last one reached every site.
            setup.wait_idle(timeout)
        completed, _ = setup.completed_passes()
        commit = setup.change_one_site(site, index)
        started = time.time()
        if with_webhook:
            setup.webhook(commit)
        while not setup.queued(site, commit):
            if time.time() - started > timeout:
                raise SystemExit(f"{label}: {site} at {commit[:10]} not queued after {timeout} s (see {setup.dir}/serve.log)")
            time.sleep(0.02)
        latencies.append(time.time() - started)
        if idle:
            # The pass this push started goes on over the rest of the fleet: wait until it has reached every site.
            while setup.completed_passes()[0] <= completed:
                if time.time() - started > timeout:
                    raise SystemExit(f"{label}: the pass for {commit[:10]} did not finish after {timeout} s")
                time.sleep(0.05)
            pass_seconds.append(time.time() - started)
    gave_way = setup.readiness()["passesGaveWay"] - gave_way_before
    in_order = " ".join(f"{l * 1000:.0f}" for l in latencies)
    latencies.sort()
    median = latencies[len(latencies) // 2]
    if idle:
        pass_seconds.sort()
        extra = f"; the whole pass: median {pass_seconds[len(pass_seconds) // 2]:.1f} s"
    else:
        extra = f"; {gave_way} pass(es) gave way"
    print(f"  {label:<58} median {median * 1000:7.0f} ms   max {latencies[-1] * 1000:7.0f} ms   ({len(latencies)} pushes{extra})")
    print(f"      each push in order, ms: {in_order}")
    return median


def fleet(deployed):
    setup = Setup("webhook-deployed" if deployed else "webhook-undeployed", deployed)
    sites = len(setup.sites())
    what = "deployed fleet" if deployed else "no site deployed"
    print(f"== {sites} site(s), {what}; serve --interval 3600 (only the webhook can start a pass)")
    ready = setup.serve(3600)
    print(f"  first pass (every site observed and planned) ready after {ready:.1f} s")
    rounds(setup, "push webhook -> change in GET /api/v1/queue (idle service)", True, 300, idle=True)
    if deployed:
        rounds(setup, "push webhook -> change in GET /api/v1/queue (during a pass)", True, 300, idle=False, first_round=ROUNDS)
    processes[-1].terminate()
    processes[-1].wait()
    return setup


def main():
    os.makedirs(work, exist_ok=True)
    try:
        setup = fleet(deployed=True)
        print(f"== peer: no webhook, serve --interval {POLL_SECONDS} (the poll finds the commit)")
        setup.serve(POLL_SECONDS)
        rounds(setup, f"push -> change found by the {POLL_SECONDS} s poll", False, POLL_SECONDS * 6 + 300, idle=False, first_round=2 * ROUNDS)
        processes[-1].terminate()
        processes[-1].wait()
        if FLEET == "both":
            fleet(deployed=False)
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()


if __name__ == "__main__":
    main()
