"""Where the health check tells admins that something went down or came back: a chat
on one of the connections (sent through the pool, as flows send) or an outgoing webhook
(sent like the http_request node: private addresses refused unless allow-listed).

Stored as one instance-wide ``AppSetting``; only admins read or change it, since a
webhook URL may carry a secret of its own.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from typing import Any, Literal

import httpx
from sqlmodel import Session

from engine import pool_client
from engine.action_errors import ActionError
from engine.db import session_scope
from engine.models import AdminUser, AppSetting, BotInstance, Role, utcnow
from engine.nodes.utility import HttpRequestParams, RequestRefused, send_pinned
from engine.platform_calls import CONNECTORS, message_call
from engine.services import audit
from engine.services.auth import require_role
from engine.services.connections import URL

SETTING_KEY = "health.notifications"
WEBHOOK_TIMEOUT = 10.0

ChannelKind = Literal["chat", "webhook"]


class InvalidChannel(ValueError):
    """A notification channel refused, with a message fit to show the admin."""


@dataclass(frozen=True)
class Channel:
    """A chat (``instance_id`` + ``chat_id``) or a webhook (``url``)."""

    kind: ChannelKind
    instance_id: int | None = None
    chat_id: str = ""
    url: str = ""


class NoticeFailed(RuntimeError):
    """The notice did not go through; the message says why (recorded on the incident)."""


def load_channel(session: Session) -> Channel | None:
    """The stored channel, for the health check (no user: it is the system acting)."""
    row = session.get(AppSetting, SETTING_KEY)
    if row is None or not isinstance(row.value, dict):
        return None
    return Channel(**row.value)


def get_channel(session: Session, actor: AdminUser) -> Channel | None:
    require_role(actor, Role.admin)
    return load_channel(session)


def set_channel(session: Session, actor: AdminUser, channel: Channel | None) -> Channel | None:
    """Choose the channel (None: notify nobody); refused unless it can be used."""
    require_role(actor, Role.admin)
    if channel is not None:
        channel = _checked(session, channel)
    row = session.get(AppSetting, SETTING_KEY) or AppSetting(key=SETTING_KEY)
    row.value = asdict(channel) if channel else None
    row.updated_by, row.updated_at = actor.id, utcnow()
    session.add(row)
    audit.record(
        session,
        actor.username,
        "health_notifications_set",
        kind=channel.kind if channel else None,
        instance_id=channel.instance_id if channel else None,
    )
    session.commit()
    return channel


def _checked(session: Session, channel: Channel) -> Channel:
    if channel.kind == "webhook":
        url = channel.url.strip()
        if not URL.match(url):
            raise InvalidChannel("The webhook URL must start with http:// or https://.")
        return Channel(kind="webhook", url=url)
    if channel.kind != "chat":
        raise InvalidChannel(f"Unknown channel kind {channel.kind!r}.")
    instance = session.get(BotInstance, channel.instance_id) if channel.instance_id else None
    if instance is None:
        raise InvalidChannel("Pick the connection that sends the notices.")
    if not channel.chat_id.strip():
        raise InvalidChannel("Pick the chat the notices go to.")
    return Channel(kind="chat", instance_id=instance.id, chat_id=channel.chat_id.strip())


async def send_notice(session: Session, channel: Channel, text: str, key: str) -> None:
    """Deliver ``text``; NoticeFailed says why not. ``key`` makes a retried chat send
    land once (the pool deduplicates on it)."""
    if channel.kind == "webhook":
        await _post_webhook(channel.url, {"text": text, "key": key})
        return
    instance = session.get(BotInstance, channel.instance_id)
    if instance is None or str(instance.kind) not in CONNECTORS:
        raise NoticeFailed("the connection chosen for notices no longer exists")
    action, params = message_call(str(instance.kind), channel.chat_id, text)
    try:
        await pool_client.execute(
            str(instance.kind), action, params, instance_id=instance.id, idempotency_key=key
        )
    except ActionError as error:
        raise NoticeFailed(error.message) from None


async def _post_webhook(url: str, body: dict[str, Any]) -> None:
    request = HttpRequestParams(method="POST", url=url, json_body=body, follow_redirects=False)
    try:
        async with (
            asyncio.timeout(WEBHOOK_TIMEOUT),
            httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT, trust_env=False) as client,
        ):
            response = await send_pinned(client, request, "POST", httpx.URL(url))
            await response.aclose()
    except RequestRefused as refused:
        raise NoticeFailed(str(refused)) from None
    except (httpx.HTTPError, TimeoutError) as exc:
        raise NoticeFailed(f"the webhook could not be reached ({type(exc).__name__})") from None
    if not response.is_success:
        raise NoticeFailed(f"the webhook answered HTTP {response.status_code}")


async def send_test(actor: AdminUser) -> None:
    """ "Send test notification": NoticeFailed says why it did not arrive (InvalidChannel
    when none is chosen)."""
    require_role(actor, Role.admin)
    with session_scope() as session:
        channel = load_channel(session)
        if channel is None:
            raise InvalidChannel("Choose where notices go first.")
        text = f"Flowbot test notification from {actor.username}: health notices arrive here."
        await send_notice(session, channel, text, f"health-test:{utcnow().isoformat()}")
