"""Bot configuration: the commands, responses, menus, strings, languages and scope a
Telegram or Discord bot answers with by itself; a draft, published as numbered versions.

Every rule is engine/services/bot_config.py's (the Bot config page calls the same
functions). The draft's ``ETag`` is its revision: replacing the whole draft needs
``If-Match`` (428 without, 412 when someone saved meanwhile); the per-item edits, publish
and rollback check it when sent. Publishing is refused (409, ``details`` lists each
problem) until the draft has no problems.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Header, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from engine.api.v1 import paging
from engine.api.v1.caller import Caller, Editor, Viewer, run
from engine.api.v1.errors import ApiError
from engine.api.v1.flows import ETAG, etag, expected_revision, refusals
from engine.api.v1.idempotency import IdempotencyKey, once
from engine.bot_config.diff import Change
from engine.bot_config.document import BotConfigDocument, BotScope, Command, Language, Menu
from engine.bot_config.document import Response as BotResponse
from engine.bot_config.validation import MissingText, Problem
from engine.models import AdminUser
from engine.services import bot_config as service
from engine.services.bot_config import DraftView, VersionView

router = APIRouter(prefix="/bots", tags=["Bot configuration"])
T = TypeVar("T")

InstanceId = Annotated[int, Path(description="The bot's instance id (a connection's instance_id).")]
VersionNumber = Annotated[int, Path(ge=1, description="The published version's number (1, 2…).")]
CommandName = Annotated[str, Path(max_length=64, description="The command, without the slash.")]
ItemKey = Annotated[str, Path(max_length=64, description="The response's or menu's key.")]

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The draft's `ETag` as you last read it; `*` overwrites whatever is there.",
        examples=['"3"'],
    ),
]

EXAMPLE_COMMAND: dict[str, Any] = {
    "name": "help",
    "description": {"en": "What I can do", "de": "Was ich kann"},
    "scope": {"kind": "all"},
    "action": {"kind": "menu", "target": "main"},
}
EXAMPLE_RESPONSE: dict[str, Any] = {
    "key": "rules",
    "triggers": [{"kind": "keyword", "value": "rules"}],
    "text": {"en": "{{ member.name }}, our rules: {{ community.rules }}"},
    "reply_mode": "reply",
}
EXAMPLE_MENU: dict[str, Any] = {
    "key": "main",
    "title": {"en": "How can I help?"},
    "rows": [
        [
            {"label": {"en": "Rules"}, "action": {"kind": "response", "target": "rules"}},
            {
                "label": {"en": "Website"},
                "action": {"kind": "url", "target": "https://example.org"},
            },
        ]
    ],
}
EXAMPLE_SCOPE: dict[str, Any] = {"everywhere": False, "community_ids": [1], "private_chats": True}


def _example(summary: str, value: Any) -> Any:
    """A request body's example, for the API reference."""
    return Body(openapi_examples={"example": {"summary": summary, "value": value}})


EXAMPLE_CONFIG: dict[str, Any] = {
    "default_language": "en",
    "languages": ["en", "de"],
    "commands": [EXAMPLE_COMMAND],
    "responses": [EXAMPLE_RESPONSE],
    "menus": [EXAMPLE_MENU],
    "strings": {"site": {"en": "example.org"}},
    "scope": EXAMPLE_SCOPE,
}
ConfigBody = Annotated[
    BotConfigDocument, _example("A bot with /help opening a menu", EXAMPLE_CONFIG)
]
CommandBody = Annotated[Command, _example("/help opens the main menu", EXAMPLE_COMMAND)]
ResponseBody = Annotated[BotResponse, _example("Answers 'rules'", EXAMPLE_RESPONSE)]
MenuBody = Annotated[Menu, _example("Two buttons in a row", EXAMPLE_MENU)]
StringsBody = Annotated[
    dict[str, dict[str, str]],
    _example("One string", {"site": {"en": "example.org", "de": "beispiel.de"}}),
]
ScopeBody = Annotated[BotScope, _example("Only community 1 and private chats", EXAMPLE_SCOPE)]

STALE = "The configuration changed since the ETag in If-Match: read it again."
CONDITIONAL = ETAG | refusals(c412=STALE, c428="If-Match is missing.")
CHECKED = ETAG | refusals(c412=STALE)
NOT_PUBLISHABLE = refusals(
    c409="The draft has problems (`details` lists them), or the Idempotency-Key is in use.",
    c412=STALE,
)


class BotOut(BaseModel):
    """A Telegram or Discord bot and the state of its configuration."""

    model_config = ConfigDict(from_attributes=True)

    instance_id: int
    name: str = Field(examples=["Support bot"])
    platform: str = Field(examples=["telegram"])
    username: str | None = Field(examples=["support_bot"])
    live_version: int | None = Field(description="The version the bot answers with; null: none.")
    published_at: datetime | None
    has_changes: bool = Field(description="The draft differs from the live version.")
    commands: int
    responses: int
    menus: int


class DraftOut(BaseModel):
    """The draft configuration; `revision` is also the `ETag` header."""

    model_config = ConfigDict(from_attributes=True)

    instance_id: int
    platform: str = Field(examples=["discord"])
    document: BotConfigDocument
    revision: int
    updated_by: str
    updated_at: datetime
    live_version: int | None
    has_changes: bool


class ProblemsOut(BaseModel):
    ok: bool = Field(description="No problems: the draft can be published.")
    problems: list[Problem]


class MissingOut(BaseModel):
    missing: list[MissingText] = Field(description="Each text and language lacking it.")


class LanguagesIn(BaseModel):
    default_language: Language = Field(examples=["en"])
    languages: list[Language] = Field(
        max_length=50,
        description="The default language is added when left out.",
        examples=[["en", "de"]],
    )


class PublishIn(BaseModel):
    note: str = Field(default="", max_length=service.MAX_NOTE, examples=["German texts"])


class VersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int = Field(examples=[3])
    published_by: str
    published_at: datetime
    note: str = Field(examples=["Rollback to v1"])


class VersionDetail(VersionOut):
    document: BotConfigDocument


class DiffOut(BaseModel):
    changes: list[Change] = Field(
        description="Readable lines: where (`Command /help`), what (`description (de)`), "
        "before and after."
    )


def _stale_is_412(action: Callable[[Session, AdminUser], T]) -> Callable[[Session, AdminUser], T]:
    """A stale draft is the API's 412; a refused publish is 409 listing every problem."""

    def guarded(session: Session, me: AdminUser) -> T:
        try:
            return action(session, me)
        except service.StaleDraft as exc:
            raise ApiError(412, str(exc)) from None
        except service.InvalidBotConfig as exc:
            details = [{"path": p.path, "problem": p.message} for p in exc.problems]
            raise ApiError(409, str(exc), details=details) from None

    return guarded


def _draft_out(view: DraftView, response: Response) -> DraftOut:
    response.headers["ETag"] = etag(view.revision)
    return DraftOut.model_validate(view)


async def _draft_answer(
    caller: Caller,
    response: Response,
    edit: Callable[[Session, AdminUser], DraftView],
) -> DraftOut:
    return await run(caller, _stale_is_412(lambda s, me: _draft_out(edit(s, me), response)))


def _revision(if_match: str | None, *, required: bool = False) -> int | None:
    """The draft revision If-Match names (None: `*`, or not sent where it is optional)."""
    if if_match is None or not if_match.strip():
        if required:
            raise ApiError(
                428,
                "Send If-Match with the configuration's ETag (read it first), so a concurrent "
                "edit is not overwritten.",
            )
        return None
    return expected_revision(if_match)


async def _published(
    caller: Caller,
    key: str | None,
    request: Request,
    action: Callable[[Session, AdminUser], VersionView],
) -> JSONResponse:
    """201 with the new version, once per Idempotency-Key."""

    def produce_in(session: Session, me: AdminUser) -> dict[str, Any]:
        return VersionOut.model_validate(action(session, me)).model_dump(mode="json")

    async def produce() -> tuple[int, dict[str, Any]]:
        return 201, await run(caller, _stale_is_412(produce_in))

    return await once(caller, key, request, produce)


# --------------------------------------------------------------------------- bots and draft


@router.get("", response_model=paging.Page[BotOut], summary="List Telegram and Discord bots")
async def list_bots(
    caller: Viewer, limit: paging.Limit = 50, cursor: paging.Cursor = None
) -> paging.Page[BotOut]:
    before = paging.decode(cursor)

    def action(session: Session, me: AdminUser) -> paging.Page[BotOut]:
        bots = sorted(service.list_bots(session, me), key=lambda b: -b.instance_id)
        bots = [b for b in bots if before is None or b.instance_id < before][: limit + 1]
        rows, after = paging.page_of(bots, limit, lambda b: b.instance_id)
        return paging.Page(items=[BotOut.model_validate(b) for b in rows], next_cursor=after)

    return await run(caller, action)


@router.get(
    "/{instance_id}/config",
    response_model=DraftOut,
    summary="Get the draft configuration (made empty on first read)",
    responses=ETAG,
)
async def get_config(instance_id: InstanceId, caller: Viewer, response: Response) -> DraftOut:
    return await _draft_answer(
        caller, response, lambda s, me: service.get_draft(s, me, instance_id)
    )


@router.put(
    "/{instance_id}/config",
    response_model=DraftOut,
    summary="Replace the draft (If-Match required; 412 when someone saved meanwhile)",
    responses=CONDITIONAL,
)
async def put_config(
    instance_id: InstanceId,
    body: ConfigBody,
    caller: Editor,
    response: Response,
    if_match: IfMatch = None,
) -> DraftOut:
    revision = _revision(if_match, required=True)
    return await _draft_answer(
        caller,
        response,
        lambda s, me: service.save_draft(s, me, instance_id, body, base_revision=revision),
    )


@router.get(
    "/{instance_id}/config/problems",
    response_model=ProblemsOut,
    summary="What must be fixed before the draft can be published",
)
async def get_problems(instance_id: InstanceId, caller: Viewer) -> ProblemsOut:
    def action(session: Session, me: AdminUser) -> ProblemsOut:
        found = service.problems(session, me, instance_id)
        return ProblemsOut(ok=not found, problems=found)

    return await run(caller, action)


@router.get(
    "/{instance_id}/config/missing-translations",
    response_model=MissingOut,
    summary="Texts of the draft lacking one of the bot's languages",
)
async def get_missing_translations(instance_id: InstanceId, caller: Viewer) -> MissingOut:
    def action(session: Session, me: AdminUser) -> MissingOut:
        draft = service.get_draft(session, me, instance_id)
        return MissingOut(missing=service.missing_translations(draft.document))

    return await run(caller, action)


# --------------------------------------------------------------------------- items


@router.put(
    "/{instance_id}/config/commands/{name}",
    response_model=DraftOut,
    summary="Add or replace a command (a different name in the body renames it)",
    responses=CHECKED,
)
async def put_command(
    instance_id: InstanceId,
    name: CommandName,
    body: CommandBody,
    caller: Editor,
    response: Response,
    if_match: IfMatch = None,
) -> DraftOut:
    revision = _revision(if_match)
    return await _draft_answer(
        caller,
        response,
        lambda s, me: service.upsert_command(
            s, me, instance_id, body, replaces=name, base_revision=revision
        ),
    )


@router.delete(
    "/{instance_id}/config/commands/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a command from the draft (the ETag header is the new revision)",
    responses=refusals(c412=STALE),
)
async def delete_command(
    instance_id: InstanceId,
    name: CommandName,
    caller: Editor,
    response: Response,
    if_match: IfMatch = None,
) -> None:
    revision = _revision(if_match)
    await _draft_answer(
        caller,
        response,
        lambda s, me: service.delete_command(s, me, instance_id, name, base_revision=revision),
    )


@router.put(
    "/{instance_id}/config/responses/{key}",
    response_model=DraftOut,
    summary="Add or replace a response (a different key in the body renames it)",
    responses=CHECKED,
)
async def put_response(
    instance_id: InstanceId,
    key: ItemKey,
    body: ResponseBody,
    caller: Editor,
    response: Response,
    if_match: IfMatch = None,
) -> DraftOut:
    revision = _revision(if_match)
    return await _draft_answer(
        caller,
        response,
        lambda s, me: service.upsert_response(
            s, me, instance_id, body, replaces=key, base_revision=revision
        ),
    )


@router.delete(
    "/{instance_id}/config/responses/{key}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a response from the draft (the ETag header is the new revision)",
    responses=refusals(c412=STALE),
)
async def delete_response(
    instance_id: InstanceId,
    key: ItemKey,
    caller: Editor,
    response: Response,
    if_match: IfMatch = None,
) -> None:
    revision = _revision(if_match)
    await _draft_answer(
        caller,
        response,
        lambda s, me: service.delete_response(s, me, instance_id, key, base_revision=revision),
    )


@router.put(
    "/{instance_id}/config/menus/{key}",
    response_model=DraftOut,
    summary="Add or replace a menu (a different key in the body renames it)",
    responses=CHECKED,
)
async def put_menu(
    instance_id: InstanceId,
    key: ItemKey,
    body: MenuBody,
    caller: Editor,
    response: Response,
    if_match: IfMatch = None,
) -> DraftOut:
    revision = _revision(if_match)
    return await _draft_answer(
        caller,
        response,
        lambda s, me: service.upsert_menu(
            s, me, instance_id, body, replaces=key, base_revision=revision
        ),
    )


@router.delete(
    "/{instance_id}/config/menus/{key}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a menu from the draft (the ETag header is the new revision)",
    responses=refusals(c412=STALE),
)
async def delete_menu(
    instance_id: InstanceId,
    key: ItemKey,
    caller: Editor,
    response: Response,
    if_match: IfMatch = None,
) -> None:
    revision = _revision(if_match)
    await _draft_answer(
        caller,
        response,
        lambda s, me: service.delete_menu(s, me, instance_id, key, base_revision=revision),
    )


@router.put(
    "/{instance_id}/config/strings",
    response_model=DraftOut,
    summary="Replace the strings table (name → language → text)",
    responses=CHECKED,
)
async def put_strings(
    instance_id: InstanceId,
    body: StringsBody,
    caller: Editor,
    response: Response,
    if_match: IfMatch = None,
) -> DraftOut:
    revision = _revision(if_match)
    return await _draft_answer(
        caller,
        response,
        lambda s, me: service.set_strings(s, me, instance_id, body, base_revision=revision),
    )


@router.put(
    "/{instance_id}/config/languages",
    response_model=DraftOut,
    summary="Set the bot's default language and its languages",
    responses=CHECKED,
)
async def put_languages(
    instance_id: InstanceId,
    body: LanguagesIn,
    caller: Editor,
    response: Response,
    if_match: IfMatch = None,
) -> DraftOut:
    revision = _revision(if_match)
    return await _draft_answer(
        caller,
        response,
        lambda s, me: service.set_languages(
            s, me, instance_id, body.default_language, body.languages, base_revision=revision
        ),
    )


@router.put(
    "/{instance_id}/config/scope",
    response_model=DraftOut,
    summary="Set where the bot answers at all",
    responses=CHECKED,
)
async def put_scope(
    instance_id: InstanceId,
    body: ScopeBody,
    caller: Editor,
    response: Response,
    if_match: IfMatch = None,
) -> DraftOut:
    revision = _revision(if_match)
    return await _draft_answer(
        caller,
        response,
        lambda s, me: service.set_scope(s, me, instance_id, body, base_revision=revision),
    )


# --------------------------------------------------------------------------- versions


@router.post(
    "/{instance_id}/config/publish",
    status_code=status.HTTP_201_CREATED,
    response_model=VersionOut,
    summary="Publish the draft as the next version; the bot answers with it at once",
    responses=NOT_PUBLISHABLE,
)
async def publish(
    instance_id: InstanceId,
    caller: Editor,
    request: Request,
    body: PublishIn | None = None,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """With If-Match, only the draft revision the caller reviewed is published."""
    revision = _revision(if_match)
    note = body.note if body is not None else ""
    return await _published(
        caller,
        idempotency_key,
        request,
        lambda s, me: service.publish(s, me, instance_id, note=note, base_revision=revision),
    )


@router.get(
    "/{instance_id}/config/versions",
    response_model=paging.Page[VersionOut],
    summary="List the published versions, newest first",
)
async def list_versions(
    instance_id: InstanceId, caller: Viewer, limit: paging.Limit = 50, cursor: paging.Cursor = None
) -> paging.Page[VersionOut]:
    before = paging.decode(cursor)

    def action(session: Session, me: AdminUser) -> paging.Page[VersionOut]:
        versions = service.list_versions(session, me, instance_id)
        versions = [v for v in versions if before is None or v.version < before][: limit + 1]
        rows, after = paging.page_of(versions, limit, lambda v: v.version)
        return paging.Page(items=[VersionOut.model_validate(v) for v in rows], next_cursor=after)

    return await run(caller, action)


@router.get(
    "/{instance_id}/config/versions/{version}",
    response_model=VersionDetail,
    summary="Get a published version with its configuration",
)
async def get_version(
    instance_id: InstanceId, version: VersionNumber, caller: Viewer
) -> VersionDetail:
    return await run(
        caller,
        lambda s, me: VersionDetail.model_validate(
            service.get_version(s, me, instance_id, version)
        ),
    )


@router.get(
    "/{instance_id}/config/versions/{version}/diff",
    response_model=DiffOut,
    summary="What changed between a version and another version or the draft",
)
async def diff_version(
    instance_id: InstanceId,
    version: VersionNumber,
    caller: Viewer,
    against: Annotated[
        str | None,
        Query(
            pattern=r"^(draft|[0-9]{1,9})$",
            description="A version number: the changes from it to this version; `draft`: the "
            "changes the draft made since this version. By default the version before "
            "(for version 1, everything it added).",
        ),
    ] = None,
) -> DiffOut:
    if against == "draft":
        old, new = version, None
    else:
        old, new = (version - 1 if against is None else int(against)), version

    def action(session: Session, me: AdminUser) -> DiffOut:
        return DiffOut(changes=service.diff(session, me, instance_id, old, new))

    return await run(caller, action)


@router.post(
    "/{instance_id}/config/versions/{version}/rollback",
    status_code=status.HTTP_201_CREATED,
    response_model=VersionOut,
    summary="Publish an old version again (as a new version), and put it in the draft",
    responses=refusals(c409="The Idempotency-Key is in use.", c412=STALE),
)
async def rollback(
    instance_id: InstanceId,
    version: VersionNumber,
    caller: Editor,
    request: Request,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """With If-Match, refused when the draft holds edits the caller has not seen."""
    revision = _revision(if_match)
    return await _published(
        caller,
        idempotency_key,
        request,
        lambda s, me: service.rollback(s, me, instance_id, version, base_revision=revision),
    )
