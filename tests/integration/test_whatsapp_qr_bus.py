"""WhatsApp QR login under the supervisor: every QR code neonize hands the connector
reaches the event bus (where the UI's QR wizard listens), as it rotates."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import Session

from connectors.whatsapp_user.client import WhatsAppConnector
from engine import events
from engine.models.connections import BotInstance, ConnectorKind, PlatformConnection
from tests.integration.test_supervisor import make_supervisor, running

CODES = ["2@first-code,abc,def", "2@second-code,ghi,jkl"]


async def _rotating_qr_codes(self: WhatsAppConnector) -> None:
    """Stands in for neonize's connect loop (no WhatsApp server here): it calls the
    connector's real QR callback as neonize does, once per rotation."""
    for code in CODES:
        await self.on_qr(None, code.encode())  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
    await asyncio.Event().wait()


async def test_each_qr_code_is_published_on_the_bus(
    sqlite_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(WhatsAppConnector, "run", _rotating_qr_codes)
    instance = BotInstance(name="Phone", kind=ConnectorKind.whatsapp_user)
    sqlite_session.add(instance)
    sqlite_session.commit()
    connection = PlatformConnection(bot_instance_id=instance.id, is_active=True)
    sqlite_session.add(connection)
    sqlite_session.commit()

    seen: list[dict] = []
    async with (
        events.subscribe(f"connection.{connection.id}") as subscription,
        running(make_supervisor()),
    ):

        async def collect() -> None:
            async for event in subscription:
                if event.payload.get("status") == "auth_required":
                    seen.append(event.payload)
                    if len(seen) == len(CODES):
                        return

        await asyncio.wait_for(collect(), 15)

    assert [payload["details"]["qr"] for payload in seen] == CODES
    assert all(
        payload["details"]["qr_png_data_url"].startswith("data:image/png;base64,")
        for payload in seen
    )
    assert seen[0]["message"] == "scan the QR code"
