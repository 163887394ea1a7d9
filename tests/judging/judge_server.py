"""A small OpenAI-compatible judge on 127.0.0.1 for the endpoint tests: real HTTP, real client.

It answers /v1/chat/completions by reading the rubric it is sent: an answer containing the gold is
CORRECT, and of two answers the one containing the gold is preferred. `faults` is a queue of
(status, delay_s) served before normal answers (status 0: answer normally after the delay);
`biased` makes it always prefer answer A, as a position-biased judge does. `most_in_flight` is
the most requests it was answering at one moment.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _field(prompt: str, name: str) -> str:
    match = re.search(rf"^{name}: (.*)$", prompt, re.MULTILINE)
    return match.group(1).strip() if match else ""


def verdict_for(prompt: str, biased: bool) -> str:
    gold = _field(prompt, "Gold answer") or _field(prompt, "Reference answer")
    if "Answer to grade:" in prompt:
        answer = _field(prompt, "Answer to grade")
        if not answer:
            return "Nothing was answered.\nVerdict: NOT_ATTEMPTED"
        return "It says what the gold says.\nVerdict: CORRECT" if gold.lower() in answer.lower() else "It says something else.\nVerdict: INCORRECT"
    if biased:
        return "The first one.\nVerdict: A"
    a, b = (gold.lower() in _field(prompt, f"Answer {x}").lower() for x in "AB")
    return "Verdict: " + ("A" if a and not b else "B" if b and not a else "TIE")


class JudgeServer:
    def __init__(self) -> None:
        self.faults: list[tuple[int, float]] = []
        self.biased = False
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append({"path": self.path, "body": body, "authorization": self.headers.get("Authorization")})
                    status, delay = server.faults.pop(0) if server.faults else (0, 0.0)
                    server.in_flight += 1
                    server.most_in_flight = max(server.most_in_flight, server.in_flight)
                time.sleep(delay)
                reply = self._reply(body, status)
                with server.lock:  # before the answer leaves, so the client cannot start its next request first
                    server.in_flight -= 1
                self._send(status or 200, reply)

            def _reply(self, body: dict[str, Any], status: int) -> dict[str, Any]:
                if status:
                    return {"error": {"message": f"fault {status} for {self.headers.get('Authorization')}"}}
                prompt = body["messages"][-1]["content"]
                text = verdict_for(prompt, server.biased)
                return {
                    "id": "cmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": len(text.split()),
                              "total_tokens": len(prompt.split()) + len(text.split())},
                }

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the timeout test)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def chat_requests(self) -> int:
        return sum(r["path"].endswith("/chat/completions") for r in self.requests)

    def __enter__(self) -> "JudgeServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
