"""The dev JSON-RPC client sends a request again, once, on a new connection when the server
drops it unanswered (anvil closes a connection after refusing an oversized batch; a request
sent on it as it closed got "Server disconnected without sending a response" in CI)."""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import threading
from collections.abc import Iterator

import httpx
import pytest

from devnet.devrpc import DevRpc


class _DropFirst(socketserver.BaseRequestHandler):
    """Reads each request; drops the first ``drops`` of them unanswered, answers the rest."""

    def handle(self) -> None:
        server = self.server
        assert isinstance(server, _Server)
        data = b""
        while b"\r\n\r\n" not in data:
            data += self.request.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))  # fmt: skip
        while len(body) < length:
            body += self.request.recv(65536)
        with server.lock:
            server.seen += 1
            drop = server.seen <= server.drops
        if drop:
            self.request.shutdown(socket.SHUT_RDWR)  # no answer at all
            return
        answer = json.dumps({"jsonrpc": "2.0", "id": json.loads(body)["id"], "result": "0x2a"})
        self.request.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            + f"Content-Length: {len(answer)}\r\n\r\n{answer}".encode()
        )


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True

    def __init__(self, drops: int) -> None:
        super().__init__(("127.0.0.1", 0), _DropFirst)
        self.drops, self.seen, self.lock = drops, 0, threading.Lock()


@contextlib.contextmanager
def _serving(drops: int) -> Iterator[_Server]:
    server = _Server(drops)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_a_request_dropped_unanswered_is_sent_once_more() -> None:
    with _serving(drops=1) as server:
        rpc = DevRpc(f"http://127.0.0.1:{server.server_address[1]}")
        try:
            assert rpc.request("eth_blockNumber") == "0x2a"
        finally:
            rpc.close()
        assert server.seen == 2


def test_a_second_drop_is_raised() -> None:
    with _serving(drops=2) as server:
        rpc = DevRpc(f"http://127.0.0.1:{server.server_address[1]}")
        try:
            with pytest.raises(httpx.RemoteProtocolError):
                rpc.request("eth_blockNumber")
        finally:
            rpc.close()
        assert server.seen == 2
