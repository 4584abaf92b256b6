#!/usr/bin/env python3
"""A real HTTP receiver for the notification webhook tests: checks X-Interlock-Signature-256 (HMAC-SHA256 of the body
with SECRET) when --secret is given, answers 401 to a wrong or missing signature, answers 500 to the first
--fail-first requests, and writes each accepted request to DIR/<n>.json (headers, body, whether the signature held).
Prints "ready <port>" when it listens."""
import argparse, hashlib, hmac, json, os, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--secret")
    parser.add_argument("--fail-first", type=int, default=0)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    state = {"seen": 0, "kept": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                state["seen"] += 1
                seen = state["seen"]
            if seen <= args.fail_first:
                self.send_response(500); self.end_headers(); self.wfile.write(b"receiver down for a moment"); return
            signed = None
            if args.secret:
                wanted = "sha256=" + hmac.new(args.secret.encode(), body, hashlib.sha256).hexdigest()
                signed = hmac.compare_digest(wanted, self.headers.get("X-Interlock-Signature-256", ""))
                if not signed:
                    self.send_response(401); self.end_headers(); self.wfile.write(b"bad signature"); return
            with lock:
                state["kept"] += 1
                n = state["kept"]
            record = {"path": self.path, "headers": {k: v for k, v in self.headers.items()}, "body": body.decode(), "signatureValid": signed}
            tmp = os.path.join(args.dir, f"{n}.json.part")
            with open(tmp, "w") as f:
                json.dump(record, f)
            os.rename(tmp, os.path.join(args.dir, f"{n}.json"))
            self.send_response(204); self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"ready {args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
