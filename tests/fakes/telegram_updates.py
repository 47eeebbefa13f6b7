"""Injected updates for the fake Bot API, delivered through long-polling ``getUpdates``.

Also the fake's memory of users, chats and messages, so that an injected message can be
edited, forwarded or replied to by the bot under test and the answers stay consistent.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from tests.fakes import telegram_objects as tg

Json = dict[str, Any]

DEFAULT_USER_ID = 424_242
DEFAULT_CHAT_ID = -1_001_234_567_890


class UpdateInjection:
    """Users, chats, messages and the queue of updates waiting for ``getUpdates``."""

    me: Json

    def __init__(self) -> None:
        self.users: dict[int, Json] = {}
        self.chats: dict[int, Json] = {}
        self.messages: dict[tuple[int, int], Json] = {}
        self._pending: list[Json] = []
        self._update_ids = itertools.count(1)
        self._pushed = asyncio.Event()
        self._message_ids: defaultdict[int, itertools.count[int]] = defaultdict(
            lambda: itertools.count(1001)
        )

    # -- users, chats, messages -------------------------------------------------------------

    def add_user(self, user_id: int, **fields: Any) -> Json:
        self.users[user_id] = tg.user(user_id, **fields)
        return self.users[user_id]

    def user(self, user_id: int) -> Json:
        if user_id == self.me["id"]:
            return self.me
        return self.users.get(user_id) or self.add_user(user_id)

    def add_chat(
        self, chat_id: int | str, chat_type: str | None = None, title: str | None = None
    ) -> Json:
        chat_obj = tg.chat(chat_id, chat_type=chat_type, title=title)
        self.chats[chat_obj["id"]] = chat_obj
        return chat_obj

    def chat(self, chat_id: int | str) -> Json:
        """The chat an id (or ``@username``) names; unknown ids get a plausible chat."""
        if isinstance(chat_id, str) and not chat_id.lstrip("-").isdigit():
            name = chat_id.lstrip("@")
            known = next((c for c in self.chats.values() if c.get("username") == name), None)
            return known or self.add_chat(chat_id)
        return self.chats.get(int(chat_id)) or self.add_chat(int(chat_id))

    def next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids[chat_id])

    # -- injection --------------------------------------------------------------------------

    def push_update(self, update: Json) -> Json:
        """Queue an update (``update_id`` assigned unless given) for the next ``getUpdates``."""
        update = {"update_id": next(self._update_ids), **update}
        self._pending.append(update)
        self._pushed.set()
        return update

    def push_message(
        self,
        text: str | None = None,
        *,
        chat_id: int = DEFAULT_CHAT_ID,
        user_id: int = DEFAULT_USER_ID,
        kind: str = "message",
        **fields: Any,
    ) -> Json:
        """A user's message (``kind`` may be ``edited_message``, ``channel_post``…)."""
        chat_obj = self.chat(chat_id)
        message_id = self.next_message_id(chat_obj["id"])
        msg = tg.message(message_id, chat_obj, from_user=self.user(user_id), text=text, **fields)
        self.messages[(chat_obj["id"], message_id)] = msg
        return self.push_update({kind: msg})

    def push_command(self, command: str, args: str = "", **kwargs: Any) -> Json:
        """``/command args`` with the bot_command entity (``/cmd@botname`` works too)."""
        text = "/" + command.lstrip("/") + (f" {args}" if args else "")
        return self.push_message(text, **kwargs)

    def push_callback_query(
        self,
        data: str,
        *,
        user_id: int = DEFAULT_USER_ID,
        message: Json | None = None,
        chat_id: int = DEFAULT_CHAT_ID,
    ) -> Json:
        """A button press on ``message`` (by default a fresh bot message in ``chat_id``)."""
        if message is None:
            chat_obj = self.chat(chat_id)
            message_id = self.next_message_id(chat_obj["id"])
            message = tg.message(message_id, chat_obj, from_user=self.me, text="Choose:")
            self.messages[(chat_obj["id"], message_id)] = message
        query = tg.callback_query(self.user(user_id), data, message_obj=message)
        return self.push_update({"callback_query": query})

    def push_chat_member(
        self,
        user_id: int = DEFAULT_USER_ID,
        *,
        chat_id: int = DEFAULT_CHAT_ID,
        old_status: str = "left",
        new_status: str = "member",
        actor_id: int | None = None,
    ) -> Json:
        """A membership change: ``chat_member``, or ``my_chat_member`` when it is the bot's."""
        member = self.user(user_id)
        kind = "my_chat_member" if user_id == self.me["id"] else "chat_member"
        change = tg.chat_member_updated(
            self.chat(chat_id),
            self.user(actor_id or user_id),
            tg.chat_member(member, old_status),
            tg.chat_member(member, new_status),
        )
        return self.push_update({kind: change})

    def push_join_request(
        self, user_id: int = DEFAULT_USER_ID, *, chat_id: int = DEFAULT_CHAT_ID
    ) -> Json:
        request = tg.chat_join_request(self.chat(chat_id), self.user(user_id))
        return self.push_update({"chat_join_request": request})

    # -- delivery ---------------------------------------------------------------------------

    def pending_update_count(self) -> int:
        return len(self._pending)

    def drop_pending_updates(self) -> None:
        self._pending.clear()

    async def poll_updates(
        self, *, offset: int, limit: int, timeout: float, accepts: Callable[[Json], bool]
    ) -> list[Json]:
        """``getUpdates``: confirm below ``offset``, then wait up to ``timeout`` for updates."""
        if offset < 0:
            self._pending = self._pending[offset:]
        elif offset:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self._pushed.clear()
            self._pending = [u for u in self._pending if accepts(u)]
            remaining = deadline - loop.time()
            if self._pending or remaining <= 0:
                return self._pending[:limit]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._pushed.wait(), remaining)
