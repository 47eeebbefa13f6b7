"""What the node form offers: expressions that compile and read a value of the trigger's
own platform, plain labels, and pickers where a param names something real."""

from __future__ import annotations

from typing import Any

import pytest

from engine.expressions import Scope, check_syntax, render
from engine.nodes import REGISTRY
from flowbot_ui.state.flow_graph import param_fields, suggestions, unset_label

TRIGGERS = sorted(t.id for t in REGISTRY if t.category == "trigger")


def _offered(trigger: str) -> list[str]:
    graph = {
        "nodes": [
            {"id": "start", "type": trigger, "params": {}},
            {"id": "say", "type": "template", "params": {}},
        ],
        "edges": [{"source": "start", "target": "say"}],
    }
    return [s for s in suggestions(graph, "say") if s.startswith("{{ trigger")]


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_every_trigger_field_offered_compiles_and_reads_a_value(trigger: str) -> None:
    example: dict[str, Any] = dict(REGISTRY.get(trigger).example_payload or {})
    offered = _offered(trigger)

    assert offered, f"{trigger} offers nothing"
    for text in offered:
        assert check_syntax(text) is None, text
        assert render(text, Scope(trigger=example), strict=True) is not None, text


def test_a_dashed_header_is_read_by_subscript_not_by_a_dot() -> None:
    offered = _offered("webhook")

    assert "{{ trigger.data.headers['content-type'] }}" in offered
    assert not [s for s in offered if "-" in s.split("[")[0]]


def test_fields_the_platform_leaves_empty_are_not_offered() -> None:
    telegram, discord = _offered("tg_message"), _offered("dc_message")

    assert "{{ trigger.user.first_name }}" in telegram
    assert "{{ trigger.chat.guild_id }}" not in telegram  # a Discord field
    assert "{{ trigger.chat.guild_id }}" in discord
    assert "{{ trigger.user.first_name }}" not in discord  # Discord has display names


def test_a_variable_whose_name_is_no_identifier_is_offered_by_subscript() -> None:
    graph = {
        "nodes": [
            {"id": "start", "type": "manual", "params": {}},
            {"id": "keep", "type": "set_variable", "params": {"name": "last-seen"}},
            {"id": "items", "type": "template", "params": {}},
            {"id": "aside", "type": "set_variable", "params": {"name": "elsewhere"}},
        ],
        "edges": [
            {"source": "start", "target": "keep"},
            {"source": "keep", "target": "items"},
            {"source": "start", "target": "aside"},
        ],
    }
    offered = suggestions(graph, "items")

    assert "{{ context['last-seen'] }}" in offered
    assert "{{ context.elsewhere }}" not in offered  # set on another path: not before here
    assert all(check_syntax(text) is None for text in offered)


def test_params_naming_real_things_are_pickers_with_plain_labels() -> None:
    fields = {f["name"]: f for f in param_fields("tg_send_message", {})}
    broadcast = {f["name"]: f for f in param_fields("broadcast", {})}
    ban = {f["name"]: f for f in param_fields("dc_ban_member", {})}

    assert (fields["instance_id"]["label"], fields["instance_id"]["picks"]) == (
        "Connection",
        "connection",
    )
    assert (fields["chat_id"]["label"], fields["chat_id"]["picks"]) == ("Chat", "chat")
    assert (fields["text"]["label"], fields["text"]["picks"]) == ("Text", "")
    assert (broadcast["community_ids"]["label"], broadcast["community_ids"]["picks"]) == (
        "Communities",
        "community",
    )
    assert ban["guild_id"]["label"] == "Discord server"
    assert param_fields("run_flow", {})[0]["picks"] == "flow"


def test_the_empty_choice_says_what_empty_means() -> None:
    assert unset_label("Only events seen by this bot or account; empty: any of them") == (
        "Any of them"
    )
    assert unset_label("Chat to post in; empty means the trigger's chat") == "The trigger's chat"
    assert unset_label("The flow to start") == "Not set"
    assert unset_label("Which Telegram bot does it; empty: the Telegram bot that triggered") == (
        "The Telegram bot that triggered"
    )
