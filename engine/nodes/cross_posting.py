"""The ``cross_post`` node: post the trigger's message to other chats, shaped per platform by a
cross-post template (engine/services/cross_posting.py) and/or the node's own formats.

The message goes out as a rule's copies do: the format's result is Flowbot markdown,
rendered per platform and posted through engine/message_format.py, so a template looks the
same whether a rule or a flow uses it. A ``template_id`` that names no template fails the
step with a clear error (flows are saved without looking templates up).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar

from pydantic import Field
from sqlmodel import Session, col, select

from engine.db import in_session
from engine.expressions import Scope
from engine.message_format import OutgoingMessage, message_calls, render
from engine.models import Chat, CrossPostTemplate
from engine.nodes.base import DiscoveredChatRef, NodeParams, NodeResult, RunContext
from engine.nodes.community_data import community_targets, require_community
from engine.nodes.cross_platform import (
    TEXT_FIELD,
    PlatformName,
    Target,
    call_recorded,
    cross_platform,
    delivery_summary,
)
from engine.platform_event import PlatformEvent
from engine.services.cross_posting import (
    VARIABLES,
    SourceMessage,
    connector_of,
    render_format,
    source_message,
)


class CrossPostParams(NodeParams):
    # The formats are the flow author's templates; the message is the text of whoever
    # wrote in the chat, so it is only ever substituted as a value, never rendered.
    template_fields: ClassVar[Mapping[str, tuple[str, ...]]] = {"formats": VARIABLES}

    text: str = TEXT_FIELD
    template_id: int | None = Field(
        default=None,
        description="Cross-post template whose per-platform formats shape the message; "
        "empty means the formats below, else the text as is",
        examples=[3],
    )
    chat_ids: list[DiscoveredChatRef] = Field(
        default_factory=list,
        max_length=50,
        description="Discovered chats to post to; empty means every linked chat of the "
        "trigger's community",
        examples=[[4, 9]],
    )
    formats: dict[PlatformName, str] = Field(
        default_factory=dict,
        description="Per-platform format over text, author, chat, link, media; "
        "overrides the template's",
        examples=[{"telegram": "**{{ text }}**", "discord": "> {{ text }} ({{ author }})"}],
    )


def _plan(
    session: Session, trigger: Mapping[str, Any], p: CrossPostParams
) -> tuple[list[Target], dict[str, str], SourceMessage]:
    formats: dict[str, str] = {}
    if p.template_id is not None:
        template = session.get(CrossPostTemplate, p.template_id)
        if template is None:
            raise ValueError(
                f"cross-post template {p.template_id} does not exist; pick one in the node"
            )
        formats = dict(template.formats)
    if p.chat_ids:
        chats = session.exec(select(Chat).where(col(Chat.id).in_(p.chat_ids))).all()
        targets = [
            Target(str(c.platform), *connector_of(session, c), c.platform_chat_id, c.community_id)
            for c in chats
            if c.gone_at is None
        ]
    else:
        community = require_community(session, trigger)
        targets = community_targets(session, community, "post", trigger)
    event = PlatformEvent.model_validate(trigger)
    chat_id = event.chat.id if event.chat else None
    here = session.exec(
        select(Chat).where(Chat.platform == event.platform, Chat.platform_chat_id == chat_id)
    ).first()
    return (
        [t for t in targets if (t.platform, t.chat_id) != (event.platform, chat_id)],
        formats | p.formats,
        source_message(event, here),
    )


@cross_platform(
    "cross_post",
    "Cross-post",
    "Post a message to other chats, formatted per platform by a cross-post template.",
    CrossPostParams,
)
async def cross_post(ctx: RunContext, p: CrossPostParams) -> NodeResult:
    targets, formats, message = await in_session(_plan, ctx.trigger, p)
    message = replace(message, text=p.text)
    scope = Scope(trigger=ctx.trigger, node=ctx.node_outputs, context=ctx.variables)
    results = []
    for target in targets:
        text = render_format(formats, target.platform, message, scope, fallback=p.text)
        calls = message_calls(
            target.kind, target.chat_id, OutgoingMessage(text), render(text, target.platform)
        )
        for action, params in calls:
            results.append(await call_recorded(ctx, target, action, params))
    return NodeResult(output=delivery_summary(results))
