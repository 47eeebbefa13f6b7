"""The rules of a community applied to one platform event, each rule a recorded step.

Joins get the welcome and the new-member hold; a hold's button press lifts it; messages
go through anti-flood, anti-link and banned words (admins and owners exempt), and a
reply through reputation earning. Sanctions go through engine/services/moderation.py
as ``rules:<rule>``, which keeps the warning thresholds, member flags, moderation log
and log chat in one place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlmodel import Session, select

from engine import pool_client
from engine.community_automation.delayed import delayed_call
from engine.community_automation.hold_expiry import hold_expired
from engine.community_rules import CommunityRules, Sanction, parse_rules
from engine.db import session_scope
from engine.expressions import Scope, render_text
from engine.models import (
    Chat,
    Community,
    CommunityConfig,
    CommunityMember,
    MemberRole,
    ModerationAction,
    utcnow,
)
from engine.platform_calls import DEFAULT_KIND, delete_call, message_call, sanction_calls
from engine.platform_event import PlatformEvent
from engine.services import moderation, reputation

from . import flood, hold, platform
from .checks import Hit, banned_word, forbidden_link
from .trace import RuleSkipped, RulesRun

JOIN_KINDS = frozenset({"tg_member_joined", "dc_member_join", "wa_group_joined"})
MESSAGE_KINDS = frozenset(
    {"tg_message", "tgu_message", "dc_message", "wa_message", "wa_group_message",
     "wa_media_message"}
)  # fmt: skip
PRESS_KINDS = frozenset({"tg_callback_query", "dc_button_click"})
EXEMPT_ROLES = frozenset({MemberRole.admin, MemberRole.owner})
HOLD_MARGIN_SECONDS = 60  # a Discord timeout outlasts the hold a little: the kick comes first


@dataclass
class Situation:
    """Everything the rules read about one event, loaded once."""

    event: PlatformEvent
    community_id: int
    community_name: str
    rules: CommunityRules
    kind: str  # the connector kind that saw the event and will act on it
    member: CommunityMember | None
    chat_row_id: int | None
    message_chat: str | None  # where messages about the event go
    run: RulesRun | None = None
    calls: int = 0
    removed_by: str | None = None  # the rule that deleted the message, if one did

    @property
    def account_id(self) -> int | None:
        return self.member.platform_account_id if self.member else None

    @property
    def exempt(self) -> bool:
        return self.member is not None and self.member.role in EXEMPT_ROLES

    async def call(self, rule: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """One pool call of ``rule``, keyed so a redelivery is deduplicated by the pool."""
        assert self.run is not None
        self.calls += 1
        return await pool_client.execute(
            self.kind,
            action,
            params,
            instance_id=self.event.instance_id,
            idempotency_key=f"rules:{self.run.execution_id}:{rule}:{self.calls}",
        )


def situation(
    session: Session, event: PlatformEvent, community_id: int, member_id: int | None
) -> Situation | None:
    community = session.get(Community, community_id)
    if community is None or not community.is_active:
        return None
    config = session.exec(
        select(CommunityConfig).where(CommunityConfig.community_id == community_id)
    ).first()
    member = session.get(CommunityMember, member_id) if member_id is not None else None
    chat_row = None
    if event.chat is not None:
        chat_row = session.exec(
            select(Chat.id).where(
                Chat.platform == event.platform, Chat.platform_chat_id == event.chat.id
            )
        ).first()
    rules = parse_rules(config.rules if config else None).for_platform(event.platform)
    return Situation(
        event=event,
        community_id=community_id,
        community_name=community.name,
        rules=rules,
        kind=event.connector or DEFAULT_KIND.get(event.platform, ""),
        member=member,
        chat_row_id=chat_row,
        message_chat=platform.chat_for_messages(session, event, community_id, rules.log_chat_id),
    )


Rule = tuple[str, dict[str, Any], Callable[[Situation], Awaitable[dict[str, Any]]]]


def planned(s: Situation) -> list[Rule]:
    """The rules that apply to this event, in order, with what each step records as input."""
    e, r = s.event, s.rules
    if e.user is not None and (e.user.is_bot or e.data.get("outgoing")):
        return []
    plan: list[Rule] = []
    if e.kind in JOIN_KINDS:
        if r.welcome.enabled:
            plan.append(("welcome", r.welcome.model_dump(), welcome))
        if r.hold.enabled:
            plan.append(("hold", r.hold.model_dump(), start_hold))
    elif e.kind in PRESS_KINDS and platform.pressed_data(e).startswith(platform.HOLD_PREFIX):
        plan.append(("hold", {"pressed": platform.pressed_data(e)}, confirm_hold))
    elif e.kind in MESSAGE_KINDS:
        text = {"text": e.text or "", "exempt": s.exempt}
        if r.antiflood.enabled:
            plan.append(("antiflood", {**r.antiflood.model_dump(), **text}, antiflood))
        if r.antilink.enabled:
            plan.append(("antilink", {**r.antilink.model_dump(), **text}, antilink))
        if r.banned_words.enabled:
            plan.append(("banned_words", {**r.banned_words.model_dump(), **text}, banned_words))
        if r.reputation.enabled and e.data.get("reply_to_user"):
            plan.append(("reputation", {"text": e.text or ""}, earn))
    return plan


async def apply(event: PlatformEvent, community_id: int, member_id: int | None) -> int | None:
    """Run the community's rules on ``event``; the execution recording them, None when no
    rule applies (no execution is recorded then)."""
    with session_scope() as session:
        s = situation(session, event, community_id, member_id)
        if s is not None:
            session.expunge_all()
    if s is None or not (plan := planned(s)):
        return None
    key = f"{event.event_id}:rules:{community_id}"
    s.run = RulesRun.open(community_id, event.as_trigger(), event.kind, key)
    if s.run is None:
        return None  # an earlier delivery finished it
    ran = {}
    for name, given, body in plan:
        ran[name] = await s.run.step(name, given, _bound(body, s))
    s.run.finish({"rules": ran, "removed_by": s.removed_by})
    return s.run.execution_id


def _bound(
    body: Callable[[Situation], Awaitable[dict[str, Any]]], s: Situation
) -> Callable[[], Awaitable[dict[str, Any]]]:
    return lambda: body(s)


# --- joins ---------------------------------------------------------------------------------


def _member_names(s: Situation) -> dict[str, Any]:
    """What the admin's templates read: plain data, never code (engine/expressions.py)."""
    user = s.event.user
    full = " ".join(p for p in (user.first_name, user.last_name) if p) if user else ""
    name = (user.display_name or full or user.username or user.id) if user else ""
    chat = s.event.chat
    return {
        "member": {"name": name, "username": user.username if user else None,
                   "id": user.id if user else None},
        "chat": {"title": chat.title if chat else None, "id": chat.id if chat else None},
        "community": {"name": s.community_name},
        "rules": s.rules.rules_text,
        "minutes": s.rules.hold.minutes,
    }  # fmt: skip


def _render(s: Situation, template: str) -> str:
    return render_text(template, Scope(trigger=s.event.as_trigger()), names=_member_names(s))


async def welcome(s: Situation) -> dict[str, Any]:
    if s.message_chat is None:
        raise ValueError("no chat of this community to post the welcome in")
    text = _render(s, s.rules.welcome.message)
    if not text.strip():
        raise RuleSkipped("the welcome message renders empty")
    action, params = message_call(s.kind, s.message_chat, text)
    sent = await s.call("welcome", action, params)
    out: dict[str, Any] = {"chat_id": s.message_chat, "text": text, "sent": sent}
    seconds = s.rules.welcome.delete_after_seconds
    removal = delete_call(s.kind, s.message_chat, str(sent.get("message_id")), None)
    if seconds and sent.get("message_id") and removal is not None:
        assert s.run is not None
        key = f"rules:{s.run.execution_id}:unwelcome"
        action, params = removal
        delayed_call.send_with_options(
            args=(s.kind, s.event.instance_id, action, params, key), delay=seconds * 1000
        )
        out["delete_after_seconds"] = seconds
    return out


async def start_hold(s: Situation) -> dict[str, Any]:
    assert s.run is not None and s.event.user is not None
    where, rule = platform.where_members_are(s.event), s.rules.hold
    seconds = rule.minutes * 60
    # Telegram mutes until lifted; a Discord timeout needs an end.
    mute_for = seconds + HOLD_MARGIN_SECONDS if s.kind == "discord_bot" else None
    mute = sanction_calls(s.kind, "mute", where or "", s.event.user.id, "new-member hold", mute_for)
    if where is None or s.message_chat is None or s.account_id is None or not mute:
        raise RuleSkipped(f"{s.event.platform} cannot hold a new member here")
    held = hold.start(
        s.run.flow_id,
        hold.Hold(0, s.community_id, s.account_id, s.event.platform, s.kind,
                  s.event.instance_id, where, s.event.user.id),
        utcnow() + timedelta(seconds=seconds),
    )  # fmt: skip
    muted = [await s.call("hold", action, params) for action, params in mute]
    call = platform.button_message(
        s.kind, s.message_chat, _render(s, rule.message), rule.button_text,
        f"{platform.HOLD_PREFIX}{held.id}",
    )  # fmt: skip
    sent = await s.call("hold", *call) if call else None
    hold_expired.send_with_options(args=(held.id, s.community_id), delay=seconds * 1000)
    return {"hold_id": held.id, "muted": muted, "message": sent, "kick_after_minutes": rule.minutes}


async def confirm_hold(s: Situation) -> dict[str, Any]:
    """A hold's button pressed: by its member, the hold is lifted; by anyone else, refused."""
    assert s.run is not None and s.event.user is not None
    raw = platform.pressed_data(s.event).removeprefix(platform.HOLD_PREFIX)
    held = hold.find(s.run.flow_id, int(raw)) if raw.isdigit() else None
    if held is None or held.user_id != s.event.user.id or not hold.settle(held.id):
        answer = platform.press_answer(s.kind, s.event, "This button is not for you.")
        if answer:
            await s.call("hold", *answer)
        return {"confirmed": False, "hold_id": held.id if held else None}
    unmute = sanction_calls(held.kind, "unmute", held.where, held.user_id, "confirmed") or []
    lifted = [await s.call("hold", action, params) for action, params in unmute]
    answer = platform.press_answer(s.kind, s.event, "Thanks, you can write now.")
    if answer:
        await s.call("hold", *answer)
    return {"confirmed": True, "hold_id": held.id, "unmuted": lifted}


# --- messages ------------------------------------------------------------------------------


async def antiflood(s: Situation) -> dict[str, Any]:
    assert s.run is not None and s.event.user is not None and s.event.chat is not None
    if s.exempt:
        raise RuleSkipped("admins and owners are exempt")
    rule = s.rules.antiflood
    count = flood.count_message(
        s.run.flow_id, s.event.platform, s.event.chat.id, s.event.user.id, s.event.event_id,
        s.event.occurred_at, limit=rule.messages, seconds=rule.seconds,
    )  # fmt: skip
    out: dict[str, Any] = {"messages_in_window": count.messages, "flooding": count.flooding}
    if not count.flooding:
        return out
    reason = f"flood: {count.messages} messages in {rule.seconds} s"
    sanction: Sanction = rule.action if count.sanction else "delete"
    out["sanction"] = await sanction_message(s, "antiflood", sanction, reason, rule.mute_minutes)
    return out


async def antilink(s: Situation) -> dict[str, Any]:
    return await _check(s, "antilink", forbidden_link(s.event.text or "", s.rules.antilink),
                        s.rules.antilink.action)  # fmt: skip


async def banned_words(s: Situation) -> dict[str, Any]:
    rule = s.rules.banned_words
    return await _check(s, "banned_words", banned_word(s.event.text or "", rule), rule.action)


async def _check(s: Situation, rule: str, hit: Hit | None, action: Sanction) -> dict[str, Any]:
    if s.exempt:
        raise RuleSkipped("admins and owners are exempt")
    if s.removed_by is not None:
        raise RuleSkipped(f"the message was already removed by {s.removed_by}")
    if hit is None:
        return {"matched": False}
    reason = f"{hit.why}: {hit.what}"
    outcome = await sanction_message(s, rule, action, reason, s.rules.warnings.mute_minutes)
    return {"matched": True, "what": hit.what, "why": hit.why, "sanction": outcome}


async def sanction_message(
    s: Situation, rule: str, sanction: Sanction, reason: str, mute_minutes: int
) -> dict[str, Any]:
    """Delete the message, then warn, mute or ban its author, as ``rules:<rule>``."""
    actor = moderation.Actor.system(f"rules:{rule}")
    done: dict[str, Any] = {"action": sanction}
    if s.event.message_id and s.chat_row_id is not None:
        done["deleted"] = await moderation.delete_message(
            actor, s.community_id, s.chat_row_id, s.event.message_id, reason,
            account_id=s.account_id,
        )  # fmt: skip
    s.removed_by = s.removed_by or rule
    if s.account_id is None or sanction == "delete":
        return done
    if sanction == "delete_warn":
        done["warned"] = await moderation.warn(actor, s.community_id, s.account_id, reason)
    else:
        what = ModerationAction.mute if sanction == "delete_mute" else ModerationAction.ban
        minutes = mute_minutes if what is ModerationAction.mute else None
        done[str(what)] = await moderation.act(
            actor, s.community_id, s.account_id, what, reason=reason, minutes=minutes
        )
    return done


async def earn(s: Situation) -> dict[str, Any]:
    if s.removed_by is not None:
        raise RuleSkipped(f"the message was removed by {s.removed_by}")
    with session_scope() as session:
        given = reputation.earn(session, s.community_id, s.event, s.rules)
    return {"given": given}
