"""Platform accounts and the people they are linked into.

Every rule is engine/services/identities.py's (the Accounts page calls the same functions):
an account belongs to at most one person; editors link, unlink, rename and dismiss
suggestions, viewers read. A person's warnings, reputation and bans are their accounts'
summed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from engine.api.v1 import paging
from engine.api.v1.caller import Editor, Viewer, run
from engine.api.v1.idempotency import IdempotencyKey, once
from engine.models import AdminUser, Platform
from engine.services import identities
from engine.services.identities import MAX_NAME, MAX_NOTES, AccountView, IdentityView, Suggestion

router = APIRouter(tags=["Accounts and identities"])
AccountId = Annotated[int, Path(description="The platform account's id.")]
IdentityId = Annotated[int, Path(description="The person's (identity's) id.")]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME, examples=["Alex Kim"])]


class AccountOut(BaseModel):
    """One platform account and what it did in every community it is in."""

    id: int
    platform: Platform
    platform_user_id: str = Field(examples=["123456789"])
    username: str | None = Field(examples=["alex"])
    display_name: str = Field(examples=["Alex Kim"])
    is_bot: bool
    identity_id: int | None = Field(description="The person it is linked to, if any.")
    identity_name: str | None
    communities: int = Field(description="Communities it is a member of.")
    messages: int
    warnings: int = Field(description="Active warnings (neither revoked nor expired).")
    reputation: int = Field(description="Its score summed over every community.")
    banned: bool = Field(description="Banned in at least one community.")
    first_seen_at: datetime
    last_seen_at: datetime

    @classmethod
    def of(cls, view: AccountView) -> AccountOut:
        return cls(
            id=view.account_id,
            platform=Platform(view.platform),
            platform_user_id=view.platform_user_id,
            username=view.username,
            display_name=view.display_name,
            is_bot=view.is_bot,
            identity_id=view.identity_id,
            identity_name=view.identity_name,
            communities=view.communities,
            messages=view.messages,
            warnings=view.warnings,
            reputation=view.reputation,
            banned=view.banned,
            first_seen_at=view.first_seen_at,
            last_seen_at=view.last_seen_at,
        )


class IdentityOut(BaseModel):
    """A person: their linked accounts, and totals counted over all of them."""

    id: int
    display_name: str = Field(examples=["Alex Kim"])
    notes: str
    preferred_platform: Platform | None = Field(
        description="Where messages to the person go first (send_to_identity)."
    )
    platforms: list[Platform]
    warnings: int = Field(description="Active warnings of all their accounts.")
    reputation: int = Field(description="Reputation of all their accounts, every community.")
    messages: int
    banned: bool = Field(description="Any of their accounts is banned somewhere.")
    accounts: list[AccountOut]
    created_at: datetime

    @classmethod
    def of(cls, view: IdentityView) -> IdentityOut:
        return cls(
            id=view.identity_id,
            display_name=view.display_name,
            notes=view.notes,
            preferred_platform=Platform(view.preferred_platform)
            if view.preferred_platform
            else None,
            platforms=[Platform(p) for p in view.platforms],
            warnings=view.warnings,
            reputation=view.reputation,
            messages=view.messages,
            banned=view.banned,
            accounts=[AccountOut.of(a) for a in view.accounts],
            created_at=view.created_at,
        )


class SuggestionOut(BaseModel):
    """Two accounts that look like one person; confirm by linking them, or dismiss."""

    accounts: list[AccountOut] = Field(min_length=2, max_length=2)
    reasons: list[str] = Field(examples=[["same username", "same display name"]])

    @classmethod
    def of(cls, suggestion: Suggestion) -> SuggestionOut:
        pair = [AccountOut.of(suggestion.first), AccountOut.of(suggestion.second)]
        return cls(accounts=pair, reasons=suggestion.reasons)


class Suggestions(BaseModel):
    items: list[SuggestionOut]


class IdentityCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"account_ids": [3, 8], "display_name": "Alex Kim"}]}
    )

    account_ids: list[int] = Field(
        min_length=1,
        max_length=50,
        description="Accounts to link; none may belong to another person.",
    )
    display_name: Annotated[str, Field(max_length=MAX_NAME)] = Field(
        default="", description="Empty: the first account's display name."
    )


class IdentityUpdate(BaseModel):
    """Only the fields to change."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"display_name": "Alex K."}]})

    display_name: Name | None = None
    notes: Annotated[str, Field(max_length=MAX_NOTES)] | None = None
    preferred_platform: Platform | None = Field(
        default=None, description="Where messages to the person go first."
    )


class Dismissal(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"account_ids": [3, 8]}]})

    account_ids: list[int] = Field(
        min_length=2, max_length=2, description="The pair that are different people."
    )


# --- accounts -----------------------------------------------------------------------------------


@router.get("/accounts", response_model=paging.Page[AccountOut], summary="List platform accounts")
async def list_accounts(
    caller: Viewer,
    limit: paging.Limit = 50,
    cursor: paging.Cursor = None,
    search: Annotated[
        str | None,
        Query(max_length=128, description="Part of the username or display name, or the id."),
    ] = None,
    platform: Annotated[Platform | None, Query(description="Only this platform.")] = None,
    identity_id: Annotated[int | None, Query(description="Only this person's accounts.")] = None,
    linked: Annotated[
        bool | None, Query(description="true: linked to a person; false: not linked.")
    ] = None,
) -> paging.Page[AccountOut]:
    before = paging.decode(cursor)

    def action(session: Session, _: AdminUser) -> paging.Page[AccountOut]:
        views = identities.account_page(
            session,
            limit + 1,
            before=before,
            search=search,
            platform=platform,
            identity_id=identity_id,
            linked=linked,
        )
        rows, after = paging.page_of(views, limit, lambda v: v.account_id)
        return paging.Page(items=[AccountOut.of(v) for v in rows], next_cursor=after)

    return await run(caller, action)


@router.get("/accounts/{account_id}", response_model=AccountOut, summary="Get an account")
async def get_account(account_id: AccountId, caller: Viewer) -> AccountOut:
    return await run(caller, lambda s, _: AccountOut.of(identities.get_account(s, account_id)))


# --- identities ---------------------------------------------------------------------------------


@router.get(
    "/identities", response_model=paging.Page[IdentityOut], summary="List people (identities)"
)
async def list_identities(
    caller: Viewer,
    limit: paging.Limit = 50,
    cursor: paging.Cursor = None,
    search: Annotated[
        str | None, Query(max_length=128, description="Part of the person's name.")
    ] = None,
) -> paging.Page[IdentityOut]:
    before = paging.decode(cursor)

    def action(session: Session, _: AdminUser) -> paging.Page[IdentityOut]:
        views = identities.identity_page(session, limit + 1, before=before, search=search)
        rows, after = paging.page_of(views, limit, lambda v: v.identity_id)
        return paging.Page(items=[IdentityOut.of(v) for v in rows], next_cursor=after)

    return await run(caller, action)


@router.get(
    "/identities/suggestions",
    response_model=Suggestions,
    summary="Accounts that are likely one person (same phone, username or display name)",
)
async def list_suggestions(
    caller: Viewer,
    limit: Annotated[
        int, Query(ge=1, le=identities.MAX_SUGGESTIONS, description="At most this many pairs.")
    ] = 50,
) -> Suggestions:
    def action(session: Session, _: AdminUser) -> Suggestions:
        found = identities.suggestions(session, limit)
        return Suggestions(items=[SuggestionOut.of(s) for s in found])

    return await run(caller, action)


@router.post(
    "/identities/suggestions/dismissals",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Dismiss a suggestion: the pair are different people, never suggested again",
)
async def dismiss_suggestion(body: Dismissal, caller: Editor) -> None:
    first, second = body.account_ids
    await run(caller, lambda s, me: identities.dismiss_suggestion(s, me, first, second))


def _shown(session: Session, identity_id: int) -> IdentityOut:
    return IdentityOut.of(identities.get_identity(session, identity_id))


@router.post(
    "/identities",
    status_code=status.HTTP_201_CREATED,
    response_model=IdentityOut,
    summary="Link accounts into a new person",
)
async def create_identity(
    body: IdentityCreate, caller: Editor, request: Request, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    def action(session: Session, me: AdminUser) -> dict[str, Any]:
        made = identities.create_identity(session, me, body.account_ids, body.display_name)
        return _shown(session, made).model_dump(mode="json")

    async def produce() -> tuple[int, dict[str, Any]]:
        return 201, await run(caller, action)

    return await once(caller, idempotency_key, request, produce)


@router.get("/identities/{identity_id}", response_model=IdentityOut, summary="Get a person")
async def get_identity(identity_id: IdentityId, caller: Viewer) -> IdentityOut:
    return await run(caller, lambda s, _: _shown(s, identity_id))


@router.patch(
    "/identities/{identity_id}",
    response_model=IdentityOut,
    summary="Rename a person, change their notes or preferred platform",
)
async def update_identity(
    identity_id: IdentityId, body: IdentityUpdate, caller: Editor
) -> IdentityOut:
    changes = body.model_dump(exclude_unset=True)
    if "preferred_platform" in changes:  # null clears it
        changes["preferred_platform"] = changes["preferred_platform"] or ""

    def action(session: Session, me: AdminUser) -> IdentityOut:
        identities.update_identity(session, me, identity_id, **changes)
        return _shown(session, identity_id)

    return await run(caller, action)


@router.delete(
    "/identities/{identity_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Forget a person (their accounts stay, unlinked)",
)
async def delete_identity(identity_id: IdentityId, caller: Editor) -> None:
    await run(caller, lambda s, me: identities.delete_identity(s, me, identity_id))


@router.post(
    "/identities/{identity_id}/accounts/{account_id}",
    response_model=IdentityOut,
    summary="Link an account to a person (it may not be another person's)",
)
async def link_account(
    identity_id: IdentityId, account_id: AccountId, caller: Editor
) -> IdentityOut:
    def action(session: Session, me: AdminUser) -> IdentityOut:
        identities.add_account(session, me, identity_id, account_id)
        return _shown(session, identity_id)

    return await run(caller, action)


@router.delete(
    "/identities/{identity_id}/accounts/{account_id}",
    response_model=IdentityOut,
    summary="Unlink an account from a person",
)
async def unlink_account(
    identity_id: IdentityId, account_id: AccountId, caller: Editor
) -> IdentityOut:
    def action(session: Session, me: AdminUser) -> IdentityOut:
        identities.remove_account(session, me, identity_id, account_id)
        return _shown(session, identity_id)

    return await run(caller, action)
