"""After an event is routed to its flows: record what it says about chats and members, tell
the live pages, and hand it to the community's built-in rules.

Best effort by design: this runs inside ``route_event`` after the flows were started, and
a failure here (a database hiccup, a bug) must not fail the routing: Dramatiq would route
the event again, and the flows it already started are not worth a retry for a member row.
"""

from __future__ import annotations

import logging
from typing import Any

from engine import events
from engine.community_automation import run_rules
from engine.db import session_scope
from engine.platform_event import PlatformEvent
from engine.services import member_ingest
from engine.services.member_ingest import ObservedEvent

log = logging.getLogger(__name__)

MEMBER_JOINED = "community.member_joined"
MEMBER_LEFT = "community.member_left"
CHAT_SEEN = "community.chat_seen"
# A message in a community's chat: the live figures of today (Analytics, the dashboard's
# charts) count it. Ids only; a page gathers a burst into one read.
MESSAGE = "community.message"


def handle(event: PlatformEvent) -> None:
    """Observe ``event``, publish what changed, and run the community's rules on it."""
    try:
        with session_scope() as session:
            observed = member_ingest.observe(session, event)
    except Exception:
        log.exception("event %s not recorded for communities", event.event_id)
        return
    if observed.repeated:
        return  # routed twice: its joins, rules and notices already happened once
    for topic, payload in notices(event, observed):
        events.publish(topic, payload)
    if observed.community_id is not None:
        _run_rules(event, observed.community_id, observed.member_id)


def notices(event: PlatformEvent, observed: ObservedEvent) -> list[tuple[str, dict[str, Any]]]:
    """The bus events for the pages that show chats and members: ids and names only."""
    chat = event.chat
    where = {
        "community_id": observed.community_id,
        "chat_id": observed.chat_id,
        "platform": event.platform,
        "chat_title": chat.title if chat else None,
    }
    found: list[tuple[str, dict[str, Any]]] = []
    if observed.chat_id is not None and (
        event.kind == member_ingest.CHAT_SEEN or observed.first_seen_chat
    ):
        gone = bool(event.data.get("gone")) if event.kind == member_ingest.CHAT_SEEN else False
        found.append(
            (
                CHAT_SEEN,
                where
                | {
                    "platform_chat_id": chat.id if chat else None,
                    "type": chat.type if chat else None,
                    "first_seen": observed.first_seen_chat,
                    "gone": gone,
                },
            )
        )
    if observed.member_id is not None and (observed.joined or observed.left):
        user = event.user
        name = (member_ingest.display_name(user) or user.id) if user else None
        found.append(
            (
                MEMBER_JOINED if observed.joined else MEMBER_LEFT,
                where
                | {
                    "member_id": observed.member_id,
                    "account_id": observed.account_id,
                    "user_id": user.id if user else None,
                    "name": name,
                },
            )
        )
    if observed.community_id is not None and event.kind in member_ingest.MESSAGE_KINDS:
        found.append((MESSAGE, {"community_id": observed.community_id}))
    return found


def _run_rules(event: PlatformEvent, community_id: int, member_id: int | None) -> None:
    try:
        run_rules.send(event.as_trigger(), community_id, member_id)
    except Exception:
        log.exception("rules not sent for event %s", event.event_id)
