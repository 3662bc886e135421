"""A real local HTTP server that answers like the Telegram Bot API's ``sendMessage``: the
demo's Telegram, and the tests'.

    with TelegramApi(token) as api:
        api.script(429, retry_after=3)            # the next answer; then 502, ... then normal
        ...                                       # point TelegramNotifier at api.url
    api.messages                                  # accepted messages, in arrival order

Shapes as the real API: ``{"ok": true, "result": {...}}``; errors ``{"ok": false,
"error_code": 429, "description": "Too Many Requests: retry after 3", "parameters":
{"retry_after": 3}}``. A wrong token gets 401, an unknown chat 400 "chat not found", and text
whose HTML Telegram would refuse (unknown tag, unbalanced tags, bare ``<``, ``>`` or ``&``)
400 "can't parse entities". Binds 127.0.0.1 on a free port; daemon threads.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl

import orjson

from devnet.http_server import LocalHttpServer, Reply, Request

TOKEN = "123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"
_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "code", "pre", "a", "span"}
_BARE_AMP = re.compile(r"&(?!(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)")


class _EntityChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.problem: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _TAGS:
            self.problem = self.problem or f'unsupported start tag "{tag}"'
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.problem = self.problem or f'unexpected end tag "{tag}"'

    def handle_data(self, data: str) -> None:
        if "<" in data or ">" in data:
            self.problem = self.problem or "unescaped < or >"


def html_problem(text: str) -> str | None:
    """Why Telegram would refuse ``text`` with ``parse_mode=HTML``, or None if it accepts it."""
    if _BARE_AMP.search(text):
        return "unescaped &"
    checker = _EntityChecker()
    checker.feed(text)
    checker.close()
    if checker.problem is None and checker.stack:
        return f'unclosed tag "{checker.stack[-1]}"'
    return checker.problem


def _error(code: int, description: str, **parameters: Any) -> tuple[int, dict[str, Any]]:
    answer: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        answer["parameters"] = parameters
    return code, answer


class TelegramApi(LocalHttpServer):
    """The stand-in server; ``known_chats`` (as strings) limits which chats exist."""

    def __init__(self, token: str = TOKEN, known_chats: set[str] | None = None) -> None:
        super().__init__()
        self.token = token
        self.known_chats = known_chats
        self.messages: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self._script: deque[tuple[int, dict[str, Any]]] = deque()
        self._lock = threading.Lock()

    def script(self, status: int, *, retry_after: int | None = None, times: int = 1) -> None:
        """Answer the next ``times`` requests with ``status`` (429 carries ``retry_after``)."""
        if status == 429:
            answer = _error(429, f"Too Many Requests: retry after {retry_after}",
                            retry_after=retry_after)  # fmt: skip
        elif status >= 500:
            answer = (status, {"ok": False, "error_code": status, "description": "Bad Gateway"})
        else:
            answer = _error(status, "Forbidden: bot was blocked by the user")
        with self._lock:
            self._script.extend([answer] * times)

    def respond(self, request: Request) -> Reply:
        content_type = request.header("content-type") or None
        status, answer = self.answer(request.path, content_type, request.body)
        return Reply(status, orjson.dumps(answer), {"content-type": "application/json"})

    def answer(self, path: str, content_type: str | None, body: bytes) -> tuple[int, Any]:
        with self._lock:
            self.paths.append(path)
            if path != f"/bot{self.token}/sendMessage":
                return (
                    _error(401, "Unauthorized")
                    if path.endswith("/sendMessage")
                    else (404, {"ok": False, "error_code": 404, "description": "Not Found"})
                )
            if self._script:
                return self._script.popleft()
            return self._accept(content_type, body)

    def _accept(self, content_type: str | None, body: bytes) -> tuple[int, Any]:
        if content_type and content_type.startswith("application/json"):
            fields = orjson.loads(body)
        else:
            fields = dict(parse_qsl(body.decode()))
        chat = str(fields.get("chat_id", ""))
        text = fields.get("text")
        if not chat or not isinstance(text, str) or not text:
            return _error(400, "Bad Request: message text is empty")
        if self.known_chats is not None and chat not in self.known_chats:
            return _error(400, "Bad Request: chat not found")
        if fields.get("parse_mode") == "HTML" and (problem := html_problem(text)):
            return _error(400, f"Bad Request: can't parse entities: {problem}")
        if len(text) > 4096:
            return _error(400, "Bad Request: message is too long")
        self.messages.append(
            {"chat_id": chat, "text": text, "parse_mode": fields.get("parse_mode")}
        )
        result = {"message_id": len(self.messages), "chat": {"id": chat}, "text": text}
        return 200, {"ok": True, "result": result}

    def texts(self, chat: str) -> list[str]:
        """Accepted texts for ``chat``, in arrival order."""
        return [m["text"] for m in self.messages if m["chat_id"] == chat]
