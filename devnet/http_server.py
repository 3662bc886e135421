"""A real local HTTP server for the devnet's stand-ins (Telegram's Bot API, webhook receivers,
a faulty RPC proxy): the socket, threads and wire format, so each stand-in only decides answers.

    class Echo(LocalHttpServer):
        def respond(self, request: Request) -> Reply | None:
            return Reply(200, request.body, {"content-type": "application/octet-stream"})

    with Echo() as server:            # bound to 127.0.0.1 on a free port, serving until the end
        httpx.post(server.url, content=b"hi")

Requests are handled in daemon threads, HTTP/1.1 with keep-alive (as real APIs answer); an idle
connection ends after ``Handler.timeout`` seconds, so no handler thread outlives a test long.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from devnet.lifecycle import Service

__all__ = ["LocalHttpServer", "Reply", "Request"]

_POLL_S = 0.05  # shutdown() waits for the next poll: keep stop() quick


@dataclass(frozen=True, slots=True)
class Request:
    """One POST as received: ``path`` with its query, ``headers`` as sent, the exact body."""

    path: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str, default: str = "") -> str:
        """A header by case-insensitive ``name``."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), default)


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer: ``status``, ``body`` and extra ``headers`` (content-length is added)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a burst of concurrent clients (a flood of sends) must not be reset
    block_on_close = False  # a handler hanging on purpose must not delay stop()
    owner: LocalHttpServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 5
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: the stand-ins record what they received

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        reply = self.server.owner.respond(Request(self.path, dict(self.headers.items()), body))
        if reply is None:
            self.close_connection = True  # drop without answering, like a dead peer
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)


class LocalHttpServer(Service):
    """Binds 127.0.0.1 on a free port at construction (so ``url`` is known before ``start``);
    ``start`` serves in a daemon thread, ``stop`` (also ``close``) ends it and frees the port.

    Subclasses implement :meth:`respond`; it runs on handler threads, so it must lock any
    state it shares. ``url_path`` is appended to the base URL.
    """

    url_path = ""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(_POLL_S,), daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{self.url_path}"

    def respond(self, request: Request) -> Reply | None:
        """The answer to ``request``; None drops the connection without one."""
        raise NotImplementedError

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (connection refused from now on). Idempotent."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def close(self) -> None:
        self.stop()
