"""Routing a platform event: each execution it starts is sent to the workers once."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from engine import actors
from engine import broker as broker_module
from engine.broker import QUEUE
from engine.platform_event import EventChat, PlatformEvent
from tests.flow_helpers import chain, execution_count, make_flow


def _queued() -> int:
    return actors.broker.queues[QUEUE].qsize()  # type: ignore[attr-defined]


def test_two_deliveries_routed_at_once_send_the_execution_once(
    sqlite_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two copies of one event routed at the same moment both look for the execution
    before either has committed it, and both get the one row back from the insert; only
    one may send it, or two workers run it at once (and the second finds its platform
    step claimed and fails the execution)."""
    monkeypatch.setattr(broker_module, "_claims", {})
    make_flow(chain(("t", "tg_command", {"command": "start"}), ("m", "template", {"text": "hi"})))
    actors.trigger_index.invalidate()
    monkeypatch.setattr(actors, "known_keys", lambda _session, _keys: set())  # both raced past
    actors.broker.flush_all()
    event = PlatformEvent(
        instance_id=None,
        event_id="tg:race",
        kind="tg_command",
        platform="telegram",
        chat=EventChat(id="-1", type="group"),
        command="start",
    ).as_trigger()
    try:
        actors.route_event.fn(event)
        actors.route_event.fn(event)
        assert execution_count() == 1
        assert _queued() == 1
    finally:
        actors.broker.flush_all()
