"""neonize's Go core, as far as tests of the WhatsApp connector need it.

WhatsApp cannot be faked cheaply, so tests keep neonize's real ``NewAClient`` and replace only
what crosses into Go: :class:`GoCore` answers the FFI calls a test scripts with the
serialised protobufs whatsmeow returns (recording what neonize sent), and :func:`deliver`
hands an event protobuf to neonize's dispatcher the way the Go side calls it back.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any

from google.protobuf.message import Message
from neonize.aioze.client import NewAClient
from neonize.events import EVENT_TO_INT
from neonize.proto.Neonize_pb2 import (
    JID,
    GetGroupInfoReturnFunction,
    GetJoinedGroupsReturnFunction,
    GroupInfo,
)


def as_go_sends(message: Message) -> Message:
    """``message`` with every proto2 required field set, nested and repeated ones too, as
    Go's encoder always sends them (zero values where a test does not care)."""
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if field.message_type is None:
            if field.is_required and not message.HasField(field.name):
                setattr(message, field.name, value)
        elif field.is_repeated:
            for item in value:
                as_go_sends(item)
        elif field.is_required or message.HasField(field.name):
            value.SetInParent()
            as_go_sends(value)
    return message


def _copy(group: GroupInfo) -> GroupInfo:
    copied = GroupInfo()
    copied.CopyFrom(group)
    return as_go_sends(copied)


class GoCore:
    """Stands in for ``async_gocode``: ``GetJoinedGroups`` and ``GetGroupInfo`` over the
    groups it holds; ``calls`` records (function, what neonize sent)."""

    def __init__(self, groups: list[GroupInfo]) -> None:
        self.groups = {group.JID.User: _copy(group) for group in groups}
        self.calls: list[tuple[str, Any]] = []

    def install(self, client: NewAClient) -> None:
        client._NewAClient__client = self  # type: ignore[attr-defined]

    async def GetJoinedGroups(self, uuid: bytes) -> bytes:  # noqa: N802 (the FFI's name)
        self.calls.append(("GetJoinedGroups", uuid))
        return GetJoinedGroupsReturnFunction(Group=self.groups.values()).SerializeToString()

    async def GetGroupInfo(self, uuid: bytes, jid: bytes, size: int) -> bytes:  # noqa: N802
        asked = JID.FromString(jid[:size])
        self.calls.append(("GetGroupInfo", asked))
        if asked.User not in self.groups:
            failed = GetGroupInfoReturnFunction(Error="info query returned status 404")
            return failed.SerializeToString()
        return GetGroupInfoReturnFunction(GroupInfo=self.groups[asked.User]).SerializeToString()


def deliver(client: NewAClient, event: Message) -> None:
    """Hand ``event`` to neonize's dispatcher as the Go side does: serialised, from a thread
    of its own, through a pointer to C memory. The handler then runs on the loop neonize was
    pointed at (``neonize.aioze.events.event_global_loop``)."""
    payload = as_go_sends(event).SerializeToString()
    buffer = ctypes.create_string_buffer(payload, len(payload))
    args = (0, ctypes.addressof(buffer), len(payload), EVENT_TO_INT[type(event)])
    thread = threading.Thread(target=client.event.execute, args=args)
    thread.start()
    thread.join(5)
