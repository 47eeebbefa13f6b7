"""``POST /api/telegram/{instance_id}/webhook``: updates of a bot in webhook mode.

Telegram sends the secret given to ``setWebhook`` in ``X-Telegram-Bot-Api-Secret-Token``;
a request without the instance's secret is refused before its body is read. The update
goes, as it came, through the pool API to the supervisor running the bot, whose connector
reads, answers and forwards it (the engine knows nothing of aiogram). When that cannot
happen now the answer is 503, and Telegram sends the update again.
"""

from __future__ import annotations

import asyncio
import hmac
from dataclasses import dataclass

from fastapi import APIRouter, Header, HTTPException, Request

from engine import pool_client
from engine.action_errors import ActionError
from engine.db import session_scope
from engine.models.connections import BotInstance, ConnectorKind

router = APIRouter()


@dataclass(frozen=True)
class _Target:
    secret: str | None


def _target(instance_id: int) -> _Target | None:
    with session_scope() as session:
        instance = session.get(BotInstance, instance_id)
        if instance is None or instance.kind != ConnectorKind.telegram_bot:
            return None
        return _Target(instance.webhook_secret)


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

    try:
        body = await request.json()
    except ValueError:
        raise HTTPException(400, "Not a Telegram update.") from None
    if not isinstance(body, dict) or not isinstance(body.get("update_id"), int):
        raise HTTPException(400, "Not a Telegram update.")
    try:
        await pool_client.push_update(instance_id, body)
    except ActionError as exc:
        # Telegram sends the update again on a non-2xx answer; routing is idempotent per
        # update, so what did get through is not started twice.
        raise HTTPException(
            503, f"Not taken now ({exc.message}); send again.", headers={"Retry-After": "5"}
        ) from None
    return {"ok": True}
