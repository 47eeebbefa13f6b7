"""``POST /api/telegram/{instance_id}/webhook``: updates of a bot in webhook mode.

Telegram sends the secret given to ``setWebhook`` in ``X-Telegram-Bot-Api-Secret-Token``;
a request without the instance's secret is refused before its body is read. The update
goes to the instance's connector when it runs in this process (embedded mode: it
remembers polls, knows its username); otherwise it is mapped and forwarded here.
"""

from __future__ import annotations

import asyncio
import hmac
from dataclasses import dataclass

from fastapi import APIRouter, Header, HTTPException, Request

from engine.db import session_scope
from engine.models.connections import BotInstance, ConnectorKind

router = APIRouter()


@dataclass(frozen=True)
class _Target:
    secret: str | None
    username: str | None


def _target(instance_id: int) -> _Target | None:
    with session_scope() as session:
        instance = session.get(BotInstance, instance_id)
        if instance is None or instance.kind != ConnectorKind.telegram_bot:
            return None
        return _Target(instance.webhook_secret, instance.platform_username)


@router.post("/api/telegram/{instance_id}/webhook")
async def telegram_webhook(
    instance_id: int,
    request: Request,
    secret: str = Header(default="", alias="X-Telegram-Bot-Api-Secret-Token"),
) -> dict[str, bool]:
    target = await asyncio.to_thread(_target, instance_id)
    if target is None or not target.secret:
        raise HTTPException(404, "No Telegram bot in webhook mode here.")
    if not hmac.compare_digest(secret.encode(), target.secret.encode()):
        raise HTTPException(401, "Wrong or missing X-Telegram-Bot-Api-Secret-Token.")

    from connectors.kit.forwarder import EventForwarder
    from connectors.telegram_bot.client import decode_update, running_connector
    from connectors.telegram_bot.mapper import map_update

    try:
        body = await request.json()
    except ValueError:
        raise HTTPException(400, "Not a Telegram update.") from None
    if not isinstance(body, dict) or not isinstance(body.get("update_id"), int):
        raise HTTPException(400, "Not a Telegram update.")
    if (update := decode_update(body)) is None:
        return {"ok": True}  # skipped (logged): refused, it would hold back every later one
    if (connector := running_connector(instance_id)) is not None:
        await connector.handle_update(update)
    else:
        forward = EventForwarder()
        for event in map_update(update, instance_id=instance_id, bot_username=target.username):
            await forward(event)
        if forward.failed:
            # Telegram sends the update again on a non-2xx answer; routing is idempotent
            # per update, so what did get through is not started twice.
            raise HTTPException(
                503, "The broker cannot be reached; send again.", headers={"Retry-After": "5"}
            )
    return {"ok": True}
