"""People (admins only): the accounts that sign in to Flowbot and what each may do.

Thin callers of engine/services/auth.py, which holds the rules (admins only, never lower
or deactivate yourself, never the last active admin).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from engine.api.v1 import paging
from engine.api.v1.caller import Admin, run
from engine.api.v1.idempotency import IdempotencyKey, once
from engine.models import AdminUser, Role
from engine.services import auth

router = APIRouter(prefix="/people", tags=["People"])
PersonId = Annotated[int, Path(description="The account's id.")]
Password = Field(
    min_length=auth.MIN_PASSWORD_LENGTH,
    max_length=1024,
    description=f"At least {auth.MIN_PASSWORD_LENGTH} characters.",
    examples=["correct horse battery staple"],
)


class PersonOut(BaseModel):
    """An account as an admin sees it (never its password hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str = Field(examples=["ada"])
    display_name: str
    role: Role
    active: bool = Field(validation_alias="is_active")
    created_at: datetime
    last_login_at: datetime | None


class PersonCreate(BaseModel):
    username: str = Field(
        min_length=3, max_length=64, description="Letters, digits or . _ @ -", examples=["grace"]
    )
    password: str = Password
    role: Role = Role.viewer
    display_name: str = Field(default="", max_length=128)


class RoleChange(BaseModel):
    role: Role = Field(description="viewer reads; editor also changes; admin also manages people.")


class PasswordReset(BaseModel):
    password: str = Password


@router.get("", response_model=paging.Page[PersonOut], summary="List accounts")
async def list_people(
    caller: Admin,
    limit: paging.Limit = 50,
    cursor: paging.Cursor = None,
    role: Annotated[Role | None, Query(description="Only accounts with this role.")] = None,
    active: Annotated[bool | None, Query(description="Only active (or deactivated) ones.")] = None,
) -> paging.Page[PersonOut]:
    def action(session: Session, me: AdminUser) -> paging.Page[PersonOut]:
        query = auth.people_query(me)
        if role is not None:
            query = query.where(AdminUser.role == role)
        if active is not None:
            query = query.where(AdminUser.is_active == active)
        page, after = paging.fetch(session, query, AdminUser.id, limit, cursor)
        return paging.Page(items=[PersonOut.model_validate(u) for u in page], next_cursor=after)

    return await run(caller, action)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PersonOut,
    summary="Create an account",
)
async def create_person(
    body: PersonCreate, caller: Admin, request: Request, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    def action(session: Session, me: AdminUser) -> dict[str, object]:
        user = auth.create_user(
            session,
            body.username,
            body.password,
            body.role,
            actor=me,
            display_name=body.display_name,
        )
        return PersonOut.model_validate(user).model_dump(mode="json")

    async def produce() -> tuple[int, dict[str, object]]:
        return 201, await run(caller, action)

    return await once(caller, idempotency_key, request, produce)


@router.get("/{person_id}", response_model=PersonOut, summary="Get an account")
async def get_person(person_id: PersonId, caller: Admin) -> PersonOut:
    return await run(
        caller, lambda s, me: PersonOut.model_validate(auth.get_person(s, me, person_id))
    )


@router.put("/{person_id}/role", response_model=PersonOut, summary="Change an account's role")
async def change_role(person_id: PersonId, body: RoleChange, caller: Admin) -> PersonOut:
    def action(session: Session, me: AdminUser) -> PersonOut:
        user = auth.get_person(session, me, person_id)
        auth.set_role(session, me, user, body.role)
        return PersonOut.model_validate(user)

    return await run(caller, action)


@router.post(
    "/{person_id}/password",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Set a new password (the account's browser sessions end)",
)
async def reset_password(person_id: PersonId, body: PasswordReset, caller: Admin) -> None:
    await run(
        caller,
        lambda s, me: auth.reset_password(s, me, auth.get_person(s, me, person_id), body.password),
    )


async def _set_active(person_id: int, caller: Admin, active: bool) -> PersonOut:
    def action(session: Session, me: AdminUser) -> PersonOut:
        user = auth.get_person(session, me, person_id)
        auth.set_active(session, me, user, active)
        return PersonOut.model_validate(user)

    return await run(caller, action)


@router.post(
    "/{person_id}/deactivate",
    response_model=PersonOut,
    summary="Deactivate an account (its sessions end, its API tokens are revoked)",
)
async def deactivate(person_id: PersonId, caller: Admin) -> PersonOut:
    return await _set_active(person_id, caller, False)


@router.post("/{person_id}/reactivate", response_model=PersonOut, summary="Reactivate an account")
async def reactivate(person_id: PersonId, caller: Admin) -> PersonOut:
    return await _set_active(person_id, caller, True)
