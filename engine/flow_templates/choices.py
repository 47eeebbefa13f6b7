"""What a template's pickers offer (real connections, chats, communities) and the check of
what comes back: an answer must be one of the offered choices, whatever client sent it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from engine.flow_templates.base import FlowTemplate, Need
from engine.models import BotInstance, Chat, Community, PlatformConnection


class TemplateAnswerError(ValueError):
    """A picker left empty or answered with something it did not offer."""


@dataclass(frozen=True)
class Choice:
    """One option of a picker: ``value`` is what the picker sends back."""

    value: str
    label: str
    detail: str


def choices(session: Session, need: Need, picked: Mapping[str, Any]) -> list[Choice]:
    """The options of ``need``; a chat picker offers the chats of the connection picked for
    its ``need.connection`` (none until one is picked)."""
    if need.kind == "connection":
        rows = session.exec(
            select(BotInstance, PlatformConnection)
            .join(PlatformConnection, col(PlatformConnection.bot_instance_id) == BotInstance.id)
            .where(BotInstance.kind == need.platform)
            .order_by(sa.func.lower(BotInstance.name), col(BotInstance.id))
        ).all()
        return [
            Choice(str(i.id), i.name, f"connection {c.id}" + ("" if c.is_active else ", paused"))
            for i, c in rows
        ]
    if need.kind == "chat":
        instance_id = _int(picked.get(need.connection))
        if instance_id is None:
            return []
        query = select(Chat).where(
            Chat.platform == need.platform,
            Chat.bot_instance_id == instance_id,
            col(Chat.gone_at).is_(None),
        )
        if need.chat_types:
            query = query.where(col(Chat.type).in_(need.chat_types))
        chats = session.exec(query.order_by(sa.func.lower(Chat.title), col(Chat.id))).all()
        return [
            Choice(
                str(c.id),
                c.title or c.username or c.platform_chat_id,
                f"{c.type} {c.platform_chat_id}",
            )  # fmt: skip
            for c in chats
        ]
    communities = session.exec(
        select(Community).order_by(sa.func.lower(Community.name), col(Community.id))
    ).all()
    return [Choice(str(c.id), c.name, f"community {c.id}") for c in communities]


def resolve(session: Session, template: FlowTemplate, picked: Mapping[str, Any]) -> dict[str, Any]:
    """The values the template's nodes take (instance ids, platform chat ids, community
    ids) for the picked choices; TemplateAnswerError names the first picker not answered
    with one of its own choices."""
    answers: dict[str, Any] = {}
    for need in template.needs:
        value = picked.get(need.key)
        if value in (None, ""):
            raise TemplateAnswerError(f"Pick the {need.label.lower()}.")
        offered = {c.value for c in choices(session, need, picked)}
        if str(value) not in offered:
            raise TemplateAnswerError(f"{need.label}: pick one of the offered choices.")
        if need.kind == "chat":
            chat = session.get(Chat, int(value))
            assert chat is not None  # it was offered
            answers[need.key] = chat.platform_chat_id
        else:
            answers[need.key] = int(value)
    return answers


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
