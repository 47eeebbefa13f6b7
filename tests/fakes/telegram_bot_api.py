"""A fake Telegram Bot API server that the real aiogram client talks to over HTTP.

Point aiogram at it with
``Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url)))``.
It speaks the Bot API wire format: ``/bot{token}/{method}`` with a query string, a JSON body,
a form-urlencoded body (what aiogram sends without files) or a multipart body (with files);
answers ``{"ok": true, "result": ...}`` or the API's error JSON.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes import telegram_objects as tg
from tests.fakes._server import CallLog, FakeServer, UploadedFile, read_multipart
from tests.fakes.telegram_schema import (
    canonical_method,
    decode_params,
    missing_params,
    returns_bool,
)
from tests.fakes.telegram_updates import UpdateInjection

Json = dict[str, Any]

DEFAULT_TOKEN = "123456789:AAF4keT0kenForFlowbotTests-0123456789"

_ERROR_DESCRIPTIONS = {
    400: "Bad Request: invalid request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request",
    429: "Too Many Requests: retry after {retry_after}",
    500: "Internal Server Error",
}
# Updates the API leaves out when getUpdates does not name allowed_updates.
_NOT_DELIVERED_BY_DEFAULT = {"chat_member", "message_reaction", "message_reaction_count"}
_NOT_COPIED = {
    "message_id",
    "date",
    "chat",
    "from",
    "edit_date",
    "reply_markup",
    "forward_origin",
    "reply_to_message",
}
_MEDIA: dict[str, Callable[[Json], Json]] = {
    "sendMessage": lambda p: {"text": p.get("text", ""), "entities": p.get("entities")},
    "sendPhoto": lambda p: {"photo": tg.photo_sizes()},
    "sendDocument": lambda p: {"document": tg.document(_filename(p.get("document")))},
    "sendVideo": lambda p: {"video": tg.video(int(p.get("duration") or 1))},
    "sendVoice": lambda p: {"voice": tg.voice(int(p.get("duration") or 1))},
    "sendSticker": lambda p: {"sticker": tg.sticker(p.get("emoji"))},
    "sendPoll": lambda p: {"poll": _poll(p)},
    "sendLocation": lambda p: {"location": tg.location(p["latitude"], p["longitude"])},
}


@dataclass
class RecordedCall:
    """One Bot API request: decoded parameters (uploaded files as UploadedFile) and the answer."""

    method: str
    params: dict[str, Any]
    token: str
    files: dict[str, UploadedFile] = field(default_factory=dict)
    status: int = 200

    @property
    def summary(self) -> str:
        return f"{self.method}({self.params}) -> {self.status}"


@dataclass
class _Limits:
    """Telegram's flood limits, enforced like the API does: sliding windows of accepted
    sends per bot token and per chat; a send over either is answered 429 with the seconds
    until the window frees (at least 1, as Telegram rounds up)."""

    per_second: int
    per_chat_per_minute: int
    by_token: defaultdict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    by_chat: defaultdict[tuple[str, str], deque[float]] = field(
        default_factory=lambda: defaultdict(deque)
    )

    def wait(self, token: str, chat_id: str, now: float) -> int | None:
        """Seconds to retry after, or None after counting the send as accepted."""
        windows = (
            (self.by_token[token], self.per_second, 1.0),
            (self.by_chat[(token, chat_id)], self.per_chat_per_minute, 60.0),
        )
        for sent, count, seconds in windows:
            while sent and sent[0] <= now - seconds:
                sent.popleft()
            if len(sent) >= count:
                return max(1, math.ceil(sent[0] + seconds - now))
        for sent, _, _ in windows:
            sent.append(now)
        return None


@dataclass(frozen=True)
class _Fault:
    status: int
    description: str
    parameters: Json | None


class BotAPIError(Exception):
    """Raised by a method implementation to answer with the Bot API's error JSON."""

    def __init__(self, status: int, description: str, parameters: Json | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.parameters = status, description, parameters


class FakeTelegramBotAPI(UpdateInjection, FakeServer):
    """The Bot API on 127.0.0.1: records every call, serves injected updates, injects faults."""

    def __init__(
        self, token: str = DEFAULT_TOKEN, *, bot_username: str = "flowbot_test_bot"
    ) -> None:
        FakeServer.__init__(self)
        UpdateInjection.__init__(self)
        self.token = token
        self.tokens = {token}
        self.me = tg.bot_user(int(token.split(":")[0]), username=bot_username)
        self.log: CallLog[RecordedCall] = CallLog()
        self.webhook_url = ""
        self.commands: dict[str, list[Json]] = {}
        self.allowed_updates: list[str] | None = None
        self.members: dict[tuple[int, int], Json] = {}
        self.member_counts: dict[int, int] = {}
        self._faults: defaultdict[str, deque[_Fault]] = defaultdict(deque)
        self._results: dict[str, Any] = {}
        self._limits: _Limits | None = None
        self._limits_clock: Callable[[], float] = time.monotonic
        self.rate_limited = 0  # sends answered 429 by the enforced limits

    # -- public API -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What ``TelegramAPIServer.from_base`` takes."""
        return self.origin

    @property
    def calls(self) -> list[RecordedCall]:
        return self.log.calls

    def calls_to(self, method: str) -> list[RecordedCall]:
        return self.log.matching(lambda call: call.method == canonical_method(method))

    async def wait_for_call(
        self, method: str, *, count: int = 1, timeout: float = 5.0
    ) -> RecordedCall:
        name = canonical_method(method)
        return await self.log.wait_for(
            lambda call: call.method == name, count=count, timeout=timeout
        )

    def fail_next(
        self,
        method: str,
        status: int = 429,
        *,
        retry_after: int | None = None,
        description: str | None = None,
        parameters: Json | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with a Bot API error."""
        if status == 429 and retry_after is None:
            retry_after = 1
        params = dict(parameters or {})
        if retry_after is not None:
            params["retry_after"] = retry_after
        text = description or _ERROR_DESCRIPTIONS.get(status, "Error")
        fault = _Fault(status, text.format(retry_after=retry_after), params or None)
        self._faults[canonical_method(method)].extend([fault] * times)

    def enforce_limits(
        self,
        per_second: int = 30,
        per_chat_per_minute: int = 20,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """From now on, answer sends over Telegram's flood limits with 429 and retry_after."""
        self._limits = _Limits(per_second, per_chat_per_minute)
        self._limits_clock = clock

    def set_result(self, method: str, result: Any) -> None:
        """Answer ``method`` with ``result`` (a value, or a callable taking the params)."""
        self._results[canonical_method(method)] = result

    def set_member(self, chat_id: int, user_id: int, status: str = "member", **fields: Any) -> None:
        """What getChatMember reports for ``user_id`` in ``chat_id``."""
        self.members[(chat_id, user_id)] = tg.chat_member(self.user(user_id), status, **fields)

    def set_member_count(self, chat_id: int, count: int) -> None:
        """What getChatMemberCount reports for ``chat_id``."""
        self.member_counts[self.chat(chat_id)["id"]] = count

    # -- HTTP -------------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        token, name = request.match_info["token"], request.match_info["method"]
        method = canonical_method(name) or name
        raw, files = await _read_request(request)
        call = RecordedCall(method, decode_params(method, raw, files), token, files)
        self.log.record(call)
        try:
            result = await self._answer(call)
        except BotAPIError as error:
            call.status = error.status
            body: Json = {"ok": False, "error_code": error.status, "description": error.description}
            if error.parameters:
                body["parameters"] = error.parameters
            return web.json_response(body, status=error.status)
        return web.json_response({"ok": True, "result": result})

    async def _answer(self, call: RecordedCall) -> Any:
        if call.token not in self.tokens:
            raise BotAPIError(401, "Unauthorized")
        implementation = self._implementation(call.method)
        if implementation is None and call.method not in self._results:
            raise BotAPIError(404, "Not Found")
        if self._faults[call.method]:
            fault = self._faults[call.method].popleft()
            raise BotAPIError(fault.status, fault.description, fault.parameters)
        if self._limits is not None and call.method in _MEDIA and "chat_id" in call.params:
            wait = self._limits.wait(call.token, str(call.params["chat_id"]), self._limits_clock())
            if wait is not None:
                self.rate_limited += 1
                description = _ERROR_DESCRIPTIONS[429].format(retry_after=wait)
                raise BotAPIError(429, description, {"retry_after": wait})
        if missing := missing_params(call.method, call.params):
            raise BotAPIError(400, f"Bad Request: parameter {missing!r} is required")
        if call.method in self._results:
            result = self._results[call.method]
            return result(call.params) if callable(result) else result
        assert implementation is not None
        result = implementation(call.params)
        return await result if asyncio.iscoroutine(result) else result

    def _implementation(self, method: str) -> Callable[[Json], Any] | None:
        if method in _MEDIA:
            return lambda p: self._send(method, p)
        if specific := getattr(self, f"_api_{method}", None):
            return specific
        if returns_bool(method):  # banChatMember, pinChatMessage, answerCallbackQuery…
            return lambda p: True
        return None

    # -- methods ----------------------------------------------------------------------------

    def _api_getMe(self, p: Json) -> Json:
        return self.me

    async def _api_getUpdates(self, p: Json) -> list[Json]:
        if self.webhook_url:
            raise BotAPIError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if "allowed_updates" in p:
            self.allowed_updates = list(p["allowed_updates"] or [])
        return await self.poll_updates(
            offset=int(p.get("offset") or 0),
            limit=min(max(int(p.get("limit") or 100), 1), 100),
            timeout=float(p.get("timeout") or 0),
            accepts=self._accepts,
        )

    def _accepts(self, update: Json) -> bool:
        kind = next(key for key in update if key != "update_id")
        if self.allowed_updates:
            return kind in self.allowed_updates
        return kind not in _NOT_DELIVERED_BY_DEFAULT

    def _api_setWebhook(self, p: Json) -> bool:
        self.webhook_url = p.get("url", "")
        return True

    def _api_deleteWebhook(self, p: Json) -> bool:
        self.webhook_url = ""
        if p.get("drop_pending_updates"):
            self.drop_pending_updates()
        return True

    def _api_getWebhookInfo(self, p: Json) -> Json:
        return tg.webhook_info(self.webhook_url, self.pending_update_count())

    def _api_setMyCommands(self, p: Json) -> bool:
        self.commands[_commands_key(p)] = list(p["commands"])
        return True

    def _api_deleteMyCommands(self, p: Json) -> bool:
        self.commands.pop(_commands_key(p), None)
        return True

    def _api_getMyCommands(self, p: Json) -> list[Json]:
        return self.commands.get(_commands_key(p), [])

    def _send(self, method: str, p: Json) -> Json:
        fields = _MEDIA[method](p)
        for key in ("caption", "caption_entities", "message_thread_id"):
            fields[key] = p.get(key)
        markup = p.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            fields["reply_markup"] = markup
        reply_to = (p.get("reply_parameters") or {}).get("message_id") or p.get(
            "reply_to_message_id"
        )
        chat_obj = self.chat(p["chat_id"])
        if reply_to and (original := self.messages.get((chat_obj["id"], int(reply_to)))):
            fields["reply_to_message"] = original
        return self._store(chat_obj, from_user=self.me, **fields)

    def _api_editMessageText(self, p: Json) -> Json | bool:
        if p.get("inline_message_id"):
            return True
        chat_obj = self.chat(p["chat_id"])
        key = (chat_obj["id"], int(p["message_id"]))
        original = self.messages.get(key) or tg.message(key[1], chat_obj, from_user=self.me)
        if "text" not in original and "caption" in original:  # a photo, video, document
            raise BotAPIError(400, "Bad Request: there is no text in the message to edit")
        edited = {**original, "text": p["text"], "edit_date": tg.now()}
        edited.pop("entities", None)
        if p.get("entities"):
            edited["entities"] = p["entities"]
        edited.pop("reply_markup", None)  # an edit without a keyboard removes the old one
        if isinstance(p.get("reply_markup"), dict):
            edited["reply_markup"] = p["reply_markup"]
        self.messages[key] = edited
        return edited

    def _api_forwardMessage(self, p: Json) -> Json:
        source, content = self._content_of(p)
        origin = {"type": "chat", "date": tg.now(), "sender_chat": source}
        if source["type"] == "channel":
            origin.update(
                type="channel", chat=origin.pop("sender_chat"), message_id=int(p["message_id"])
            )
        return self._store(
            self.chat(p["chat_id"]), **{**content, "from": self.me, "forward_origin": origin}
        )

    def _api_copyMessage(self, p: Json) -> Json:
        _, content = self._content_of(p)
        copied = self._store(self.chat(p["chat_id"]), **{**content, "from": self.me})
        return {"message_id": copied["message_id"]}

    def _api_deleteMessage(self, p: Json) -> bool:
        self.messages.pop((self.chat(p["chat_id"])["id"], int(p["message_id"])), None)
        return True

    def _content_of(self, p: Json) -> tuple[Json, Json]:
        """The source chat and what a forward or copy of ``message_id`` carries over."""
        source = self.chat(p["from_chat_id"])
        original = self.messages.get((source["id"], int(p["message_id"]))) or {}
        return source, {k: v for k, v in original.items() if k not in _NOT_COPIED}

    def _api_createChatInviteLink(self, p: Json) -> Json:
        fields = {k: p.get(k) for k in ("name", "expire_date", "member_limit")}
        return tg.chat_invite_link(
            self.me, creates_join_request=bool(p.get("creates_join_request")), **fields
        )

    def _api_getChat(self, p: Json) -> Json:
        return tg.chat_full_info(self.chat(p["chat_id"]))

    def _api_getChatMember(self, p: Json) -> Json:
        chat_id, user_id = self.chat(p["chat_id"])["id"], int(p["user_id"])
        if (chat_id, user_id) in self.members:
            return self.members[(chat_id, user_id)]
        status = "administrator" if user_id == self.me["id"] else "member"
        return tg.chat_member(self.user(user_id), status)

    def _api_getChatMemberCount(self, p: Json) -> int:
        """The count set for the chat, else the members the fake knows there and the bot."""
        chat_id = self.chat(p["chat_id"])["id"]
        if chat_id in self.member_counts:
            return self.member_counts[chat_id]
        return 1 + sum(
            1 for c, user_id in self.members if c == chat_id and user_id != self.me["id"]
        )

    def _api_getChatAdministrators(self, p: Json) -> list[Json]:
        chat_id = self.chat(p["chat_id"])["id"]
        admins = [
            member
            for (c, _), member in self.members.items()
            if c == chat_id and member["status"] in ("creator", "administrator")
        ]
        return admins or [tg.chat_member(self.me, "administrator")]

    def _store(self, chat_obj: Json, **fields: Any) -> Json:
        message_id = self.next_message_id(chat_obj["id"])
        from_user = fields.pop("from_user", None) or fields.pop("from", None)
        text = fields.pop("text", None)
        msg = tg.message(message_id, chat_obj, from_user=from_user, text=text, **fields)
        self.messages[(chat_obj["id"], message_id)] = msg
        return msg


def _filename(value: Any) -> str | None:
    return value.filename if isinstance(value, UploadedFile) else None


def _poll(p: Json) -> Json:
    options = [o["text"] if isinstance(o, dict) else str(o) for o in p["options"]]
    return tg.poll(
        p["question"],
        options,
        is_anonymous=p.get("is_anonymous", True) is not False,
        poll_type=p.get("type") or "regular",
        allows_multiple_answers=bool(p.get("allows_multiple_answers")),
    )


def _commands_key(p: Json) -> str:
    return json.dumps([p.get("scope") or {"type": "default"}, p.get("language_code") or ""])


async def _read_request(request: web.Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    """The request's parameters as sent (strings, or JSON values for a JSON body) and files."""
    params: dict[str, Any] = dict(request.query)
    files: dict[str, UploadedFile] = {}
    if request.content_type == "application/json":
        params.update(await request.json() if request.can_read_body else {})
    elif request.content_type == "multipart/form-data":
        fields, files = await read_multipart(request)
        params.update(fields)
    elif request.can_read_body:
        params.update((await request.post()).items())
    return params, files
