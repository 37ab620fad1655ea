"""Serve a WSGI app on 127.0.0.1 in a background thread (tests, benchmarks, manual runs)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from werkzeug.serving import WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):  # one line per request would drown test output
        pass


class LiveServer:
    """A threaded werkzeug server for `app` on a free loopback port; `url` is its root."""

    def __init__(self, app) -> None:
        self.app = app
        self._server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-provider", daemon=True
        )

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass
class Fault:
    """A scripted bad answer for the next request to `path` (any path when empty).

    `status`/`body`/`headers` replace the answer; `sleep` delays it (timeouts);
    `truncate_to` sends only that many bytes of the real body while declaring
    its full length, then closes the connection. `after` lets that many matching
    requests through untouched first (fail the third page: after=2).
    """

    path: str = ""
    status: int | None = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    sleep: float = 0.0
    truncate_to: int | None = None
    times: int = 1
    after: int = 0


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes

    def params(self, name: str) -> list[str]:
        return [value for key, value in self.query if key == name]


class FaultQueue:
    """Faults waiting for their request, consumed in order."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def take(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if not fault.path or fault.path == path:
                    if fault.after > 0:
                        fault.after -= 1
                        return None
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


def respond(start_response, status: int, body: bytes, headers: dict[str, str], fault: Fault | None = None):
    """Send a WSGI response, applying `fault` (replacement, delay, truncation) when given."""
    if fault is not None:
        if fault.sleep:
            time.sleep(fault.sleep)
        if fault.status is not None:
            status = fault.status
        if fault.body is not None:
            body = fault.body
        headers = {**headers, **fault.headers}
    headers = {"Content-Length": str(len(body)), **headers}
    if fault is not None and fault.truncate_to is not None:
        body = body[: fault.truncate_to]
        headers["Connection"] = "close"
    start_response(f"{status} {_REASONS.get(status, 'Status')}", list(headers.items()))
    return [body]


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
