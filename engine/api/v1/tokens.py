"""API tokens: list your own, create one (its secret shown once), revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlmodel import Session, select

from engine.api.v1 import paging
from engine.api.v1.caller import Editor, Viewer, run
from engine.api.v1.idempotency import IdempotencyKey, once
from engine.models import AdminUser, ApiToken, Role
from engine.services import auth
from engine.services.errors import NotFound

router = APIRouter(prefix="/tokens", tags=["API tokens"])
TokenId = Annotated[int, Path(description="The token's id.")]


class TokenOut(BaseModel):
    """A token as listed: never its secret, only the first characters to recognise it."""

    id: int
    name: str
    prefix: str = Field(examples=["fbt_Ab12Cd"])
    role: Role
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked: bool

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        return cls(
            id=token.id or 0,
            name=token.name,
            prefix=token.prefix,
            role=Role(token.role),
            created_at=token.created_at,
            last_used_at=token.last_used_at,
            expires_at=token.expires_at,
            revoked=token.revoked_at is not None,
        )


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=128, examples=["CI deploys"])
    role: Role = Field(
        default=Role.editor,
        description="At most your own role; `viewer` makes a read-only token.",
    )
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenCreated(TokenOut):
    token: str = Field(description="The secret: shown this once, store it now.")


@router.get("", response_model=paging.Page[TokenOut], summary="List your API tokens")
async def list_tokens(
    caller: Viewer, limit: paging.Limit = 50, cursor: paging.Cursor = None
) -> paging.Page[TokenOut]:
    def action(session: Session, me: AdminUser) -> paging.Page[TokenOut]:
        mine = select(ApiToken).where(ApiToken.admin_id == me.id)
        rows, after = paging.fetch(session, mine, ApiToken.id, limit, cursor)
        return paging.Page(items=[TokenOut.of(t) for t in rows], next_cursor=after)

    return await run(caller, action)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TokenCreated,
    summary="Create an API token (its secret is in this answer only)",
)
async def create_token(
    body: TokenCreate, caller: Editor, request: Request, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    def action(session: Session, me: AdminUser) -> dict[str, object]:
        new = auth.create_api_token(session, me, body.name, body.role, body.expires_in_days)
        created = TokenCreated(**TokenOut.of(new.record).model_dump(), token=new.plaintext)
        return created.model_dump(mode="json")

    async def produce() -> tuple[int, dict[str, object]]:
        return 201, await run(caller, action)

    return await once(caller, idempotency_key, request, produce)


@router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke an API token")
async def revoke_token(token_id: TokenId, caller: Editor) -> None:
    def action(session: Session, me: AdminUser) -> None:
        token = session.get(ApiToken, token_id)
        if token is None or (token.admin_id != me.id and auth.acting_role(me) != Role.admin):
            raise NotFound(f"Token {token_id} does not exist.")
        auth.revoke_api_token(session, me, token)

    await run(caller, action)
