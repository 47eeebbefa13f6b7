"""The interaction ledger: one initial response per interaction, an answer or the
connector's acknowledgement, whoever comes first; the others wait and go late."""

from __future__ import annotations

import asyncio

import hikari
import pytest

from connectors.discord_bot import interactions
from connectors.discord_bot.interactions import Interactions, initial_sent

APP = hikari.Snowflake(1)


def ledger(*keys: str, command: bool = True) -> Interactions:
    found = Interactions()
    for key in keys:
        found.expect(key, APP, f"token-{key}", command=command)
    return found


async def test_an_answer_first_leaves_nothing_to_acknowledge() -> None:
    book = ledger("1")
    claim = book.claim_answer("1")
    assert claim.late is None and claim.taken is not None
    assert book.claim_ack("1") is None
    second = book.claim_answer("1")  # a second answer goes late, after the first
    assert second.late is claim.taken and second.taken is None
    assert book.take_thinking("1") is None


async def test_the_acknowledgement_first_makes_the_answer_late_and_wait_for_it() -> None:
    book = ledger("1")
    acked = book.claim_ack("1")
    assert acked is not None and acked.thinking  # a command: "thinking…"
    late = book.claim_answer("1").late
    assert late is acked
    waiting = asyncio.ensure_future(initial_sent(late))
    await asyncio.sleep(0)
    assert not waiting.done()  # the deferral is in flight: the answer waits
    book.settle(acked, True)
    assert await waiting is True
    assert book.claim_ack("1") is None  # acknowledged once
    assert book.take_thinking("1") is acked  # for the timeout, once
    assert book.take_thinking("1") is None


async def test_a_failed_acknowledgement_opens_the_interaction_to_the_waiting_answer() -> None:
    book = ledger("1")
    acked = book.claim_ack("1")
    assert acked is not None
    late = book.claim_answer("1").late
    book.settle(acked, False)
    assert late is not None and await initial_sent(late) is False
    assert book.take_thinking("1") is None  # no thinking message was shown
    claim = book.claim_answer("1")
    assert claim.late is None and claim.taken is acked


async def test_a_failed_answer_leaves_the_interaction_to_the_acknowledgement() -> None:
    book = ledger("1")
    taken = book.claim_answer("1").taken
    assert taken is not None
    book.settle(taken, False)
    assert book.claim_ack("1") is taken


async def test_a_click_is_deferred_without_a_thinking_message() -> None:
    book = ledger("1", command=False)
    assert book.claim_ack("1") is not None
    assert book.take_thinking("1") is None


async def test_an_unknown_interaction_is_answered_initially() -> None:
    claim = Interactions().claim_answer("unknown")
    assert claim.late is None and claim.taken is None  # Discord decides


async def test_interactions_older_than_a_token_are_forgotten(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr("connectors.discord_bot.interactions.monotonic", lambda: now[0])
    book = ledger("old")
    now[0] += interactions.TOKEN_SECONDS - 1
    book.expect("young", APP, "t", command=True)
    now[0] += 2
    book.expect("new", APP, "t", command=True)
    assert book.claim_ack("old") is None  # expired: nothing can be sent with its token
    assert book.claim_ack("young") is not None
