"""Broadcasts ready for delivery, made in a few lines, for the delivery tests and bench.

Rows are written as ``engine.services.broadcasts.send`` leaves them: the broadcast
``sending`` (or ``scheduled``) with one ``pending`` target per chat.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import select

from engine.db import session_scope
from engine.models import (
    BotInstance,
    BroadcastMessage,
    BroadcastStatus,
    BroadcastTarget,
    Platform,
    TargetStatus,
)
from engine.models.connections import ConnectorKind

Target = tuple[str, int | None, str]  # connector kind, bot instance id, platform chat id


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
    status: BroadcastStatus = BroadcastStatus.sending,
    scheduled_at: datetime | None = None,
) -> int:
    with session_scope() as session:
        message = BroadcastMessage(
            title="Announcement",
            text=text,
            overrides=overrides or {},
            buttons=buttons or [],
            status=status,
            scheduled_at=scheduled_at,
        )
        session.add(message)
        session.flush()
        assert message.id is not None
        session.add_all(
            BroadcastTarget(
                broadcast_id=message.id,
                platform=Platform(kind.split("_")[0]),
                connector_kind=kind,
                bot_instance_id=instance_id,
                platform_chat_id=chat_id,
            )
            for kind, instance_id, chat_id in targets
        )
        return message.id


def targets_of(broadcast_id: int) -> list[BroadcastTarget]:
    with session_scope() as session:
        return list(
            session.exec(
                select(BroadcastTarget)
                .where(BroadcastTarget.broadcast_id == broadcast_id)
                .order_by(BroadcastTarget.id)
            ).all()
        )


def status_of(broadcast_id: int) -> BroadcastStatus:
    with session_scope() as session:
        message = session.get(BroadcastMessage, broadcast_id)
        assert message is not None
        return message.status


def statuses(broadcast_id: int) -> list[TargetStatus]:
    return [target.status for target in targets_of(broadcast_id)]
