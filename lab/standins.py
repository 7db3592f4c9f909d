"""Local HTTP servers for what cannot run here: the Telegram / Zalo Bot API (``sendMessage``
request/response contract, including their error answers) and a webhook receiver.

Plain ``http.server`` on 127.0.0.1 in a thread: the tests own them and stop them.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Recorder:
    """A JSON-over-HTTP server that records every request and answers with ``answer()``."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw.decode("utf-8")) if raw else None
                except ValueError:
                    body = None
                request = {"path": self.path, "headers": dict(self.headers), "body": body, "raw": raw,
                           "at": time.time()}
                status, answer, headers = recorder.answer(request)
                with recorder.lock:
                    recorder.requests.append({**request, "status": status, "answer": answer})
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self, request: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        return 200, {"status": "success"}, {}

    def bodies(self, ok_only: bool = True) -> list[Any]:
        with self.lock:
            return [r["body"] for r in self.requests if not ok_only or 200 <= r["status"] < 300]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class WebhookReceiver(Recorder):
    """Answers 200; ``fail_next`` answers a given status to the next N requests."""

    def __init__(self) -> None:
        self.fail: list[int] = []
        super().__init__()

    def answer(self, request: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        if self.fail:
            status = self.fail.pop(0)
            return status, {"error": "stand-in failure"}, {"Retry-After": "7"} if status == 429 else {}
        return 200, {"status": "success"}, {}

    def alerts(self) -> list[dict[str, Any]]:
        return [alert for body in self.bodies() for alert in body["alerts"]]


class BotApiStandin(Recorder):
    """Telegram Bot API / Zalo Bot Platform ``POST /bot<token>/sendMessage``.

    Answers like the real services: ``{"ok": true, "result": {...}}``; 401 for a bad token,
    400 "chat not found" for an unknown chat id, 400 for an empty or too long text, 429 with
    ``parameters.retry_after`` when rate limited (``limit_next``). ``errors_with_http_200``
    answers errors as HTTP 200 with ``ok: false`` (seen from Zalo-style services).
    """

    def __init__(self, token: str, chats: set[str], max_chars: int, errors_with_http_200: bool = False) -> None:
        self.token = token
        self.chats = chats
        self.max_chars = max_chars
        self.errors_with_http_200 = errors_with_http_200
        self.rate_limited: list[int] = []
        self.message_id = 0
        super().__init__()

    def limit_next(self, count: int, retry_after: int) -> None:
        self.rate_limited = [retry_after] * count

    def _error(self, code: int, description: str, **extra: Any) -> tuple[int, Any, dict[str, str]]:
        body = {"ok": False, "error_code": code, "description": description, **extra}
        return (200 if self.errors_with_http_200 else code), body, {}

    def answer(self, request: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        match = re.fullmatch(r"/bot([^/]+)/sendMessage", request["path"])
        if not match:
            return self._error(404, "Not Found")
        if match.group(1) != self.token:
            return self._error(401, "Unauthorized")
        body = request["body"] or {}
        if self.rate_limited:
            retry_after = self.rate_limited.pop(0)
            return self._error(429, f"Too Many Requests: retry after {retry_after}",
                               parameters={"retry_after": retry_after})
        if str(body.get("chat_id")) not in self.chats:
            return self._error(400, "Bad Request: chat not found")
        text = body.get("text") or ""
        if not text:
            return self._error(400, "Bad Request: message text is empty")
        if len(text) > self.max_chars:
            return self._error(400, "Bad Request: message is too long")
        self.message_id += 1
        return 200, {"ok": True, "result": {"message_id": self.message_id, "chat": {"id": body["chat_id"]},
                                             "text": text}}, {}

    def texts(self) -> list[str]:
        """Texts the service accepted (answered ``ok: true``), in order."""
        with self.lock:
            return [r["body"]["text"] for r in self.requests if r["answer"].get("ok") is True]
