"""Builders of Discord API objects (plain dicts, as the API sends them) for the fake and tests.

Each builder fills the fields Discord always sends, so hikari deserialises the result into its
entities exactly as it would real traffic. Ids are snowflakes minted from the current time.
"""

from __future__ import annotations

import copy
import datetime
import itertools
import secrets
import time
from typing import Any

Json = dict[str, Any]

DISCORD_EPOCH_MS = 1_420_070_400_000
_increment = itertools.count()


def snowflake() -> str:
    """A fresh, time-ordered snowflake id (as Discord sends ids: strings)."""
    ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
    return str((ms << 22) | (next(_increment) % 4096))


def iso_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


def user(user_id: int | str, username: str | None = None, *, bot: bool = False) -> Json:
    obj: Json = {
        "id": str(user_id),
        "username": username or f"user{user_id}",
        "discriminator": "0",
        "global_name": username or f"User {user_id}",
        "avatar": None,
        "public_flags": 0,
    }
    if bot:
        obj["bot"] = True
    return obj


def own_user(user_id: int | str, username: str) -> Json:
    """``GET /users/@me`` for a bot: the user plus the account fields only the owner sees."""
    return {
        **user(user_id, username, bot=True),
        "mfa_enabled": False,
        "verified": True,
        "flags": 0,
        "locale": "en-US",
        "premium_type": 0,
        "email": None,
    }


def application(app_id: int | str, owner: Json, name: str) -> Json:
    return {
        "id": str(app_id),
        "name": name,
        "icon": None,
        "description": "",
        "bot_public": True,
        "bot_require_code_grant": False,
        "owner": owner,
        "verify_key": secrets.token_hex(32),
        "flags": 0,
        "team": None,
        "summary": "",
        "approximate_guild_count": 1,
        "approximate_user_install_count": 0,
    }


def member(
    user_obj: Json, *, roles: list[str] | None = None, nick: str | None = None, **fields: Any
) -> Json:
    return {
        "user": user_obj,
        "nick": nick,
        "avatar": None,
        "roles": roles or [],
        "joined_at": iso_now(),
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "flags": 0,
        "communication_disabled_until": None,
        **fields,
    }


def message(
    channel_id: int | str,
    author: Json,
    content: str = "",
    *,
    guild_id: int | str | None = None,
    message_id: str | None = None,
    **fields: Any,
) -> Json:
    obj: Json = {
        "id": message_id or snowflake(),
        "channel_id": str(channel_id),
        "author": author,
        "content": content,
        "timestamp": iso_now(),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "components": [],
        "pinned": False,
        "type": 0,
        "flags": 0,
    }
    if guild_id is not None:
        obj["guild_id"] = str(guild_id)
    obj.update({key: value for key, value in fields.items() if value is not None})
    obj["components"] = numbered(obj["components"])
    return obj


def numbered(rows: list[Json]) -> list[Json]:
    """Components as Discord returns them: each row and component with an ``id`` (numbered
    in order where the sender gave none), which hikari requires."""
    rows = copy.deepcopy(rows)
    counter = 0
    for row in rows:
        counter += 1
        row.setdefault("id", counter)
        for component in row.get("components", []):
            counter += 1
            component.setdefault("id", counter)
    return rows


def attachment(filename: str, size: int, content_type: str | None = None) -> Json:
    attachment_id = snowflake()
    url = f"https://cdn.discordapp.com/attachments/{attachment_id}/{filename}"
    return {
        "id": attachment_id,
        "filename": filename,
        "size": size,
        "url": url,
        "proxy_url": url,
        "content_type": content_type,
    }


def channel(
    channel_id: int | str,
    channel_type: int = 0,
    *,
    guild_id: int | str | None = None,
    name: str | None = None,
    **fields: Any,
) -> Json:
    """A channel of any type: 0 text, 1 DM, 2 voice, 4 category, 11/12 public/private thread."""
    obj: Json = {"id": str(channel_id), "type": channel_type}
    if channel_type == 1:
        return {
            **obj,
            "last_message_id": None,
            "recipients": fields.pop("recipients", []),
            **fields,
        }
    obj.update(
        {
            "guild_id": str(guild_id) if guild_id else None,
            "name": name or f"channel-{channel_id}",
            "position": 0,
            "permission_overwrites": [],
            "parent_id": None,
            "nsfw": False,
        }
    )
    if channel_type in (0, 5):
        obj.update({"topic": None, "last_message_id": None, "rate_limit_per_user": 0})
    if channel_type in (2, 13):
        obj.update({"bitrate": 64000, "user_limit": 0, "rtc_region": None})
    if channel_type in (10, 11, 12):
        obj.update(
            {
                "owner_id": fields.pop("owner_id", None),
                "last_message_id": None,
                "rate_limit_per_user": 0,
                "message_count": 0,
                "member_count": 1,
                "thread_metadata": {
                    "archived": False,
                    "auto_archive_duration": 1440,
                    "archive_timestamp": iso_now(),
                    "locked": False,
                    "invitable": True,
                    "create_timestamp": iso_now(),
                },
            }
        )
    obj.update({key: value for key, value in fields.items() if value is not None})
    return obj


def role(role_id: int | str, name: str = "new role", **fields: Any) -> Json:
    return {
        "id": str(role_id),
        "name": name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": 1,
        "permissions": "0",
        "managed": False,
        "mentionable": False,
        "flags": 0,
        **{key: value for key, value in fields.items() if value is not None},
    }


def guild(guild_id: int | str, name: str, owner_id: int | str, **fields: Any) -> Json:
    """A full guild as in GUILD_CREATE (with ``channels``, ``members`` … lists); the REST
    ``GET /guilds/{guild}`` fields are included too, which the gateway payload may carry."""
    everyone = role(guild_id, "@everyone", position=0, permissions="1071698660929")
    obj: Json = {
        "id": str(guild_id),
        "name": name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "owner_id": str(owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": [everyone],
        "emojis": [],
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "application_id": None,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "vanity_url_code": None,
        "description": None,
        "banner": None,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": None,
        "nsfw_level": 0,
        "premium_progress_bar_enabled": False,
        "joined_at": iso_now(),
        "large": False,
        "unavailable": False,
        "member_count": 0,
        "voice_states": [],
        "members": [],
        "channels": [],
        "threads": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "max_video_channel_users": 25,
        "safety_alerts_channel_id": None,
        "max_members": 500_000,
        "max_presences": None,
        "approximate_member_count": 1,
        "approximate_presence_count": 1,
    }
    obj.update(fields)
    return obj


def own_guild(guild_obj: Json, user_id: str, permissions: int) -> Json:
    """A guild as ``GET /users/@me/guilds?with_counts=true`` lists it."""
    return {
        "id": guild_obj["id"],
        "name": guild_obj["name"],
        "icon": guild_obj["icon"],
        "banner": None,
        "owner": guild_obj["owner_id"] == user_id,
        "permissions": str(permissions),
        "features": guild_obj["features"],
        "approximate_member_count": len(guild_obj["members"]),
        "approximate_presence_count": 1,
    }


def invite(channel_obj: Json, inviter: Json, **fields: Any) -> Json:
    max_age = int(fields.pop("max_age", 86400))
    obj: Json = {
        "type": 0,
        "code": secrets.token_urlsafe(6).replace("-", "a").replace("_", "b"),
        "channel": {
            "id": channel_obj["id"],
            "name": channel_obj.get("name"),
            "type": channel_obj["type"],
        },
        "inviter": inviter,
        "uses": 0,
        "max_uses": int(fields.pop("max_uses", 0)),
        "max_age": max_age,
        "temporary": bool(fields.pop("temporary", False)),
        "created_at": iso_now(),
        "expires_at": None,
    }
    if guild_id := channel_obj.get("guild_id"):
        obj["guild"] = {
            "id": guild_id,
            "name": "guild",
            "splash": None,
            "banner": None,
            "description": None,
            "icon": None,
            "features": [],
            "verification_level": 0,
            "vanity_url_code": None,
            "nsfw_level": 0,
        }
    obj.update(fields)
    return obj


def scheduled_event(guild_id: int | str, creator: Json, body: Json) -> Json:
    return {
        "id": snowflake(),
        "guild_id": str(guild_id),
        "channel_id": body.get("channel_id"),
        "creator_id": creator["id"],
        "creator": creator,
        "name": body.get("name", "event"),
        "description": body.get("description"),
        "scheduled_start_time": body.get("scheduled_start_time", iso_now()),
        "scheduled_end_time": body.get("scheduled_end_time"),
        "privacy_level": body.get("privacy_level", 2),
        "status": 1,
        "entity_type": body.get("entity_type", 3),
        "entity_id": None,
        "entity_metadata": body.get("entity_metadata"),
        "user_count": 0,
        "image": None,
    }


def application_command(app_id: int | str, body: Json, guild_id: int | str | None = None) -> Json:
    return {
        "id": snowflake(),
        "type": body.get("type", 1),
        "application_id": str(app_id),
        "guild_id": str(guild_id) if guild_id else None,
        "name": body["name"],
        "name_localizations": body.get("name_localizations"),
        "description": body.get("description", ""),
        "description_localizations": body.get("description_localizations"),
        "options": body.get("options", []),
        "default_member_permissions": body.get("default_member_permissions"),
        "dm_permission": body.get("dm_permission", True),
        "nsfw": body.get("nsfw", False),
        "version": snowflake(),
        "integration_types": body.get("integration_types", [0]),
        "contexts": body.get("contexts"),
    }


def interaction_callback(interaction_id: str, callback_type: int, message_obj: Json | None) -> Json:
    """The ``?with_response=true`` answer of ``POST /interactions/{id}/{token}/callback``."""
    resource: Json = {"type": callback_type}
    if message_obj is not None:
        resource["message"] = message_obj
    interaction: Json = {"id": interaction_id, "type": 2}
    if message_obj is not None:  # Discord leaves the message fields out when there is none
        interaction.update(
            response_message_id=message_obj["id"],
            response_message_loading=callback_type == 5,
            response_message_ephemeral=bool(message_obj["flags"] & 64),
        )
    return {"interaction": interaction, "resource": resource}


def gateway_bot(url: str) -> Json:
    return {
        "url": url,
        "shards": 1,
        "session_start_limit": {
            "total": 1000,
            "remaining": 999,
            "reset_after": 14_400_000,
            "max_concurrency": 1,
        },
    }
