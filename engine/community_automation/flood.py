"""Anti-flood counting shared by every worker: one UserFlowContext row per message.

A message is recorded (flow: the community's rules flow; scope: the member in the chat;
key: the event id, so a redelivery is not counted twice; expiry: the end of the window)
and committed before counting, so of two messages racing in two workers the one that
counts last sees both: a burst is never missed. Each message at or past the limit is a
flood message (deleted); the member's sanction is claimed once per burst by inserting a
second, unique row, so racing workers warn or mute once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from engine.db import session_scope
from engine.models import UserFlowContext

SANCTIONED = "sanctioned"


@dataclass(frozen=True)
class FloodCount:
    messages: int  # in the window, this one included
    flooding: bool
    sanction: bool  # this message is the one that sanctions the burst


def _scope(platform: str, chat_id: str, user_id: str) -> str:
    return f"flood:{platform}:{chat_id}:{user_id}"[:128]


def count_message(
    flow_id: int,
    platform: str,
    chat_id: str,
    user_id: str,
    event_id: str,
    at: datetime,
    *,
    limit: int,
    seconds: int,
) -> FloodCount:
    """Record one message and say whether it floods (``limit`` in ``seconds``)."""
    scope = _scope(platform, chat_id, user_id)
    with session_scope() as session:
        _forget_expired(session, flow_id, scope, at)
        _insert(session, flow_id, scope, event_id[:128], at + timedelta(seconds=seconds))
    with session_scope() as session:
        messages = session.exec(
            select(sa.func.count())
            .select_from(UserFlowContext)
            .where(
                UserFlowContext.flow_id == flow_id,
                UserFlowContext.scope == scope,
                UserFlowContext.key != SANCTIONED,
                col(UserFlowContext.expires_at) > at,
            )
        ).one()
    if messages < limit:
        return FloodCount(messages, False, False)
    with session_scope() as session:
        first = _insert(session, flow_id, scope, SANCTIONED, at + timedelta(seconds=seconds))
    return FloodCount(messages, True, first)


def _forget_expired(session: Session, flow_id: int, scope: str, now: datetime) -> None:
    session.exec(
        sa.delete(UserFlowContext).where(
            col(UserFlowContext.flow_id) == flow_id,
            col(UserFlowContext.scope) == scope,
            col(UserFlowContext.expires_at) <= now,
        )
    )


def _insert(session: Session, flow_id: int, scope: str, key: str, expires_at: datetime) -> bool:
    """Insert the row; False when it exists (a redelivery, or a racing worker won)."""
    try:
        with session.begin_nested():
            session.add(
                UserFlowContext(
                    flow_id=flow_id, scope=scope, key=key, value=None, expires_at=expires_at
                )
            )
    except sa.exc.IntegrityError:
        return False
    return True
