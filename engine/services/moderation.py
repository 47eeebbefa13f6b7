"""Moderation: warnings and sanctions, carried out on the platforms through the pool.

Every rule of moderating a member lives here, whoever asks: the Members page and the
REST API (as an admin user), the community rules running by themselves and the
cross-platform nodes (as a system actor such as ``rules:antilink`` or ``flow:12``).

- A sanction (mute, unmute, kick, ban, unban) applies on every chat of the community on
  the member's platform: Telegram groups, the Discord guild, WhatsApp groups. Each call
  goes to the chat's own connection, else the community's; a platform's refusal is a
  failed :class:`TargetResult`, never an exception, and an action the platform lacks
  (muting on WhatsApp) is a skipped one.
- Each action writes one ModerationLog row (its id keys the pool calls, so a retried job
  never sanctions twice), updates the member's flags, posts one plain-text line to the
  community's log chat and publishes ``moderation.action`` once committed.
- Warnings expire after the community's ``warnings.expire_days``; the active warnings of
  a person's linked accounts count together, and reaching ``ban_at`` (before ``mute_at``)
  applies that sanction.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from engine import events, pool_client
from engine.action_errors import ActionError
from engine.community_rules import CommunityRules, parse_rules
from engine.db import in_session, insert_ignore, table_of
from engine.models import (
    AdminUser,
    BotInstance,
    Chat,
    Community,
    CommunityConfig,
    CommunityMember,
    MemberRole,
    ModerationAction,
    ModerationLog,
    PlatformAccount,
    Role,
    Warning,
    utcnow,
)
from engine.platform_calls import (
    CONNECTORS,
    DEFAULT_KIND,
    Call,
    Sanction,
    delete_call,
    message_call,
    sanction_calls,
)
from engine.services.auth import require_role
from engine.services.errors import Conflict, NotFound

log = logging.getLogger("flowbot.moderation")

TOPIC = "moderation.action"
SANCTIONS = frozenset(
    {
        ModerationAction.mute,
        ModerationAction.unmute,
        ModerationAction.kick,
        ModerationAction.ban,
        ModerationAction.unban,
    }
)
MAX_MUTE_MINUTES = 40_320  # 28 days: Discord's longest timeout, so a mute means one thing
MAX_REASON = 1000
MAX_LINE = 2000  # a log chat line fits in one message everywhere (Discord's limit is lowest)
PLATFORM_NAMES = {"telegram": "Telegram", "discord": "Discord", "whatsapp": "WhatsApp"}
_LINE = {  # what the log chat reads: an emoji and a past participle per action
    ModerationAction.warn: ("⚠️", "warned"),
    ModerationAction.unwarn: ("↩️", "had a warning revoked"),
    ModerationAction.mute: ("🔇", "muted"),
    ModerationAction.unmute: ("🔊", "unmuted"),
    ModerationAction.kick: ("👢", "kicked"),
    ModerationAction.ban: ("⛔", "banned"),
    ModerationAction.unban: ("✅", "unbanned"),
    ModerationAction.delete_message: ("🗑", "had a message deleted"),
}


class InvalidModeration(ValueError):
    """A moderation request refused, with a message fit to show the moderator."""


class CommunityNotFound(InvalidModeration, NotFound):
    """No such community."""


class AccountNotFound(InvalidModeration, NotFound):
    """No such platform account."""


class ChatNotFound(InvalidModeration, NotFound):
    """No such chat in the community."""


class WarningNotFound(InvalidModeration, NotFound):
    """No such warning."""


class WarningAlreadyRevoked(Conflict):
    """The warning was revoked before."""


# --- who acts, and what came of it ------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    """Who moderates: a signed-in user (their role is checked) or Flowbot itself."""

    label: str
    user: AdminUser | None = None

    @classmethod
    def of_user(cls, user: AdminUser) -> Actor:
        return cls(user.username, user)

    @classmethod
    def system(cls, label: str) -> Actor:
        return cls(label, None)

    def check(self) -> None:
        """A user needs the editor role to moderate; Flowbot's own rules need none."""
        if self.user is not None:
            require_role(self.user, Role.editor)

    def because(self, why: str) -> Actor:
        """The same actor, labelled with why it acts again (a warning threshold)."""
        return Actor(f"{self.label} ({why})", self.user)


@dataclass(frozen=True)
class TargetResult:
    """One place an action was carried out: a Telegram chat, a Discord guild, a group."""

    platform: str
    chat_id: str
    ok: bool
    error: str | None = None
    community_id: int | None = None
    user_id: str | None = None
    skipped: bool = False  # the platform has no such action: nothing was attempted


@dataclass(frozen=True)
class Outcome:
    log_id: int | None
    results: list[TargetResult]
    log_ids: tuple[int, ...] = ()  # every log row written (ban everywhere writes several)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)


@dataclass(frozen=True)
class WarnOutcome:
    warning_id: int
    active_warnings: int
    sanction: Literal["none", "mute", "ban"]
    outcome: Outcome | None
    log_id: int | None = None


@dataclass(frozen=True)
class Place:
    """Where one call goes: the chat (or Discord guild) and the connection that reaches it."""

    platform: str
    kind: str
    instance_id: int | None
    chat_id: str


@dataclass(frozen=True)
class _Plan:
    """An action's log row and everything the calls after it need, read in one transaction."""

    log_id: int
    community_id: int
    account_id: int | None
    user_id: str | None
    who: str  # the member as the log chat reads it
    places: list[Place]
    log_place: Place | None
    details: dict[str, Any] = field(default_factory=dict)


# --- reading the community --------------------------------------------------------------------


def rules_of(session: Session, community_id: int) -> CommunityRules:
    """The community's rules, or the defaults when none were saved."""
    found = session.exec(
        select(CommunityConfig.rules).where(CommunityConfig.community_id == community_id)
    ).first()
    return parse_rules(found)


def linked_account_ids(session: Session, account: PlatformAccount) -> list[int]:
    """The account and every account linked to the same person."""
    if account.identity_id is None:
        return [account.id] if account.id is not None else []
    return [
        a.id
        for a in session.exec(
            select(PlatformAccount).where(PlatformAccount.identity_id == account.identity_id)
        )
        if a.id is not None
    ]


def active_warnings(session: Session, community_id: int, account_id: int) -> int:
    """Warnings in the community neither revoked nor expired, of the account and every
    account linked to the same person (they count together)."""
    account = session.get(PlatformAccount, account_id)
    ids = linked_account_ids(session, account) if account else [account_id]
    now = utcnow()
    return session.exec(
        select(sa.func.count())
        .select_from(Warning)
        .where(
            Warning.community_id == community_id,
            col(Warning.platform_account_id).in_(ids),
            Warning.active_at(now),
        )
    ).one()


def place_of(session: Session, community: Community, chat: Chat) -> Place:
    """The chat's own connection, else the community's if it is on that platform."""
    for instance_id in (chat.bot_instance_id, community.bot_instance_id):
        instance = session.get(BotInstance, instance_id) if instance_id else None
        if instance and CONNECTORS[instance.kind].platform == chat.platform:
            return Place(str(chat.platform), str(instance.kind), instance.id, chat.platform_chat_id)
    return Place(str(chat.platform), DEFAULT_KIND[chat.platform], None, chat.platform_chat_id)


def moderated_chats(
    session: Session, community_id: int, platform: str, action: ModerationAction
) -> list[Chat]:
    """Where a member of the platform is sanctioned: Telegram groups (and channels, except
    for muting, which channels lack), the Discord guild (not its channels), WhatsApp groups."""
    query = select(Chat).where(
        Chat.community_id == community_id,
        Chat.platform == platform,
        col(Chat.gone_at).is_(None),
        Chat.type != "private",
    )
    if platform == "discord":
        query = query.where(col(Chat.parent_chat_id).is_(None))
    if action in (ModerationAction.mute, ModerationAction.unmute):
        query = query.where(Chat.type != "channel")
    return list(session.exec(query.order_by(col(Chat.id))))


def _log_place(session: Session, community: Community, rules: CommunityRules) -> Place | None:
    chat = session.get(Chat, rules.log_chat_id) if rules.log_chat_id else None
    return place_of(session, community, chat) if chat and chat.gone_at is None else None


def _member_name(account: PlatformAccount) -> str:
    name = account.display_name or account.platform_user_id
    return f"{name} (@{account.username})" if account.username else name


def _community(session: Session, community_id: int) -> Community:
    community = session.get(Community, community_id)
    if community is None or community.id is None:
        raise CommunityNotFound(f"Community {community_id} does not exist.")
    return community


def _account(session: Session, account_id: int) -> PlatformAccount:
    account = session.get(PlatformAccount, account_id)
    if account is None or account.id is None:
        raise AccountNotFound(f"Platform account {account_id} does not exist.")
    return account


def _clean_reason(reason: str) -> str:
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise InvalidModeration(f"The reason is too long: at most {MAX_REASON} characters.")
    return reason


def _log_row(
    session: Session,
    actor: Actor,
    action: ModerationAction,
    community_id: int,
    account: PlatformAccount | None,
    reason: str,
    details: dict[str, Any],
) -> int:
    entry = ModerationLog(
        community_id=community_id,
        action=action,
        platform=account.platform if account else None,
        target_account_id=account.id if account else None,
        actor=actor.label[:128],
        reason=reason,
        details=details,
    )
    session.add(entry)
    session.flush()
    assert entry.id is not None
    return entry.id


def _begin_sanction(
    session: Session,
    actor: Actor,
    community_id: int,
    account_id: int,
    action: ModerationAction,
    reason: str,
    details: dict[str, Any],
) -> _Plan:
    community = _community(session, community_id)
    account = _account(session, account_id)
    rules = rules_of(session, community_id).for_platform(account.platform)
    places = [
        place_of(session, community, chat)
        for chat in moderated_chats(session, community_id, account.platform, action)
    ]
    log_id = _log_row(session, actor, action, community_id, account, reason, details)
    return _Plan(
        log_id,
        community_id,
        account.id,
        account.platform_user_id,
        _member_name(account),
        places,
        _log_place(session, community, rules),
        details,
    )


# --- calling the platforms --------------------------------------------------------------------


def _refusal(result: dict[str, Any]) -> str | None:
    """A WhatsApp participant change answers per participant instead of failing."""
    for part in result.get("participants") or []:
        if isinstance(part, dict) and part.get("error"):
            return f"WhatsApp refused {part.get('id')}: error {part['error']}"
    return None


async def _run_calls(place: Place, calls: Sequence[Call], key: str) -> str | None:
    """Run the calls in order; the first refusal's message, or None when all went through."""
    for step, (action, params) in enumerate(calls):
        try:
            result = await pool_client.execute(
                place.kind,
                action,
                params,
                instance_id=place.instance_id,
                idempotency_key=f"{key}:{step}",
            )
        except ActionError as error:
            return error.message
        if refused := _refusal(result):
            return refused
    return None


def _unsupported(what: str, place: Place) -> str:
    where = (
        "a Telegram account"
        if place.kind == "telegram_user"
        else PLATFORM_NAMES.get(place.platform, place.platform)
    )
    return f"{what} is not supported on {where}"


async def _sanction(
    plan: _Plan, place: Place, op: Sanction, reason: str, minutes: int | None
) -> TargetResult:
    user_id = plan.user_id
    assert user_id is not None
    seconds = minutes * 60 if minutes else None
    calls = sanction_calls(place.kind, op, place.chat_id, user_id, reason, seconds)
    if calls is None:
        refusal = _unsupported(op.capitalize(), place)
        return TargetResult(
            place.platform, place.chat_id, False, refusal, plan.community_id, user_id, skipped=True
        )
    key = f"moderation:{plan.log_id}:{place.platform}:{place.chat_id}"
    error = await _run_calls(place, calls, key)
    return TargetResult(
        place.platform, place.chat_id, error is None, error, plan.community_id, user_id
    )


async def _post_line(plan: _Plan, text: str) -> dict[str, Any] | None:
    """Post the action's line to the log chat; what happened, for the log row."""
    if plan.log_place is None:
        return None
    place = plan.log_place
    action, params = message_call(place.kind, place.chat_id, text[:MAX_LINE])
    error = await _run_calls(place, [(action, params)], f"moderation:{plan.log_id}:log")
    if error:
        log.warning("moderation log chat %s refused line %s: %s", place.chat_id, plan.log_id, error)
    return {"chat_id": place.chat_id, "ok": error is None, "error": error}


def _line(
    action: ModerationAction,
    who: str,
    actor: Actor,
    reason: str,
    results: Sequence[TargetResult] = (),
    extra: str = "",
) -> str:
    """The log chat's plain-text line: user text is only ever a value in it."""
    emoji, done = _LINE.get(action, ("📝", str(action)))
    text = f"{emoji} {who} {done}{extra} by {actor.label}"
    if reason:
        text += f" — reason: {reason}"
    failed = [r for r in results if not r.ok]
    if failed:
        text += " — failed: " + "; ".join(
            f"{PLATFORM_NAMES.get(r.platform, r.platform)} {r.chat_id}: {r.error}" for r in failed
        )
    return text


# --- finishing: the log row, the member's flags, the bus --------------------------------------


def member_row(session: Session, community_id: int, account_id: int) -> CommunityMember:
    """The member row, recorded now if ingest has not seen them yet: for someone a flow's
    trigger shows in the community's chat, so their sanctions show on the Members page."""
    insert_ignore(
        session,
        table_of(CommunityMember),
        {
            "community_id": community_id,
            "platform_account_id": account_id,
            "role": MemberRole.member,
            "joined_at": utcnow(),
            "message_count": 0,
            "is_banned": False,
        },
        ["community_id", "platform_account_id"],
    )
    return session.exec(
        select(CommunityMember).where(
            CommunityMember.community_id == community_id,
            CommunityMember.platform_account_id == account_id,
        )
    ).one()


def _apply_flags(member: CommunityMember, action: ModerationAction, minutes: int | None) -> None:
    now = utcnow()
    if action is ModerationAction.mute:
        member.muted_until = now + timedelta(minutes=minutes or MAX_MUTE_MINUTES)
    elif action is ModerationAction.unmute:
        member.muted_until = None
    elif action is ModerationAction.ban:
        member.is_banned = True
        member.left_at = member.left_at or now
    elif action is ModerationAction.unban:
        member.is_banned = False
    elif action is ModerationAction.kick:
        member.left_at = now


def _finish(
    session: Session,
    plan: _Plan,
    action: ModerationAction,
    minutes: int | None,
    results: list[TargetResult],
    posted: dict[str, Any] | None,
) -> None:
    entry = session.get(ModerationLog, plan.log_id)
    assert entry is not None
    details = {**plan.details, "results": [asdict(r) for r in results]}
    if posted is not None:
        details["log_chat"] = posted
    entry.details = details
    # The flags say what holds on the platforms: unchanged when every place refused or lacks
    # the action (a mute on WhatsApp); set when it worked somewhere or there is no place yet.
    applied = not results or any(r.ok for r in results)
    member = session.exec(
        select(CommunityMember).where(
            CommunityMember.community_id == plan.community_id,
            CommunityMember.platform_account_id == plan.account_id,
        )
    ).first()
    if action in SANCTIONS and member is not None and applied:
        _apply_flags(member, action, minutes)
    announce_after_commit(
        session, plan.log_id, plan.community_id, plan.account_id, action,
        actor_label=entry.actor, ok=all(r.ok for r in results),
    )  # fmt: skip


def announce_after_commit(
    session: Session,
    log_id: int,
    community_id: int | None,
    account_id: int | None,
    action: ModerationAction,
    *,
    actor_label: str,
    ok: bool,
) -> None:
    """Tell the live pages (Moderation, the dashboard's feed) of a log row once it is
    committed; every writer of the log calls this (this service, the log_moderation node)."""
    payload = {
        "log_id": log_id,
        "community_id": community_id,
        "account_id": account_id,
        "action": str(action),
        "actor": actor_label,
        "ok": ok,
    }
    sa.event.listen(session, "after_commit", lambda _: events.publish(TOPIC, payload), once=True)


# --- the actions ------------------------------------------------------------------------------


def _sanction_minutes(action: ModerationAction, minutes: int | None) -> int | None:
    if action not in SANCTIONS:
        raise InvalidModeration(
            f"{action} is not a sanction: use mute, unmute, kick, ban or unban."
        )
    if action is not ModerationAction.mute:
        if minutes is not None:
            raise InvalidModeration("Only a mute has a duration.")
        return None
    if minutes is None:
        return MAX_MUTE_MINUTES
    if not 1 <= minutes <= MAX_MUTE_MINUTES:
        raise InvalidModeration(f"Mute for 1 to {MAX_MUTE_MINUTES} minutes (28 days).")
    return minutes


async def act(
    actor: Actor,
    community_id: int,
    account_id: int,
    action: ModerationAction,
    *,
    reason: str = "",
    minutes: int | None = None,
) -> Outcome:
    """Mute (``minutes``, 28 days at most and by default), unmute, kick, ban or unban the
    account on every chat of the community on its platform."""
    return await _act(actor, community_id, account_id, action, reason, minutes, {})


async def _act(
    actor: Actor,
    community_id: int,
    account_id: int,
    action: ModerationAction,
    reason: str,
    minutes: int | None,
    details: dict[str, Any],
) -> Outcome:
    actor.check()
    action = ModerationAction(action)
    minutes = _sanction_minutes(action, minutes)
    reason = _clean_reason(reason)
    plan = await in_session(
        _begin_sanction,
        actor,
        community_id,
        account_id,
        action,
        reason,
        {**details, "minutes": minutes},
    )
    op: Sanction = action.value  # type: ignore[assignment]  # the enum value is one of the Literal's
    results = [await _sanction(plan, place, op, reason, minutes) for place in plan.places]
    extra = f" for {minutes} min" if action is ModerationAction.mute else ""
    posted = await _post_line(plan, _line(action, plan.who, actor, reason, results, extra))
    await in_session(_finish, plan, action, minutes, results, posted)
    return Outcome(plan.log_id, results, (plan.log_id,))


# --- warnings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Warned:
    plan: _Plan
    warning_id: int
    active: int
    sanction: Literal["none", "mute", "ban"]
    mute_minutes: int


def _add_warning(
    session: Session, actor: Actor, community_id: int, account_id: int, reason: str
) -> _Warned:
    community = _community(session, community_id)
    account = _account(session, account_id)
    rules = rules_of(session, community_id).for_platform(account.platform)
    config = rules.warnings
    expires = utcnow() + timedelta(days=config.expire_days) if config.expire_days else None
    warning = Warning(
        community_id=community_id,
        platform_account_id=account_id,
        reason=reason,
        issued_by=actor.label[:128],
        expires_at=expires,
    )
    session.add(warning)
    session.flush()
    assert warning.id is not None
    count = active_warnings(session, community_id, account_id)
    sanction: Literal["none", "mute", "ban"] = "none"
    if config.ban_at and count >= config.ban_at:
        sanction = "ban"
    elif config.mute_at and count >= config.mute_at:
        sanction = "mute"
    details = {"warning_id": warning.id, "active_warnings": count, "sanction": sanction}
    log_id = _log_row(session, actor, ModerationAction.warn, community_id, account, reason, details)
    plan = _Plan(
        log_id,
        community_id,
        account.id,
        account.platform_user_id,
        _member_name(account),
        [],
        _log_place(session, community, rules),
        details,
    )
    return _Warned(plan, warning.id, count, sanction, config.mute_minutes)


async def warn(actor: Actor, community_id: int, account_id: int, reason: str) -> WarnOutcome:
    """A warning that expires by the community's rules; at a threshold, the sanction."""
    actor.check()
    reason = _clean_reason(reason)
    made = await in_session(_add_warning, actor, community_id, account_id, reason)
    extra = f" ({made.active} active)"
    line = _line(ModerationAction.warn, made.plan.who, actor, reason, extra=extra)
    posted = await _post_line(made.plan, line)
    await in_session(_finish, made.plan, ModerationAction.warn, None, [], posted)
    outcome = None
    if made.sanction != "none":
        outcome = await _act(
            actor.because("threshold"),
            community_id,
            account_id,
            ModerationAction(made.sanction),
            f"{made.active} active warnings: {reason}" if reason else f"{made.active} warnings",
            made.mute_minutes if made.sanction == "mute" else None,
            {"warnings": made.active, "warning_id": made.warning_id},
        )
    return WarnOutcome(made.warning_id, made.active, made.sanction, outcome, made.plan.log_id)


def revoke_warning(session: Session, actor: Actor, warning_id: int, reason: str) -> None:
    """Lift a warning (it stops counting) and log who did and why; the caller commits."""
    actor.check()
    reason = _clean_reason(reason)
    warning = session.get(Warning, warning_id)
    if warning is None:
        raise WarningNotFound(f"Warning {warning_id} does not exist.")
    if warning.revoked_at is not None:
        raise WarningAlreadyRevoked(f"Warning {warning_id} was already revoked.")
    warning.revoked_at = utcnow()
    account = session.get(PlatformAccount, warning.platform_account_id)
    details = {"warning_id": warning_id}
    log_id = _log_row(
        session, actor, ModerationAction.unwarn, warning.community_id, account, reason, details
    )
    announce_after_commit(
        session, log_id, warning.community_id, warning.platform_account_id,
        ModerationAction.unwarn, actor_label=actor.label, ok=True,
    )  # fmt: skip


# --- everywhere -------------------------------------------------------------------------------


def _everywhere(session: Session, account_id: int) -> list[tuple[int, int]]:
    """(community, account) pairs to act on: every community any account of the person is a
    member of, with each of their accounts that is a member there or whose platform the
    community has chats on (a ban keeps them out before they ever join)."""
    account = _account(session, account_id)
    ids = linked_account_ids(session, account)
    accounts = session.exec(select(PlatformAccount).where(col(PlatformAccount.id).in_(ids))).all()
    members = set(
        session.exec(
            select(CommunityMember.community_id, CommunityMember.platform_account_id).where(
                col(CommunityMember.platform_account_id).in_(ids)
            )
        ).all()
    )
    communities = {community_id for community_id, _ in members}
    platforms = set(
        session.exec(
            select(Chat.community_id, Chat.platform)
            .where(col(Chat.community_id).in_(communities), col(Chat.gone_at).is_(None))
            .distinct()
        ).all()
    )
    return sorted(
        (community_id, a.id)
        for community_id in communities
        for a in accounts
        if a.id is not None
        and ((community_id, a.id) in members or (community_id, a.platform) in platforms)
    )


async def ban_everywhere(
    actor: Actor, account_id: int, reason: str, *, unban: bool = False
) -> Outcome:
    """Ban (or lift the bans of) the person behind the account in every community they are
    in, on each of their linked accounts: one log row per (community, account)."""
    actor.check()
    reason = _clean_reason(reason)
    action = ModerationAction.unban if unban else ModerationAction.ban
    outcomes = [
        await _act(actor, community_id, member_account, action, reason, None, {"everywhere": True})
        for community_id, member_account in await in_session(_everywhere, account_id)
    ]
    log_ids = tuple(i for o in outcomes for i in o.log_ids)
    results = [r for o in outcomes for r in o.results]
    return Outcome(log_ids[0] if log_ids else None, results, log_ids)


# --- messages ---------------------------------------------------------------------------------


def _begin_delete(
    session: Session,
    actor: Actor,
    community_id: int,
    chat_id: int,
    message_id: str,
    reason: str,
    account_id: int | None,
) -> tuple[_Plan, Place, str | None]:
    community = _community(session, community_id)
    chat = session.get(Chat, chat_id)
    if chat is None or chat.community_id != community_id:
        raise ChatNotFound(f"Chat {chat_id} is not a chat of community {community_id}.")
    account = _account(session, account_id) if account_id is not None else None
    rules = rules_of(session, community_id)
    if account is not None:
        rules = rules.for_platform(account.platform)
    details = {"chat_id": chat_id, "message_id": message_id}
    log_id = _log_row(
        session, actor, ModerationAction.delete_message, community_id, account, reason, details
    )
    who = _member_name(account) if account else f"{chat.title or chat.platform_chat_id}"
    plan = _Plan(
        log_id,
        community_id,
        account.id if account else None,
        account.platform_user_id if account else None,
        who,
        [],
        _log_place(session, community, rules),
        details,
    )
    return plan, place_of(session, community, chat), plan.user_id


async def delete_message(
    actor: Actor,
    community_id: int,
    chat_id: int,
    message_id: str,
    reason: str,
    *,
    account_id: int | None = None,
) -> Outcome:
    """Delete one message in a chat (row id) of the community; ``account_id`` is its author
    when known (WhatsApp needs it, and the log names them)."""
    actor.check()
    reason = _clean_reason(reason)
    plan, place, sender = await in_session(
        _begin_delete, actor, community_id, chat_id, message_id, reason, account_id
    )
    call = delete_call(place.kind, place.chat_id, message_id, sender)
    if call is None:
        error: str | None = _unsupported("Deleting a message without its sender", place)
        result = TargetResult(
            place.platform, place.chat_id, False, error, community_id, sender, skipped=True
        )
    else:
        key = f"moderation:{plan.log_id}:{place.platform}:{place.chat_id}"
        error = await _run_calls(place, [call], key)
        result = TargetResult(
            place.platform, place.chat_id, error is None, error, community_id, sender
        )
    line = _line(ModerationAction.delete_message, plan.who, actor, reason, [result])
    posted = await _post_line(plan, line)
    await in_session(_finish, plan, ModerationAction.delete_message, None, [result], posted)
    return Outcome(plan.log_id, [result], (plan.log_id,))
