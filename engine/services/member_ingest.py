"""Platform events → discovered chats, platform accounts and community members.

``observe`` runs for every routed event, so the common case (a message in a known chat from
a known person) costs a few statements: one read of the chat row(s), which are written only
when something about them changed (a hot chat's row is not locked by every message), one
upsert of the account and one of the member. Upserts (``ON CONFLICT``) rather than
select-then-insert keep two workers observing the same person at once from colliding.

A member's message count must not grow when one event is routed twice (at-least-once
delivery), so member changes are made once per ``event_id`` through ``claim_once``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from engine.broker import claim_once
from engine.db import insert_ignore, table_of
from engine.models import Chat, CommunityMember, MemberRole, PlatformAccount, utcnow
from engine.nodes.utility import stored_time
from engine.platform_event import EventUser, PlatformEvent
from engine.services.community_chats import PLATFORMS

CHAT_SEEN = "chat_seen"
JOIN_KINDS = frozenset({"tg_member_joined", "dc_member_join", "wa_group_joined"})
LEAVE_KINDS = frozenset({"tg_member_left", "dc_member_leave", "wa_group_left"})
# One per message: tg_command/tg_media_message and tgu_mention repeat a tg_message or a
# tgu_message, edits are not new messages; a WhatsApp media message has no other event.
MESSAGE_KINDS = frozenset(
    {
        "tg_message",
        "dc_message",
        "wa_message",
        "wa_group_message",
        "wa_media_message",
        "tgu_message",
    }
)
PRIVATE_TYPES = frozenset({"private", "dm"})
# Events whose chat is not one the bot is in (an anonymous voter's channel) or that must
# not mark a chat seen again (the bot's own removal: its chat_seen says ``gone``).
_NOT_A_SIGHTING = frozenset({"tg_poll_answer"})
_KEEPS_GONE = frozenset({"tg_bot_status_changed"})
# Telegram chat_member statuses → the member's platform role.
_TELEGRAM_ROLES = {
    "creator": MemberRole.owner,
    "administrator": MemberRole.admin,
    "member": MemberRole.member,
    "restricted": MemberRole.member,
}
_LISTED_ROLES = {"owner": MemberRole.owner, "admin": MemberRole.admin}
# route_event drops a message older than an hour (EVENT_MAX_AGE_MS), so a redelivery
# can only come within that time: the "counted once" claim lasts as long.
INGEST_CLAIM_MS = 3_600_000


@dataclass(frozen=True)
class ObservedEvent:
    """What one event changed: the rows it touched, and whether it was a join or a leave.

    ``chat_id`` is the row of the chat the event happened in (for Discord the channel's own
    row; the guild's row decides ``community_id``). ``repeated`` is set for an event already
    observed (routed twice): nothing about its member was counted again.
    """

    chat_id: int | None = None
    community_id: int | None = None
    account_id: int | None = None
    member_id: int | None = None
    joined: bool = False
    left: bool = False
    first_seen_chat: bool = False
    repeated: bool = False


@dataclass(frozen=True)
class _ChatRow:
    id: int
    community_id: int | None
    inserted: bool


def observe(session: Session, event: PlatformEvent) -> ObservedEvent:
    """Record the event's chat(s), account(s) and, in a community's chat, its member."""
    if event.platform not in PLATFORMS:
        return ObservedEvent()
    at = stored_time(event.occurred_at)
    rows = _upsert_chats(session, event)
    own, community_chat = _chat_keys(event)
    chat = rows.get(own) if own else None
    community_id = rows[community_chat].community_id if community_chat in rows else None
    accounts = {  # in one order everywhere: two workers never wait on each other's rows
        user.id: _upsert_account(session, event.platform, user, at)
        for user in sorted(_users(event), key=lambda user: user.id)
    }
    account_id = accounts.get(event.user.id) if event.user else None
    observed = ObservedEvent(
        chat_id=chat.id if chat else None,
        community_id=community_id,
        account_id=account_id,
        first_seen_chat=bool(chat and chat.inserted),
    )
    change = _member_change(event)
    if community_id is None or change is None or not accounts:
        return observed
    if not claim_once(f"member-ingest:{event.event_id}", INGEST_CLAIM_MS):
        return replace(observed, repeated=True)
    members = {
        user_id: change(session, community_id, account, at, event)
        for user_id, account in sorted(accounts.items(), key=lambda item: item[1])
    }
    return replace(
        observed,
        member_id=members.get(event.user.id) if event.user else None,
        joined=event.kind in JOIN_KINDS,
        left=event.kind in LEAVE_KINDS,
    )


def record_members(
    session: Session, community_id: int, platform: str, members: list[dict[str, Any]]
) -> int:
    """Backfill a community from a ``list_members`` answer: accounts and members with their
    platform role, present now (``left_at`` cleared); existing rows are updated, never
    duplicated. How many members were recorded."""
    listed: dict[str, tuple[EventUser, str | None, MemberRole]] = {}
    for entry in members:
        user = EventUser.model_validate(entry["user"])
        role = _LISTED_ROLES.get(str(entry.get("role")), MemberRole.member)
        listed[user.id] = (user, entry.get("phone"), role)
    now = stored_time(utcnow())
    entries = list(listed.values())
    if not entries:
        return 0
    ids = _upsert_accounts(
        session,
        [_account_values(platform, user, now, phone) for user, phone, _ in entries],
        seen=False,  # listed is not seen active: last_seen_at is left as it was
    )
    _upsert_listed_members(
        session,
        [
            {
                "community_id": community_id,
                "platform_account_id": ids[user.id[:64]],
                "role": role.value,
                "joined_at": now,
                "left_at": None,
                "message_count": 0,
                "is_banned": False,
            }
            for user, _, role in entries
        ],
    )
    return len(entries)


# --- chats -------------------------------------------------------------------------------------


def _chat_keys(event: PlatformEvent) -> tuple[str | None, str | None]:
    """The event's own chat and the chat that links it to a community (a Discord guild)."""
    chat = event.chat
    if chat is None or chat.type in PRIVATE_TYPES or event.kind in _NOT_A_SIGHTING:
        return None, None
    if event.platform == "discord":
        return chat.id, _guild_of(event) or chat.id
    return chat.id, chat.id


def _guild_of(event: PlatformEvent) -> str | None:
    """The guild of a Discord channel; None when the chat is the guild itself."""
    chat = event.chat
    if chat is None or chat.guild_id in (None, chat.id):
        return None
    return chat.guild_id


def _described(event: PlatformEvent) -> dict[str, dict[str, Any]]:
    """Each chat row the event speaks of → the columns it says something about."""
    own, _ = _chat_keys(event)
    if own is None or event.chat is None:
        return {}
    chat, guild = event.chat, _guild_of(event)
    said: dict[str, Any] = {}
    if chat.title is not None:
        said["title"] = chat.title[:256]
    # A mapper calls every guild channel "guild"; only chat_seen knows a channel's own type.
    if event.kind == CHAT_SEEN or not (guild and chat.type == "guild"):
        said["type"] = chat.type
    if guild is not None:
        said["parent_chat_id"] = guild
    if event.kind == CHAT_SEEN:
        said.update(_seen_facts(event.data))
    elif event.kind not in _KEEPS_GONE:
        said["gone_at"] = None  # the bot is there: an event came from it
    described = {own: said}
    if guild is not None:
        described[guild] = {"type": "guild"} | (
            {} if event.kind in _KEEPS_GONE or event.kind == CHAT_SEEN else {"gone_at": None}
        )
    return described


def _seen_facts(data: Mapping[str, Any]) -> dict[str, Any]:
    """What a chat_seen says. What it leaves out (None; no rights, as a ``list_chats``
    refresh gives none) keeps the known value; a chat the bot left keeps no rights."""
    gone = bool(data.get("gone"))
    facts: dict[str, Any] = {"gone_at": stored_time(utcnow()) if gone else None}
    if data.get("bot_rights") or gone:
        facts["bot_rights"] = dict(data.get("bot_rights") or {})
    known = ("username", "member_count", "bot_is_admin")
    return facts | {name: data[name] for name in known if data.get(name) is not None}


def _upsert_chats(session: Session, event: PlatformEvent) -> dict[str, _ChatRow]:
    """Insert the chats not known yet, update the known ones where the event says something
    new; one SELECT when nothing changed."""
    described = _described(event)
    own, _ = _chat_keys(event)
    if not described or own is None:
        return {}
    columns = sorted({name for said in described.values() for name in said})
    found = _chat_rows(session, event.platform, list(described), columns)
    inserted = {
        chat_id
        for chat_id, said in described.items()
        if chat_id not in found and _insert_chat(session, event, chat_id, said)
    }
    if len(found) < len(described):  # rows new, by this event or another worker's
        found = _chat_rows(session, event.platform, list(described), columns)
    for chat_id, said in described.items():
        if chat_id not in inserted:
            _update_chat(session, event, found[chat_id], said)
    guild_gone = event.platform == "discord" and _guild_of(event) is None
    if guild_gone and described[own].get("gone_at") is not None:
        _channels_gone(session, own, described[own]["gone_at"])
    return {
        chat_id: _ChatRow(row.id, row.community_id, chat_id in inserted)
        for chat_id, row in found.items()
    }


def _chat_rows(
    session: Session, platform: str, chat_ids: list[str], columns: list[str]
) -> dict[str, Any]:
    table = table_of(Chat)
    query = sa.select(
        table.c.id,
        table.c.platform_chat_id,
        table.c.community_id,
        table.c.bot_instance_id,
        *(table.c[name] for name in columns if name != "bot_instance_id"),
    ).where(table.c.platform == platform, table.c.platform_chat_id.in_(chat_ids))
    return {row.platform_chat_id: row for row in session.execute(query)}


def _insert_chat(
    session: Session, event: PlatformEvent, chat_id: str, said: dict[str, Any]
) -> bool:
    now = stored_time(utcnow())
    values = {
        "platform": event.platform,
        "platform_chat_id": chat_id,
        "bot_instance_id": event.instance_id,
        "type": "text" if "parent_chat_id" in said else "group",  # a guild's channel, or not
        "title": "",
        "bot_is_admin": False,
        "bot_rights": {},
        "first_seen_at": now,
        "updated_at": now,
        **said,
    }
    return insert_ignore(session, table_of(Chat), values, ["platform", "platform_chat_id"])


def _update_chat(session: Session, event: PlatformEvent, row: Any, said: dict[str, Any]) -> None:
    """Write only what changed; a chat already gone keeps the time it went."""
    changes = {name: value for name, value in said.items() if getattr(row, name) != value}
    if changes.get("gone_at") is not None and row.gone_at is not None:
        del changes["gone_at"]
    claims_chat = event.kind == CHAT_SEEN or row.bot_instance_id is None
    if claims_chat and event.instance_id is not None and row.bot_instance_id != event.instance_id:
        changes["bot_instance_id"] = event.instance_id
    if changes:
        table = table_of(Chat)
        session.execute(
            sa.update(table)
            .where(table.c.id == row.id)
            .values(**changes, updated_at=stored_time(utcnow()))
        )


def _channels_gone(session: Session, guild_id: str, gone_at: datetime) -> None:
    """A guild the bot left takes its channels with it (Discord says so only of the guild)."""
    table = table_of(Chat)
    session.execute(
        sa.update(table)
        .where(
            table.c.platform == "discord",
            table.c.parent_chat_id == guild_id,
            table.c.gone_at.is_(None),
        )
        .values(gone_at=gone_at, updated_at=gone_at)
    )


# --- accounts ----------------------------------------------------------------------------------


def _users(event: PlatformEvent) -> list[EventUser]:
    """Who the event is about: its user, and every participant of a WhatsApp group change."""
    users = [event.user] if event.user is not None else []
    if event.kind in JOIN_KINDS | LEAVE_KINDS:
        known = {user.id for user in users}
        users += [
            EventUser(id=str(jid))
            for jid in event.data.get("participants") or ()
            if str(jid) not in known
        ]
    return users


def _phone(platform: str, user_id: str) -> str | None:
    """A WhatsApp account's phone number, from its JID (``4915112345678:3@s.whatsapp.net``)."""
    user, _, server = user_id.partition("@")
    number = user.split(":")[0]
    if platform != "whatsapp" or server != "s.whatsapp.net" or not number.isdigit():
        return None
    return f"+{number}"


def display_name(user: EventUser) -> str:
    """The name people see, whatever the platform gave; empty when it gave none."""
    name = user.display_name or " ".join(filter(None, [user.first_name, user.last_name]))
    return name or user.username or ""


def _account_values(
    platform: str, user: EventUser, seen_at: datetime, phone: str | None = None
) -> dict[str, Any]:
    return {
        "platform": platform,
        "platform_user_id": user.id[:64],
        "username": user.username,
        "display_name": display_name(user)[:256],
        "language": user.language,
        "phone": phone or _phone(platform, user.id),
        "is_bot": user.is_bot,
        "first_seen_at": seen_at,
        "last_seen_at": seen_at,
    }


def _upsert_account(session: Session, platform: str, user: EventUser, seen_at: datetime) -> int:
    return _upsert_accounts(session, [_account_values(platform, user, seen_at)])[user.id[:64]]


def _upsert_accounts(
    session: Session, rows: list[dict[str, Any]], *, seen: bool = True
) -> dict[str, int]:
    """Insert or refresh accounts; platform user id → row id. What an event leaves out (a
    WhatsApp participant has only a JID) keeps its known value; last seen only moves on,
    and only when they were ``seen`` (not merely listed)."""
    table = table_of(PlatformAccount)
    statement = _insert(session, table)
    new = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["platform", "platform_user_id"],
        set_={
            "username": sa.func.coalesce(new.username, table.c.username),
            "display_name": sa.case(
                (new.display_name == "", table.c.display_name), else_=new.display_name
            ),
            "language": sa.func.coalesce(new.language, table.c.language),
            "phone": sa.func.coalesce(new.phone, table.c.phone),
            "is_bot": sa.or_(table.c.is_bot, new.is_bot),
        }
        | ({"last_seen_at": _later(table.c.last_seen_at, new.last_seen_at)} if seen else {}),
    )
    # Executemany: SQLAlchemy batches the rows into few statements, compiled once.
    returned = session.execute(statement.returning(table.c.id, table.c.platform_user_id), rows)
    return {platform_user_id: account_id for account_id, platform_user_id in returned}


# --- members -----------------------------------------------------------------------------------


def _member_change(event: PlatformEvent) -> Any:
    if event.kind in JOIN_KINDS:
        return _joined
    if event.kind in LEAVE_KINDS:
        return _left
    if event.kind in MESSAGE_KINDS:
        return _messaged
    return None


def _member_upsert(session: Session, values: dict[str, Any], changes: Mapping[str, Any]) -> int:
    table = table_of(CommunityMember)
    defaults = {"role": MemberRole.member.value, "message_count": 0, "is_banned": False}
    statement = _insert(session, table).values({**defaults, **values})
    statement = statement.on_conflict_do_update(
        index_elements=["community_id", "platform_account_id"],
        set_={name: change(table.c, statement.excluded) for name, change in changes.items()},
    )
    member_id: int = session.execute(statement.returning(table.c.id)).scalar_one()
    return member_id


def _joined(
    session: Session, community_id: int, account_id: int, at: datetime, event: PlatformEvent
) -> int:
    """Present again (unless a later leave is already recorded); first join time kept."""
    role = _TELEGRAM_ROLES.get(str(event.data.get("new_status")))
    values = {"community_id": community_id, "platform_account_id": account_id, "joined_at": at}
    changes: dict[str, Any] = {
        "left_at": lambda old, new: sa.case((old.left_at > at, old.left_at), else_=None)
    }
    if role is not None:
        values["role"] = role.value
        changes["role"] = lambda old, new: new.role
    return _member_upsert(session, values, changes)


def _left(
    session: Session, community_id: int, account_id: int, at: datetime, event: PlatformEvent
) -> int:
    values = {
        "community_id": community_id,
        "platform_account_id": account_id,
        "joined_at": at,
        "left_at": at,
    }
    return _member_upsert(session, values, {"left_at": lambda old, new: new.left_at})


def _messaged(
    session: Session, community_id: int, account_id: int, at: datetime, event: PlatformEvent
) -> int:
    """One more message; someone who writes after leaving is back."""
    values = {
        "community_id": community_id,
        "platform_account_id": account_id,
        "joined_at": at,
        "last_active_at": at,
        "message_count": 1,
    }
    changes = {
        "message_count": lambda old, new: old.message_count + 1,
        "last_active_at": lambda old, new: _later(old.last_active_at, new.last_active_at),
        "left_at": lambda old, new: sa.case((old.left_at < at, None), else_=old.left_at),
    }
    return _member_upsert(session, values, changes)


def _upsert_listed_members(session: Session, rows: list[dict[str, Any]]) -> None:
    table = table_of(CommunityMember)
    statement = _insert(session, table)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["community_id", "platform_account_id"],
            set_={"role": statement.excluded.role, "left_at": None},
        ),
        rows,
    )


# --- helpers -----------------------------------------------------------------------------------


def _insert(session: Session, table: sa.Table) -> Any:
    """The dialect's INSERT, which has ON CONFLICT (SQLite and PostgreSQL)."""
    dialect = session.get_bind().dialect.name
    return {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect](table)


def _later(current: Any, candidate: Any) -> Any:
    """The later of two times, NULL counting as earliest (portable: no GREATEST in SQLite)."""
    return sa.case((sa.or_(current.is_(None), current < candidate), candidate), else_=current)
