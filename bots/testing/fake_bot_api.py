"""A fake Telegram Bot API server: real HTTP on 127.0.0.1, Telegram-shaped answers, every call recorded.

Point python-telegram-bot at it with ``base_url=fake.base_url`` (``http://127.0.0.1:PORT/bot``): requests go
through PTB's real HTTP stack (httpx), so what the fake sees is what Telegram would see. It speaks both body
shapes the project sends: PTB's form-encoded bodies (strings as they are, every other value JSON-encoded, so
``chat_id`` arrives as ``"100"``) and the outbox backend's JSON bodies. Parsed parameters are normalised so a test
reads ``call.params["chat_id"] == 100`` and ``call.params["reply_markup"]["inline_keyboard"]`` either way.

A test can:
- inject updates (``message_update``, ``command_update``, ``contact_update``, ``location_update``,
  ``callback_update`` build Telegram-shaped dicts; ``inject`` queues one for ``getUpdates``);
- queue failures for a method (``fail``, ``fail_429``, ``fail_blocked``, ``drop_connection``): each queued
  failure answers exactly one later call of that method, in order;
- wait for a call matching a predicate (``wait_for``), on a condition variable, never by sleeping.

Messages are kept per chat with increasing ``message_id`` s (shared by the user's and the bot's messages, as in
a private chat), so ``editMessageText`` of an unknown message and an edit that changes nothing fail as on
Telegram ("message to edit not found", "message is not modified").
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

DEFAULT_TOKEN = "123456789:TEST-fake-token-AAAAAAAAAAAAAAAAAAAAAAAAAAA"
BLOCKED_DESCRIPTION = "Forbidden: bot was blocked by the user"

# How PTB's form values are decoded: strings stay strings; these are JSON, numbers or booleans.
_JSON_FIELDS = {
    "reply_markup",
    "entities",
    "caption_entities",
    "allowed_updates",
    "media",
    "link_preview_options",
    "reply_parameters",
    "results",
    "commands",
    "scope",
    "button",
    "menu_button",
}
_INT_FIELDS = {
    "chat_id",
    "message_id",
    "offset",
    "limit",
    "timeout",
    "from_chat_id",
    "user_id",
    "reply_to_message_id",
    "cache_time",
    "max_connections",
    "live_period",
    "heading",
    "proximity_alert_radius",
    "message_thread_id",
}
_FLOAT_FIELDS = {"latitude", "longitude", "horizontal_accuracy"}
_BOOL_FIELDS = {
    "show_alert",
    "disable_notification",
    "drop_pending_updates",
    "protect_content",
    "disable_web_page_preview",
    "allow_sending_without_reply",
    "is_personal",
}
_SEND_METHODS = {
    "sendmessage",
    "sendlocation",
    "sendphoto",
    "senddocument",
    "sendcontact",
    "sendvenue",
    "sendsticker",
}
_MAX_POLL_TIMEOUT = 50.0
DROP = object()  # a responder's answer: close the connection without answering


@dataclass
class ApiCall:
    """One request the fake received."""

    method: str  # as sent, e.g. "sendMessage"
    token: str
    params: dict[str, Any]
    http_status: int = 200
    response: dict[str, Any] | None = None  # None when the connection was dropped
    at: float = 0.0  # time.monotonic() when the request arrived (before it was answered)

    @property
    def ok(self) -> bool:
        return bool(self.response and self.response.get("ok"))

    @property
    def chat_id(self) -> int | str | None:
        return self.params.get("chat_id")

    @property
    def text(self) -> str | None:
        value = self.params.get("text")
        return value if isinstance(value, str) else None

    @property
    def inline_keyboard(self) -> list[list[dict[str, Any]]]:
        markup = self.params.get("reply_markup")
        if isinstance(markup, dict):
            return list(markup.get("inline_keyboard") or [])
        return []


@dataclass
class Failure:
    """A queued failure: an error answer, or a connection dropped without any answer."""

    error_code: int = 400
    description: str = "Bad Request"
    retry_after: int | None = None
    migrate_to_chat_id: int | None = None
    drop: bool = False
    chat_id: int | str | None = None  # only calls to this chat (None: any chat)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": False, "error_code": self.error_code, "description": self.description}
        parameters: dict[str, Any] = {}
        if self.retry_after is not None:
            parameters["retry_after"] = self.retry_after
        if self.migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = self.migrate_to_chat_id
        if parameters:
            out["parameters"] = parameters
        return out


@dataclass
class TgUser:
    """A Telegram user as the fake sends them in updates."""

    id: int
    first_name: str = "Test"
    last_name: str = ""
    username: str = ""
    language_code: str | None = "en"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            out["last_name"] = self.last_name
        if self.username:
            out["username"] = self.username
        if self.language_code:
            out["language_code"] = self.language_code
        return out

    def private_chat(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.username:
            out["username"] = self.username
        return out


@dataclass
class _State:
    updates: list[dict[str, Any]] = field(default_factory=list)
    confirmed_offset: int = 0
    webhook_url: str = ""
    webhook_secret: str = ""
    message_ids: dict[int | str, int] = field(default_factory=dict)
    messages: dict[tuple[int | str, int], dict[str, Any]] = field(default_factory=dict)


class FakeBotApi:
    """The server. Use as a context manager or call ``start()`` / ``stop()``."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "brigada_test_bot",
        bot_first_name: str = "Brigada",
    ) -> None:
        self.tokens = {token}
        self.token = token
        self.bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.calls: list[ApiCall] = []
        # A hook for rules the queue cannot express: return a Failure (or DROP) to fail the call, None to answer
        # it normally. Runs in the server's request thread, after queued failures.
        self.responder: Callable[[ApiCall], Failure | object | None] | None = None
        self._failures: dict[str, list[Failure]] = {}
        self._state = _State()
        self._cond = threading.Condition()
        self._update_ids = itertools.count(1000)
        self._callback_ids = itertools.count(1)
        self._stopping = False
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> FakeBotApi:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._stopping = False
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-bot-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeBotApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "the fake is not started"
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """PTB's ``base_url`` form: the token is appended to it."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def webhook_url(self) -> str:
        return self._state.webhook_url

    # --- failures ------------------------------------------------------------------------------------

    def fail(self, method: str, failure: Failure, *, times: int = 1, chat_id: int | str | None = None) -> None:
        """Answer the next ``times`` calls of ``method`` (``"*"``: any method) with ``failure``; with ``chat_id``
        only calls to that chat are answered so (others pass)."""
        if chat_id is not None:
            failure = Failure(**{**failure.__dict__, "chat_id": chat_id})
        with self._cond:
            self._failures.setdefault(method.lower(), []).extend([failure] * times)

    def fail_429(
        self, method: str = "sendMessage", *, retry_after: int = 1, times: int = 1, chat_id: int | str | None = None
    ) -> None:
        self.fail(
            method,
            Failure(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after),
            times=times,
            chat_id=chat_id,
        )

    def fail_blocked(
        self,
        method: str = "sendMessage",
        *,
        times: int = 1,
        chat_id: int | str | None = None,
        description: str = BLOCKED_DESCRIPTION,
    ) -> None:
        """403 as for a user who blocked the bot (pass ``description="Forbidden: user is deactivated"`` too)."""
        self.fail(method, Failure(403, description), times=times, chat_id=chat_id)

    def fail_bad_request(
        self,
        method: str,
        description: str = "Bad Request: chat not found",
        *,
        times: int = 1,
        chat_id: int | str | None = None,
    ) -> None:
        self.fail(method, Failure(400, description), times=times, chat_id=chat_id)

    def fail_server_error(
        self, method: str, *, status: int = 502, times: int = 1, chat_id: int | str | None = None
    ) -> None:
        description = "Bad Gateway" if status == 502 else "Internal Server Error"
        self.fail(method, Failure(status, description), times=times, chat_id=chat_id)

    def drop_connection(self, method: str, *, times: int = 1, chat_id: int | str | None = None) -> None:
        """Close the connection without answering: the client sees a network error."""
        self.fail(method, Failure(drop=True), times=times, chat_id=chat_id)

    def clear_failures(self) -> None:
        with self._cond:
            self._failures.clear()

    # --- updates ---------------------------------------------------------------------------------------

    def next_update_id(self) -> int:
        return next(self._update_ids)

    def inject(self, update: dict[str, Any]) -> int:
        """Queue an update for ``getUpdates``; returns its ``update_id``."""
        with self._cond:
            update.setdefault("update_id", self.next_update_id())
            self._state.updates.append(update)
            self._cond.notify_all()
        return int(update["update_id"])

    def pending_updates(self) -> list[dict[str, Any]]:
        with self._cond:
            return [u for u in self._state.updates if u["update_id"] >= self._state.confirmed_offset]

    def _next_message_id(self, chat_id: int | str) -> int:
        with self._cond:
            value = self._state.message_ids.get(chat_id, 0) + 1
            self._state.message_ids[chat_id] = value
            return value

    def _user_message(self, user: TgUser, **content: Any) -> dict[str, Any]:
        message = {
            "message_id": self._next_message_id(user.id),
            "date": int(time.time()),
            "chat": user.private_chat(),
            "from": user.as_dict(),
            **content,
        }
        with self._cond:
            self._state.messages[(user.id, message["message_id"])] = message
        return message

    def message_update(self, user: TgUser, text: str) -> dict[str, Any]:
        """A text message; a leading ``/command`` gets its ``bot_command`` entity (PTB needs it)."""
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split(" ", 1)[0]
            length = len(command.encode("utf-16-le")) // 2  # Telegram counts UTF-16 code units
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return {"update_id": self.next_update_id(), "message": self._user_message(user, **content)}

    def command_update(self, user: TgUser, command: str, payload: str = "") -> dict[str, Any]:
        text = f"/{command.lstrip('/')}" + (f" {payload}" if payload else "")
        return self.message_update(user, text)

    def contact_update(
        self, user: TgUser, phone: str, *, contact_user_id: int | bool | None = True, first_name: str | None = None
    ) -> dict[str, Any]:
        """A shared contact. ``contact_user_id=True`` (default) is the sender's own contact; pass another id (or
        ``None``) for somebody else's card."""
        contact: dict[str, Any] = {"phone_number": phone, "first_name": first_name or user.first_name}
        if contact_user_id is True:
            contact["user_id"] = user.id
        elif contact_user_id not in (None, False):
            contact["user_id"] = contact_user_id
        return {"update_id": self.next_update_id(), "message": self._user_message(user, contact=contact)}

    def location_update(
        self,
        user: TgUser,
        latitude: float,
        longitude: float,
        *,
        horizontal_accuracy: float | None = None,
        live_period: int | None = None,
    ) -> dict[str, Any]:
        location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
        if horizontal_accuracy is not None:
            location["horizontal_accuracy"] = horizontal_accuracy
        if live_period is not None:
            location["live_period"] = live_period
        return {"update_id": self.next_update_id(), "message": self._user_message(user, location=location)}

    def edited_location_update(
        self, user: TgUser, message_id: int, latitude: float, longitude: float, *, live_period: int = 900
    ) -> dict[str, Any]:
        """A live-location update: Telegram sends it as ``edited_message`` of the first location message."""
        with self._cond:
            original = dict(self._state.messages.get((user.id, message_id)) or {})
        message = {
            "message_id": message_id,
            "date": original.get("date", int(time.time())),
            "chat": user.private_chat(),
            "from": user.as_dict(),
            "edit_date": int(time.time()),
            "location": {"latitude": latitude, "longitude": longitude, "live_period": live_period},
        }
        return {"update_id": self.next_update_id(), "edited_message": message}

    def callback_update(self, user: TgUser, data: str, *, message_id: int | None = None) -> dict[str, Any]:
        """A press on an inline button of a bot message in the user's chat (the last one unless given)."""
        with self._cond:
            if message_id is None:
                bot_messages = [
                    mid
                    for (chat, mid), m in self._state.messages.items()
                    if chat == user.id and m.get("from", {}).get("id") == self.bot_id
                ]
                message_id = max(bot_messages) if bot_messages else None
            message = self._state.messages.get((user.id, message_id)) if message_id is not None else None
        if message is None:
            message = {
                "message_id": message_id or 1,
                "date": int(time.time()),
                "chat": user.private_chat(),
                "from": self._bot_user(),
                "text": "",
            }
        query = {
            "id": str(next(self._callback_ids)),
            "from": user.as_dict(),
            "chat_instance": f"ci-{user.id}",
            "data": data,
            "message": message,
        }
        return {"update_id": self.next_update_id(), "callback_query": query}

    # --- reading what the bot did ----------------------------------------------------------------------

    def calls_to(self, method: str, *, chat_id: int | str | None = None) -> list[ApiCall]:
        with self._cond:
            return [
                c
                for c in self.calls
                if c.method.lower() == method.lower() and (chat_id is None or c.chat_id == chat_id)
            ]

    def mark(self) -> int:
        """The number of calls so far: pass it as ``after`` to look only at later calls."""
        with self._cond:
            return len(self.calls)

    def since(self, mark: int) -> list[ApiCall]:
        with self._cond:
            return list(self.calls[mark:])

    def wait_for(
        self,
        method: str | None = None,
        predicate: Callable[[ApiCall], bool] | None = None,
        *,
        timeout: float = 5.0,
        after: int = 0,
    ) -> ApiCall:
        """The first call (from index ``after``) of ``method`` matching ``predicate``; waits on a condition."""

        def matches(call: ApiCall) -> bool:
            if method is not None and call.method.lower() != method.lower():
                return False
            return predicate is None or predicate(call)

        deadline = time.monotonic() + timeout
        with self._cond:
            index = after
            while True:
                while index < len(self.calls):
                    if matches(self.calls[index]):
                        return self.calls[index]
                    index += 1
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [c.method for c in self.calls[after:]]
                    raise TimeoutError(f"no call of {method or 'any method'} matched within {timeout}s; saw {seen}")
                self._cond.wait(remaining)

    def message(self, chat_id: int | str, message_id: int) -> dict[str, Any] | None:
        """The current state of a message (after edits), as the fake keeps it."""
        with self._cond:
            found = self._state.messages.get((chat_id, message_id))
            return dict(found) if found else None

    # --- the API ---------------------------------------------------------------------------------------

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _chat(self, chat_id: int | str) -> dict[str, Any]:
        if isinstance(chat_id, int) and chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": "User"}
        return {"id": chat_id, "type": "supergroup", "title": "Group"}

    def _take_failure(self, method: str, params: dict[str, Any]) -> Failure | None:
        with self._cond:
            for key in (method.lower(), "*"):
                queue = self._failures.get(key) or []
                for index, failure in enumerate(queue):
                    if failure.chat_id is None or failure.chat_id == params.get("chat_id"):
                        return queue.pop(index)
        return None

    def handle(self, method: str, token: str, params: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        """Answer one call: ``(http_status, body)``; body ``None`` means drop the connection."""
        call = ApiCall(method=method, token=token, params=params, at=time.monotonic())
        failure = self._take_failure(method, params) if token in self.tokens else None
        if failure is None and self.responder is not None and token in self.tokens:
            custom = self.responder(call)
            if custom is DROP:
                failure = Failure(drop=True)
            elif isinstance(custom, Failure):
                failure = custom
        status: int
        body: dict[str, Any] | None
        if token not in self.tokens:
            status, body = 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        elif failure is not None:
            status, body = (0, None) if failure.drop else (failure.error_code, failure.body())
        elif method.lower() == "getupdates":
            status, body = self._get_updates(params)
        else:
            status, body = self._dispatch(method.lower(), params)
        call.http_status, call.response = status, body
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()
        return status, body

    @staticmethod
    def _ok(result: Any) -> tuple[int, dict[str, Any]]:
        return 200, {"ok": True, "result": result}

    @staticmethod
    def _error(code: int, description: str) -> tuple[int, dict[str, Any]]:
        return code, {"ok": False, "error_code": code, "description": description}

    def _get_updates(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self._state.webhook_url:
            return self._error(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
                "the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = max(1, min(100, int(params.get("limit") or 100)))
        timeout = min(float(params.get("timeout") or 0), _MAX_POLL_TIMEOUT)
        deadline = time.monotonic() + timeout
        with self._cond:
            if offset:
                # Telegram forgets every update below the offset once it is asked for it.
                self._state.confirmed_offset = max(self._state.confirmed_offset, offset)
                self._state.updates = [u for u in self._state.updates if u["update_id"] >= offset]
            while True:
                ready = [u for u in self._state.updates if u["update_id"] >= self._state.confirmed_offset]
                if ready or self._stopping:
                    return self._ok(ready[:limit])
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return self._ok([])
                self._cond.wait(remaining)

    def _store_bot_message(self, chat_id: int | str, **content: Any) -> dict[str, Any]:
        message = {
            "message_id": self._next_message_id(chat_id),
            "date": int(time.time()),
            "chat": self._chat(chat_id),
            "from": self._bot_user(),
            **{k: v for k, v in content.items() if v is not None},
        }
        with self._cond:
            self._state.messages[(chat_id, message["message_id"])] = message
        return message

    def _dispatch(self, method: str, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "getme":
            return self._ok(self._bot_user())
        if method == "logout" or method == "close":
            return self._ok(True)
        if method == "setwebhook":
            with self._cond:
                self._state.webhook_url = str(p.get("url") or "")
                self._state.webhook_secret = str(p.get("secret_token") or "")
            return self._ok(True)
        if method == "deletewebhook":
            with self._cond:
                self._state.webhook_url = ""
                if p.get("drop_pending_updates"):
                    self._state.updates.clear()
            return self._ok(True)
        if method == "getwebhookinfo":
            return self._ok(
                {
                    "url": self._state.webhook_url,
                    "has_custom_certificate": False,
                    "pending_update_count": len(self.pending_updates()),
                }
            )
        if method in {
            "setmycommands",
            "deletemycommands",
            "setchatmenubutton",
            "setmydescription",
            "setmyshortdescription",
            "setmyname",
        }:
            return self._ok(True)
        if method == "getmycommands":
            return self._ok([])
        if method == "answercallbackquery":
            if not p.get("callback_query_id"):
                return self._error(
                    400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
                )
            return self._ok(True)
        if method == "sendchataction":
            return self._ok(True)
        chat_id = p.get("chat_id")
        if method in _SEND_METHODS:
            if chat_id in (None, ""):
                return self._error(400, "Bad Request: chat_id is empty")
            if method == "sendmessage" and not str(p.get("text") or "").strip():
                return self._error(400, "Bad Request: message text is empty")
            content: dict[str, Any] = {}
            if method == "sendmessage":
                content["text"] = p.get("text")
            elif method == "sendlocation":
                content["location"] = {"latitude": p.get("latitude"), "longitude": p.get("longitude")}
            elif method == "sendcontact":
                content["contact"] = {"phone_number": p.get("phone_number"), "first_name": p.get("first_name")}
            if p.get("caption"):
                content["caption"] = p["caption"]
            markup = p.get("reply_markup")
            if isinstance(markup, dict) and "inline_keyboard" in markup:
                content["reply_markup"] = markup
            return self._ok(self._store_bot_message(chat_id, **content))
        if method in {"editmessagetext", "editmessagereplymarkup", "editmessagecaption"}:
            if p.get("inline_message_id"):
                return self._ok(True)
            key: tuple[int | str, int] = (chat_id or 0, int(p.get("message_id") or 0))
            with self._cond:
                message = self._state.messages.get(key)
                if message is None:
                    return self._error(400, "Bad Request: message to edit not found")
                updated = dict(message)
                if method == "editmessagetext":
                    updated["text"] = p.get("text")
                if method == "editmessagecaption":
                    updated["caption"] = p.get("caption")
                markup = p.get("reply_markup")
                if isinstance(markup, dict) and markup.get("inline_keyboard"):
                    updated["reply_markup"] = markup
                else:
                    updated.pop("reply_markup", None)
                if updated == message:
                    return self._error(
                        400,
                        "Bad Request: message is not modified: specified new message content and reply markup "
                        "are exactly the same as a current content and reply markup of the message",
                    )
                updated["edit_date"] = int(time.time())
                self._state.messages[key] = updated
            return self._ok(updated)
        if method == "deletemessage":
            key = (chat_id or 0, int(p.get("message_id") or 0))
            with self._cond:
                if self._state.messages.pop(key, None) is None:
                    return self._error(400, "Bad Request: message to delete not found")
            return self._ok(True)
        return self._error(404, "Not Found")


def _decode_value(key: str, value: str) -> Any:
    if key in _JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError:
            return value
    if key in _INT_FIELDS:
        try:
            return int(value)
        except ValueError:
            return value  # "@channel"
    if key in _FLOAT_FIELDS:
        try:
            return float(value)
        except ValueError:
            return value
    if key in _BOOL_FIELDS:
        return value.lower() in {"true", "1"}
    return value


def parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    """Parameters of a Bot API request, whichever of the three encodings the client used."""
    ctype = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return {}
    if ctype == "application/json":
        data = json.loads(body.decode("utf-8"))
        out = dict(data) if isinstance(data, dict) else {}
        for key in _INT_FIELDS & out.keys():
            if isinstance(out[key], str) and out[key].lstrip("-").isdigit():
                out[key] = int(out[key])
        for key in _JSON_FIELDS & out.keys():
            if isinstance(out[key], str):
                out[key] = _decode_value(key, out[key])
        return out
    if ctype == "multipart/form-data":
        message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        out = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not name:
                continue
            payload = part.get_payload(decode=True)
            raw = payload if isinstance(payload, bytes) else b""
            if part.get_filename():
                out[str(name)] = {"filename": part.get_filename(), "size": len(raw)}
            else:
                out[str(name)] = _decode_value(str(name), raw.decode("utf-8"))
        return out
    return {k: _decode_value(k, v) for k, v in parse_qsl(body.decode("utf-8"), keep_blank_values=True)}


class _Handler(BaseHTTPRequestHandler):
    server_fake: FakeBotApi
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: the calls are recorded instead

    def _route(self) -> tuple[str, str] | None:
        # /bot<token>/<method>
        path = self.path.split("?", 1)[0]
        if not path.startswith("/bot"):
            return None
        rest = path[len("/bot") :]
        token, _sep, method = rest.partition("/")
        if not method:
            return None
        return token, method

    def _serve(self, params: dict[str, Any]) -> None:
        route = self._route()
        if route is None:
            self._send(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        token, method = route
        status, body = self.server_fake.handle(method, token, params)
        if body is None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(2)
            return
        self._send(status, body)

    def _send(self, status: int, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            params = parse_body(self.headers.get("Content-Type", ""), body)
        except (ValueError, UnicodeDecodeError):
            self._send(400, {"ok": False, "error_code": 400, "description": "Bad Request: can't parse body"})
            return
        self._serve(params)

    def do_GET(self) -> None:
        query = self.path.split("?", 1)[1] if "?" in self.path else ""
        self._serve({k: _decode_value(k, v) for k, v in parse_qsl(query)})


def buttons(call: ApiCall) -> Iterator[dict[str, Any]]:
    """Every inline button of a recorded call, row by row."""
    for row in call.inline_keyboard:
        yield from row
