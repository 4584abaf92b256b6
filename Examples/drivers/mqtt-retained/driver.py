#!/usr/bin/env python3
"""Interlock command driver (protocol interlock-driver/v1) that keeps a site's resources as retained MQTT
messages on a broker: resource `files/a.conf` of site `plant-a` is the retained message on topic
`interlock/plant-a/files/a.conf`, its payload the resource's content.

Reads one JSON request on stdin, writes one JSON response on stdout, logs to stderr. Talks to the broker with
the Mosquitto command-line clients (Debian package `mosquitto-clients`). Python standard library only.

Environment (set it in the site's `target.env`):
  MQTT_HOST               broker host (default 127.0.0.1)
  MQTT_PORT               broker port (default 1883)
  MQTT_USERNAME, MQTT_PASSWORD   optional credentials
  MQTT_TOPIC_PREFIX       first topic level (default "interlock")
  INTERLOCK_DRIVER_STATE  directory for the driver's state file <site>.json
                          (default ${XDG_STATE_HOME:-~/.local/state}/interlock/mqtt-retained)
  INTERLOCK_SITE          set by Interlock; the request's "site" wins
"""

import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

PROTOCOL = "interlock-driver/v1"


class DriverFailure(Exception):
    """A failure reported to Interlock as {"error": {...}} on stdout and a non-zero exit."""

    def __init__(self, code, message, hint=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint


def log(message):
    print(f"mqtt-retained: {message}", file=sys.stderr, flush=True)


def sha256(payload):
    return "sha256:" + hashlib.sha256(payload).hexdigest()


# --- broker access -----------------------------------------------------------------------------------------


class Broker:
    def __init__(self, env):
        self.host = env.get("MQTT_HOST", "127.0.0.1")
        self.port = env.get("MQTT_PORT", "1883")
        self.prefix = env.get("MQTT_TOPIC_PREFIX", "interlock")
        self.auth = []
        if env.get("MQTT_USERNAME"):
            self.auth += ["-u", env["MQTT_USERNAME"]]
        if env.get("MQTT_PASSWORD"):
            self.auth += ["-P", env["MQTT_PASSWORD"]]

    @property
    def where(self):
        return f"{self.host}:{self.port}"

    def topic(self, site, path):
        for name, text in (("site", site), ("path", path)):
            if not text or any(c in text for c in "+#\0"):
                raise DriverFailure("refused", f"{name} {text!r} cannot be part of an MQTT topic (empty, or contains + # or NUL)")
        return f"{self.prefix}/{site}/{path}"

    def _client(self, program, args, stdin=None, timeout=20):
        command = [program, "-h", self.host, "-p", str(self.port)] + self.auth + args
        try:
            return subprocess.run(command, input=stdin, capture_output=True, timeout=timeout)
        except FileNotFoundError:
            raise DriverFailure("unreachable", f"{program} is not installed",
                                "install the Mosquitto clients: apt-get install mosquitto-clients")
        except subprocess.TimeoutExpired:
            raise DriverFailure("unreachable", f"{program} got no answer from the broker at {self.where} within {timeout}s")

    def _failed(self, program, result):
        text = (result.stderr or result.stdout).decode("utf-8", "replace").strip()
        if "refused" in text.lower() or "lookup" in text.lower() or "unable to connect" in text.lower():
            return DriverFailure("unreachable", f"cannot reach the MQTT broker at {self.where}: {text}",
                                 "is the broker running? MQTT_HOST and MQTT_PORT come from the site's target.env")
        return DriverFailure("failed", f"{program} exited with status {result.returncode}: {text}")

    def retained(self, site):
        """Every retained message under the site's prefix: {path: payload bytes}.

        Subscribing delivers the retained messages first; a non-retained message on a private sync topic,
        published after the subscription is in place, marks their end (--retained-only stops at it), so
        this returns as soon as the broker has sent them all instead of waiting out a timeout."""
        site_filter = self.topic(site, "x")[:-1] + "#"
        sync = f"{self.prefix}-sync/{uuid.uuid4().hex}"
        command = ["mosquitto_sub", "-h", self.host, "-p", str(self.port)] + self.auth + [
            "-t", site_filter, "-t", sync, "-F", "%t %x", "--retained-only", "-W", "10"]
        try:
            sub = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except FileNotFoundError:
            raise DriverFailure("unreachable", "mosquitto_sub is not installed",
                                "install the Mosquitto clients: apt-get install mosquitto-clients")
        try:
            deadline = time.monotonic() + 10
            while sub.poll() is None and time.monotonic() < deadline:
                self._client("mosquitto_pub", ["-t", sync, "-n"])
                try:
                    sub.wait(timeout=0.2)
                except subprocess.TimeoutExpired:
                    pass
            out, err = sub.communicate(timeout=5)
        finally:
            if sub.poll() is None:
                sub.kill()
                sub.wait()
        if sub.returncode != 0:
            result = subprocess.CompletedProcess(command, sub.returncode, out, err)
            if sub.returncode == 27:
                raise DriverFailure("unreachable", f"the broker at {self.where} did not finish sending retained messages within 10s")
            raise self._failed("mosquitto_sub", result)
        messages = {}
        head = f"{self.prefix}/{site}/"
        for line in out.decode("utf-8", "surrogateescape").splitlines():
            topic, _, hex_payload = line.rpartition(" ")
            if topic.startswith(head) and len(topic) > len(head):
                messages[topic[len(head):]] = bytes.fromhex(hex_payload)
        return messages

    def publish(self, site, path, payload):
        if not payload:
            raise DriverFailure("refused", f"{path} is empty: MQTT cannot keep an empty retained message (it means delete)")
        result = self._client("mosquitto_pub", ["-q", "1", "-r", "-t", self.topic(site, path), "-s"], stdin=payload)
        if result.returncode != 0:
            raise self._failed("mosquitto_pub", result)
        log(f"published {self.topic(site, path)} ({len(payload)} bytes)")

    def clear(self, site, path):
        result = self._client("mosquitto_pub", ["-q", "1", "-r", "-n", "-t", self.topic(site, path)])
        if result.returncode != 0:
            raise self._failed("mosquitto_pub", result)
        log(f"cleared {self.topic(site, path)}")

    def restore(self, site, path, payload):
        """Puts back what was there: a payload, or nothing (None)."""
        if payload is None:
            self.clear(site, path)
        else:
            self.publish(site, path, payload)


# --- what the driver last published --------------------------------------------------------------------------


class StateFile:
    """{"resources": {path: {"hash", "plan", "commit"}}}: what this driver last published for one site."""

    def __init__(self, site, env):
        directory = env.get("INTERLOCK_DRIVER_STATE") or os.path.join(
            env.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state"), "interlock", "mqtt-retained")
        self.path = os.path.join(directory, f"{site}.json")

    def load(self):
        try:
            with open(self.path, encoding="utf-8") as f:
                return json.load(f).get("resources", {})
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            raise DriverFailure("failed", f"cannot read the driver state {self.path}: {error}",
                                "fix or remove the file (removing it forgets which topics Interlock manages)")

    def save(self, resources):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=os.path.dirname(self.path), prefix=".state-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"resources": resources}, f, indent=2, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, self.path)


# --- actions -------------------------------------------------------------------------------------------------


def content_fields(payload):
    try:
        return {"content": payload.decode("utf-8")}
    except UnicodeDecodeError:
        return {"contentBase64": base64.b64encode(payload).decode("ascii")}


def observe(request, broker, state):
    site = request["site"]
    retained = broker.retained(site)
    managed = state.load()
    resources = []
    for path in sorted(retained):
        payload = retained[path]
        resources.append({"path": path, "hash": sha256(payload), "managed": path in managed, **content_fields(payload)})
    drift = []
    for path in sorted(managed):
        entry = managed[path]
        actual = sha256(retained[path]) if path in retained else None
        if actual == entry["hash"]:
            continue
        item = {"path": path, "kind": "vanished" if actual is None else "modified", "expected": entry["hash"], "actual": actual}
        item.update({k: entry[k] for k in ("plan", "commit") if entry.get(k)})
        drift.append(item)
    log(f"observed {len(resources)} retained topics for {site} on {broker.where}, {len(drift)} drifted")
    return {"resources": resources, "drift": drift}


def operation_payload(operation):
    if "contentBase64" in operation and operation["contentBase64"] is not None:
        return base64.b64decode(operation["contentBase64"])
    return (operation.get("content") or "").encode("utf-8")


def apply(request, broker, state):
    site, plan, operations = request["site"], request.get("plan") or {}, request["operations"]
    current = broker.retained(site)
    # Refuse the whole plan before touching anything if the site moved since it was planned.
    for op in operations:
        found = sha256(current[op["path"]]) if op["path"] in current else None
        if found != op.get("before"):
            raise DriverFailure("refused", f"{op['path']} changed since the plan was made (expected {op.get('before') or 'nothing'}, found {found or 'nothing'})",
                                "plan again")
        if op["action"] != "delete" and not operation_payload(op):
            raise DriverFailure("refused", f"{op['path']} is empty: MQTT cannot keep an empty retained message")
    managed = state.load()
    token = {
        "previous": {op["path"]: (base64.b64encode(current[op["path"]]).decode("ascii") if op["path"] in current else None) for op in operations},
        "state": {op["path"]: managed.get(op["path"]) for op in operations},
    }
    applied = []
    try:
        for op in operations:
            if op["action"] == "delete":
                broker.clear(site, op["path"])
                managed.pop(op["path"], None)
            else:
                payload = operation_payload(op)
                broker.publish(site, op["path"], payload)
                managed[op["path"]] = {"hash": sha256(payload), "plan": plan.get("id"), "commit": plan.get("commit")}
            applied.append(op["path"])
    except DriverFailure:
        log(f"apply failed after {len(applied)} of {len(operations)} operations; putting back what was there")
        for path in reversed(applied):
            previous = token["previous"][path]
            broker.restore(site, path, None if previous is None else base64.b64decode(previous))
        raise
    state.save(managed)
    return {"applied": applied, "rollback": token}


def rollback(request, broker, state):
    site, token = request["site"], request.get("token") or {}
    previous, saved = token.get("previous", {}), token.get("state", {})
    managed = state.load()
    rolled_back = []
    for path in reversed(request.get("applied", [])):
        if path not in previous:
            raise DriverFailure("refused", f"the rollback token has nothing saved for {path}")
        payload = previous[path]
        broker.restore(site, path, None if payload is None else base64.b64decode(payload))
        if saved.get(path) is None:
            managed.pop(path, None)
        else:
            managed[path] = saved[path]
        rolled_back.append(path)
    state.save(managed)
    return {"rolledBack": list(reversed(rolled_back))}


def main():
    try:
        request = json.load(sys.stdin)
    except ValueError as error:
        print(f"mqtt-retained: the request on stdin is not JSON: {error}", file=sys.stderr)
        return 2
    env = os.environ
    try:
        if request.get("protocol") != PROTOCOL:
            raise DriverFailure("refused", f"unsupported protocol {request.get('protocol')!r}; this driver speaks {PROTOCOL}")
        action = {"observe": observe, "apply": apply, "rollback": rollback}.get(request.get("action"))
        if action is None:
            raise DriverFailure("refused", f"unknown action {request.get('action')!r}")
        site = request.get("site") or env.get("INTERLOCK_SITE")
        request["site"] = site
        response = action(request, Broker(env), StateFile(site, env))
    except DriverFailure as failure:
        print(f"mqtt-retained: {failure.message}", file=sys.stderr)
        error = {"code": failure.code, "message": failure.message}
        if failure.hint:
            error["hint"] = failure.hint
        json.dump({"error": error}, sys.stdout)
        return 1
    json.dump(response, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
