"""Reputation: leaderboards (a person's linked accounts summed), history, manual adjustments.

Every rule is engine/services/reputation.py's (the Leaderboard page calls the same
functions): an adjustment needs the editor role and a reason, and is kept in the member's
history with who made it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from engine.api.v1 import paging
from engine.api.v1.caller import Editor, Viewer, run
from engine.api.v1.idempotency import IdempotencyKey, once
from engine.models import AdminUser, Platform
from engine.services import reputation
from engine.services.reputation import MAX_DELTA, MAX_REASON, HistoryEntry, Leader

router = APIRouter(prefix="/reputation", tags=["Reputation"])


class LinkedAccountOut(BaseModel):
    id: int
    platform: Platform
    username: str | None = Field(examples=["alex"])
    display_name: str = Field(examples=["Alex Kim"])


class LeaderOut(BaseModel):
    """One person: an identity with its linked accounts, or an unlinked account."""

    rank: int = Field(examples=[1])
    score: int = Field(examples=[42])
    name: str = Field(examples=["Alex Kim"])
    identity_id: int | None = Field(description="Set when the accounts are linked into a person.")
    accounts: list[LinkedAccountOut]

    @classmethod
    def of(cls, leader: Leader) -> LeaderOut:
        return cls(
            rank=leader.rank,
            score=leader.score,
            name=leader.name,
            identity_id=leader.identity_id,
            accounts=[
                LinkedAccountOut(
                    id=a.account_id,
                    platform=Platform(a.platform),
                    username=a.username,
                    display_name=a.display_name,
                )
                for a in leader.accounts
            ],
        )


class Leaderboard(BaseModel):
    community_id: int | None = Field(description="Null: every community together.")
    items: list[LeaderOut]


class HistoryOut(BaseModel):
    id: int
    community_id: int
    community_name: str
    account_id: int
    platform: Platform
    display_name: str
    delta: int = Field(examples=[1, -2])
    reason: str = Field(examples=["reply containing “thanks”"])
    actor: str = Field(
        description="Who changed it: user:<name>, flow:<id> or rules:reputation.",
        examples=["rules:reputation"],
    )
    rule: str | None = Field(description="The earning rule's index, null when manual.")
    created_at: datetime

    @classmethod
    def of(cls, entry: HistoryEntry) -> HistoryOut:
        return cls(
            id=entry.event_id,
            community_id=entry.community_id,
            community_name=entry.community_name,
            account_id=entry.account_id,
            platform=Platform(entry.platform),
            display_name=entry.display_name,
            delta=entry.delta,
            reason=entry.reason,
            actor=entry.actor,
            rule=entry.rule,
            created_at=entry.created_at,
        )


class AdjustmentIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"community_id": 1, "account_id": 7, "delta": 5, "reason": "Helped newcomers"}
            ]
        }
    )

    community_id: int
    account_id: int
    delta: int = Field(ge=-MAX_DELTA, le=MAX_DELTA, description="Points to add (negative removes).")
    reason: str = Field(min_length=1, max_length=MAX_REASON, description="Kept in the history.")


class AdjustmentOut(BaseModel):
    community_id: int
    account_id: int
    delta: int
    score: int = Field(description="The account's score in the community after the change.")


@router.get(
    "/leaderboard",
    response_model=Leaderboard,
    summary="Top people by reputation in a community, or in all of them",
)
async def get_leaderboard(
    caller: Viewer,
    community_id: Annotated[
        int | None, Query(description="The community; omit for every community together.")
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=reputation.MAX_LEADERBOARD, description="How many people.")
    ] = 50,
) -> Leaderboard:
    def action(session: Session, _: AdminUser) -> Leaderboard:
        leaders = reputation.leaderboard(session, community_id, limit)
        return Leaderboard(community_id=community_id, items=[LeaderOut.of(x) for x in leaders])

    return await run(caller, action)


@router.get(
    "/history", response_model=paging.Page[HistoryOut], summary="Reputation changes, newest first"
)
async def get_history(
    caller: Viewer,
    limit: paging.Limit = 50,
    cursor: paging.Cursor = None,
    account_id: Annotated[int | None, Query(description="Only this account's.")] = None,
    identity_id: Annotated[
        int | None, Query(description="Only the changes of this person's linked accounts.")
    ] = None,
    community_id: Annotated[int | None, Query(description="Only in this community.")] = None,
) -> paging.Page[HistoryOut]:
    before = paging.decode(cursor)

    def action(session: Session, _: AdminUser) -> paging.Page[HistoryOut]:
        entries = reputation.history(
            session,
            limit + 1,
            before=before,
            account_id=account_id,
            identity_id=identity_id,
            community_id=community_id,
        )
        rows, after = paging.page_of(entries, limit, lambda e: e.event_id)
        return paging.Page(items=[HistoryOut.of(e) for e in rows], next_cursor=after)

    return await run(caller, action)


@router.post(
    "/adjustments",
    status_code=status.HTTP_201_CREATED,
    response_model=AdjustmentOut,
    summary="Add or remove a member's points, with a reason",
)
async def adjust(
    body: AdjustmentIn, caller: Editor, request: Request, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    def action(session: Session, me: AdminUser) -> dict[str, Any]:
        score = reputation.adjust_manually(
            session, me, body.community_id, body.account_id, body.delta, body.reason
        )
        return AdjustmentOut(**body.model_dump(exclude={"reason"}), score=score).model_dump()

    async def produce() -> tuple[int, dict[str, Any]]:
        return 201, await run(caller, action)

    return await once(caller, idempotency_key, request, produce)
