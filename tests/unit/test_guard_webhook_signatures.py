"""The webhook receiver's guards at their edges: the signature scheme (timestamp format and
window, the digest, the header's case and padding), the replay record, the wait timeout,
the body cap and the JSON depth check. Signatures are computed here from the documented
scheme (tests/webhook_signing.py), never with the receiver's own function."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fastapi import HTTPException
from sqlmodel import Session, col, select
from starlette.requests import Request

from engine.api import webhooks as receiver
from engine.models import WebhookSignatureSeen
from engine.services import webhooks
from tests.flow_helpers import chain, make_admin, make_flow
from tests.webhook_signing import signed_headers

BODY = b'{"order": 7}'
STAMP = 1_000_000


def verify(stamp: str | None, given: str | None, now: float, body: bytes = BODY) -> str:
    return webhooks.verify_signature("k3y", body, stamp, given, now)


def good(stamp: int = STAMP, body: bytes = BODY, secret: str = "k3y") -> str:
    return signed_headers(secret, body, stamp)["X-Flowbot-Signature"]


# -- the signature ------------------------------------------------------------------------------


def test_the_signature_is_the_documented_hmac_and_is_returned_bare() -> None:
    assert webhooks.signature("k3y", str(STAMP), BODY) == good().removeprefix("sha256=")
    assert verify(str(STAMP), good(), STAMP) == good().removeprefix("sha256=")


@pytest.mark.parametrize(
    ("stamp", "body", "secret"),
    [(STAMP + 1, BODY, "k3y"), (STAMP, BODY + b" ", "k3y"), (STAMP, BODY, "k3y2")],
    ids=["other-stamp", "other-body", "other-secret"],
)
def test_a_signature_of_anything_else_is_refused(stamp: int, body: bytes, secret: str) -> None:
    with pytest.raises(webhooks.InvalidSignature, match="Missing or wrong X-Flowbot-Signature"):
        verify(str(STAMP), good(stamp, body, secret), STAMP)


def test_the_signature_header_is_read_without_case_or_padding() -> None:
    padded = f"  {good().upper()}\t"
    assert verify(str(STAMP), padded, STAMP) == good().removeprefix("sha256=")


def test_a_signature_header_outside_latin1_is_refused_not_crashing() -> None:
    with pytest.raises(webhooks.InvalidSignature, match="Missing or wrong"):
        verify(str(STAMP), good()[:-1] + "€", STAMP)


def test_the_refusal_says_what_to_send() -> None:
    with pytest.raises(webhooks.InvalidSignature) as refused:
        verify(str(STAMP), "sha256=00", STAMP)
    assert str(refused.value) == (
        "Missing or wrong X-Flowbot-Signature: expected sha256=<hex HMAC-SHA256 of "
        '"<X-Flowbot-Timestamp value>.<body>"> keyed with the webhook\'s secret.'
    )


# -- the timestamp ------------------------------------------------------------------------------


def test_a_padded_timestamp_is_read() -> None:
    assert verify(f" {STAMP}\n", good(), STAMP)


@pytest.mark.parametrize(
    "stamp",
    ["", " ", "-1000000", "1000000.5", "1e6", "１０００", "1000000²"],
    ids=["empty", "blank", "negative", "fraction", "exponent", "full-width", "superscript"],
)
def test_a_timestamp_that_is_not_plain_digits_is_refused(stamp: str) -> None:
    with pytest.raises(webhooks.InvalidSignature) as refused:
        verify(stamp, good(), STAMP)
    assert str(refused.value) == (
        "Missing or malformed X-Flowbot-Timestamp: send the Unix time in seconds at which "
        "the request was signed."
    )


def test_twelve_digits_are_read_and_thirteen_refused() -> None:
    twelve = 999_999_999_999
    assert verify(str(twelve), good(twelve), twelve)
    thirteen = "0" + str(twelve)  # the same time, one digit more
    with pytest.raises(webhooks.InvalidSignature, match="malformed"):
        verify(thirteen, good(twelve), twelve)


@pytest.mark.parametrize("skew", [-300, 300, 0], ids=["300 s ahead", "300 s old", "on time"])
def test_the_window_holds_five_minutes_either_way(skew: int) -> None:
    assert verify(str(STAMP), good(), STAMP + skew)


def test_fractions_of_the_server_clock_are_dropped() -> None:
    assert verify(str(STAMP), good(), STAMP + 300.99)
    with pytest.raises(webhooks.InvalidSignature, match="301 s old"):
        verify(str(STAMP), good(), STAMP + 301.01)


@pytest.mark.parametrize(
    ("now", "age"), [(STAMP + 301, "301 s old"), (STAMP - 301, "301 s in the future")]
)
def test_a_stale_stamp_is_refused_whatever_the_signature(now: int, age: str) -> None:
    for given in [good(), None]:
        with pytest.raises(webhooks.InvalidSignature) as refused:
            verify(str(STAMP), given, now)
        assert str(refused.value) == (
            f"Stale request: X-Flowbot-Timestamp is {age}, outside the ±5-minute window. "
            "Sign each request when sending it, from a clock that is on time."
        )


# -- the replay record --------------------------------------------------------------------------


def endpoint_ids(session: Session) -> tuple[int, int]:
    admin = make_admin()
    flow_id = make_flow(chain(("hook", "webhook", {"endpoint_name": "orders"})))
    first = webhooks.create_webhook(session, admin, "first", flow_id)
    second = webhooks.create_webhook(session, admin, "second", flow_id)
    session.commit()
    assert first.id is not None and second.id is not None
    return first.id, second.id


def seen(session: Session) -> list[tuple[int, str]]:
    rows = session.exec(select(WebhookSignatureSeen).order_by(col(WebhookSignatureSeen.id)))
    return [(row.endpoint_id, row.signature) for row in rows]


@pytest.mark.postgres
def test_a_signature_is_accepted_once_per_endpoint(session: Session) -> None:
    """On both databases: PostgreSQL, unlike SQLite, also checks the conflict's columns."""
    one, two = endpoint_ids(session)
    webhooks.remember_signature(session, one, "aa")
    with pytest.raises(webhooks.ReplayedSignature) as replayed:
        webhooks.remember_signature(session, one, "aa")
    assert str(replayed.value) == (
        "Replayed request: this signature was already accepted. Each request is accepted "
        "once; send a new one with a fresh X-Flowbot-Timestamp and signature."
    )
    webhooks.remember_signature(session, two, "aa")  # another endpoint's record
    webhooks.remember_signature(session, one, "bb")
    session.commit()
    assert seen(session) == [(one, "aa"), (two, "aa"), (one, "bb")]


@pytest.mark.postgres
def test_a_given_back_signature_may_be_sent_again_and_only_it(session: Session) -> None:
    one, two = endpoint_ids(session)
    for endpoint_id, signed in [(one, "aa"), (one, "bb"), (two, "aa")]:
        webhooks.remember_signature(session, endpoint_id, signed)
    webhooks.forget_signature(session, one, "aa")
    session.commit()
    assert seen(session) == [(one, "bb"), (two, "aa")]
    webhooks.remember_signature(session, one, "aa")
    with pytest.raises(webhooks.ReplayedSignature):
        webhooks.remember_signature(session, two, "aa")


# -- the wait timeout ---------------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [1, 60])
def test_the_wait_timeout_bounds_are_allowed(seconds: int) -> None:
    assert webhooks._check_timeout(seconds) == seconds


@pytest.mark.parametrize("seconds", [0, 61])
def test_a_wait_timeout_past_the_bounds_is_refused(seconds: int) -> None:
    with pytest.raises(webhooks.InvalidWebhook) as refused:
        webhooks._check_timeout(seconds)
    assert str(refused.value) == f"The wait timeout is 1 to 60 seconds, not {seconds}."


# -- the body cap -------------------------------------------------------------------------------


def request(chunks: list[bytes], headers: dict[str, str], delay: float = 0.0) -> Request:
    """A real Starlette request whose body arrives in ``chunks``, each after ``delay`` s."""
    queue = list(chunks)
    sent: list[int] = []

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(delay)
        sent.append(len(queue))
        body = queue.pop(0) if queue else b""
        return {"type": "http.request", "body": body, "more_body": bool(queue)}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/webhooks/t",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    made = Request(scope, receive)
    made.state.receives = sent
    return made


def read(made: Request, limit: int, timeout: float = 5.0) -> Awaitable[bytes]:
    return receiver.read_capped(made, limit, timeout)


async def refusal(call: Callable[[], Awaitable[bytes]]) -> HTTPException:
    with pytest.raises(HTTPException) as refused:
        await call()
    return refused.value


async def test_a_body_of_exactly_the_limit_is_read_whole() -> None:
    made = request([b"12345", b"67890"], {"content-length": "10"})
    assert await read(made, 10) == b"1234567890"


async def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    made = request([b"12345678901"], {"content-length": "11"})
    refused = await refusal(lambda: read(made, 10))
    assert (refused.status_code, refused.detail) == (413, "The body is larger than 10 bytes.")
    assert made.state.receives == []


async def test_a_body_larger_than_declared_is_refused_while_reading() -> None:
    made = request([b"123456", b"78901", b"2"], {"content-length": "3"})
    refused = await refusal(lambda: read(made, 10))
    assert (refused.status_code, refused.detail) == (413, "The body is larger than 10 bytes.")
    assert made.state.receives == [3, 2]  # stopped at the chunk that passed the limit


async def test_a_trickling_body_is_refused_with_408_and_the_connection_closed() -> None:
    made = request([b"1", b"2", b"3"], {}, delay=0.2)
    refused = await refusal(lambda: read(made, 10, timeout=0.3))
    assert refused.status_code == 408
    assert refused.detail == "The body did not arrive within 0.3 s."
    assert refused.headers == {"Connection": "close"}


# -- the JSON depth -----------------------------------------------------------------------------


def nested(depth: int) -> bytes:
    return b'{"a": ' * (depth - 1) + b"[]" + b"}" * (depth - 1)


def test_json_nested_to_the_limit_passes_and_one_deeper_does_not() -> None:
    assert not receiver.json_too_deep(nested(100))
    assert receiver.json_too_deep(nested(101))
    assert not receiver.json_too_deep(nested(3), limit=3)
    assert receiver.json_too_deep(nested(4), limit=3)


def test_closed_brackets_give_their_depth_back() -> None:
    assert not receiver.json_too_deep(b"[[[]],[[]],{}]", limit=3)
    assert receiver.json_too_deep(b"[[[]],[[[]]]]", limit=3)


def test_brackets_inside_strings_and_escapes_are_text() -> None:
    assert not receiver.json_too_deep(b'["[[[[", "{{{{"]', limit=1)
    assert not receiver.json_too_deep(b'["a\\"[[[[\\"", "\\\\"]', limit=1)
    assert receiver.json_too_deep(b'["a\\\\", [[]]]', limit=2)  # the string ends at its quote
