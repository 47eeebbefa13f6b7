"""aiogram ``Update`` → PlatformEvents, one per trigger kind it starts (NODES.md).

A message yields ``tg_message`` ("any message") plus ``tg_command`` when it is a
/command for this bot and ``tg_media_message`` when it carries media. Joins and
leaves come from ``chat_member`` updates only (they say who and from which status
to which); the matching service messages would start the same flows twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from aiogram.types import (
    CallbackQuery,
    Chat,
    ChatBoostUpdated,
    ChatJoinRequest,
    ChatMemberAdministrator,
    ChatMemberUpdated,
    InlineQuery,
    Message,
    MessageReactionUpdated,
    PollAnswer,
    ReactionTypeCustomEmoji,
    ReactionTypeEmoji,
    Update,
    User,
)

from engine.chat_discovery import chat_seen
from engine.platform_event import EventChat, EventMedia, EventUser, PlatformEvent, platform_event

KIND = "telegram_bot"
# What getUpdates / setWebhook must ask for: chat_member and message_reaction are
# not delivered unless named.
ALLOWED_UPDATES = [
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "callback_query",
    "inline_query",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "message_reaction",
    "chat_boost",
]
_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]+))?(?:\s+(.*))?$", re.DOTALL)
_SERVICE_FIELDS = (
    "new_chat_members",
    "left_chat_member",
    "new_chat_title",
    "new_chat_photo",
    "delete_chat_photo",
    "group_chat_created",
    "supergroup_chat_created",
    "migrate_to_chat_id",
    "migrate_from_chat_id",
    "pinned_message",
)
_MEMBER_STATUSES = {"creator", "administrator", "member"}
_ADMIN_RIGHTS = tuple(
    name for name in ChatMemberAdministrator.model_fields if name.startswith("can_")
)


def _value(item: Any) -> Any:
    """Enum members as their plain value (aiogram's enums are ``str, Enum``)."""
    return getattr(item, "value", item)


def _iso_z(moment: datetime | int | None) -> str | None:
    """``2025-03-14T09:26:53Z``; aiogram gives some dates as Unix times (``edit_date``)."""
    if moment is None:
        return None
    if isinstance(moment, int):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def map_user(user: User | None) -> EventUser | None:
    if user is None:
        return None
    return EventUser(
        id=str(user.id),
        username=user.username,
        first_name=user.first_name,
        last_name=user.last_name,
        display_name=user.full_name,
        is_bot=user.is_bot,
        language=user.language_code,
    )


def map_chat(chat: Chat | None) -> EventChat | None:
    if chat is None:
        return None
    title = chat.title or (chat.full_name if _value(chat.type) == "private" else None)
    return EventChat(id=str(chat.id), type=_value(chat.type), title=title)


def map_media(msg: Message) -> EventMedia | None:
    """The message's media, as EventMedia types (animation before document: GIFs have both)."""
    caption = msg.caption
    if msg.animation:
        a = msg.animation
        return EventMedia(
            type="animation", file_id=a.file_id, mime_type=a.mime_type,
            file_name=a.file_name, caption=caption,
        )  # fmt: skip
    if msg.photo:
        return EventMedia(
            type="photo", file_id=msg.photo[-1].file_id, mime_type="image/jpeg", caption=caption
        )
    for kind in ("video", "document", "audio", "voice"):
        item = getattr(msg, kind)
        if item is not None:
            return EventMedia(
                type=kind, file_id=item.file_id, mime_type=getattr(item, "mime_type", None),
                file_name=getattr(item, "file_name", None), caption=caption,
            )  # fmt: skip
    if msg.video_note:
        return EventMedia(type="video", file_id=msg.video_note.file_id, mime_type="video/mp4")
    if msg.sticker:
        s = msg.sticker
        mime = "application/x-tgsticker" if s.is_animated else "video/webm" if s.is_video else None
        return EventMedia(type="sticker", file_id=s.file_id, mime_type=mime or "image/webp")
    return None


def parse_command(text: str | None, bot_username: str | None) -> tuple[str, list[str]] | None:
    """``/warn@my_bot spam now`` → ("warn", ["spam", "now"]); None when not for this bot."""
    match = _COMMAND.match(text or "")
    if match is None:
        return None
    name, addressee, rest = match.groups()
    if addressee and bot_username and addressee.lower() != bot_username.lower():
        return None
    return name.lower(), (rest or "").split()


class _Envelope:
    """Builds the events of one update: ids, instance and raw payload in one place."""

    def __init__(
        self,
        update: Update,
        instance_id: int,
        bot_username: str | None,
        polls: Mapping[str, list[str]],
    ) -> None:
        self.update = update
        self.instance_id = instance_id
        self.bot_username = bot_username
        self.polls = polls
        self.raw = update.model_dump(mode="json", exclude_none=True, by_alias=True)

    def event(self, kind: str, at: datetime | None = None, **fields: Any) -> PlatformEvent:
        if at is not None:
            fields["occurred_at"] = at
        unique = f"{self.instance_id}:{self.update.update_id}"  # update ids are per bot
        return platform_event(KIND, self.instance_id, kind, unique, raw=self.raw, **fields)

    def seen(self, chat: EventChat, source: Any, user: User | None, **data: Any) -> PlatformEvent:
        """A chat_seen of ``chat`` (one update may speak of two chats: ids name the chat)."""
        unique = f"{self.instance_id}:{self.update.update_id}:{chat.id}"
        return chat_seen(
            KIND, self.instance_id, chat, unique,
            user=map_user(user), occurred_at=source.date, raw=self.raw, **data,
        )  # fmt: skip

    def about(self, kind: str, source: Any, user: User | None, **fields: Any) -> PlatformEvent:
        """An event on something with a ``chat`` and a ``date`` (member change, reaction…)."""
        return self.event(
            kind, at=source.date, chat=map_chat(source.chat), user=map_user(user), **fields
        )


def _message_fields(msg: Message) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if msg.message_thread_id is not None:
        data["message_thread_id"] = str(msg.message_thread_id)
    if replied := _replied_to(msg):
        data["reply_to_user"] = replied.model_dump()
    return {
        "at": msg.date,
        "chat": map_chat(msg.chat),
        "user": map_user(msg.from_user),
        "message_id": str(msg.message_id),
        "text": msg.text if msg.text is not None else msg.caption,
        "reply_to_message_id": (
            str(msg.reply_to_message.message_id) if msg.reply_to_message else None
        ),
        "is_forwarded": msg.forward_origin is not None,
        "media": map_media(msg),
        "data": data,
    }


def _replied_to(msg: Message) -> EventUser | None:
    """Whom the message answers (reputation rules credit them); a message in a forum
    topic is not an answer to the topic's opening."""
    quoted = msg.reply_to_message
    if quoted is None or quoted.forum_topic_created is not None:
        return None
    return map_user(quoted.from_user)


def _chat_changes(env: _Envelope, msg: Message) -> list[PlatformEvent]:
    """Service messages that change the chat itself: a new title, or a group upgraded to a
    supergroup (a new chat id: the group's is gone). Whether the bot is an admin there is
    left out (None): the connector asks."""
    chat = map_chat(msg.chat)
    assert chat is not None
    if msg.new_chat_title:
        renamed = chat.model_copy(update={"title": msg.new_chat_title})
        return [env.seen(renamed, msg, msg.from_user)]
    if msg.migrate_to_chat_id:
        upgraded = EventChat(id=str(msg.migrate_to_chat_id), type="supergroup", title=chat.title)
        return [
            env.seen(chat, msg, msg.from_user, gone=True),
            env.seen(upgraded, msg, msg.from_user),
        ]
    return []


def _message(env: _Envelope, msg: Message) -> list[PlatformEvent]:
    if any(getattr(msg, name, None) for name in _SERVICE_FIELDS):
        return _chat_changes(env, msg)
    fields = _message_fields(msg)
    events = [env.event("tg_message", **fields)]
    if (command := parse_command(msg.text, env.bot_username)) is not None:
        name, args = command
        events.append(env.event("tg_command", command=name, args=args, **fields))
    if fields["media"] is not None:
        events.append(env.event("tg_media_message", **fields))
    return events


def _edited(env: _Envelope, msg: Message) -> list[PlatformEvent]:
    """An edited message, or channel post (signed by the channel: no user); cross-post
    rules mirror the edit."""
    fields = _message_fields(msg)
    fields["data"]["edit_date"] = _iso_z(msg.edit_date)
    if msg.chat.type == "channel":
        fields["user"] = None
    return [env.event("tg_edited_message", **fields)]


def _channel_post(env: _Envelope, msg: Message) -> list[PlatformEvent]:
    fields = _message_fields(msg)
    fields["user"] = None  # posts are signed by the channel, not a person
    if msg.author_signature:
        fields["data"]["author_signature"] = msg.author_signature
    return [env.event("tg_channel_post", **fields)]


def _callback(env: _Envelope, query: CallbackQuery) -> list[PlatformEvent]:
    data: dict[str, Any] = {"callback_data": query.data, "callback_query_id": query.id}
    if query.inline_message_id:
        data["inline_message_id"] = query.inline_message_id
    message = query.message
    return [
        env.event(
            "tg_callback_query",
            chat=map_chat(message.chat) if message else None,
            user=map_user(query.from_user),
            message_id=str(message.message_id) if message else None,
            data=data,
        )
    ]


def _is_member(member: Any) -> bool:
    status = _value(member.status)
    return status in _MEMBER_STATUSES or (status == "restricted" and bool(member.is_member))


def _statuses(change: ChatMemberUpdated) -> dict[str, Any]:
    return {
        "old_status": _value(change.old_chat_member.status),
        "new_status": _value(change.new_chat_member.status),
    }


def _member(env: _Envelope, change: ChatMemberUpdated) -> list[PlatformEvent]:
    was, now = _is_member(change.old_chat_member), _is_member(change.new_chat_member)
    if was == now:
        return []  # promoted, restricted…: not a join or a leave
    kind = "tg_member_joined" if now else "tg_member_left"
    return [env.about(kind, change, change.new_chat_member.user, data=_statuses(change))]


def bot_rights(member: Any) -> dict[str, bool]:
    """The bot's administrator rights in a chat, each named: all off for a member (so a
    demoted bot's old rights are not kept), all on for the chat's creator."""
    status = _value(member.status)
    if status != "administrator":
        return dict.fromkeys(_ADMIN_RIGHTS, status == "creator")
    return {name: bool(getattr(member, name)) for name in _ADMIN_RIGHTS}


def _bot_status(env: _Envelope, change: ChatMemberUpdated) -> list[PlatformEvent]:
    """The trigger's event, and the chat as the bot now sees it (``gone`` when it left).

    The chat_seen event carries only what the update says; the connector fills in the
    title, username and member count from getChat and getChatMemberCount."""
    member = change.new_chat_member
    chat = map_chat(change.chat)
    assert chat is not None
    seen = env.seen(
        chat,
        change,
        change.from_user,
        username=change.chat.username,
        bot_is_admin=_value(member.status) in ("creator", "administrator"),
        bot_rights=bot_rights(member),
        gone=not _is_member(member),
    )
    status = env.about("tg_bot_status_changed", change, change.from_user, data=_statuses(change))
    return [status, seen]


def _join_request(env: _Envelope, request: ChatJoinRequest) -> list[PlatformEvent]:
    link = request.invite_link.invite_link if request.invite_link else None
    data = {"bio": request.bio, "invite_link": link, "user_chat_id": str(request.user_chat_id)}
    return [env.about("tg_chat_join_request", request, request.from_user, data=data)]


def _reaction_name(reaction: Any) -> str:
    if isinstance(reaction, ReactionTypeEmoji):
        return reaction.emoji
    if isinstance(reaction, ReactionTypeCustomEmoji):
        return f"custom:{reaction.custom_emoji_id}"
    return str(_value(reaction.type))  # "paid"


def _reaction(env: _Envelope, update: MessageReactionUpdated) -> list[PlatformEvent]:
    old = [_reaction_name(r) for r in update.old_reaction]
    new = [_reaction_name(r) for r in update.new_reaction]
    added = [r for r in new if r not in old]
    emoji = (added or new)[0] if added or new else None
    data = {"emoji": emoji, "old_reaction": old, "new_reaction": new}
    return [
        env.about("tg_reaction", update, update.user, message_id=str(update.message_id), data=data)
    ]


def _poll_answer(env: _Envelope, answer: PollAnswer) -> list[PlatformEvent]:
    known = env.polls.get(answer.poll_id, [])
    options = [known[i] for i in answer.option_ids if i < len(known)]
    return [
        env.event(
            "tg_poll_answer",
            chat=map_chat(answer.voter_chat),
            user=map_user(answer.user),
            data={"poll_id": answer.poll_id, "option_ids": answer.option_ids, "options": options},
        )
    ]


def _inline_query(env: _Envelope, query: InlineQuery) -> list[PlatformEvent]:
    data = {"inline_query_id": query.id, "query": query.query, "offset": query.offset}
    if query.chat_type:
        data["chat_type"] = query.chat_type
    return [
        env.event("tg_inline_query", user=map_user(query.from_user), text=query.query, data=data)
    ]


def _boost(env: _Envelope, update: ChatBoostUpdated) -> list[PlatformEvent]:
    boost = update.boost
    return [
        env.event(
            "tg_chat_boost",
            at=boost.add_date,
            chat=map_chat(update.chat),
            user=map_user(getattr(boost.source, "user", None)),
            data={
                "boost_id": boost.boost_id,
                "expiration_date": _iso_z(boost.expiration_date),
                "source": _value(boost.source.source),
            },
        )
    ]


# Update field → its mapper; an update carries exactly one of these.
_MAPPERS: dict[str, Callable[[_Envelope, Any], list[PlatformEvent]]] = {
    "message": _message,
    "edited_message": _edited,
    "channel_post": _channel_post,
    "edited_channel_post": _edited,
    "callback_query": _callback,
    "chat_member": _member,
    "my_chat_member": _bot_status,
    "chat_join_request": _join_request,
    "message_reaction": _reaction,
    "poll_answer": _poll_answer,
    "inline_query": _inline_query,
    "chat_boost": _boost,
}


def map_update(
    update: Update,
    *,
    instance_id: int,
    bot_username: str | None = None,
    polls: Mapping[str, list[str]] | None = None,
) -> list[PlatformEvent]:
    """The events ``update`` starts; empty for updates no trigger listens to."""
    env = _Envelope(update, instance_id, bot_username, polls or {})
    for field, mapper in _MAPPERS.items():
        if (payload := getattr(update, field)) is not None:
            return mapper(env, payload)
    return []
