"""The WhatsApp account connector: neonize's async client (whatsmeow underneath).

Login is by QR code (each rotating code is reported as ``auth_required`` with the code and a
PNG data URL for the UI) or, when ``settings.pair_phone`` is set, by pairing code.

Where the session lives: whatsmeow keeps the device keys in its own SQL store, which neonize
opens from the client's name. We give it ``<data_dir>/whatsapp/instance-<id>.sqlite3`` (file
mode 0600), one file per instance, so a restart reconnects without a new scan. It is not the
``credential`` column: the store is a database of keys that change as the session runs, not
a string to copy in and out. ``settings.session_db`` may name another store (whatsmeow also
takes a ``postgres://`` DSN), which scaled deployments whose supervisors run on several
machines need, since an instance moves to whichever supervisor holds its lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import segno
from neonize.aioze import events as neonize_events
from neonize.aioze.client import NewAClient
from neonize.aioze.events import (
    ConnectedEv,
    ConnectFailureEv,
    GroupInfoEv,
    JoinedGroupEv,
    LoggedOutEv,
    MessageEv,
    PairStatusEv,
    ReceiptEv,
)
from neonize.exc import NeonizeError

from connectors.kit.connector import Connector, EmitEvent, InstanceConfig, ReportStatus
from connectors.whatsapp_user import discovery, mapper
from connectors.whatsapp_user.actions import (
    MessageCache,
    WhatsAppContext,
    actions,
    execute_action,
    jid_str,
)
from connectors.whatsapp_user.senders import SenderRecords
from engine.platform_event import PlatformEvent
from engine.settings import get_settings

log = logging.getLogger(__name__)


def session_store(config: InstanceConfig) -> str:
    """The whatsmeow store of this instance (see the module docstring)."""
    if custom := config.settings.get("session_db"):
        return str(custom)
    return str(private_file(f"instance-{config.instance_id}.sqlite3"))


def private_file(name: str) -> Path:
    """``<data_dir>/whatsapp/<name>``, created readable by Flowbot only (0600)."""
    folder = get_settings().data_dir / "whatsapp"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / name
    if not path.exists():
        path.touch(mode=0o600)
    return path


def qr_details(code: str) -> dict[str, str]:
    """What the UI shows: the code itself and a scannable PNG of it."""
    return {"qr": code, "qr_png_data_url": segno.make_qr(code).png_data_uri(scale=6, border=2)}


class WhatsAppConnector(Connector):
    kind = "whatsapp_user"
    actions = actions

    def __init__(self, config: InstanceConfig, emit: EmitEvent, report: ReportStatus) -> None:
        super().__init__(config, emit, report)
        self.store = session_store(config)
        self._client = NewAClient(self.store, uuid=f"flowbot-wa-{config.instance_id}")
        senders = SenderRecords(private_file(f"instance-{config.instance_id}-senders.sqlite3"))
        self.context = WhatsAppContext(self._client, MessageCache(senders=senders))
        self._register(self._client)

    @property
    def client(self) -> WhatsAppContext:
        return self.context

    def _register(self, client: NewAClient) -> None:
        client.event.qr(self.on_qr)
        client.event(ConnectedEv)(self.on_connected)
        client.event(PairStatusEv)(self.on_pair_status)
        client.event(LoggedOutEv)(self.on_logged_out)
        client.event(ConnectFailureEv)(self.on_connect_failure)
        client.event(MessageEv)(self.on_message)
        client.event(ReceiptEv)(self.on_receipt)
        client.event(GroupInfoEv)(self.on_group_info)
        client.event(JoinedGroupEv)(self.on_joined_group)

    async def run(self) -> None:
        await self.report("connecting", "connecting to WhatsApp", {})
        # neonize dispatches Go callbacks to a loop it remembers once per process; a restarted
        # supervisor (or a test) runs on a new loop, so point it at ours.
        neonize_events.event_global_loop = asyncio.get_running_loop()
        task = await self._client.connect()
        try:
            if phone := self.config.settings.get("pair_phone"):
                await self.pair_phone(str(phone))
            await task
        except NeonizeError as error:
            await self.report("error", f"WhatsApp connection failed: {error}", {})
            raise
        finally:
            if not task.done():
                with contextlib.suppress(Exception):
                    await self._client.disconnect()
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    async def pair_phone(self, phone: str) -> str:
        """Pairing-code login: the admin types the code under Linked devices on the phone."""
        digits = "".join(ch for ch in phone if ch.isdigit())
        code: str = await self._client.PairPhone(digits, show_push_notification=True)
        await self.report(
            "auth_required",
            "enter the pairing code in WhatsApp (Linked devices → Link with phone number)",
            {"pair_code": code},
        )
        return code

    async def execute(self, action: str, params: Mapping[str, Any]) -> dict[str, Any]:
        return await execute_action(self.context, action, params)

    # -- neonize callbacks (client, event) ------------------------------------------------------

    async def on_qr(self, _: NewAClient, data: bytes) -> None:
        """Called by neonize with each QR code (they rotate every ~20 s until scanned)."""
        code = data.decode() if isinstance(data, bytes) else str(data)
        await self.report("auth_required", "scan the QR code", qr_details(code))

    async def on_pair_status(self, _: NewAClient, event: PairStatusEv) -> None:
        if event.Status == PairStatusEv.SUCCESS:
            await self.report("connecting", "paired with the phone", {"jid": jid_str(event.ID)})
        else:
            await self.report("error", f"pairing failed: {event.Error}", {})

    async def on_connected(self, client: NewAClient, _: ConnectedEv) -> None:
        me = client.me
        details = {"jid": jid_str(me.JID), "push_name": me.PushName} if me else {}
        await self.report("connected", "connected to WhatsApp", details)
        try:
            groups = await discovery.joined_groups(client, self.config.instance_id)
        except NeonizeError as error:  # discovery waits for the next connect
            log.warning("joined groups not listed: %s", type(error).__name__)
            return
        for seen in groups:
            await self.emit(seen)

    async def on_logged_out(self, _: NewAClient, event: LoggedOutEv) -> None:
        reason = LoggedOutEv.DESCRIPTOR.fields_by_name["Reason"].enum_type.values_by_number.get(
            event.Reason
        )
        await self.report(
            "auth_required",
            "the phone unlinked this device: scan a new QR code",
            {"reason": reason.name if reason else str(event.Reason)},
        )
        # The stored keys are dead; a fresh store gives a fresh QR on the next start.
        with contextlib.suppress(OSError):
            if not self.config.settings.get("session_db"):
                os.remove(self.store)
                Path(self.store).touch(mode=0o600)

    async def on_connect_failure(self, _: NewAClient, event: ConnectFailureEv) -> None:
        await self.report("error", f"WhatsApp refused the connection: {event.Message}", {})

    async def on_message(self, _: NewAClient, event: MessageEv) -> None:
        self.context.messages.add(event)
        await self._emit(mapper.map_message(event, self.config.instance_id))

    async def on_receipt(self, _: NewAClient, event: ReceiptEv) -> None:
        await self._emit(mapper.map_receipt(event, self.config.instance_id))

    async def on_group_info(self, client: NewAClient, event: GroupInfoEv) -> None:
        for mapped in mapper.map_group_info(event, self.config.instance_id):
            await self._emit(mapped)
        await self.emit(await discovery.group_changed(client, event, self.config.instance_id))

    async def on_joined_group(self, client: NewAClient, event: JoinedGroupEv) -> None:
        await self.emit(discovery.joined_group(client, event, self.config.instance_id))

    async def _emit(self, event: PlatformEvent | None) -> None:
        if event is not None:
            await self.emit(event)
