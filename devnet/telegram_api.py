"""A real local HTTP server that answers like the Telegram Bot API: ``sendMessage``, and for
the bot ``getMe``, ``getUpdates`` (long polling, offsets confirm), ``getChatMember``,
``deleteWebhook`` and ``setMyCommands``. The demo's Telegram, and the tests'.

    with TelegramApi(token) as api:
        api.script(429, retry_after=3)            # the next answer; then 502, ... then normal
        api.script(502, times=5, method="getUpdates")
        ...                                       # point TelegramNotifier at api.url
        api.command(-1001, "/watch 0xabc… main", user=7, group=True)   # a user types it
        api.admins[-1001] = {7}                   # who administers a group
    api.messages                                  # accepted messages, in arrival order

``limits`` (a :class:`FloodLimits`) makes it answer 429 like Telegram's flood control when a
chat or the bot sends too fast, measured on its ``clock`` (tests pass a fake one).

Shapes as the real API: ``{"ok": true, "result": {...}}``; errors ``{"ok": false,
"error_code": 429, "description": "Too Many Requests: retry after 3", "parameters":
{"retry_after": 3}}``. A wrong token gets 401, an unknown chat 400 "chat not found", and text
whose HTML Telegram would refuse (unknown tag, unbalanced tags, bare ``<``, ``>`` or ``&``)
400 "can't parse entities". Binds 127.0.0.1 on a free port; daemon threads.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, ClassVar
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


_ADMIN_RIGHTS = (
    "can_be_edited", "is_anonymous", "can_manage_chat", "can_delete_messages",
    "can_manage_video_chats", "can_restrict_members", "can_promote_members", "can_change_info",
    "can_invite_users", "can_post_stories", "can_edit_stories", "can_delete_stories",
)  # fmt: skip


def _fields(content_type: str | None, body: bytes) -> dict[str, Any]:
    """A request's parameters, JSON or form-encoded (python-telegram-bot sends a form whose
    values are JSON where they are not plain strings)."""
    if content_type and content_type.startswith("application/json"):
        loaded = orjson.loads(body) if body else {}
        return loaded if isinstance(loaded, dict) else {}
    return dict(parse_qsl(body.decode()))


def _error(code: int, description: str, **parameters: Any) -> tuple[int, dict[str, Any]]:
    answer: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        answer["parameters"] = parameters
    return code, answer


@dataclass
class FloodLimits:
    """Telegram's flood control as the stand-in applies it: at most ``global_per_s`` messages a
    second from the bot, one a second into a private chat, ``group_per_min`` a minute into a
    group (a chat id below 0). Counted on ``clock`` (seconds); ``refused`` counts the 429s."""

    clock: Callable[[], float] = time.monotonic
    global_per_s: int = 30
    group_per_min: int = 20
    refused: int = 0
    _sent: deque[float] = field(default_factory=deque)
    _by_chat: dict[str, deque[float]] = field(default_factory=dict)

    def retry_after(self, chat: str) -> int | None:
        """Seconds to wait before ``chat`` may get a message now, or None (then it is counted)."""
        now = self.clock()
        while self._sent and self._sent[0] <= now - 1.0:
            self._sent.popleft()
        window, allowed = (60.0, self.group_per_min) if chat.startswith("-") else (1.0, 1)
        mine = self._by_chat.setdefault(chat, deque())
        while mine and mine[0] <= now - window:
            mine.popleft()
        waits = []
        if len(self._sent) >= self.global_per_s:
            waits.append(self._sent[0] + 1.0 - now)
        if len(mine) >= allowed:
            waits.append(mine[0] + window - now)
        if waits:
            self.refused += 1
            return max(1, int(max(waits) + 0.999))
        self._sent.append(now)
        mine.append(now)
        return None


class TelegramApi(LocalHttpServer):
    """The stand-in server; ``known_chats`` (as strings) limits which chats exist."""

    def __init__(
        self,
        token: str = TOKEN,
        known_chats: set[str] | None = None,
        *,
        limits: FloodLimits | None = None,
        poll_wait_s: float = 0.5,
    ) -> None:
        super().__init__()
        self.token = token
        self.known_chats = known_chats
        self.limits = limits
        self.poll_wait_s = poll_wait_s
        self.messages: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.admins: dict[int, set[int]] = {}
        self.updates: list[dict[str, Any]] = []
        self.confirmed = 0
        """Every update id below this was confirmed by a ``getUpdates`` offset."""
        self._next_update = 1
        self._chat_types: dict[str, str] = {}
        self._script: dict[str, deque[tuple[int, dict[str, Any]]]] = {}
        self._lock = threading.Condition()

    def command(self, chat: int, text: str, *, user: int | None = None, group: bool = False) -> int:
        """Queue a message ``text`` from ``user`` (default: the chat's own id) in ``chat`` as
        an update for ``getUpdates``; a leading ``/word`` is marked as a bot command. Returns
        the update id."""
        with self._lock:
            update_id = self._next_update
            self._next_update += 1
            kind = "group" if group else "private"
            self._chat_types[str(chat)] = kind
            sender = user if user is not None else chat
            message: dict[str, Any] = {
                "message_id": update_id, "date": int(time.time()), "text": text,
                "chat": {"id": chat, "type": kind, **({"title": f"group {chat}"} if group else
                                                      {"first_name": f"user {chat}"})},
                "from": {"id": sender, "is_bot": False, "first_name": f"user {sender}"},
            }  # fmt: skip
            if text.startswith("/"):
                word = text.split()[0]
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(word)}]
            self.updates.append({"update_id": update_id, "message": message})
            self._lock.notify_all()
            return update_id

    def script(
        self,
        status: int,
        *,
        retry_after: int | None = None,
        times: int = 1,
        method: str = "sendMessage",
    ) -> None:
        """Answer the next ``times`` requests to ``method`` with ``status`` (429 carries
        ``retry_after``)."""
        if status == 429:
            answer = _error(429, f"Too Many Requests: retry after {retry_after}",
                            retry_after=retry_after)  # fmt: skip
        elif status >= 500:
            answer = (status, {"ok": False, "error_code": status, "description": "Bad Gateway"})
        else:
            answer = _error(status, "Forbidden: bot was blocked by the user")
        with self._lock:
            self._script.setdefault(method, deque()).extend([answer] * times)

    def respond(self, request: Request) -> Reply:
        content_type = request.header("content-type") or None
        status, answer = self.answer(request.path, content_type, request.body)
        return Reply(status, orjson.dumps(answer), {"content-type": "application/json"})

    def answer(self, path: str, content_type: str | None, body: bytes) -> tuple[int, Any]:
        prefix, _, method = path.partition("?")[0].rpartition("/")
        with self._lock:
            self.paths.append(path)
            if prefix != f"/bot{self.token}":
                return (
                    _error(401, "Unauthorized")
                    if prefix.startswith("/bot")
                    else (404, {"ok": False, "error_code": 404, "description": "Not Found"})
                )
            scripted = self._script.get(method)
            if scripted:
                return scripted.popleft()
            fields = _fields(content_type, body)
            if method == "getUpdates":
                return self._get_updates(fields)
            handler = self._METHODS.get(method)
            if handler is None:
                return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
            return handler(self, fields)

    def _get_updates(self, fields: dict[str, Any]) -> tuple[int, Any]:
        """Confirm every update below ``offset``, then wait (a long poll, at most
        ``poll_wait_s``) for the unconfirmed ones."""
        offset = int(fields.get("offset") or 0)
        self.confirmed = max(self.confirmed, offset)
        limit = int(fields.get("limit") or 100)
        wait_s = min(float(fields.get("timeout") or 0), self.poll_wait_s)
        self._lock.wait_for(lambda: self._pending(), timeout=wait_s)
        return 200, {"ok": True, "result": self._pending()[:limit]}

    def _pending(self) -> list[dict[str, Any]]:
        return [u for u in self.updates if u["update_id"] >= self.confirmed]

    def _get_me(self, _fields: dict[str, Any]) -> tuple[int, Any]:
        me = {"id": int(self.token.split(":")[0]), "is_bot": True, "first_name": "perpwatch",
              "username": "perpwatch_bot", "can_join_groups": True,
              "can_read_all_group_messages": False, "supports_inline_queries": False}  # fmt: skip
        return 200, {"ok": True, "result": me}

    def _get_chat_member(self, fields: dict[str, Any]) -> tuple[int, Any]:
        chat, user = int(fields["chat_id"]), int(fields["user_id"])
        status = "administrator" if user in self.admins.get(chat, set()) else "member"
        member: dict[str, Any] = {
            "status": status,
            "user": {"id": user, "is_bot": False, "first_name": "u"},
        }
        if status == "administrator":
            member |= {flag: True for flag in _ADMIN_RIGHTS}
        return 200, {"ok": True, "result": member}

    def _true(self, _fields: dict[str, Any]) -> tuple[int, Any]:
        return 200, {"ok": True, "result": True}

    def _accept(self, fields: dict[str, Any]) -> tuple[int, Any]:
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
        if self.limits is not None and (wait := self.limits.retry_after(chat)) is not None:
            return _error(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
        self.messages.append(
            {"chat_id": chat, "text": text, "parse_mode": fields.get("parse_mode")}
        )
        kind = self._chat_types.get(chat, "group" if chat.startswith("-") else "private")
        chat_id: int | str = int(chat) if chat.lstrip("-").isdigit() else chat
        result = {"message_id": len(self.messages), "date": int(time.time()),
                  "chat": {"id": chat_id, "type": kind}, "text": text}  # fmt: skip
        return 200, {"ok": True, "result": result}

    _METHODS: ClassVar[dict[str, Callable[[TelegramApi, dict[str, Any]], tuple[int, Any]]]] = {
        "sendMessage": _accept,
        "getMe": _get_me,
        "getChatMember": _get_chat_member,
        "deleteWebhook": _true,
        "setMyCommands": _true,
        "close": _true,
    }

    def texts(self, chat: str) -> list[str]:
        """Accepted texts for ``chat``, in arrival order."""
        return [m["text"] for m in self.messages if m["chat_id"] == chat]
