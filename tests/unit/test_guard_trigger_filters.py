"""Every trigger filter with a matching and a non-matching event, and the outgoing-message
filter fed by the Telegram account mapper itself (the field the mapper writes is the field
the filter must read)."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.telegram_user.mapper import map_message
from engine.nodes import REGISTRY
from engine.platform_event import EventChat, EventMedia, EventUser, PlatformEvent
from engine.trigger_index import FILTERS, matches, triggers_of
from tests.unit.test_telegram_user_mapper import PRIVATE, _message
from tests.unit.test_trigger_index import event

GUILD = EventChat(id="5", type="guild", guild_id="9")
Case = tuple[Any, dict[str, Any], dict[str, Any]]

# filter: (wanted value, fields of an event that passes, fields of one that does not)
CASES: dict[str, Case] = {
    "instance_id": (1, {"instance_id": 1}, {"instance_id": 2}),
    "chat_id": (-100, {}, {"chat": EventChat(id="-1001", type="group")}),
    "channel_id": ("-100", {}, {"chat": None}),
    "guild_id": ("9", {"chat": GUILD}, {"chat": EventChat(id="5", type="guild", guild_id="8")}),
    "text_contains": ("Price", {"text": "the PRICE?"}, {"text": "the prize?"}),
    "command": ("start", {"command": "/Start"}, {"command": "started"}),
    "emoji": ("👍", {"data": {"emoji": "👍"}}, {"data": {"emoji": "👎"}}),
    "data_prefix": ("vote:", {"data": {"callback_data": "vote:1"}}, {"data": {"x": "vote:1"}}),
    "custom_id_prefix": ("b:", {"data": {"custom_id": "b:1"}}, {"data": {"custom_id": "a:b:"}}),
    "query_prefix": ("we", {"data": {"query": "weather"}}, {"text": "the weather"}),
    "poll_id": ("77", {"data": {"poll_id": 77}}, {"data": {"poll_id": 78}}),
    "media_types": (["photo"], {"media": EventMedia(type="photo")}, {"media": None}),
    "new_status": (
        ["member"],
        {"data": {"new_status": "member"}},
        {"data": {"new_status": "left"}},
    ),
    "receipt_types": (["read"], {"data": {"receipt_type": "read"}}, {"data": {}}),
    "changes": (
        ["nickname"],
        {"data": {"old_nickname": "a", "new_nickname": "b"}},
        {"data": {"old_nickname": "a", "new_nickname": "a", "added_roles": ["1"]}},
    ),
    "include_bots": (False, {"user": EventUser(id="1")}, {"user": EventUser(id="1", is_bot=True)}),
    "include_outgoing": (False, {"data": {"outgoing": False}}, {"data": {"outgoing": True}}),
}


def test_every_filter_has_a_case() -> None:
    assert set(CASES) == set(FILTERS)


@pytest.mark.parametrize(("name", "case"), CASES.items(), ids=list(CASES))
def test_filter_matches_and_refuses(name: str, case: Case) -> None:
    want, passing, failing = case
    assert matches({name: want}, event(**passing)), "should match"
    assert not matches({name: want}, event(**failing)), "should not match"
    assert FILTERS[name](want, event(**passing)) is True
    assert FILTERS[name](want, event(**failing)) is False


@pytest.mark.parametrize("empty", [None, "", []])
def test_an_empty_filter_means_any(empty: object) -> None:
    assert matches({"chat_id": empty, "command": empty}, event(chat=None, command=None))


def test_every_filter_must_pass() -> None:
    both = {"command": "start", "chat_id": "-100"}
    assert matches(both, event(command="start"))
    assert not matches(both, event(command="start", chat=EventChat(id="-1", type="group")))
    assert not matches(both, event(command="stop"))


def test_changes_roles_needs_an_added_or_removed_role() -> None:
    assert matches({"changes": ["roles"]}, event(data={"removed_roles": ["2"]}))
    assert not matches({"changes": ["roles"]}, event(data={"added_roles": []}))


def test_allowed_bots_and_outgoing_messages_pass() -> None:
    assert matches({"include_bots": True}, event(user=EventUser(id="1", is_bot=True)))
    assert matches({"include_outgoing": True}, event(data={"outgoing": True}))
    assert matches({"include_bots": False}, event(user=None))


def _account_message(outgoing: bool) -> PlatformEvent:
    [mapped] = map_message(_message(PRIVATE, text="hello", outgoing=outgoing), instance_id=2)
    return mapped


def test_outgoing_account_messages_do_not_start_a_default_trigger() -> None:
    """The tgu_message trigger's defaults, validated as the index does, against what the
    mapper emits for a message this account sent and for one it received."""
    params = REGISTRY.get("tgu_message").params.model_validate({}).model_dump()
    assert params["include_outgoing"] is False
    assert matches(params, _account_message(outgoing=False))
    assert not matches(params, _account_message(outgoing=True))
    assert matches({**params, "include_outgoing": True}, _account_message(outgoing=True))


@pytest.mark.parametrize(
    ("name", "want", "fields"),
    [
        ("text_contains", "xx", {"text": None}),
        ("command", "xxxx", {"command": None}),
        ("query_prefix", "XX", {"text": None, "data": {}}),
        ("data_prefix", "XX", {"data": {"callback_data": None}}),
        ("custom_id_prefix", "XX", {"data": {}}),
    ],
)
def test_a_missing_field_matches_no_text(name: str, want: str, fields: dict[str, Any]) -> None:
    assert not matches({name: want}, event(**fields))


def test_triggers_of_yields_the_routed_triggers_only(caplog: pytest.LogCaptureFixture) -> None:
    """Manual, unknown, non-trigger and invalid nodes are skipped; the ones after them are not."""
    graph = {
        "nodes": [
            {"id": "m", "type": "manual", "params": {}},
            {"id": "u", "type": "no_such_node"},
            {"id": "s", "type": "set_variable", "params": {"name": "x", "value": 1}},
            {"id": "bad", "type": "tg_command", "params": {"command": ["not", "text"]}},
            {"id": "c", "type": "tg_command", "params": {"command": "start"}},
        ]
    }
    found = list(triggers_of(7, 3, graph))
    assert [(e.node_id, e.kind, e.flow_id, e.version_id) for e in found] == [
        ("c", "tg_command", 7, 3)
    ]
    assert found[0].params["command"] == "start"
    assert "flow 7 v3: trigger tg_command ignored: " in caplog.text
    assert list(triggers_of(7, 3, {})) == []
