"""Communities: chats from any platform grouped under one name, and the rules they share.

Every rule is engine/services/communities.py's (the Communities page calls the same
functions). A chat belongs to at most one community; attaching a Discord channel attaches
its guild. Attaching backfills the members each platform lists (best effort: a platform's
refusal is in the answer, the chats stay attached). Deleting is an admin's: the members,
warnings, log and reputation go with the community, or move with ``?move_to=``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from engine.api.v1 import paging
from engine.api.v1.caller import Admin, Editor, Viewer, run
from engine.api.v1.chats import ChatOut, chat_list
from engine.api.v1.errors import ApiError
from engine.api.v1.flows import refusals
from engine.api.v1.idempotency import IdempotencyKey, once
from engine.community_rules import CommunityRules
from engine.models import AdminUser
from engine.services import communities
from engine.services.communities import ChatFilters, CommunityView, InvalidRules

router = APIRouter(prefix="/communities", tags=["Communities"])
Change = Callable[[Session, AdminUser], CommunityRules]
CommunityId = Annotated[int, Path(description="The community's id.")]
Name = Annotated[
    str, Field(min_length=1, max_length=communities.MAX_NAME, examples=["Photography club"])
]
Description = Annotated[
    str,
    Field(max_length=communities.MAX_DESCRIPTION, examples=["Photo walks and critiques"]),
]
TAKEN = refusals(c409="The chat belongs to another community: detach it there first.")
RULES_EXAMPLE = {
    "antilink": {"enabled": True, "allowed_domains": ["example.com"]},
    "warnings": {"mute_at": 3, "mute_minutes": 1440, "ban_at": 5},
    "overrides": {"discord": {"welcome": {"message": "Welcome to the server, {{ member.name }}!"}}},
}


class CommunityOut(BaseModel):
    id: int
    name: str = Field(examples=["Photography club"])
    description: str
    active: bool
    chats: dict[str, int] = Field(
        description="Attached chats per platform (a Discord guild counts once).",
        examples=[{"telegram": 2, "discord": 1}],
    )
    member_count: int = Field(description="Members who have not left.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: CommunityView) -> CommunityOut:
        return cls(
            id=view.community_id,
            name=view.name,
            description=view.description,
            active=view.is_active,
            chats=view.chats_by_platform,
            member_count=view.member_count,
            created_at=view.created_at,
            updated_at=view.updated_at,
        )


class CommunityCreate(BaseModel):
    name: Name
    description: Description = ""


class CommunityUpdate(BaseModel):
    """Only the fields to change."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "Photo club", "description": "Walks"}]}
    )

    name: Name | None = None
    description: Description | None = None


class AttachIn(BaseModel):
    chat_ids: list[int] = Field(
        min_length=1, max_length=200, description="Discovered chats' ids.", examples=[[3, 7]]
    )
    backfill: bool = Field(
        default=True, description="Record the members each platform lists for the new chats."
    )


class BackfillOut(BaseModel):
    chat_id: int
    title: str
    recorded: int = Field(description="Members recorded from the platform's list.")
    error: str | None = Field(description="Why the platform listed none.", examples=[None])


class AttachOut(BaseModel):
    attached: list[ChatOut] = Field(
        description="Every chat attached by this request (a Discord channel brings its guild "
        "and the guild's other channels); chats already here are not repeated."
    )
    backfill: list[BackfillOut]


class DetachOut(BaseModel):
    detached: list[int] = Field(
        description="The chats detached: a Discord guild goes with all its channels."
    )


@router.get("", response_model=paging.Page[CommunityOut], summary="List communities")
async def list_communities(
    caller: Viewer, limit: paging.Limit = 50, cursor: paging.Cursor = None
) -> paging.Page[CommunityOut]:
    before = paging.decode(cursor)

    def action(session: Session, _: AdminUser) -> paging.Page[CommunityOut]:
        views = communities.community_page(session, limit + 1, before=before)
        rows, after = paging.page_of(views, limit, lambda v: v.community_id)
        return paging.Page(items=[CommunityOut.of(v) for v in rows], next_cursor=after)

    return await run(caller, action)


def _shown(session: Session, community_id: int) -> CommunityOut:
    return CommunityOut.of(communities.get_community(session, community_id))


@router.get("/{community_id}", response_model=CommunityOut, summary="Get a community")
async def get_community(community_id: CommunityId, caller: Viewer) -> CommunityOut:
    return await run(caller, lambda s, _: _shown(s, community_id))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CommunityOut,
    summary="Create a community (default rules: nothing runs until a rule is on)",
    responses=refusals(c409="A request with this Idempotency-Key is still in progress."),
)
async def create_community(
    body: CommunityCreate,
    caller: Editor,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    def action(session: Session, me: AdminUser) -> dict[str, Any]:
        made = communities.create_community(session, me, body.name, body.description)
        return _shown(session, made.id or 0).model_dump(mode="json")

    async def produce() -> tuple[int, dict[str, Any]]:
        return 201, await run(caller, action)

    return await once(caller, idempotency_key, request, produce)


@router.patch(
    "/{community_id}", response_model=CommunityOut, summary="Rename or describe a community"
)
async def update_community(
    community_id: CommunityId, body: CommunityUpdate, caller: Editor
) -> CommunityOut:
    changes = body.model_dump(exclude_unset=True)

    def action(session: Session, me: AdminUser) -> CommunityOut:
        communities.update_community(session, me, community_id, **changes)
        return _shown(session, community_id)

    return await run(caller, action)


@router.delete(
    "/{community_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a community, with its members and logs or moving them (admin)",
)
async def delete_community(
    community_id: CommunityId,
    caller: Admin,
    move_to: Annotated[
        int | None,
        Query(
            description="Move the chats, members (merged), warnings, log and reputation into "
            "this community instead of deleting them."
        ),
    ] = None,
) -> None:
    await run(
        caller, lambda s, me: communities.delete_community(s, me, community_id, move_to=move_to)
    )


# --- chats ------------------------------------------------------------------------------------


@router.get(
    "/{community_id}/chats", response_model=paging.Page[ChatOut], summary="A community's chats"
)
async def community_chats(
    community_id: CommunityId,
    caller: Viewer,
    limit: paging.Limit = 50,
    cursor: paging.Cursor = None,
) -> paging.Page[ChatOut]:
    def action(session: Session, _: AdminUser) -> paging.Page[ChatOut]:
        communities.get_community(session, community_id)  # 404 for a community that is not
        return chat_list(session, ChatFilters(community_id=community_id), limit, cursor)

    return await run(caller, action)


@router.post(
    "/{community_id}/chats",
    response_model=AttachOut,
    summary="Attach discovered chats (and backfill their members)",
    responses=TAKEN,
)
async def attach_chats(community_id: CommunityId, body: AttachIn, caller: Editor) -> AttachOut:
    def attach(session: Session, me: AdminUser) -> list[ChatOut]:
        ids = communities.attach_chats(session, me, community_id, body.chat_ids)
        return [ChatOut.of(communities.get_chat(session, chat_id)) for chat_id in ids]

    attached = await run(caller, attach)
    filled = []
    if body.backfill and attached:
        filled = await communities.backfill_members(community_id, [c.id for c in attached])
    return AttachOut(
        attached=attached,
        backfill=[
            BackfillOut(chat_id=b.chat_id, title=b.title, recorded=b.recorded, error=b.error)
            for b in filled
        ],
    )


@router.delete(
    "/{community_id}/chats/{chat_id}",
    response_model=DetachOut,
    summary="Detach a chat (a Discord guild with its channels)",
)
async def detach_chat(
    community_id: CommunityId,
    chat_id: Annotated[int, Path(description="The chat's id.")],
    caller: Editor,
) -> DetachOut:
    detached = await run(
        caller, lambda s, me: communities.detach_chat(s, me, community_id, chat_id)
    )
    return DetachOut(detached=detached)


# --- rules ------------------------------------------------------------------------------------


def _per_field(change: Change) -> Change:
    """``change``, with refused rules answered 422 listing each wrong field in ``details``."""

    def action(session: Session, me: AdminUser) -> CommunityRules:
        try:
            return change(session, me)
        except InvalidRules as refused:
            details = [{"field": name, "problem": why} for name, why in refused.errors.items()]
            raise ApiError(422, str(refused), details=details) from None

    return action


@router.get("/{community_id}/rules", response_model=CommunityRules, summary="A community's rules")
async def get_rules(community_id: CommunityId, caller: Viewer) -> CommunityRules:
    return await run(caller, lambda s, _: communities.get_rules(s, community_id))


@router.put(
    "/{community_id}/rules",
    response_model=CommunityRules,
    summary="Replace a community's rules (what is left out takes the defaults)",
)
async def save_rules(
    community_id: CommunityId,
    body: Annotated[CommunityRules, Body(examples=[RULES_EXAMPLE])],
    caller: Editor,
) -> CommunityRules:
    document = body.model_dump(mode="json", exclude_unset=True)
    change = _per_field(lambda s, me: communities.save_rules(s, me, community_id, document))
    return await run(caller, change)


@router.patch(
    "/{community_id}/rules",
    response_model=CommunityRules,
    summary="Change some sections of a community's rules (each section's given fields)",
)
async def update_rules(
    community_id: CommunityId,
    body: Annotated[
        dict[str, Any],
        Body(
            description="Sections to change, each with only the fields to change; a "
            "platform's overrides replace that platform's.",
            examples=[RULES_EXAMPLE],
        ),
    ],
    caller: Editor,
) -> CommunityRules:
    change = _per_field(lambda s, me: communities.update_rules(s, me, community_id, body))
    return await run(caller, change)
