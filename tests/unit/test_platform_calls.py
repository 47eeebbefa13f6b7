"""Every call engine/platform_calls.py spells is one its connector serves: the action exists
and the parameters validate against the connector's own params model (which refuses unknown
keys), so a renamed action or parameter fails here rather than on a live platform."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from connectors.discord_bot.actions import actions as discord_actions
from connectors.kit.actions import ActionRegistry
from connectors.telegram_bot.actions import ACTIONS as telegram_actions
from connectors.telegram_user.actions import actions as account_actions
from connectors.whatsapp_user.actions import actions as whatsapp_actions
from engine.platform_calls import (
    CONNECTORS,
    Call,
    Sanction,
    delete_call,
    message_call,
    sanction_calls,
)

REGISTRIES: dict[str, ActionRegistry[Any]] = {
    "telegram_bot": telegram_actions,
    "telegram_user": account_actions,
    "discord_bot": discord_actions,
    "whatsapp_user": whatsapp_actions,
}
WHERE = {
    "telegram_bot": "-1001234567890",
    "telegram_user": "-1001234567890",
    "discord_bot": "900000000000000001",
    "whatsapp_user": "120363025246125486@g.us",
}
USER = {
    "telegram_bot": "424242",
    "telegram_user": "424242",
    "discord_bot": "900000000000000100",
    "whatsapp_user": "4915112345678@s.whatsapp.net",
}
SANCTIONS: tuple[Sanction, ...] = get_args(Sanction)


def _served(kind: str, calls: list[Call]) -> None:
    for action, params in calls:
        REGISTRIES[kind].validate(action, params)  # raises ActionError otherwise


@pytest.mark.parametrize("kind", sorted(CONNECTORS))
@pytest.mark.parametrize("op", SANCTIONS)
def test_sanctions_are_served_by_the_connector(kind: str, op: Sanction) -> None:
    calls = sanction_calls(kind, op, WHERE[kind], USER[kind], "spam", 600)
    if calls is not None:
        _served(kind, calls)


def test_what_each_connector_can_do() -> None:
    can = {
        kind: {op for op in SANCTIONS if sanction_calls(kind, op, "1", "2", "") is not None}
        for kind in CONNECTORS
    }
    assert can == {
        "telegram_bot": set(SANCTIONS),
        "discord_bot": set(SANCTIONS),
        "telegram_user": {"kick", "ban"},  # what the account connector has
        "whatsapp_user": {"kick", "ban"},  # removal; WhatsApp keeps no ban list, has no mute
    }
    assert [a for a, _ in sanction_calls("telegram_bot", "kick", "1", "2", "") or []] == [
        "ban_member",
        "unban_member",
    ]


def test_discord_reasons_fit_the_audit_log() -> None:
    [(_, params)] = sanction_calls("discord_bot", "ban", "1", "2", "x" * 600) or []
    assert len(params["reason"]) == 512
    [(_, quiet)] = sanction_calls("discord_bot", "kick", "1", "2", "") or []
    assert "reason" not in quiet


@pytest.mark.parametrize("kind", sorted(CONNECTORS))
def test_deletes_and_messages_are_served_by_the_connector(kind: str) -> None:
    _served(kind, [message_call(kind, WHERE[kind], "🔇 Ann muted")])
    call = delete_call(kind, WHERE[kind], "42", USER[kind])
    assert call is not None
    _served(kind, [call])
    assert (delete_call(kind, WHERE[kind], "42", None) is None) == (kind == "whatsapp_user")
