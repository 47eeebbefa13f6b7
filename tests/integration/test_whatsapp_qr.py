"""The WhatsApp QR login path, as far as it runs without WhatsApp's servers.

What is exercised for real:
- the real neonize client (its Go library) starts with a fresh store under the instance's
  data directory, creates whatsmeow's device tables in it, and tries to reach
  web.whatsapp.com; offline that fails, and the connector reports the error and raises.
- neonize's own callback entry points, called the way its Go side calls them (from another
  thread, with pointers to C memory): ``__onQr`` with a QR string, and ``Event.execute`` with a
  serialised event protobuf. These reach the connector's handlers through neonize's own
  dispatch onto the running loop, and the QR arrives at the report callback with the code and
  a PNG data URL (engine/events.py, the event bus, does not exist yet: the report callback is
  what the supervisor publishes from).

What is not: a QR code produced by WhatsApp (it comes from the server's pairing refs), a scan,
pairing success from a real phone, and a reconnect with stored keys.
"""

from __future__ import annotations

import asyncio
import base64
import ctypes
import os
import sqlite3
import stat
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
from neonize.exc import NeonizeError
from neonize.proto.Neonize_pb2 import Message as MessageEv
from neonize.proto.Neonize_pb2 import MessageInfo, MessageSource, PairStatus
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message
from neonize.utils.jid import build_jid

from connectors.kit.connector import InstanceConfig
from connectors.whatsapp_user.client import WhatsAppConnector, session_store
from engine.platform_event import PlatformEvent
from engine.settings import get_settings
from tests.fakes.whatsapp_core import deliver

QR_CODE = "2@Zm9vYmFy,T0+cXNrZXk=,aWRrZXk=,YWR2c2VjcmV0"


class Recorder:
    def __init__(self) -> None:
        self.reports: asyncio.Queue[tuple[str, str, dict[str, Any]]] = asyncio.Queue()
        self.events: asyncio.Queue[PlatformEvent] = asyncio.Queue()

    async def emit(self, event: PlatformEvent) -> None:
        await self.events.put(event)

    async def report(self, status: str, message: str, details: Any) -> None:
        await self.reports.put((status, message, dict(details)))

    async def next_report(self, status: str, timeout: float = 30) -> tuple[str, dict[str, Any]]:
        async def wait() -> tuple[str, dict[str, Any]]:
            while True:
                got, message, details = await self.reports.get()
                if got == status:
                    return message, details

        return await asyncio.wait_for(wait(), timeout)


@pytest.fixture
async def connector() -> AsyncIterator[tuple[WhatsAppConnector, Recorder]]:
    recorder = Recorder()
    config = InstanceConfig(instance_id=7, kind="whatsapp_user", credential=None)
    yield WhatsAppConnector(config, recorder.emit, recorder.report), recorder


def _from_go_thread(function: Any, *args: Any) -> None:
    """Call a neonize callback the way its Go library does: from a thread of its own."""
    thread = threading.Thread(target=function, args=args)
    thread.start()
    thread.join(5)


async def test_the_real_client_opens_its_store_and_fails_offline(
    connector: tuple[WhatsAppConnector, Recorder],
) -> None:
    wa, recorder = connector
    assert wa.store == str(get_settings().data_dir / "whatsapp" / "instance-7.sqlite3")

    with pytest.raises(NeonizeError, match="whatsapp"):
        await asyncio.wait_for(wa.run(), 60)

    assert (await recorder.next_report("connecting", 1))[0] == "connecting to WhatsApp"
    message, _ = await recorder.next_report("error", 1)
    assert "WhatsApp connection failed" in message
    with sqlite3.connect(wa.store) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert "whatsmeow_device" in tables  # the session store a restart would reconnect from


async def test_each_qr_code_neonize_delivers_is_reported_for_the_ui(
    connector: tuple[WhatsAppConnector, Recorder],
) -> None:
    wa, recorder = connector
    task = asyncio.create_task(wa.run())  # registers neonize's loop and callbacks
    await recorder.next_report("connecting", 5)
    try:
        for code in (QR_CODE, QR_CODE.replace("Zm9v", "YmFy")):  # codes rotate until scanned
            buffer = ctypes.create_string_buffer(code.encode())
            _from_go_thread(wa.client.client._NewAClient__onQr, 0, ctypes.addressof(buffer))
            message, details = await recorder.next_report("auth_required", 5)

            assert message == "scan the QR code"
            assert details["qr"] == code
            prefix = "data:image/png;base64,"
            assert details["qr_png_data_url"].startswith(prefix)
            png = base64.b64decode(details["qr_png_data_url"].removeprefix(prefix))
            assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 200
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_pairing_and_messages_arrive_through_neonizes_dispatch(
    connector: tuple[WhatsAppConnector, Recorder],
) -> None:
    wa, recorder = connector
    task = asyncio.create_task(wa.run())
    await recorder.next_report("connecting", 5)
    try:
        deliver(
            wa.client.client,
            PairStatus(
                ID=build_jid("4915112345678"),
                Platform="android",
                Status=PairStatus.SUCCESS,
            ),
        )
        message, details = await recorder.next_report("connecting", 5)
        assert message == "paired with the phone"
        assert details == {"jid": "4915112345678@s.whatsapp.net"}

        incoming = MessageEv(
            Info=MessageInfo(
                ID="3EB0C431C26A1916E07A",
                MessageSource=MessageSource(
                    Chat=build_jid("4915112345678"), Sender=build_jid("4915112345678")
                ),
                Pushname="Ada",
                Timestamp=1741944413,
            ),
            Message=Message(conversation="Hi, are you open today?"),
        )
        deliver(wa.client.client, incoming)
        event = await asyncio.wait_for(recorder.events.get(), 5)

        assert (event.kind, event.text) == ("wa_message", "Hi, are you open today?")
        assert wa.client.messages.get("3EB0C431C26A1916E07A") == incoming  # for later replies
        # and its sender outlives the cache, for quoting it later
        assert wa.client.messages.senders is not None
        stored = wa.client.messages.senders.sender_of(
            "4915112345678@s.whatsapp.net", "3EB0C431C26A1916E07A"
        )
        assert stored == "4915112345678@s.whatsapp.net"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_the_store_is_private_to_the_service_user() -> None:
    config = InstanceConfig(instance_id=8, kind="whatsapp_user", credential=None)
    path = session_store(config)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
