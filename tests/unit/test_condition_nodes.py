"""The condition nodes' runners, against events shaped like PlatformEvent and a real database.

Also home of the small helpers the utility and cross-platform node tests share: a
recording RunContext, an event builder and a seeded community.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from engine.models import (
    Chat,
    Community,
    CommunityConfig,
    CommunityMember,
    FlowDefinition,
    MemberRole,
    PlatformAccount,
    ReputationScore,
    UserFlowContext,
    Warning,
    utcnow,
)
from engine.nodes import REGISTRY, NodeCategory, NodeResult, conditions
from engine.platform_event import PlatformEvent

# --- shared helpers ---


@dataclass
class FakeContext:
    """A RunContext that records every platform call and answers from ``responses``."""

    trigger: Mapping[str, Any]
    flow_id: int | None = None
    execution_id: int | None = 1
    variables: dict[str, Any] = field(default_factory=dict)
    node_outputs: dict[str, Any] = field(default_factory=dict)
    responses: dict[tuple[str, str], Any] = field(default_factory=dict)
    calls: list[tuple[str, str, dict[str, Any], int | None]] = field(default_factory=list)

    async def call_platform(
        self, kind: str, action: str, params: Mapping[str, Any], instance_id: int | None = None
    ) -> dict[str, Any]:
        self.calls.append((kind, action, dict(params), instance_id))
        answer = self.responses.get((kind, action), {"message_id": "m1"})
        if isinstance(answer, Exception):
            raise answer
        return answer


def event(**fields: Any) -> dict[str, Any]:
    """A Telegram group message from user 42 unless overridden, as flows see it."""
    base: dict[str, Any] = {
        "event_id": "e1",
        "kind": "tg_message",
        "platform": "telegram",
        "connector": "telegram_bot",
        "instance_id": None,
        "chat": {"id": "-100", "type": "supergroup", "title": "Group"},
        "user": {"id": "42", "username": "alice", "first_name": "Alice"},
        "message_id": "7",
        "text": "hello world",
    }
    return PlatformEvent(**{**base, **fields}).as_trigger()


async def run(node_id: str, ctx: FakeContext, **params: Any) -> NodeResult:
    node = REGISTRY.get(node_id)
    assert node.run is not None
    return await node.run(ctx, node.params(**params))


@dataclass
class World:
    """One community with a Telegram group, a member (user 42) and a saved flow."""

    community_id: int
    account_id: int
    member_id: int
    flow_id: int


def make_world(session: Session, **rules: Any) -> World:
    community = Community(name="Makers")
    flow = FlowDefinition(name="f")
    account = PlatformAccount(platform="telegram", platform_user_id="42", username="alice")
    session.add_all([community, flow, account])
    session.flush()
    assert community.id and account.id and flow.id
    member = CommunityMember(community_id=community.id, platform_account_id=account.id)
    log_chat = Chat(platform="telegram", platform_chat_id="-999", title="Mod log")
    session.add_all(
        [Chat(platform="telegram", platform_chat_id="-100", community_id=community.id), log_chat]
    )
    session.flush()
    session.add_all(
        [
            CommunityConfig(community_id=community.id, rules={**rules, "log_chat_id": log_chat.id}),
            member,
        ]
    )
    session.commit()
    assert member.id
    return World(community.id, account.id, member.id, flow.id)


# --- declarations ---


def test_all_conditions_declared_with_documented_params() -> None:
    conditions_ = [t for t in REGISTRY if t.category is NodeCategory.condition]
    assert len(conditions_) == 23
    for node in conditions_:
        assert node.handles == ("true", "false") and node.run is not None
        for name, info in node.params.model_fields.items():
            assert info.description and info.examples, f"{node.id}.{name}"


# --- text ---


async def test_text_contains_any_case_and_whole_word() -> None:
    ctx = FakeContext(event(text="Buy CASINO chips"))
    result = await run("text_contains", ctx, values=["spam", "casino"])
    assert result.handle == "true" and result.output["matched"] == "casino"
    assert (
        await run("text_contains", ctx, values=["casino"], case_sensitive=True)
    ).handle == "false"
    assert (await run("text_contains", ctx, values=["chip"], whole_word=True)).handle == "false"
    assert (await run("text_contains", ctx, values=["chips"], whole_word=True)).handle == "true"


async def test_text_contains_reads_caption_or_given_text() -> None:
    ctx = FakeContext(event(text=None, media={"type": "photo", "caption": "free money"}))
    assert (await run("text_contains", ctx, values=["money"])).handle == "true"
    assert (await run("text_contains", ctx, values=["money"], text="nothing")).handle == "false"


async def test_text_equals_and_starts_with() -> None:
    ctx = FakeContext(event(text="  Yes "))
    assert (await run("text_equals", ctx, value="yes")).handle == "true"
    assert (await run("text_equals", ctx, value="yes", strip=False)).handle == "false"
    assert (await run("text_starts_with", ctx, prefixes=["!", "  y"])).output["matched"] == "  y"
    assert (await run("text_starts_with", ctx, prefixes=["no"])).handle == "false"


async def test_text_regex_groups() -> None:
    ctx = FakeContext(event(text="pay 25 EUR now"))
    result = await run("text_regex", ctx, pattern=r"(?P<amount>\d+) ?(eur)")
    assert result.handle == "true"
    assert result.output["named"] == {"amount": "25"} and result.output["groups"] == ["25", "EUR"]
    no = await run("text_regex", ctx, pattern="eur", case_sensitive=True)
    assert no.handle == "false"


def test_text_regex_refuses_invalid_or_long_patterns() -> None:
    params = REGISTRY.get("text_regex").params
    with pytest.raises(ValueError, match="invalid regular expression"):
        params(pattern="(")
    with pytest.raises(ValueError):
        params(pattern="a" * 2000)


async def test_catastrophic_regex_times_out_without_blocking_the_loop() -> None:
    ctx = FakeContext(event(text="a" * 5000 + "!"))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    started = time.monotonic()
    with pytest.raises(conditions.RegexTimeout):
        await run("text_regex", ctx, pattern=r"(a+)+$")
    elapsed = time.monotonic() - started
    task.cancel()
    assert elapsed < conditions.REGEX_TIMEOUT + 2
    assert ticks > 20  # the event loop kept running meanwhile
    # The worker is replaced: the next search works.
    assert (await run("text_regex", ctx, pattern=r"a!$")).handle == "true"


# --- the event ---


async def test_is_command_from_connector_or_text() -> None:
    ctx = FakeContext(event(text="/ban@mybot 42 spam"))
    result = await run("is_command", ctx, command="ban")
    assert result.handle == "true" and result.output["args"] == ["42", "spam"]
    assert (await run("is_command", ctx)).handle == "true"
    assert (await run("is_command", ctx, command="start")).handle == "false"
    ctx = FakeContext(event(command="start", args=["x"], text="/start x"))
    assert (await run("is_command", ctx, command="/start")).output["args"] == ["x"]
    assert (await run("is_command", FakeContext(event()))).handle == "false"


async def test_platform_chat_type_and_user_list() -> None:
    ctx = FakeContext(event())
    assert (await run("platform_is", ctx, platforms=["telegram"])).handle == "true"
    assert (await run("platform_is", ctx, platforms=["discord"])).handle == "false"
    assert (await run("chat_type_is", ctx, types=["group", "supergroup"])).handle == "true"
    assert (await run("chat_type_is", ctx, types=["private"])).handle == "false"
    assert (await run("user_in_list", ctx, users=["@Alice"])).handle == "true"
    assert (await run("user_in_list", ctx, users=["42"])).handle == "true"
    assert (await run("user_in_list", ctx, users=["7", "bob"])).handle == "false"


async def test_media_reply_forward_and_length() -> None:
    media = FakeContext(event(media={"type": "photo"}, reply_to_message_id="3", is_forwarded=True))
    plain = FakeContext(event())
    assert (await run("has_media", media)).handle == "true"
    assert (await run("has_media", plain)).handle == "false"
    assert (await run("media_type_is", media, types=["photo"])).handle == "true"
    assert (await run("media_type_is", plain, types=["photo"])).handle == "false"
    assert (await run("is_reply", media)).handle == "true"
    assert (await run("is_reply", plain)).handle == "false"
    assert (await run("is_forwarded", media)).handle == "true"
    assert (await run("is_forwarded", plain)).handle == "false"
    assert (await run("message_length", plain, min=5, max=11)).output == {
        "result": True,
        "length": 11,
    }
    assert (await run("message_length", plain, max=10)).handle == "false"


# --- time ---


@pytest.mark.parametrize(
    ("at", "start", "end", "expected"),
    [
        ("2026-06-01T08:30:00Z", "10:00", "18:00", True),  # 10:30 in Berlin (UTC+2)
        ("2026-06-01T16:30:00Z", "10:00", "18:00", False),  # 18:30 in Berlin
        ("2026-06-01T21:30:00Z", "22:00", "06:00", True),  # 23:30, across midnight
        ("2026-06-01T02:00:00Z", "22:00", "06:00", True),  # 04:00
        ("2026-06-01T10:00:00Z", "22:00", "06:00", False),
    ],
)
async def test_time_between_in_time_zone(at: str, start: str, end: str, expected: bool) -> None:
    result = await run(
        "time_between", FakeContext(event()), start=start, end=end, timezone="Europe/Berlin", at=at
    )
    assert (result.handle == "true") is expected


async def test_day_of_week_uses_the_time_zone() -> None:
    # Sunday 23:30 UTC is already Monday in Tokyo.
    ctx = FakeContext(event())
    at = "2026-06-07T23:30:00Z"
    assert (await run("day_of_week", ctx, days=["sun"], at=at)).handle == "true"
    result = await run("day_of_week", ctx, days=["mon"], at=at, timezone="Asia/Tokyo")
    assert result.handle == "true" and result.output["day"] == "mon"
    with pytest.raises(ValueError):
        REGISTRY.get("day_of_week").params(days=["mon"], timezone="Mars/Olympus")


async def test_time_between_defaults_to_now() -> None:
    result = await run("time_between", FakeContext(event()), start="00:00", end="00:00")
    assert result.handle == "false"  # an empty window
    result = await run("time_between", FakeContext(event()), start="00:01", end="00:00")
    assert "local_time" in result.output


# --- variables ---


@pytest.mark.parametrize(
    ("name", "op", "value", "expected"),
    [
        ("score", "==", "10", True),
        ("score", "!=", 10, False),
        ("score", ">", 9.5, True),
        ("score", "<", "9", False),
        ("word", "<", "b", True),
        ("tags", "contains", "vip", True),
        ("word", "contains", "pp", True),
        ("user.level", "==", 3, True),
        ("missing", "empty", None, True),
        ("tags", "empty", None, False),
        ("blank", "empty", None, True),
    ],
)
async def test_variable_compare(name: str, op: str, value: Any, expected: bool) -> None:
    variables = {"score": 10, "word": "apple", "tags": ["vip"], "user": {"level": 3}, "blank": ""}
    ctx = FakeContext(event(), variables=variables)
    result = await run("variable_compare", ctx, name=name, op=op, value=value)
    assert (result.handle == "true") is expected, result.output


# --- community records ---


async def test_user_is_admin_from_event_then_database(sqlite_session: Session) -> None:
    world = make_world(sqlite_session)
    admin = await run("user_is_admin", FakeContext(event(data={"is_admin": True})))
    assert admin.handle == "true" and admin.output["source"] == "platform"
    assert (await run("user_is_admin", FakeContext(event()))).handle == "false"
    member = sqlite_session.get(CommunityMember, world.member_id)
    assert member
    member.role = MemberRole.moderator
    sqlite_session.commit()
    assert (await run("user_is_admin", FakeContext(event()))).handle == "false"
    result = await run("user_is_admin", FakeContext(event()), include_moderators=True)
    assert result.handle == "true" and result.output["source"] == "community"


async def test_user_has_role_from_event_then_database(sqlite_session: Session) -> None:
    make_world(sqlite_session)
    roles = [{"id": "555", "name": "Helpers"}, "VIP"]
    ctx = FakeContext(event(data={"roles": roles}))
    assert (await run("user_has_role", ctx, role="helpers")).handle == "true"
    assert (await run("user_has_role", ctx, role="555")).handle == "true"
    assert (await run("user_has_role", ctx, role="vip")).handle == "true"
    assert (await run("user_has_role", ctx, role="admins")).handle == "false"
    assert (await run("user_has_role", FakeContext(event()), role="member")).handle == "true"


async def test_warnings_at_least_counts_only_active(sqlite_session: Session) -> None:
    world = make_world(sqlite_session)
    now = utcnow()
    keys = {"community_id": world.community_id, "platform_account_id": world.account_id}
    sqlite_session.add_all(
        [
            Warning(**keys),
            Warning(**keys, expires_at=now + timedelta(days=1)),
            Warning(**keys, revoked_at=now),
            Warning(**keys, expires_at=now - timedelta(days=1)),
        ]
    )
    sqlite_session.commit()
    ctx = FakeContext(event())
    result = await run("warnings_at_least", ctx, count=2)
    assert result.handle == "true" and result.output["warnings"] == 2
    assert (await run("warnings_at_least", ctx, count=3)).handle == "false"
    other_chat = FakeContext(event(chat={"id": "-5", "type": "group"}))
    assert (await run("warnings_at_least", other_chat, count=1)).handle == "false"


async def test_reputation_at_least(sqlite_session: Session) -> None:
    world = make_world(sqlite_session)
    ctx = FakeContext(event())
    assert (await run("reputation_at_least", ctx, score=0)).handle == "true"
    assert (await run("reputation_at_least", ctx, score=1)).handle == "false"
    sqlite_session.add(
        ReputationScore(
            community_id=world.community_id, platform_account_id=world.account_id, score=12
        )
    )
    sqlite_session.commit()
    result = await run("reputation_at_least", ctx, score=10)
    assert result.handle == "true" and result.output["score"] == 12


async def test_member_joined_within(sqlite_session: Session) -> None:
    world = make_world(sqlite_session)
    ctx = FakeContext(event())
    assert (await run("member_joined_within", ctx, seconds=3600)).handle == "true"
    member = sqlite_session.get(CommunityMember, world.member_id)
    assert member
    member.joined_at = utcnow() - timedelta(days=2)
    sqlite_session.commit()
    assert (await run("member_joined_within", ctx, seconds=3600)).handle == "false"
    stranger = FakeContext(event(user={"id": "999"}))
    assert (await run("member_joined_within", stranger, seconds=3600)).handle == "false"


# --- chance and cooldown ---


class FixedRandom:
    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


async def test_random_chance(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = FakeContext(event())
    monkeypatch.setattr(conditions, "rng", FixedRandom(0.2))
    assert (await run("random_chance", ctx, percent=25)).handle == "true"
    assert (await run("random_chance", ctx, percent=20)).handle == "false"
    assert (await run("random_chance", ctx, percent=0)).handle == "false"
    monkeypatch.setattr(conditions, "rng", FixedRandom(0.999999))
    assert (await run("random_chance", ctx, percent=100)).handle == "true"


async def test_cooldown_per_user_persists(
    sqlite_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_world(sqlite_session)
    clock = [1000.0]
    monkeypatch.setattr(conditions, "now_seconds", lambda: clock[0])
    ctx = FakeContext(event(), flow_id=world.flow_id)
    first = await run("cooldown", ctx, seconds=60)
    assert first.handle == "true" and first.output["scope"] == "user:telegram:42"
    clock[0] += 30
    second = await run("cooldown", ctx, seconds=60)
    assert second.handle == "false" and second.output["remaining_seconds"] == 30
    other_user = FakeContext(event(user={"id": "43"}), flow_id=world.flow_id)
    assert (await run("cooldown", other_user, seconds=60)).handle == "true"
    assert (await run("cooldown", ctx, seconds=60, key="other")).handle == "true"
    clock[0] += 31
    assert (await run("cooldown", ctx, seconds=60)).handle == "true"
    sqlite_session.expire_all()
    rows = sqlite_session.exec(
        select(UserFlowContext).where(UserFlowContext.key == "cooldown:default")
    ).all()
    assert {r.scope for r in rows} == {"user:telegram:42", "user:telegram:43"}


async def test_cooldown_per_chat_and_flow(sqlite_session: Session) -> None:
    world = make_world(sqlite_session)
    alice = FakeContext(event(), flow_id=world.flow_id)
    bob = FakeContext(event(user={"id": "43"}), flow_id=world.flow_id)
    assert (await run("cooldown", alice, seconds=60, per="chat")).handle == "true"
    assert (await run("cooldown", bob, seconds=60, per="chat")).handle == "false"
    assert (await run("cooldown", bob, seconds=60, per="flow")).handle == "true"
    elsewhere = FakeContext(event(chat={"id": "-7", "type": "group"}), flow_id=world.flow_id)
    assert (await run("cooldown", elsewhere, seconds=60, per="flow")).handle == "false"


async def test_cooldown_needs_a_saved_flow() -> None:
    with pytest.raises(ValueError, match="save the flow"):
        await run("cooldown", FakeContext(event()), seconds=5)
