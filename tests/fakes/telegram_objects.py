"""Builders of Bot API objects (plain dicts, as the API sends them) for the fake and for tests.

Each builder fills the fields the Bot API always sends, so aiogram parses the result into its
types exactly as it would parse real traffic. Optional fields are added only when given.
"""

from __future__ import annotations

import itertools
import secrets
import time
from typing import Any

Json = dict[str, Any]

_file_counter = itertools.count(1)


def now() -> int:
    return int(time.time())


def user(
    user_id: int,
    *,
    first_name: str | None = None,
    username: str | None = None,
    is_bot: bool = False,
    last_name: str | None = None,
    language_code: str | None = "en",
) -> Json:
    obj: Json = {"id": user_id, "is_bot": is_bot, "first_name": first_name or f"User{user_id}"}
    if last_name:
        obj["last_name"] = last_name
    if username:
        obj["username"] = username
    if language_code and not is_bot:
        obj["language_code"] = language_code
    return obj


def bot_user(
    bot_id: int, *, username: str = "flowbot_test_bot", first_name: str = "Flowbot"
) -> Json:
    """The ``getMe`` answer: a bot user with the capability flags the API reports."""
    return {
        **user(bot_id, first_name=first_name, username=username, is_bot=True),
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": True,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


def chat(chat_id: int | str, *, chat_type: str | None = None, title: str | None = None) -> Json:
    """A chat whose type follows the id's shape: > 0 private, -100… supergroup, < 0 group."""
    if isinstance(chat_id, str):  # "@channelusername"
        name = chat_id.lstrip("@")
        numeric = -1_000_000_000_000 - (int.from_bytes(name.encode(), "big") % 10**9)
        return {
            "id": numeric,
            "type": chat_type or "channel",
            "title": title or name,
            "username": name,
        }
    if chat_type is None:
        if chat_id > 0:
            chat_type = "private"
        elif chat_id <= -1_000_000_000_000:
            chat_type = "supergroup"
        else:
            chat_type = "group"
    if chat_type == "private":
        return {"id": chat_id, "type": "private", "first_name": title or f"User{chat_id}"}
    return {"id": chat_id, "type": chat_type, "title": title or f"Chat {chat_id}"}


def chat_full_info(chat_obj: Json) -> Json:
    """The ``getChat`` answer (ChatFullInfo) for a chat."""
    return {
        **chat_obj,
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": {
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        },
    }


def message(
    message_id: int,
    chat_obj: Json,
    *,
    from_user: Json | None = None,
    text: str | None = None,
    date: int | None = None,
    **fields: Any,
) -> Json:
    obj: Json = {"message_id": message_id, "date": date or now(), "chat": chat_obj}
    if from_user is not None:
        obj["from"] = from_user
    if text is not None:
        obj["text"] = text
        entities = fields.pop("entities", None) or command_entities(text)
        if entities:
            obj["entities"] = entities
    obj.update({key: value for key, value in fields.items() if value is not None})
    return obj


def command_entities(text: str) -> list[Json]:
    """The ``bot_command`` entity Telegram adds when a message starts with ``/command``."""
    if not text.startswith("/"):
        return []
    length = len(text.split(maxsplit=1)[0])
    return [{"type": "bot_command", "offset": 0, "length": length}]


def file_ids(prefix: str = "file") -> Json:
    n = next(_file_counter)
    return {"file_id": f"{prefix}-{n}-{secrets.token_hex(8)}", "file_unique_id": f"u{n}"}


def photo_sizes(file_size: int | None = None) -> list[Json]:
    base = file_ids("photo")
    sizes = [(90, 67), (320, 240), (800, 600)]
    return [
        {
            **base,
            "file_id": f"{base['file_id']}-{w}",
            "width": w,
            "height": h,
            **({"file_size": file_size} if file_size else {}),
        }
        for w, h in sizes
    ]


def document(file_name: str | None = None, mime_type: str | None = None) -> Json:
    obj = file_ids("doc")
    if file_name:
        obj["file_name"] = file_name
    if mime_type:
        obj["mime_type"] = mime_type
    return obj


def video(duration: int = 1) -> Json:
    return {**file_ids("video"), "width": 640, "height": 360, "duration": duration}


def voice(duration: int = 1) -> Json:
    return {**file_ids("voice"), "duration": duration, "mime_type": "audio/ogg"}


def sticker(emoji: str | None = None) -> Json:
    obj = {
        **file_ids("sticker"),
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
    }
    if emoji:
        obj["emoji"] = emoji
    return obj


def poll(
    question: str,
    options: list[str],
    *,
    is_anonymous: bool = True,
    poll_type: str = "regular",
    allows_multiple_answers: bool = False,
) -> Json:
    return {
        "id": str(secrets.randbelow(10**18)),
        "question": question,
        "options": [
            {"persistent_id": str(i), "text": text, "voter_count": 0}
            for i, text in enumerate(options)
        ],
        "total_voter_count": 0,
        "is_closed": False,
        "is_anonymous": is_anonymous,
        "type": poll_type,
        "allows_multiple_answers": allows_multiple_answers,
        "allows_revoting": True,
        "members_only": False,
    }


def location(latitude: float, longitude: float) -> Json:
    return {"latitude": latitude, "longitude": longitude}


def chat_invite_link(creator: Json, **fields: Any) -> Json:
    obj: Json = {
        "invite_link": f"https://t.me/+{secrets.token_urlsafe(12)}",
        "creator": creator,
        "creates_join_request": bool(fields.pop("creates_join_request", False)),
        "is_primary": False,
        "is_revoked": False,
    }
    obj.update({key: value for key, value in fields.items() if value is not None})
    return obj


_ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_send_welcome_messages",
    "can_pin_messages",
)
_MEMBER_RIGHTS = (
    "can_send_messages",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_react_to_messages",
    "can_edit_tag",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
)


def chat_member(user_obj: Json, status: str = "member", **fields: Any) -> Json:
    """A ChatMember of any status, with every field that status requires."""
    obj: Json = {"status": status, "user": user_obj}
    if status == "creator":
        obj["is_anonymous"] = False
    elif status == "administrator":
        obj.update({"can_be_edited": False, "is_anonymous": False})
        obj.update(dict.fromkeys(_ADMIN_RIGHTS, True))
    elif status == "restricted":
        obj.update({"is_member": True, "until_date": 0})
        obj.update(dict.fromkeys(_MEMBER_RIGHTS, False))
    elif status == "kicked":
        obj["until_date"] = 0
    obj.update(fields)
    return obj


def chat_member_updated(
    chat_obj: Json, actor: Json, old_member: Json, new_member: Json, **fields: Any
) -> Json:
    return {
        "chat": chat_obj,
        "from": actor,
        "date": now(),
        "old_chat_member": old_member,
        "new_chat_member": new_member,
        **fields,
    }


def callback_query(from_user: Json, data: str, *, message_obj: Json | None = None) -> Json:
    obj: Json = {
        "id": str(secrets.randbelow(10**18)),
        "from": from_user,
        "chat_instance": str(secrets.randbelow(10**18)),
        "data": data,
    }
    if message_obj is not None:
        obj["message"] = message_obj
    return obj


def chat_join_request(chat_obj: Json, from_user: Json, **fields: Any) -> Json:
    return {
        "chat": chat_obj,
        "from": from_user,
        "user_chat_id": from_user["id"],
        "date": now(),
        **fields,
    }


def webhook_info(url: str, pending_update_count: int) -> Json:
    return {
        "url": url,
        "has_custom_certificate": False,
        "pending_update_count": pending_update_count,
    }
