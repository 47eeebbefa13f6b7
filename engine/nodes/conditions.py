"""Conditions: each tests the event, the flow's variables or the community's records.

Every condition follows the ``true`` or ``false`` handle and explains its verdict in its
output, so the debugger shows why a branch was taken. Text conditions read the
trigger's message text (or media caption) unless given a ``text`` to test.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import random
import re
import select
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from sqlmodel import Session
from sqlmodel import select as sql_select

from engine.db import in_session, saved_id
from engine.models import CommunityMember, MemberRole, ReputationScore, utcnow
from engine.nodes.base import (
    NodeCategory,
    NodeParams,
    NodePlatform,
    NodeResult,
    RunContext,
)
from engine.nodes.community_data import account_of, community_of_chat
from engine.nodes.registry import runner_declarer
from engine.nodes.utility import (
    MISSING,
    PER_FIELD,
    Per,
    as_utc,
    extract,
    require_flow_id,
    scope_for,
    update_flow_value,
    valid_timezone,
)
from engine.services import moderation

HANDLES = ("true", "false")


def verdict(ok: bool, **explanation: Any) -> NodeResult:
    return NodeResult(output={"result": ok, **explanation}, handle="true" if ok else "false")


condition = runner_declarer(NodeCategory.condition, NodePlatform.general, HANDLES)


def event_text(ctx: RunContext, override: str | None) -> str:
    if override is not None:
        return override
    media = ctx.trigger.get("media") or {}
    return ctx.trigger.get("text") or media.get("caption") or ""


def fold(text: str, case_sensitive: bool) -> str:
    return text if case_sensitive else text.casefold()


TEXT_FIELD = Field(
    default=None,
    description="Text to test; empty means the message text (or media caption)",
    examples=["{{context.answer}}"],
)


class TextParams(NodeParams):
    text: str | None = TEXT_FIELD
    case_sensitive: bool = Field(
        default=False, description="Tell upper and lower case apart", examples=[False]
    )


# --- text ----------------------------------------------------------------------------------------


class TextContainsParams(TextParams):
    values: list[str] = Field(
        min_length=1,
        description="Words or phrases; any one found matches",
        examples=[["spam", "casino"]],
    )
    whole_word: bool = Field(
        default=False, description="Match whole words only, not inside other words", examples=[True]
    )


@condition(
    "text_contains",
    "Text contains",
    "True when the text contains any of the values.",
    TextContainsParams,
)
async def text_contains(ctx: RunContext, p: TextContainsParams) -> NodeResult:
    text = fold(event_text(ctx, p.text), p.case_sensitive)
    for value in p.values:
        needle = fold(value, p.case_sensitive)
        if (
            re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", text)
            if p.whole_word
            else needle in text
        ):
            return verdict(True, matched=value)
    return verdict(False, matched=None)


class TextEqualsParams(TextParams):
    value: str = Field(description="The text to compare with", examples=["yes"])
    strip: bool = Field(default=True, description="Ignore surrounding spaces", examples=[True])


@condition("text_equals", "Text equals", "True when the text equals the value.", TextEqualsParams)
async def text_equals(ctx: RunContext, p: TextEqualsParams) -> NodeResult:
    text, value = event_text(ctx, p.text), p.value
    if p.strip:
        text, value = text.strip(), value.strip()
    return verdict(fold(text, p.case_sensitive) == fold(value, p.case_sensitive), text=text)


class TextStartsWithParams(TextParams):
    prefixes: list[str] = Field(
        min_length=1, description="Any of these prefixes matches", examples=[["!", "hey bot"]]
    )


@condition(
    "text_starts_with",
    "Text starts with",
    "True when the text starts with a prefix.",
    TextStartsWithParams,
)
async def text_starts_with(ctx: RunContext, p: TextStartsWithParams) -> NodeResult:
    text = fold(event_text(ctx, p.text), p.case_sensitive)
    matched = next((x for x in p.prefixes if text.startswith(fold(x, p.case_sensitive))), None)
    return verdict(matched is not None, matched=matched)


# --- text_regex: bounded in time ------------------------------------------------------------

MAX_PATTERN_LENGTH = 1000
MAX_REGEX_INPUT = 20_000
REGEX_TIMEOUT = 1.0

# Python's `re` holds the GIL while matching and cannot be interrupted, so a thread with a
# bounded wait would still freeze the executor. Matches run in a small child interpreter
# instead; one that overruns is killed (and replaced on the next use).
_WORKER_SOURCE = """
import json, re, sys
for line in sys.stdin:
    pattern, flags, text = json.loads(line)
    m = re.search(pattern, text, flags)
    out = None if m is None else [m.group(0), list(m.groups()), m.groupdict(), list(m.span())]
    sys.stdout.write(json.dumps(out) + "\\n")
    sys.stdout.flush()
"""


class RegexTimeout(TimeoutError):
    pass


class RegexWorker:
    """A child Python running one search at a time, killed when it overruns."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        atexit.register(self.close)

    def _process(self) -> subprocess.Popen[str]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _WORKER_SOURCE],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        return self._proc

    def search(self, pattern: str, flags: int, text: str, timeout: float) -> list[Any] | None:
        with self._lock:
            proc = self._process()
            assert proc.stdin and proc.stdout
            proc.stdin.write(json.dumps([pattern, flags, text]) + "\n")
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], timeout)
            if not ready:
                self.close()
                raise RegexTimeout(f"the pattern took longer than {timeout:g} s; simplify it")
            found: list[Any] | None = json.loads(proc.stdout.readline())
            return found

    def close(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None


regex_worker = RegexWorker()


class TextRegexParams(TextParams):
    pattern: str = Field(
        max_length=MAX_PATTERN_LENGTH,
        description=f"Python regular expression; searches stop after {REGEX_TIMEOUT:g} s",
        examples=[r"https?://\S+", r"(?P<amount>\d+) ?(€|EUR)"],
    )
    multiline: bool = Field(
        default=False, description="^ and $ match at every line", examples=[False]
    )

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        return pattern


@condition(
    "text_regex",
    "Text matches pattern",
    f"True when a regular expression matches; the first {MAX_REGEX_INPUT} characters are searched.",
    TextRegexParams,
)
async def text_regex(ctx: RunContext, p: TextRegexParams) -> NodeResult:
    flags = (0 if p.case_sensitive else re.IGNORECASE) | (re.MULTILINE if p.multiline else 0)
    text = event_text(ctx, p.text)[:MAX_REGEX_INPUT]
    found = await asyncio.to_thread(regex_worker.search, p.pattern, flags, text, REGEX_TIMEOUT)
    if found is None:
        return verdict(False, match=None, groups=[], named={})
    match, groups, named, span = found
    return verdict(True, match=match, groups=groups, named=named, span=span)


# --- the event ----------------------------------------------------------------------------------


class IsCommandParams(NodeParams):
    command: str | None = Field(
        default=None,
        description="Command name without the slash; empty means any command",
        examples=["start"],
    )


def parse_command(trigger: Mapping[str, Any]) -> tuple[str | None, list[str]]:
    """The event's command, from the connector or from a leading ``/name@bot`` in the text."""
    if trigger.get("command"):
        return trigger["command"], list(trigger.get("args") or [])
    text = (trigger.get("text") or "").strip()
    if not text.startswith("/") or len(text) < 2:
        return None, []
    head, *args = text[1:].split()
    return head.split("@", 1)[0], args


@condition("is_command", "Is command", "True when the message is a /command.", IsCommandParams)
async def is_command(ctx: RunContext, p: IsCommandParams) -> NodeResult:
    command, args = parse_command(ctx.trigger)
    wanted = (p.command or "").lstrip("/").casefold()
    ok = command is not None and (not wanted or command.casefold() == wanted)
    return verdict(ok, command=command, args=args)


class PlatformIsParams(NodeParams):
    platforms: list[Literal["telegram", "discord", "whatsapp", "flowbot"]] = Field(
        min_length=1, description="Any of these platforms matches", examples=[["telegram"]]
    )


@condition(
    "platform_is",
    "Platform is",
    "True when the event comes from one of the platforms.",
    PlatformIsParams,
)
async def platform_is(ctx: RunContext, p: PlatformIsParams) -> NodeResult:
    platform = ctx.trigger.get("platform")
    return verdict(platform in p.platforms, platform=platform)


class ChatTypeIsParams(NodeParams):
    types: list[Literal["private", "group", "supergroup", "channel", "guild", "dm"]] = Field(
        min_length=1,
        description="Any of these chat types matches",
        examples=[["group", "supergroup"]],
    )


@condition(
    "chat_type_is", "Chat type is", "True when the chat is of one of the types.", ChatTypeIsParams
)
async def chat_type_is(ctx: RunContext, p: ChatTypeIsParams) -> NodeResult:
    chat_type = (ctx.trigger.get("chat") or {}).get("type")
    return verdict(chat_type in p.types, chat_type=chat_type)


class UserInListParams(NodeParams):
    users: list[str] = Field(
        min_length=1, description="User ids or @usernames", examples=[["42", "@alice"]]
    )


@condition(
    "user_in_list",
    "User in list",
    "True when the user's id or username is listed.",
    UserInListParams,
)
async def user_in_list(ctx: RunContext, p: UserInListParams) -> NodeResult:
    user = ctx.trigger.get("user") or {}
    listed = {u.strip().lstrip("@").casefold() for u in p.users}
    names = {str(user.get("id") or "").casefold(), (user.get("username") or "").casefold()} - {""}
    return verdict(bool(listed & names), user_id=user.get("id"), username=user.get("username"))


@condition(
    "has_media", "Has media", "True when the message carries a photo, video, file...", NodeParams
)
async def has_media(ctx: RunContext, p: NodeParams) -> NodeResult:
    media = ctx.trigger.get("media")
    return verdict(bool(media), media_type=(media or {}).get("type"))


class MediaTypeIsParams(NodeParams):
    types: list[Literal["photo", "video", "document", "voice", "audio", "sticker", "animation"]] = (
        Field(
            min_length=1,
            description="Any of these media types matches",
            examples=[["photo", "video"]],
        )
    )


@condition(
    "media_type_is",
    "Media type is",
    "True when the message's media is of one of the types.",
    MediaTypeIsParams,
)
async def media_type_is(ctx: RunContext, p: MediaTypeIsParams) -> NodeResult:
    media_type = (ctx.trigger.get("media") or {}).get("type")
    return verdict(media_type in p.types, media_type=media_type)


@condition("is_reply", "Is reply", "True when the message replies to another one.", NodeParams)
async def is_reply(ctx: RunContext, p: NodeParams) -> NodeResult:
    reply_to = ctx.trigger.get("reply_to_message_id")
    return verdict(bool(reply_to), reply_to_message_id=reply_to)


@condition("is_forwarded", "Is forwarded", "True when the message was forwarded.", NodeParams)
async def is_forwarded(ctx: RunContext, p: NodeParams) -> NodeResult:
    return verdict(bool(ctx.trigger.get("is_forwarded")))


class MessageLengthParams(NodeParams):
    text: str | None = TEXT_FIELD
    min: int | None = Field(
        default=None, ge=0, description="At least this many characters", examples=[1]
    )
    max: int | None = Field(
        default=None, ge=0, description="At most this many characters", examples=[500]
    )


@condition(
    "message_length",
    "Message length",
    "True when the length is within min and max.",
    MessageLengthParams,
)
async def message_length(ctx: RunContext, p: MessageLengthParams) -> NodeResult:
    length = len(event_text(ctx, p.text))
    ok = (p.min is None or length >= p.min) and (p.max is None or length <= p.max)
    return verdict(ok, length=length)


# --- time ---------------------------------------------------------------------------------


class ZonedParams(NodeParams):
    timezone: str = Field(default="UTC", description="IANA time zone", examples=["Europe/Berlin"])
    at: datetime | None = Field(
        default=None,
        description="Moment to test; empty means now (naive values are UTC)",
        examples=["{{trigger.occurred_at}}"],
    )

    _zone = field_validator("timezone")(valid_timezone)

    def local(self) -> datetime:
        moment = self.at or datetime.now(UTC)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(ZoneInfo(self.timezone))


class TimeBetweenParams(ZonedParams):
    start: clock_time = Field(description="From this time of day (inclusive)", examples=["09:00"])
    end: clock_time = Field(
        description="Until this time of day (exclusive); before start means across midnight",
        examples=["17:30"],
    )


@condition(
    "time_between",
    "Time between",
    "True between two times of day in a time zone.",
    TimeBetweenParams,
)
async def time_between(ctx: RunContext, p: TimeBetweenParams) -> NodeResult:
    now = p.local()
    current = now.time().replace(tzinfo=None)
    across_midnight = p.end < p.start
    ok = (current >= p.start or current < p.end) if across_midnight else p.start <= current < p.end
    return verdict(ok, local_time=now.isoformat())


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class DayOfWeekParams(ZonedParams):
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        min_length=1, description="Any of these days matches", examples=[["sat", "sun"]]
    )


@condition("day_of_week", "Day of week", "True on the chosen days in a time zone.", DayOfWeekParams)
async def day_of_week(ctx: RunContext, p: DayOfWeekParams) -> NodeResult:
    day = DAYS[p.local().weekday()]
    return verdict(day in p.days, day=day)


# --- variables ------------------------------------------------------------------------------------


class VariableCompareParams(NodeParams):
    name: str = Field(
        description="Variable name, or a dotted path into it", examples=["score", "user.level"]
    )
    op: Literal["==", "!=", "<", ">", "contains", "empty"] = Field(
        default="==", description="Comparison", examples=["==", ">", "contains"]
    )
    value: Any = Field(
        default=None, description="Value to compare with (unused by empty)", examples=[10, "yes"]
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


Comparable = TypeVar("Comparable", str, float)


def compare(left: Any, op: str, right: Any) -> bool:
    """Numbers compare as numbers (also when given as text), everything else as text."""
    if op == "empty":
        return left is None or left == "" or (isinstance(left, (list, dict)) and not left)
    if op == "contains":
        if isinstance(left, (list, dict)):
            return right in left or str(right) in map(str, left)
        return left is not None and str(right) in str(left)
    a, b = _number(left), _number(right)
    if a is None or b is None:
        return _ordered(op, "" if left is None else str(left), "" if right is None else str(right))
    return _ordered(op, a, b)


def _ordered(op: str, a: Comparable, b: Comparable) -> bool:
    return {"==": a == b, "!=": a != b, "<": a < b, ">": a > b}[op]


@condition(
    "variable_compare",
    "Compare variable",
    "Compare a flow variable with a value.",
    VariableCompareParams,
)
async def variable_compare(ctx: RunContext, p: VariableCompareParams) -> NodeResult:
    found = extract(ctx.variables, p.name)
    left = None if found is MISSING else found
    return verdict(compare(left, p.op, p.value), variable=left, op=p.op, value=p.value)


# --- community records ------------------------------------------------------------------------


def _member_facts(session: Session, trigger: Mapping[str, Any]) -> dict[str, Any]:
    """The community of the chat and the user's account, score, warnings and membership."""
    community = community_of_chat(session, trigger)
    account = account_of(session, trigger) if (trigger.get("user") or {}).get("id") else None
    if community is None or account is None:
        return {"community_id": community.id if community else None, "known": False}
    member = session.exec(
        sql_select(CommunityMember).where(
            CommunityMember.community_id == community.id,
            CommunityMember.platform_account_id == account.id,
        )
    ).first()
    score = session.exec(
        sql_select(ReputationScore.score).where(
            ReputationScore.community_id == community.id,
            ReputationScore.platform_account_id == account.id,
        )
    ).first()
    return {
        "community_id": community.id,
        "known": True,
        "role": member.role if member else None,
        "joined_at": member.joined_at if member and member.left_at is None else None,
        "warnings": moderation.active_warnings(session, saved_id(community), saved_id(account)),
        "score": score or 0,
    }


async def member_facts(ctx: RunContext) -> dict[str, Any]:
    return await in_session(_member_facts, ctx.trigger)


class UserIsAdminParams(NodeParams):
    include_moderators: bool = Field(
        default=False, description="Count community moderators as admins", examples=[True]
    )


@condition(
    "user_is_admin",
    "User is admin",
    "True when the platform says the user is an admin, else when the community lists them as one.",
    UserIsAdminParams,
)
async def user_is_admin(ctx: RunContext, p: UserIsAdminParams) -> NodeResult:
    data = ctx.trigger.get("data") or {}
    if isinstance(data.get("is_admin"), bool):
        return verdict(data["is_admin"], source="platform")
    roles = {MemberRole.admin, MemberRole.owner} | (
        {MemberRole.moderator} if p.include_moderators else set()
    )
    role = (await member_facts(ctx)).get("role")
    return verdict(role in roles, source="community", role=role)


class UserHasRoleParams(NodeParams):
    role: str = Field(
        min_length=1,
        description="Platform role name or id (e.g. a Discord role), or a community role",
        examples=["Moderator", "moderator"],
    )


@condition(
    "user_has_role",
    "User has role",
    "True when the user has the role on the platform or in the community.",
    UserHasRoleParams,
)
async def user_has_role(ctx: RunContext, p: UserHasRoleParams) -> NodeResult:
    wanted = p.role.casefold()
    roles = (ctx.trigger.get("data") or {}).get("roles")
    if isinstance(roles, list):
        names = {str(r.get("name") if isinstance(r, dict) else r).casefold() for r in roles}
        ids = {str(r.get("id")).casefold() for r in roles if isinstance(r, dict)}
        if wanted in names | ids:
            return verdict(True, source="platform", roles=roles)
    role = (await member_facts(ctx)).get("role")
    return verdict(role is not None and str(role) == wanted, source="community", role=role)


class AtLeastParams(NodeParams):
    count: int = Field(ge=0, description="Threshold (inclusive)", examples=[3])


@condition(
    "warnings_at_least",
    "Warnings at least",
    "True when the user has at least this many active warnings in the chat's community.",
    AtLeastParams,
)
async def warnings_at_least(ctx: RunContext, p: AtLeastParams) -> NodeResult:
    facts = await member_facts(ctx)
    warnings = facts.get("warnings", 0)
    return verdict(warnings >= p.count, warnings=warnings, community_id=facts["community_id"])


class ReputationAtLeastParams(NodeParams):
    score: int = Field(description="Threshold (inclusive)", examples=[10])


@condition(
    "reputation_at_least",
    "Reputation at least",
    "True when the user's reputation in the chat's community reaches the score.",
    ReputationAtLeastParams,
)
async def reputation_at_least(ctx: RunContext, p: ReputationAtLeastParams) -> NodeResult:
    facts = await member_facts(ctx)
    score = facts.get("score", 0)
    return verdict(score >= p.score, score=score, community_id=facts["community_id"])


class JoinedWithinParams(NodeParams):
    seconds: int = Field(gt=0, description="How recent the join must be", examples=[86400])


@condition(
    "member_joined_within",
    "Joined recently",
    "True when the user joined the chat's community within the period.",
    JoinedWithinParams,
)
async def member_joined_within(ctx: RunContext, p: JoinedWithinParams) -> NodeResult:
    joined_at = (await member_facts(ctx)).get("joined_at")
    ok = joined_at is not None and as_utc(utcnow()) - as_utc(joined_at) <= timedelta(
        seconds=p.seconds
    )
    return verdict(ok, joined_at=joined_at.isoformat() if joined_at else None)


# --- chance and cooldown --------------------------------------------------------------------------

rng: random.Random = random.SystemRandom()


class RandomChanceParams(NodeParams):
    percent: float = Field(ge=0, le=100, description="Chance of true, in percent", examples=[25])


@condition("random_chance", "Random chance", "True with the given probability.", RandomChanceParams)
async def random_chance(ctx: RunContext, p: RandomChanceParams) -> NodeResult:
    roll = rng.random() * 100
    return verdict(roll < p.percent, roll=round(roll, 3))


class CooldownParams(NodeParams):
    seconds: int = Field(
        gt=0, le=366 * 24 * 3600, description="Length of the cooldown", examples=[60]
    )
    per: Per = PER_FIELD
    key: str = Field(
        default="default",
        min_length=1,
        max_length=64,
        description="Name of this cooldown; cooldowns with the same key in a flow share their time",
        examples=["default", "daily_bonus"],
    )


def now_seconds() -> float:
    return time.time()


@condition(
    "cooldown",
    "Cooldown",
    "True when not in cooldown (and then starts it); false while it lasts.",
    CooldownParams,
)
async def cooldown(ctx: RunContext, p: CooldownParams) -> NodeResult:
    now = now_seconds()

    def change(started: Any) -> tuple[Any, datetime | None]:
        if isinstance(started, (int, float)) and now - started < p.seconds:
            return started, utcnow() + timedelta(seconds=p.seconds - (now - started))
        return now, utcnow() + timedelta(seconds=p.seconds)

    scope = scope_for(ctx, p.per)
    started, current = await asyncio.to_thread(
        update_flow_value, require_flow_id(ctx), scope, f"cooldown:{p.key}", change
    )
    cooling = started is not None and started == current
    remaining = max(0.0, p.seconds - (now - current)) if cooling else 0.0
    return verdict(not cooling, scope=scope, remaining_seconds=round(remaining, 3))
