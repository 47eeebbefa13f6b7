"""Issue 17: a person counts as gone within 5 s of their tab closing, even when it closed
without a word (a crash, a killed browser: no pagehide). The room forgets a page silent
for PRESENCE_TIMEOUT, checked whenever another page beats; pages beat every
HEARTBEAT_SECONDS. Driven with the room's real heartbeat handler and its clock replaced."""

from __future__ import annotations

import types

import pytest

from engine.db import session_scope
from engine.services import flows
from flowbot_ui.components.flow_canvas import HEARTBEAT_SECONDS
from flowbot_ui.state import room as room_module
from flowbot_ui.state.room import PRESENCE_TIMEOUT, FlowRoom
from tests.ui_harness import People, joined_room, user

GRAPH = {"nodes": [{"id": "manual1", "type": "manual", "params": {}}], "edges": []}
BOB = "b0b"  # the other page's presence key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
async def room(people: People, monkeypatch: pytest.MonkeyPatch) -> tuple[FlowRoom, Clock]:
    """Ada's page on a flow, and Bob's page there too, last heard from now."""
    clock = Clock()
    monkeypatch.setattr(room_module, "time", types.SimpleNamespace(time=clock.time))
    with session_scope() as session:
        flow_id = flows.create_flow(session, user(people.admin_id), "Here", graph=GRAPH).id
    _, ada = await joined_room(people.cookies["admin"], flow_id or 0)
    await FlowRoom.event_handlers["heartbeat"].fn(ada)
    ada._seen = {**ada._seen, BOB: clock.now}
    ada.presence = {**ada.presence, BOB: "bob"}
    return ada, clock


async def _ada_beats_until_bob_is_gone(room: FlowRoom, clock: Clock, bob_beats: bool) -> float:
    """Seconds from Bob's last heartbeat until Ada's page no longer shows him (Ada's page
    beats every HEARTBEAT_SECONDS, out of step with his), or the 10 s waited."""
    last_bob = clock.now
    start = clock.now
    while clock.now - start < 10:
        clock.now += HEARTBEAT_SECONDS / 2
        if bob_beats and clock.now - last_bob >= HEARTBEAT_SECONDS:
            room._seen = {**room._seen, BOB: clock.now}  # his beat (no pagehide ever)
            last_bob = clock.now
        clock.now += HEARTBEAT_SECONDS / 2
        await FlowRoom.event_handlers["heartbeat"].fn(room)
        if BOB not in room.presence:
            return clock.now - last_bob
    return 10.0


async def test_a_tab_gone_without_a_word_is_gone_within_5_s(
    room: tuple[FlowRoom, Clock],
) -> None:
    ada, clock = room
    gone_after = await _ada_beats_until_bob_is_gone(ada, clock, bob_beats=False)
    # His tab may have died just after his last beat: that is the longest it stays shown.
    assert gone_after <= 5.0
    assert PRESENCE_TIMEOUT + HEARTBEAT_SECONDS <= 5.0  # the rule, whatever the beat phases


async def test_a_page_that_beats_stays_present_through_two_late_beats(
    room: tuple[FlowRoom, Clock],
) -> None:
    ada, clock = room
    assert await _ada_beats_until_bob_is_gone(ada, clock, bob_beats=True) == 10.0
    assert PRESENCE_TIMEOUT >= 3 * HEARTBEAT_SECONDS  # two missed (or late) beats forgiven
