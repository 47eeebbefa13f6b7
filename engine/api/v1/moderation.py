"""The moderation overview and log, read-only: viewers may read them.

Every rule is engine/services/moderation_log.py's (the Moderation page calls the same
functions). The CSV export is streamed a batch at a time, each batch its own short
transaction, so a long log never holds a connection for the whole download; cells a
spreadsheet would run as formulas are neutralised.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlmodel import Session

from engine.api.v1 import paging
from engine.api.v1.caller import Caller, Viewer, run
from engine.models import AdminUser, ModerationAction, Platform
from engine.services import moderation_log
from engine.services.moderation_log import LogEntry, LogFilters, Offender, Overview

router = APIRouter(prefix="/moderation", tags=["Moderation"])
CommunityId = Annotated[
    int | None, Query(description="Only this community; omit for every community.")
]


class TargetOut(BaseModel):
    """What one chat's platform answered."""

    platform: str = Field(examples=["discord"])
    chat_id: str = Field(examples=["1180000000000000001"])
    ok: bool
    error: str | None = Field(examples=["Missing Permissions"])
    skipped: bool = Field(description="The platform has no such action: nothing was tried.")


class LogEntryOut(BaseModel):
    """One moderation action: who did what to whom, why, and what the platforms said."""

    id: int
    created_at: datetime
    community_id: int | None
    community: str = Field(description="The community's name ('' if none).", examples=["Cats"])
    action: ModerationAction
    platform: Platform | None = Field(description="The target account's platform.")
    target_account_id: int | None
    target: str = Field(description="The target's name.", examples=["Ann"])
    actor: str = Field(
        description="A person's user name, or the automation that acted.",
        examples=["ada", "rules:antilink", "flow:12"],
    )
    reason: str = Field(examples=["spam link"])
    result: str = Field(
        description="Of the chats where it was tried: ok, failed, partial (some refused); "
        "skipped when no platform could try it; '' when there was no chat to act on.",
        examples=["ok"],
    )
    targets: list[TargetOut]

    @classmethod
    def of(cls, entry: LogEntry) -> LogEntryOut:
        return cls(
            id=entry.log_id,
            created_at=entry.created_at,
            community_id=entry.community_id,
            community=entry.community_name,
            action=ModerationAction(entry.action),
            platform=Platform(entry.platform) if entry.platform else None,
            target_account_id=entry.account_id,
            target=entry.target_name,
            actor=entry.actor,
            reason=entry.reason,
            result=entry.result,
            targets=[TargetOut(**vars(t)) for t in entry.targets],
        )


class DayOut(BaseModel):
    day: date
    warnings: int = Field(description="Warnings issued that day (revoked ones too).")
    mutes: int
    kicks: int
    bans: int


class OffenderOut(BaseModel):
    """A person: the accounts of one identity together, or one unlinked account."""

    account_id: int = Field(description="The account with the most against it.")
    identity_id: int | None
    name: str = Field(examples=["Ann"])
    platforms: list[str] = Field(examples=[["discord", "telegram"]])
    accounts: int = Field(description="How many of their accounts are counted.")
    active_warnings: int
    sanctions: int = Field(description="Mutes, kicks and bans in the window.")

    @classmethod
    def of(cls, offender: Offender) -> OffenderOut:
        return cls(**{**vars(offender), "platforms": list(offender.platforms)})


class OverviewOut(BaseModel):
    """The last 30 days (whole UTC days, today included)."""

    community_id: int | None
    since: datetime = Field(description="Start of the window (UTC midnight).")
    warnings: int
    bans: int
    actions: int = Field(description="Every logged action in the window.")
    days: list[DayOut]
    by_action: dict[str, int] = Field(examples=[{"warn": 12, "mute": 3, "ban": 1}])
    by_platform: dict[str, int] = Field(examples=[{"telegram": 10, "discord": 6}])
    offenders: list[OffenderOut] = Field(description="Most active warnings and sanctions.")
    recent: list[LogEntryOut]

    @classmethod
    def of(cls, overview: Overview) -> OverviewOut:
        return cls(
            community_id=overview.community_id,
            since=overview.since,
            warnings=overview.warnings,
            bans=overview.bans,
            actions=overview.actions,
            days=[DayOut(**vars(d)) for d in overview.days],
            by_action=overview.by_action,
            by_platform=overview.by_platform,
            offenders=[OffenderOut.of(o) for o in overview.offenders],
            recent=[LogEntryOut.of(e) for e in overview.recent],
        )


def log_filters(
    community_id: CommunityId = None,
    platform: Annotated[Platform | None, Query(description="The target's platform.")] = None,
    action: Annotated[ModerationAction | None, Query(description="What was done.")] = None,
    actor: Annotated[
        str | None,
        Query(max_length=128, description="Who acted: a user name or e.g. `rules:antilink`."),
    ] = None,
    account_id: Annotated[int | None, Query(description="The target account.")] = None,
    member: Annotated[
        str | None,
        Query(
            max_length=moderation_log.MAX_SEARCH,
            description="Part of the target's name, @username, or their platform user id.",
        ),
    ] = None,
    since: Annotated[datetime | None, Query(description="At or after (naive: UTC).")] = None,
    until: Annotated[datetime | None, Query(description="Before (naive: UTC).")] = None,
) -> LogFilters:
    return LogFilters(
        community_id=community_id,
        platform=platform.value if platform else None,
        action=action.value if action else None,
        actor=actor,
        account_id=account_id,
        member=member,
        since=since,
        until=until,
    )


Filters = Annotated[LogFilters, Depends(log_filters)]


@router.get("/overview", response_model=OverviewOut, summary="Moderation overview (30 days)")
async def get_overview(caller: Viewer, community_id: CommunityId = None) -> OverviewOut:
    return await run(
        caller, lambda s, me: OverviewOut.of(moderation_log.overview(s, me, community_id))
    )


@router.get("/log", response_model=paging.Page[LogEntryOut], summary="List the moderation log")
async def list_log(
    caller: Viewer, filters: Filters, limit: paging.Limit = 50, cursor: paging.Cursor = None
) -> paging.Page[LogEntryOut]:
    before = paging.decode(cursor)

    def action(session: Session, me: AdminUser) -> paging.Page[LogEntryOut]:
        found = moderation_log.log_entries(session, me, filters, limit=limit + 1, before=before)
        rows, after = paging.page_of(found, limit, lambda e: e.log_id)
        return paging.Page(items=[LogEntryOut.of(e) for e in rows], next_cursor=after)

    return await run(caller, action)


@router.get(
    "/log.csv",
    summary="Export the filtered moderation log as CSV",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/csv": {"example": ",".join(moderation_log.CSV_HEADER) + "\r\n"}},
            "description": "Newest first; the same filters as the log.",
        }
    },
)
async def export_log(caller: Viewer, filters: Filters) -> StreamingResponse:
    # The first batch is read before answering, so a refused filter is a proper error.
    first, before = await _chunk(caller, filters, None)
    return StreamingResponse(
        _rest(caller, filters, first, before),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="moderation-log.csv"'},
    )


async def _chunk(caller: Caller, filters: LogFilters, before: int | None) -> tuple[str, int | None]:
    return await run(caller, lambda s, me: moderation_log.csv_chunk(s, me, filters, before=before))


async def _rest(
    caller: Caller, filters: LogFilters, first: str, before: int | None
) -> AsyncIterator[str]:
    yield first
    while before is not None:
        text, before = await _chunk(caller, filters, before)
        yield text
