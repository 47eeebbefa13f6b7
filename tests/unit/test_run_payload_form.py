"""The test-run form: the trigger's example event as fields, and back to the same event."""

from __future__ import annotations

import pytest

from engine.api.runs import trigger_event
from engine.models import AdminUser
from engine.nodes import REGISTRY
from engine.nodes.triggers import run_example
from engine.services.node_pickers import Choice
from flowbot_ui.state.run_payload import apply_fields, payload_fields, run_fields

TRIGGERS = sorted(t.id for t in REGISTRY if t.category == "trigger")


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_the_form_of_every_trigger_gives_back_its_example_unchanged(trigger: str) -> None:
    example = dict(REGISTRY.get(trigger).example_payload or {})
    fields = payload_fields(example)

    assert fields, f"{trigger}: an empty form"
    assert apply_fields(example, [(f["path"], f["value"]) for f in fields]) == example


def test_fields_are_the_event_in_words_without_its_envelope() -> None:
    fields = {
        f["label"]: f["value"] for f in payload_fields(REGISTRY.get("tg_command").example_payload)
    }  # type: ignore[arg-type]

    assert fields["Text"] == "/warn @spammer flooding"
    assert fields["User · first name"] == "Ada"
    assert fields["Chat · ID"] == "-1001234567890"
    assert fields["Args"] == '["@spammer", "flooding"]'
    assert not {"Event ID", "Kind", "Platform", "Connector", "Raw"} & set(fields)
    assert "User · display name" not in fields  # Telegram has none


def test_changed_fields_keep_their_kind_of_value_and_still_make_an_event() -> None:
    example = dict(REGISTRY.get("tg_command").example_payload or {})
    changed = apply_fields(
        example,
        [
            (["text"], "/ping"),
            (["user", "first_name"], "Grace"),
            (["args"], '["now"]'),
            (["instance_id"], "7"),
            (["message_id"], "99"),
        ],
    )

    assert changed["text"] == "/ping" and changed["user"]["first_name"] == "Grace"
    assert changed["args"] == ["now"] and changed["instance_id"] == 7
    assert changed["message_id"] == "99"  # a string in the example stays a string
    event = trigger_event(changed, AdminUser(username="ann"))
    assert (event.kind, event.text, event.instance_id) == ("tg_command", "/ping", 7)


def test_text_that_is_not_json_where_json_was_stays_text() -> None:
    example = {"data": {"count": 3, "tags": ["a"]}}

    assert apply_fields(example, [(["data", "count"], "three")]) == {
        "data": {"count": "three", "tags": ["a"]}
    }
    assert apply_fields(example, [(["data", "tags"], "")]) == {"data": {"count": 3, "tags": []}}


def test_the_connection_is_one_of_the_real_ones_of_the_events_kind() -> None:
    example = dict(REGISTRY.get("tg_message").example_payload or {})
    real = [Choice("4", "Support bot", "ID 4"), Choice("9", "News bot", "ID 9")]

    fields, paths = run_fields(example, real)
    (connection,) = [f for f in fields if f.key == "instance_id"]

    assert connection.label == "Connection"
    assert connection.value == "4"  # the example's 1 does not exist: the first real one
    assert [c.value for c in connection.choices if c.selected] == ["4"]
    assert paths[connection.index] == ["instance_id"]
    assert run_fields({**example, "instance_id": 9}, real)[0][0].value == "9"


def test_a_manual_trigger_runs_with_its_sample_payload_and_others_with_their_example() -> None:
    def graph(*nodes: dict[str, object]) -> dict[str, object]:
        return {"nodes": list(nodes), "edges": []}

    manual = {"id": "m", "type": "manual", "params": {"sample_payload": {"order": 1042}}}
    started = run_example(graph({"id": "x", "type": "set_variable", "params": {}}, manual))
    plain = run_example(graph({"id": "m", "type": "manual", "params": {}}))

    assert started is not None and started["data"] == {"order": 1042}
    assert started["kind"] == "manual"
    assert plain == REGISTRY.get("manual").example_payload  # no sample: the type's example
    assert run_example(graph({"id": "c", "type": "tg_command"})) == dict(
        REGISTRY.get("tg_command").example_payload or {}
    )
    assert run_example(graph()) is None
