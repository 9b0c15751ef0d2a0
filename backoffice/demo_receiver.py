"""A small webhook receiver standing in for a mailing provider or CRM (demo, tests, and as a reference receiver).

It checks every call's signature and timestamp exactly as docs/jobs.md tells a real receiver to, keeps what it
was asked in memory, and answers according to its mode:
- "done": 200 {"status": "done", "result": {...}} at once: {"deleted": 1, "suppressed": true} for an erasure,
  {"updated": <fields changed>} for a rectification, {"blocked": true|false} for a blocking or its lifting;
- "later": 202 {"status": "accepted"}; `confirm_later(...)` then calls the back-office's signed callback;
- "fail": 503 (a system that is down); "slow": answers only after `release()` (a read timeout).
Run it alone with `flask --app wsgi systems receiver --port 8765` (the secret from the environment).
"""
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from .services.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

REPLAY_WINDOW_SECONDS = 300


def signature_ok(secret, headers, body, now=None):
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    try:
        moment = int(timestamp)
    except ValueError:
        return False
    if abs((now or time.time()) - moment) > REPLAY_WINDOW_SECONDS:
        return False
    return hmac.compare_digest(sign(secret, moment, body), headers.get(SIGNATURE_HEADER, ""))


def result_for(body):
    """What this stand-in reports having done, by request type (counts and yes/no only, like a real receiver)."""
    kind = body.get("type") if isinstance(body, dict) else None
    if kind == "rectification":
        return {"updated": len(body.get("changes") or {})}
    if kind in ("blocking", "unblocking"):
        return {"blocked": kind == "blocking"}
    return {"deleted": 1, "suppressed": True}


class Receiver:
    def __init__(self, secret, mode="done", host="127.0.0.1", port=0, auto_confirm_after=None):
        self.auto_confirm_after = auto_confirm_after
        self.secret = secret.encode() if isinstance(secret, str) else secret
        self.mode = mode
        self.calls = []  # (signature ok, parsed body)
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # the bodies hold identifiers: nothing is logged
                pass

            def do_HEAD(self):
                self.send_response(405)
                self.end_headers()

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                valid = signature_ok(receiver.secret, self.headers, body)
                try:
                    parsed = json.loads(body or b"{}")
                except ValueError:
                    parsed = None
                receiver.calls.append((valid, parsed))
                if not valid:
                    return self._answer(401, {"error": "bad signature"})
                if receiver.mode == "fail":
                    return self._answer(503, {"error": "down"})
                if receiver.mode == "slow":
                    receiver._release.wait(30)
                if receiver.mode == "later":
                    self._answer(202, {"status": "accepted"})
                    if receiver.auto_confirm_after is not None and isinstance(parsed, dict):
                        timer = threading.Timer(receiver.auto_confirm_after, receiver.confirm,
                                                args=(parsed.get("callback_url"), parsed.get("task_id")))
                        timer.daemon = True
                        timer.start()
                    return None
                return self._answer(200, {"status": "done", "result": result_for(parsed)})

            def _answer(self, code, payload):
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/privacy"

    def start(self):
        self.thread.start()
        return self

    def release(self):
        self._release.set()

    def stop(self):
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def confirm(self, callback_url, task_id, status="done", result=None, timeout=10):
        """Call the back-office's callback for a task, signed with the shared secret."""
        body = json.dumps({"task_id": task_id, "status": status, "result": result or {"deleted": 1}}).encode()
        timestamp = int(time.time())
        return requests.post(callback_url, data=body, timeout=timeout, headers={
            "Content-Type": "application/json", TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self.secret, timestamp, body)})
