"""A community's members, one member's record, and the moderation actions on them.

Every rule is engine/services/members.py's and engine/services/moderation.py's (the
Members page calls the same functions). The member list pages by keyset on the chosen sort:
its cursor carries the sort, so a cursor from another sort is refused (400). An action
answers what each platform target (Telegram chat, Discord guild, WhatsApp group) said,
refusals included: a platform's refusal is a 200 with ``ok: false``, not an error.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlmodel import Session

from engine.api.v1 import paging
from engine.api.v1.caller import Editor, Viewer, run, run_async
from engine.api.v1.errors import ApiError
from engine.api.v1.idempotency import IdempotencyKey, once
from engine.models import AdminUser, MemberRole, Platform
from engine.services import members
from engine.services.members import (
    MAX_JOINED_WITHIN_DAYS,
    MAX_SEARCH,
    ActionResult,
    MemberAction,
    MemberDetail,
    MemberFilter,
    MemberRow,
    MemberSort,
)

router = APIRouter(tags=["Members"])
CommunityId = Annotated[int, Path(description="The community's id.")]
MemberId = Annotated[int, Path(description="The member's id (one account in one community).")]
WarningId = Annotated[int, Path(description="The warning's id.")]
Reason = Annotated[
    str,
    Field(
        max_length=1000, description="Why: kept in the moderation log and posted to the log chat."
    ),
]


class MemberOut(BaseModel):
    """One platform account in one community."""

    id: int
    community_id: int
    account_id: int
    identity_id: int | None = Field(description="The person the account is linked to, if any.")
    platform: Platform
    platform_user_id: str = Field(examples=["123456789"])
    username: str | None = Field(examples=["ada"])
    display_name: str = Field(examples=["Ada Lovelace"])
    is_bot: bool
    role: MemberRole
    joined_at: datetime
    left_at: datetime | None = Field(description="Set when they left (or were kicked).")
    last_active_at: datetime | None = Field(description="Their last message; null if none.")
    message_count: int
    banned: bool
    muted_until: datetime | None
    active_warnings: int = Field(description="Warnings here neither expired nor revoked.")
    reputation: int = Field(description="Their score in this community.")

    @classmethod
    def of(cls, row: MemberRow) -> MemberOut:
        return cls(
            id=row.member_id,
            community_id=row.community_id,
            account_id=row.account_id,
            identity_id=row.identity_id,
            platform=Platform(row.platform),
            platform_user_id=row.platform_user_id,
            username=row.username,
            display_name=row.display_name,
            is_bot=row.is_bot,
            role=MemberRole(row.role),
            joined_at=row.joined_at,
            left_at=row.left_at,
            last_active_at=row.last_active_at,
            message_count=row.message_count,
            banned=row.is_banned,
            muted_until=row.muted_until,
            active_warnings=row.active_warnings,
            reputation=row.reputation,
        )


class MembershipOut(BaseModel):
    member_id: int
    community_id: int
    community: str = Field(examples=["Makers"])
    role: MemberRole
    message_count: int
    banned: bool
    muted_until: datetime | None
    left_at: datetime | None
    last_active_at: datetime | None


class LinkedAccountOut(BaseModel):
    """An account of the same person (the member's own first), with its memberships."""

    account_id: int
    platform: Platform
    platform_user_id: str
    username: str | None
    display_name: str
    phone: str | None = Field(description="Where the platform gives it (WhatsApp).")
    first_seen_at: datetime
    last_seen_at: datetime
    memberships: list[MembershipOut]


class WarningOut(BaseModel):
    id: int
    account_id: int
    platform: Platform
    reason: str = Field(examples=["spam link"])
    issued_by: str = Field(examples=["ada", "rules:antilink"])
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    status: str = Field(description="active, expired or revoked.", examples=["active"])
    revoke_reason: str = Field(description="Why it was revoked ('' if it was not).")


class ReputationEntryOut(BaseModel):
    account_id: int
    delta: int = Field(examples=[1])
    reason: str = Field(examples=["thanks"])
    actor: str = Field(examples=["rules:reputation"])
    rule: str | None = Field(description="The earning rule that gave it; null if manual.")
    created_at: datetime


class ModerationEntryOut(BaseModel):
    id: int
    community_id: int | None
    account_id: int | None
    action: str = Field(examples=["mute"])
    platform: str | None
    actor: str
    reason: str
    details: dict[str, Any] = Field(description="Per-target results and the action's extras.")
    created_at: datetime


class TotalsOut(BaseModel):
    """The member's linked accounts counted together, in this community (bans: anywhere)."""

    accounts: int
    active_warnings: int
    warnings: int
    reputation: int
    messages: int
    bans: int


class MemberDetailOut(BaseModel):
    member: MemberOut
    community: str = Field(examples=["Makers"])
    identity: str = Field(description="The linked person's name ('' if not linked).")
    accounts: list[LinkedAccountOut]
    warnings: list[WarningOut] = Field(description="This community's, of every linked account.")
    reputation_history: list[ReputationEntryOut] = Field(description="Newest first, at most 100.")
    moderation: list[ModerationEntryOut] = Field(description="Newest first, at most 100.")
    totals: TotalsOut
    first_seen_at: datetime
    last_seen_at: datetime

    @classmethod
    def of(cls, detail: MemberDetail) -> MemberDetailOut:
        return cls(
            member=MemberOut.of(detail.member),
            community=detail.community_name,
            identity=detail.identity_name,
            accounts=[
                LinkedAccountOut(
                    account_id=a.account_id,
                    platform=Platform(a.platform),
                    platform_user_id=a.platform_user_id,
                    username=a.username,
                    display_name=a.display_name,
                    phone=a.phone,
                    first_seen_at=a.first_seen_at,
                    last_seen_at=a.last_seen_at,
                    memberships=[
                        MembershipOut(
                            member_id=m.member_id,
                            community_id=m.community_id,
                            community=m.community_name,
                            role=MemberRole(m.role),
                            message_count=m.message_count,
                            banned=m.is_banned,
                            muted_until=m.muted_until,
                            left_at=m.left_at,
                            last_active_at=m.last_active_at,
                        )
                        for m in a.memberships
                    ],
                )
                for a in detail.accounts
            ],
            warnings=[
                WarningOut(
                    id=w.warning_id,
                    account_id=w.account_id,
                    platform=Platform(w.platform),
                    reason=w.reason,
                    issued_by=w.issued_by,
                    created_at=w.created_at,
                    expires_at=w.expires_at,
                    revoked_at=w.revoked_at,
                    status=w.status,
                    revoke_reason=w.revoke_reason,
                )
                for w in detail.warnings
            ],
            reputation_history=[
                ReputationEntryOut(
                    account_id=e.account_id,
                    delta=e.delta,
                    reason=e.reason,
                    actor=e.actor,
                    rule=e.rule,
                    created_at=e.created_at,
                )
                for e in detail.reputation_history
            ],
            moderation=[
                ModerationEntryOut(
                    id=e.log_id,
                    community_id=e.community_id,
                    account_id=e.account_id,
                    action=e.action,
                    platform=e.platform,
                    actor=e.actor,
                    reason=e.reason,
                    details=e.details,
                    created_at=e.created_at,
                )
                for e in detail.moderation
            ],
            totals=TotalsOut(**vars(detail.totals)),
            first_seen_at=detail.first_seen_at,
            last_seen_at=detail.last_seen_at,
        )


class TargetOut(BaseModel):
    """What one chat's (or guild's) platform answered."""

    platform: str = Field(examples=["telegram"])
    chat_id: str = Field(examples=["-1001234567890"])
    ok: bool
    error: str | None = Field(examples=["Bad Request: not enough rights to restrict"])
    skipped: bool = Field(description="The platform has no such action; nothing was tried.")


class ActionOut(BaseModel):
    """What an action did: ``ok`` only when every platform target accepted it."""

    action: str = Field(examples=["mute"])
    ok: bool
    summary: str = Field(examples=["Muted Ada on 2 target(s)."])
    log_id: int | None = Field(description="Its moderation log entry.")
    targets: list[TargetOut]
    warning_id: int | None = Field(default=None, description="The new warning (warn only).")
    active_warnings: int | None = Field(
        default=None, description="The person's active warnings now (warn only)."
    )
    sanction: str | None = Field(
        default=None,
        description="none, mute or ban: what the warning thresholds applied (warn only).",
    )

    @classmethod
    def of(cls, result: ActionResult) -> ActionOut:
        return cls(
            action=result.action,
            ok=result.ok,
            summary=result.summary,
            log_id=result.log_id,
            targets=[TargetOut(**vars(t)) for t in result.targets],
            warning_id=result.warning_id,
            active_warnings=result.active_warnings,
            sanction=result.sanction,
        )


class WarningCreate(BaseModel):
    reason: Reason = Field(min_length=1, examples=["spam link"])


class ActionRequest(BaseModel):
    action: MemberAction = Field(
        description="ban_everywhere bans every account linked to the same person in every "
        "community each is a member of."
    )
    minutes: int | None = Field(
        default=None,
        ge=1,
        le=40_320,
        description="A mute's length (28 days at most, and by default); only for mute.",
        examples=[60],
    )
    reason: Reason = ""


@router.get(
    "/communities/{community_id}/members",
    response_model=paging.Page[MemberOut],
    summary="List a community's members",
)
async def list_members(
    community_id: CommunityId,
    caller: Viewer,
    limit: paging.Limit = 50,
    cursor: paging.Cursor = None,
    sort: Annotated[
        MemberSort, Query(description="Highest/newest first; never-active members last.")
    ] = MemberSort.last_active,
    q: Annotated[
        str,
        Query(max_length=MAX_SEARCH, description="Username, display name or platform user id."),
    ] = "",
    platform: Annotated[Platform | None, Query(description="Only this platform.")] = None,
    role: Annotated[MemberRole | None, Query(description="Only this role.")] = None,
    warned: Annotated[bool | None, Query(description="With (or without) active warnings.")] = None,
    muted: Annotated[bool | None, Query(description="Muted now (or not).")] = None,
    banned: Annotated[bool | None, Query(description="Banned (or not).")] = None,
    left: Annotated[bool | None, Query(description="Left (or still here).")] = None,
    joined_within_days: Annotated[
        int | None,
        Query(ge=1, le=MAX_JOINED_WITHIN_DAYS, description="Joined in the last N days."),
    ] = None,
) -> paging.Page[MemberOut]:
    filters = MemberFilter(
        search=q,
        platform=platform,
        role=role,
        warned=warned,
        muted=muted,
        banned=banned,
        left=left,
        joined_within_days=joined_within_days,
    )

    def action(session: Session, _: AdminUser) -> paging.Page[MemberOut]:
        try:
            page = members.member_page(
                session, community_id, filters=filters, sort=sort, limit=limit, cursor=cursor
            )
        except members.InvalidMemberQuery as exc:
            raise ApiError(400, str(exc)) from None
        return paging.Page(items=[MemberOut.of(r) for r in page.rows], next_cursor=page.next_cursor)

    return await run(caller, action)


@router.get("/members/{member_id}", response_model=MemberDetailOut, summary="Get a member")
async def get_member(member_id: MemberId, caller: Viewer) -> MemberDetailOut:
    return await run(caller, lambda s, _: MemberDetailOut.of(members.member_detail(s, member_id)))


@router.post(
    "/members/{member_id}/warnings",
    status_code=status.HTTP_201_CREATED,
    response_model=ActionOut,
    summary="Warn a member (the community's thresholds may mute or ban)",
)
async def warn_member(
    member_id: MemberId,
    body: WarningCreate,
    caller: Editor,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    async def produce() -> tuple[int, dict[str, Any]]:
        target = await run(caller, lambda s, me: members.action_target(s, me, member_id))
        result = await run_async(caller, lambda me: members.warn(me, target, body.reason))
        return 201, ActionOut.of(result).model_dump(mode="json")

    return await once(caller, idempotency_key, request, produce)


@router.post(
    "/members/{member_id}/actions",
    response_model=ActionOut,
    summary="Mute, unmute, kick, ban, unban or ban everywhere",
)
async def act_on_member(
    member_id: MemberId,
    body: ActionRequest,
    caller: Editor,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    async def produce() -> tuple[int, dict[str, Any]]:
        target = await run(caller, lambda s, me: members.action_target(s, me, member_id))
        result = await run_async(
            caller,
            lambda me: members.act(
                me, target, body.action, reason=body.reason, minutes=body.minutes
            ),
        )
        return 200, ActionOut.of(result).model_dump(mode="json")

    return await once(caller, idempotency_key, request, produce)


@router.delete(
    "/warnings/{warning_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke a warning (it stops counting; the log keeps who and why)",
)
async def revoke_warning(
    warning_id: WarningId,
    caller: Editor,
    reason: Annotated[
        str,
        Query(min_length=1, max_length=1000, description="Why: the moderation log keeps it."),
    ],
) -> None:
    await run(caller, lambda s, me: members.revoke_warning(s, me, warning_id, reason))
