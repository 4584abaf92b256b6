#!/usr/bin/env python3
"""Plant agents, measured with real processes over real TLS (docs/performance.md, "Plant agents").

1. Approval -> start: a real `interlock serve` (reconcile interval 60 s) and a real `interlock agent`; ROUNDS commits
   to Plant A, each approved with the CLI inside the window; the time from the approval record to the agent's
   `apply.started` record (both written by the server, one clock). Peer in the same run: the same rounds with Plant A
   reached by the server itself (its executor applies, no agent).
2. Idle agents: AGENTS simulated agents in this process (asyncio, one TLS connection each, with the enrolled agent's
   client certificate) hold long polls on the server; the server's resident memory per connected agent and its CPU
   while they wait. Peer in the same run: Mosquitto (Debian's broker) holding as many idle TLS MQTT clients.

usage: agents.py INTERLOCK_BINARY WORK_DIR   (environment: ROUNDS=10 AGENTS=1000 IDLE_SECONDS=20)
"""
import asyncio, json, os, random, re, shutil, signal, socket, ssl, subprocess, sys, time
from datetime import datetime

interlock, work = sys.argv[1], sys.argv[2]
examples = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Examples")
ROUNDS = int(os.environ.get("ROUNDS", "10"))
AGENTS = int(os.environ.get("AGENTS", "1000"))
IDLE_SECONDS = float(os.environ.get("IDLE_SECONDS", "20"))
INSIDE_WINDOW = {"INTERLOCK_NOW": "2026-11-28T23:00:00+01:00", "INTERLOCK_REHEARSAL": "1"}
HASH = "pbkdf2-sha256$600000$YJOg1sYb8RHk4GQfCI4ceg==$gNqiXY1a5UzhusvXo/CuVeGP9qCoQKUFG7pr9EDgj4Y="  # interlock-demo
processes = []


def stop_all():
    for p in processes:
        if p.poll() is None:
            p.kill()
            p.wait()


class Instance:
    """A desired-state repository from Examples/, an instance configuration and a state directory."""

    def __init__(self, name, via_agent):
        self.dir = os.path.join(work, name)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.repo = os.path.join(self.dir, "desired-state")
        shutil.copytree(examples, self.repo, ignore=shutil.ignore_patterns("try*.sh"))
        site = os.path.join(self.repo, "sites/plant-a/site.yaml")
        if via_agent:
            text = open(site).read().replace("  root: plant-a\n", "  root: plant-a\n  via: agent\n")
            open(site, "w").write(text)
        self.git("init", "-q", "-b", "main")
        self.git("add", "-A")
        self.commit("Initial desired state")
        state, targets = os.path.join(self.dir, "state"), os.path.join(self.dir, "targets")
        config = os.path.join(self.dir, "interlock.yaml")
        with open(config, "w") as f:
            f.write("users:\n")
            for user, roles, sites in [("mgr-plant-a", "approver", "plant-a"), ("ops", "operator", '"*"'), ("it-admin", "admin", '"*"')]:
                f.write(f'  - {{ id: {user}, name: {user}, roles: [{roles}], sites: [{sites}], passwordHash: "{HASH}" }}\n')
            f.write(f"stateDirectory: {state}\ntargetBase: {targets}\n")
        os.chmod(config, 0o600)
        self.env = dict(os.environ, INTERLOCK_STATE_DIR=state, INTERLOCK_TARGET_BASE=targets, INTERLOCK_CONFIG=config, NO_COLOR="1", **INSIDE_WINDOW)
        self.state = state
        self.run("init")

    def git(self, *args):
        subprocess.run(["git", "-C", self.repo, "-c", "user.name=Flow Manager", "-c", "user.email=flows@example.com", "-c", "commit.gpgsign=false", *args],
                       check=True, stdout=subprocess.DEVNULL)

    def commit(self, message):
        self.git("commit", "-qam" if message != "Initial desired state" else "-qm", message)

    def run(self, *args, stdin=None, check=True):
        r = subprocess.run([interlock, *args], env=self.env, input=stdin, capture_output=True, text=True)
        if check and r.returncode != 0:
            raise SystemExit(f"interlock {' '.join(args)} failed ({r.returncode}): {r.stderr}")
        return r.stdout

    def start(self, *args, log, env=None):
        p = subprocess.Popen([interlock, *args], env=env or self.env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, log), "w"))
        processes.append(p)
        return p

    def records(self, change):
        return json.loads(self.run("audit", "log", "--json", "--limit", "0", "--change", change))["records"]

    def waiting(self):
        for line in self.run("queue", "--repo", self.repo).splitlines():
            m = re.match(r"(plant-a-\d+)\s+waiting", line)
            if m:
                return m.group(1)
        return None


def wait_until(seconds, what, predicate):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise SystemExit(f"gave up waiting for {what}")


def stamp(record):
    return datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00")).timestamp()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(instance, agent_port=None):
    port = free_port()
    args = ["serve", "--repo", instance.repo, "--address", f"127.0.0.1:{port}", "--interval", "60", "--hooks", "skip"]
    if agent_port:
        args += ["--agent-address", f"127.0.0.1:{agent_port}"]
    return instance.start(*args, log="serve.log")


def enrol_agent(instance, agent_port):
    """Enrols an agent for plant-a and starts it; returns (process, state directory)."""
    ca = os.path.join(instance.state, "agent-ca", "ca.pem")
    wait_until(60, "the agent listener", lambda: os.path.exists(ca))
    out = instance.run("agent", "enrol", "--site", "plant-a", "--as", "ops", "--password-stdin", "--repo", instance.repo, stdin="interlock-demo\n")
    token = re.search(r"^token:\s*(\S+)", out, re.M).group(1)
    enrolment = re.search(r"^enrolment:\s*(\S+)", out, re.M).group(1)
    agent_state = os.path.join(instance.dir, "agent")
    agent = instance.start("agent", "--server", f"https://127.0.0.1:{agent_port}", "--server-ca", ca, "--state-dir", agent_state,
                           "--target-base", os.path.join(instance.dir, "plant"), "--interval", "15", "--token", token, log="agent.log")
    wait_until(60, "the enrolment request", lambda: " requested " in instance.run("agent", "list", "--repo", instance.repo))
    instance.run("agent", "approve", enrolment, "--as", "it-admin", "--password-stdin", "--repo", instance.repo, stdin="interlock-demo\n")
    return agent, agent_state, ca


def approve_waiting(instance, label):
    """Approves the change waiting for plant-a. A change planned before the agent's report of the previous apply
    arrived is superseded by the re-plan that report causes (the record says so); then the new one is approved."""
    for _ in range(20):
        change = wait_until(90, f"{label}: a waiting change", instance.waiting)
        r = subprocess.run([interlock, "approve", change, "--as", "mgr-plant-a", "--password-stdin", "--reason", "benchmark", "--repo", instance.repo],
                           env=instance.env, input="interlock-demo\n", capture_output=True, text=True)
        if r.returncode == 0:
            return change
        if "superseded" not in r.stderr:
            raise SystemExit(f"interlock approve {change} failed ({r.returncode}): {r.stderr}")
        time.sleep(0.2)
    raise SystemExit(f"{label}: every waiting change was superseded before it could be approved")


def approval_to_start(instance, label):
    """ROUNDS changes, each approved inside the window: seconds from the approval record to apply.started."""
    latencies = []
    for index in range(ROUNDS + 1):
        if index > 0:
            site = os.path.join(instance.repo, "sites/plant-a/site.yaml")
            text = re.sub(r"opcua_port: \d+", f"opcua_port: {4841 + index}", open(site).read())
            open(site, "w").write(text)
            instance.commit(f"OPC UA port {4841 + index}")
            instance.run("reconcile", "--repo", instance.repo)  # as a push webhook would: plan the commit now
        change = approve_waiting(instance, label)
        records = wait_until(60, f"{label}: {change} applied",
                             lambda: (lambda r: r if any(x["action"] == "apply.succeeded" for x in r) else None)(instance.records(change)))
        approved = next(stamp(r) for r in records if r["action"] == "change.approved")
        started = next(stamp(r) for r in records if r["action"] == "apply.started")
        if index > 0:  # the first one only warms up
            latencies.append(started - approved)
    latencies.sort()
    median = latencies[len(latencies) // 2]
    print(f"  {label:<42} median {median * 1000:6.0f} ms   max {latencies[-1] * 1000:6.0f} ms   ({len(latencies)} changes)")
    return median


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def hold(count, connect, label, pid):
    """Opens `count` idle clients with `connect`, then measures the server's memory and CPU while they wait."""
    before = rss_kib(pid)
    tasks, connected = [], asyncio.Event()
    opened = [0]

    def one_opened():
        opened[0] += 1
        if opened[0] == count:
            connected.set()
    tasks = [asyncio.create_task(connect(one_opened)) for _ in range(count)]
    try:
        await asyncio.wait_for(connected.wait(), 180)
    except asyncio.TimeoutError:
        failed = [t for t in tasks if t.done() and t.exception()]
        raise SystemExit(f"{label}: only {opened[0]} of {count} clients connected; {failed[0].exception() if failed else ''}")
    await asyncio.sleep(3)
    cpu0, t0 = cpu_seconds(pid), time.time()
    await asyncio.sleep(IDLE_SECONDS)
    cpu = (cpu_seconds(pid) - cpu0) / (time.time() - t0)
    after = rss_kib(pid)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    per = (after - before) / count
    print(f"  {label:<42} {per:6.1f} KiB per idle client ({before / 1024:.0f} -> {after / 1024:.0f} MiB), CPU {cpu * 100:5.2f} % of a core while {count} wait")
    return per, cpu


def agent_client(port, context, site, known):
    async def connect(opened):
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname="127.0.0.1")
        first = True
        while True:
            writer.write(f"GET /agent/v1/sites/{site}/poll?known={known}&wait=55 HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\n\r\n".encode())
            await writer.drain()
            if first:
                opened()
                first = False
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1)) if re.search(rb"content-length: (\d+)", head, re.I) else 0
            if length:
                await reader.readexactly(length)
    return connect


def mqtt_client(port, context):
    async def connect(opened):
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname="127.0.0.1")
        client = f"bench-{random.getrandbits(48):012x}".encode()
        variable = b"\x00\x04MQTT\x04\x02\x00\x3c"  # MQTT 3.1.1, clean session, keep-alive 60 s
        payload = len(client).to_bytes(2, "big") + client
        writer.write(bytes([0x10, len(variable) + len(payload)]) + variable + payload)
        await writer.drain()
        await reader.readexactly(4)  # CONNACK
        opened()
        while True:
            await asyncio.sleep(30)
            writer.write(b"\xc0\x00")  # PINGREQ
            await writer.drain()
            await reader.readexactly(2)
    return connect


def main():
    os.makedirs(work, exist_ok=True)
    print(f"== machine: {os.cpu_count()} cores; interlock {interlock}")
    print(f"== approval -> start of the apply (serve --interval 60; the approval with the CLI, inside the window)")
    agent_instance = Instance("through-agent", via_agent=True)
    agent_port = free_port()
    server = serve(agent_instance, agent_port)
    agent, agent_state, ca = enrol_agent(agent_instance, agent_port)
    approval_to_start(agent_instance, "Plant A through its agent (long poll)")
    local_instance = Instance("server-reached", via_agent=False)
    local_server = serve(local_instance)
    approval_to_start(local_instance, "peer: Plant A applied by the server itself")
    local_server.kill()

    print(f"== {AGENTS} idle agents (one process, one TLS connection each) against one `interlock serve`")
    agent.kill()
    agent.wait()
    context = ssl.create_default_context(cafile=ca)
    context.load_cert_chain(os.path.join(agent_state, "certificate.pem"), os.path.join(agent_state, "key.pem"))
    # The desired version an up-to-date agent knows: its poll waits (204 after 55 s) instead of answering at once.
    probe = subprocess.run(["python3", "-c", """
import ssl, sys, urllib.request, json
c = ssl.create_default_context(cafile=sys.argv[2]); c.load_cert_chain(sys.argv[3], sys.argv[4])
print(json.load(urllib.request.urlopen(sys.argv[1], context=c))["desired"]["version"])
""", f"https://127.0.0.1:{agent_port}/agent/v1/sites/plant-a/poll?wait=0", ca, os.path.join(agent_state, "certificate.pem"), os.path.join(agent_state, "key.pem")],
        capture_output=True, text=True, check=True)
    known = probe.stdout.strip()
    asyncio.run(hold(AGENTS, agent_client(agent_port, context, "plant-a", known), "interlock serve, agent long polls", server.pid))

    # Peer: Mosquitto with a TLS listener and as many idle MQTT clients. Its files go to a directory of their own
    # under the system's temporary directory: started as root, mosquitto drops to its own user, which must reach them.
    import tempfile
    mdir = tempfile.mkdtemp(prefix="interlock-bench-mosquitto-")
    os.chmod(mdir, 0o755)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", f"{mdir}/key.pem", "-out", f"{mdir}/cert.pem"], check=True, capture_output=True)
    for name in ("key.pem", "cert.pem"):
        os.chmod(f"{mdir}/{name}", 0o644)
    mport = free_port()
    open(f"{mdir}/mosquitto.conf", "w").write(f"listener {mport} 127.0.0.1\nallow_anonymous true\ncertfile {mdir}/cert.pem\nkeyfile {mdir}/key.pem\nmax_connections -1\n")
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.path.exists(mosquitto):
        print("  peer: mosquitto skipped (not installed; deploy/setup.sh installs it)")
        return
    broker = subprocess.Popen([mosquitto, "-c", f"{mdir}/mosquitto.conf"], stdout=subprocess.DEVNULL, stderr=open(f"{mdir}/mosquitto.log", "w"))
    processes.append(broker)
    def listening():
        try:
            socket.create_connection(("127.0.0.1", mport), timeout=0.5).close()
            return True
        except OSError:
            return False
    deadline = time.time() + 10
    while time.time() < deadline and broker.poll() is None and not listening():
        time.sleep(0.1)
    if broker.poll() is not None or not listening():
        print("  peer: mosquitto skipped (it did not start: " + open(f"{mdir}/mosquitto.log").read().strip()[-300:] + ")")
        return
    mcontext = ssl.create_default_context(cafile=f"{mdir}/cert.pem")
    asyncio.run(hold(AGENTS, mqtt_client(mport, mcontext), "peer: mosquitto, idle MQTT/TLS clients", broker.pid))


if __name__ == "__main__":
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 8192)), hard))
    try:
        main()
    finally:
        stop_all()
