"""Broadcasts composed and sent through engine/services/broadcasts.py in a line, for the
delivery tests and the benchmark: one community holds a chat per target, and the admin
sends a draft to it (now, or at a time)."""

from __future__ import annotations

import itertools
from datetime import datetime

from sqlmodel import select

from engine.db import session_scope
from engine.models import (
    BotInstance,
    BroadcastMessage,
    BroadcastStatus,
    BroadcastTarget,
    Chat,
    Community,
    TargetStatus,
)
from engine.models.connections import ConnectorKind
from engine.services import broadcasts
from engine.services.broadcasts import BroadcastDraft
from tests.flow_helpers import make_admin

Target = tuple[str, int, str]  # connector kind, bot instance id, platform chat id
_communities = itertools.count(1)


def bot_instance(kind: str = "telegram_bot", name: str = "broadcaster") -> int:
    with session_scope() as session:
        bot = BotInstance(name=name, kind=ConnectorKind(kind))
        session.add(bot)
        session.flush()
        assert bot.id is not None
        return bot.id


def broadcast(
    targets: list[Target],
    *,
    text: str = "**Hello** everyone",
    buttons: list[list[dict[str, str]]] | None = None,
    overrides: dict[str, str] | None = None,
    at: datetime | None = None,
) -> int:
    """A broadcast sent (or scheduled ``at``) to these chats, in the order given."""
    admin = make_admin()
    with session_scope() as session:
        community = Community(name=f"Audience {next(_communities)}")
        session.add(community)
        session.flush()
        session.add_all(
            Chat(
                platform=kind.split("_")[0],
                platform_chat_id=chat_id,
                title=f"chat {index:06d}",
                bot_instance_id=instance_id,
                community_id=community.id,
                # A Discord chat with no parent is a guild, which takes no messages.
                parent_chat_id="guild" if kind == "discord_bot" else None,
            )
            for index, (kind, instance_id, chat_id) in enumerate(targets)
        )
        draft = BroadcastDraft(
            title="Announcement",
            text=text,
            overrides=overrides or {},
            buttons=buttons or [],
            community_ids=[community.id or 0],
        )
        view = broadcasts.create_draft(session, admin, draft)
        broadcasts.send(session, admin, view.id, at=at)
        return view.id


def targets_of(broadcast_id: int) -> list[BroadcastTarget]:
    with session_scope() as session:
        return list(
            session.exec(
                select(BroadcastTarget)
                .where(BroadcastTarget.broadcast_id == broadcast_id)
                .order_by(BroadcastTarget.title)
            ).all()
        )


def status_of(broadcast_id: int) -> BroadcastStatus:
    with session_scope() as session:
        message = session.get(BroadcastMessage, broadcast_id)
        assert message is not None
        return message.status


def statuses(broadcast_id: int) -> list[TargetStatus]:
    return [target.status for target in targets_of(broadcast_id)]
