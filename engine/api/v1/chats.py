"""Discovered chats: what the connections' bots and accounts are in, and where each belongs.

Every rule is engine/services/communities.py's (the Communities page's chat picker calls
the same functions). Chats are never typed in: connectors report them as they see them,
and ``POST /chats/refresh`` asks one connection for all of its chats at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlmodel import Session

from engine.api.v1 import paging
from engine.api.v1.caller import Editor, Viewer, run
from engine.models import AdminUser, Platform
from engine.services import communities
from engine.services.communities import ChatFilters, ChatView

router = APIRouter(prefix="/chats", tags=["Chats"])
ChatId = Annotated[int, Path(description="The chat's id (Flowbot's, not the platform's).")]


class ChatOut(BaseModel):
    """A chat a connection is in, and the community it belongs to, if any."""

    id: int
    platform: str = Field(examples=["telegram"])
    platform_chat_id: str = Field(
        description="The platform's id: Telegram chat id, Discord guild or channel snowflake, "
        "WhatsApp group JID.",
        examples=["-1001234567890"],
    )
    type: str = Field(
        description="group, supergroup, channel (Telegram); guild, text (Discord); group "
        "(WhatsApp).",
        examples=["supergroup"],
    )
    title: str = Field(examples=["Photography club"])
    username: str | None = Field(default=None, examples=["photoclub"])
    member_count: int | None = Field(default=None, description="As the platform last said.")
    bot_is_admin: bool = Field(description="The bot or account may moderate there.")
    guild_id: str | None = Field(default=None, description="A Discord channel's guild.")
    connection_id: int | None = Field(description="The connection that sees the chat.")
    connection_name: str
    community_id: int | None = Field(description="The community it belongs to (at most one).")
    community_name: str
    gone: bool = Field(description="The bot or account left the chat.")
    updated_at: datetime

    @classmethod
    def of(cls, view: ChatView) -> ChatOut:
        return cls(
            id=view.chat_id,
            platform=view.platform,
            platform_chat_id=view.platform_chat_id,
            type=view.type,
            title=view.title,
            username=view.username,
            member_count=view.member_count,
            bot_is_admin=view.bot_is_admin,
            guild_id=view.guild_id,
            connection_id=view.connection_id,
            connection_name=view.connection_name,
            community_id=view.community_id,
            community_name=view.community_name,
            gone=view.gone,
            updated_at=view.updated_at,
        )


class RefreshIn(BaseModel):
    connection_id: int = Field(description="The connection to ask.", examples=[1])


class RefreshOut(BaseModel):
    """What the connection listed, each chat recorded; or why it listed nothing."""

    connection_id: int
    seen: int = Field(description="How many chats the connection listed.")
    error: str | None = Field(
        default=None,
        description="The platform's or the connector pool's refusal (nothing was listed).",
        examples=[None],
    )
    chats: list[ChatOut]


def chat_list(
    session: Session, filters: ChatFilters, limit: int, cursor: str | None
) -> paging.Page[ChatOut]:
    """One page of chats, newest first (also a community's chats)."""
    before = paging.decode(cursor)
    views = communities.chat_page(session, filters, limit + 1, before=before)
    rows, after = paging.page_of(views, limit, lambda v: v.chat_id)
    return paging.Page(items=[ChatOut.of(v) for v in rows], next_cursor=after)


@router.get("", response_model=paging.Page[ChatOut], summary="List discovered chats")
async def list_chats(
    caller: Viewer,
    limit: paging.Limit = 50,
    cursor: paging.Cursor = None,
    platform: Annotated[Platform | None, Query(description="Only this platform's.")] = None,
    connection_id: Annotated[
        int | None, Query(description="Only the chats this connection is in.")
    ] = None,
    search: Annotated[
        str | None,
        Query(max_length=communities.MAX_SEARCH, description="In the title, username or id."),
    ] = None,
    attached: Annotated[
        bool | None, Query(description="true: only chats in a community; false: only free ones.")
    ] = None,
    include_gone: Annotated[bool, Query(description="Also chats the bot has left.")] = False,
) -> paging.Page[ChatOut]:
    filters = ChatFilters(
        platform=platform.value if platform else None,
        connection_id=connection_id,
        search=search,
        attached=attached,
        include_gone=include_gone,
    )
    return await run(caller, lambda s, _: chat_list(s, filters, limit, cursor))


@router.get("/{chat_id}", response_model=ChatOut, summary="Get a chat")
async def get_chat(chat_id: ChatId, caller: Viewer) -> ChatOut:
    return await run(caller, lambda s, _: ChatOut.of(communities.get_chat(s, chat_id)))


@router.post(
    "/refresh",
    response_model=RefreshOut,
    summary="Ask a connection for every chat it is in, and record them",
)
async def refresh_chats(body: RefreshIn, caller: Editor) -> RefreshOut:
    def authorize(session: Session, me: AdminUser) -> communities.RefreshTarget:
        return communities.authorize_refresh(session, me, body.connection_id)

    done = await communities.refresh_chats(await run(caller, authorize))

    def shown(session: Session, _: AdminUser) -> list[ChatOut]:
        return [ChatOut.of(communities.get_chat(session, chat_id)) for chat_id in done.chat_ids]

    return RefreshOut(
        connection_id=done.connection_id,
        seen=done.seen,
        error=done.error,
        chats=await run(caller, shown),
    )
