"""Cross-posting: templates (how a mirrored message looks per platform) and rules (which
chat's messages go where), with each rule's history.

Every rule is engine/services/cross_posting.py's (the Cross-post page calls the same
functions): a template is checked by rendering a sample message (422 lists each broken
format in ``details``), a template used by rules is not deleted (409 names them), and a
rule that would close a loop of active rules (A → B → A) is refused with 409.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Path, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from engine.api.v1 import paging
from engine.api.v1.caller import Editor, Viewer, run
from engine.api.v1.errors import ApiError
from engine.api.v1.flows import refusals
from engine.api.v1.idempotency import IdempotencyKey, once
from engine.models import AdminUser
from engine.services import cross_posting
from engine.services.cross_posting import (
    ChatRef,
    CrossPostFilter,
    DeliveryView,
    InvalidTemplate,
    RuleDraft,
    RuleView,
    TemplateView,
)

router = APIRouter(prefix="/cross-post", tags=["Cross-posting"])
T = TypeVar("T")
TemplateId = Annotated[int, Path(description="The template's id.")]
RuleId = Annotated[int, Path(description="The rule's id.")]
Name = Annotated[
    str, Field(min_length=1, max_length=cross_posting.MAX_NAME, examples=["Announcements"])
]
Formats = Annotated[
    dict[str, str],
    Field(
        description="A format per platform (telegram, discord, whatsapp) or ``default``, in "
        "Flowbot markdown with {{ text }}, {{ author }}, {{ chat }}, {{ link }}, {{ media }}, "
        "{{ platform }}.",
        examples=[{"default": "{{ text }}", "discord": "**{{ author }}**: {{ text }}"}],
    ),
]
IN_USE = refusals(c409="The template is used by rules: they are named.")
LOOP = refusals(c409="The rule would loop (A → B → A) with the active rules: the chats are named.")


def _per_format(change: Callable[[Session, AdminUser], T]) -> Callable[[Session, AdminUser], T]:
    """``change``, with a refused template answered 422 listing each wrong format."""

    def action(session: Session, me: AdminUser) -> T:
        try:
            return change(session, me)
        except InvalidTemplate as refused:
            details = [{"field": name, "problem": why} for name, why in refused.errors.items()]
            raise ApiError(422, str(refused), details=details) from None

    return action


# --- templates --------------------------------------------------------------------------------


class TemplateOut(BaseModel):
    id: int
    name: str = Field(examples=["Announcements"])
    formats: dict[str, str]
    rules: list[str] = Field(description="Names of the rules that use it.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: TemplateView) -> TemplateOut:
        return cls(
            id=view.template_id,
            name=view.name,
            formats=view.formats,
            rules=view.rule_names,
            created_at=view.created_at,
            updated_at=view.updated_at,
        )


class TemplateIn(BaseModel):
    name: Name
    formats: Formats


class TemplatePatch(BaseModel):
    """Only the fields to change."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "News"}]})

    name: Name | None = None
    formats: Formats | None = None


class SampleIn(BaseModel):
    """A source message to preview with; what is left out takes a built-in example."""

    text: str | None = Field(default=None, max_length=4096, examples=["See you at 7!"])
    author: str | None = Field(default=None, max_length=256, examples=["Ada"])
    chat: str | None = Field(default=None, max_length=256, examples=["Photo club"])
    link: str | None = Field(default=None, max_length=2048)
    media: str | None = Field(default=None, max_length=2048)


class PreviewIn(BaseModel):
    formats: Formats
    sample: SampleIn = Field(default_factory=SampleIn)


def _template_shown(session: Session, template_id: int) -> TemplateOut:
    return TemplateOut.of(cross_posting.get_template(session, template_id))


@router.get(
    "/templates", response_model=paging.Page[TemplateOut], summary="List cross-post templates"
)
async def list_templates(
    caller: Viewer, limit: paging.Limit = 50, cursor: paging.Cursor = None
) -> paging.Page[TemplateOut]:
    before = paging.decode(cursor)

    def action(session: Session, _: AdminUser) -> paging.Page[TemplateOut]:
        views = cross_posting.list_templates(session, limit=limit + 1, before=before)
        rows, after = paging.page_of(views, limit, lambda v: v.template_id)
        return paging.Page(items=[TemplateOut.of(v) for v in rows], next_cursor=after)

    return await run(caller, action)


@router.post(
    "/templates/preview",
    response_model=dict[str, str],
    summary="Each platform's text of a sample message through these formats",
)
async def preview_template(body: PreviewIn, caller: Viewer) -> dict[str, str]:
    sample = body.sample.model_dump(exclude_none=True)
    return await run(
        caller, _per_format(lambda _s, _me: cross_posting.render_preview(body.formats, sample))
    )


@router.get("/templates/{template_id}", response_model=TemplateOut, summary="Get a template")
async def get_template(template_id: TemplateId, caller: Viewer) -> TemplateOut:
    return await run(caller, lambda s, _: _template_shown(s, template_id))


@router.post(
    "/templates",
    status_code=status.HTTP_201_CREATED,
    response_model=TemplateOut,
    summary="Create a template (checked by rendering a sample message)",
    responses=refusals(c409="Another template has this name, or the Idempotency-Key is busy."),
)
async def create_template(
    body: TemplateIn, caller: Editor, request: Request, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    def action(session: Session, me: AdminUser) -> dict[str, Any]:
        made = cross_posting.create_template(session, me, body.name, body.formats)
        return _template_shown(session, made.id or 0).model_dump(mode="json")

    async def produce() -> tuple[int, dict[str, Any]]:
        return 201, await run(caller, _per_format(action))

    return await once(caller, idempotency_key, request, produce)


@router.patch(
    "/templates/{template_id}",
    response_model=TemplateOut,
    summary="Rename a template or replace its formats",
    responses=refusals(c409="Another template has this name."),
)
async def update_template(
    template_id: TemplateId, body: TemplatePatch, caller: Editor
) -> TemplateOut:
    def action(session: Session, me: AdminUser) -> TemplateOut:
        cross_posting.update_template(session, me, template_id, body.name, body.formats)
        return _template_shown(session, template_id)

    return await run(caller, _per_format(action))


@router.delete(
    "/templates/{template_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a template no rule uses",
    responses=IN_USE,
)
async def delete_template(template_id: TemplateId, caller: Editor) -> None:
    await run(caller, lambda s, me: cross_posting.delete_template(s, me, template_id))


# --- rules ------------------------------------------------------------------------------------


class ChatOut(BaseModel):
    id: int
    platform: str = Field(examples=["telegram"])
    title: str

    @classmethod
    def of(cls, ref: ChatRef) -> ChatOut:
        return cls(id=ref.chat_id, platform=ref.platform, title=ref.title)


class RuleOut(BaseModel):
    id: int
    name: str
    source: ChatOut
    targets: list[ChatOut]
    template_id: int | None
    template_name: str = Field(description="Empty: no template, the text is posted as is.")
    filter: CrossPostFilter
    include_media: bool
    mirror_edits: bool
    mirror_deletes: bool
    active: bool
    last_mirrored_at: datetime | None
    failures: int = Field(description="Copies that failed, in the rule's whole history.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: RuleView) -> RuleOut:
        return cls(
            id=view.rule_id,
            name=view.name,
            source=ChatOut(
                id=view.source_chat_id, platform=view.source_platform, title=view.source_title
            ),
            targets=[ChatOut.of(t) for t in view.targets],
            template_id=view.template_id,
            template_name=view.template_name,
            filter=view.filter,
            include_media=view.include_media,
            mirror_edits=view.mirror_edits,
            mirror_deletes=view.mirror_deletes,
            active=view.is_active,
            last_mirrored_at=view.last_mirrored_at,
            failures=view.failures,
            created_at=view.created_at,
            updated_at=view.updated_at,
        )


class RulePatch(BaseModel):
    """Only the fields to change; the rule is checked again as a whole."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"mirror_edits": True}]}
    )

    name: Name | None = None
    source_chat_id: int | None = None
    target_chat_ids: list[int] | None = Field(
        default=None, min_length=1, max_length=cross_posting.MAX_TARGETS
    )
    template_id: int | None = None
    filter: CrossPostFilter | None = None
    include_media: bool | None = None
    mirror_edits: bool | None = None
    mirror_deletes: bool | None = None
    active: bool | None = None


class DeliveryOut(BaseModel):
    id: int
    action: str = Field(examples=["post", "edit", "delete"])
    source_message_id: str
    target: ChatOut
    target_message_id: str | None
    ok: bool
    error: str | None = Field(description="The platform's reason, when it failed.")
    created_at: datetime

    @classmethod
    def of(cls, view: DeliveryView) -> DeliveryOut:
        return cls(
            id=view.delivery_id,
            action=view.action,
            source_message_id=view.source_message_id,
            target=ChatOut(
                id=view.target_chat_id or 0, platform=view.target_platform, title=view.target_title
            ),
            target_message_id=view.target_message_id,
            ok=view.ok,
            error=view.error,
            created_at=view.created_at,
        )


def _rule_shown(session: Session, rule_id: int) -> RuleOut:
    return RuleOut.of(cross_posting.get_rule(session, rule_id))


@router.get("/rules", response_model=paging.Page[RuleOut], summary="List cross-post rules")
async def list_rules(
    caller: Viewer, limit: paging.Limit = 50, cursor: paging.Cursor = None
) -> paging.Page[RuleOut]:
    before = paging.decode(cursor)

    def action(session: Session, _: AdminUser) -> paging.Page[RuleOut]:
        views = cross_posting.list_rules(session, limit=limit + 1, before=before)
        rows, after = paging.page_of(views, limit, lambda v: v.rule_id)
        return paging.Page(items=[RuleOut.of(v) for v in rows], next_cursor=after)

    return await run(caller, action)


@router.get("/rules/{rule_id}", response_model=RuleOut, summary="Get a rule")
async def get_rule(rule_id: RuleId, caller: Viewer) -> RuleOut:
    return await run(caller, lambda s, _: _rule_shown(s, rule_id))


@router.post(
    "/rules",
    status_code=status.HTTP_201_CREATED,
    response_model=RuleOut,
    summary="Create a rule: mirror a chat's messages to other chats",
    responses=LOOP,
)
async def create_rule(
    body: Annotated[RuleDraft, Body()],
    caller: Editor,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    def action(session: Session, me: AdminUser) -> dict[str, Any]:
        made = cross_posting.create_rule(session, me, body)
        return _rule_shown(session, made.id or 0).model_dump(mode="json")

    async def produce() -> tuple[int, dict[str, Any]]:
        return 201, await run(caller, action)

    return await once(caller, idempotency_key, request, produce)


@router.patch("/rules/{rule_id}", response_model=RuleOut, summary="Change a rule", responses=LOOP)
async def update_rule(rule_id: RuleId, body: RulePatch, caller: Editor) -> RuleOut:
    changes = body.model_dump(exclude_unset=True)

    def action(session: Session, me: AdminUser) -> RuleOut:
        cross_posting.update_rule(session, me, rule_id, changes)
        return _rule_shown(session, rule_id)

    return await run(caller, action)


@router.post(
    "/rules/{rule_id}/activate",
    response_model=RuleOut,
    summary="Turn a rule on (refused if it would loop)",
    responses=LOOP,
)
async def activate_rule(rule_id: RuleId, caller: Editor) -> RuleOut:
    return await run(caller, lambda s, me: _switched(s, me, rule_id, True))


@router.post("/rules/{rule_id}/pause", response_model=RuleOut, summary="Turn a rule off")
async def pause_rule(rule_id: RuleId, caller: Editor) -> RuleOut:
    return await run(caller, lambda s, me: _switched(s, me, rule_id, False))


def _switched(session: Session, me: AdminUser, rule_id: int, active: bool) -> RuleOut:
    cross_posting.set_active(session, me, rule_id, active)
    return _rule_shown(session, rule_id)


@router.delete(
    "/rules/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a rule and its history (the copies stay)",
)
async def delete_rule(rule_id: RuleId, caller: Editor) -> None:
    await run(caller, lambda s, me: cross_posting.delete_rule(s, me, rule_id))


@router.get(
    "/rules/{rule_id}/history",
    response_model=paging.Page[DeliveryOut],
    summary="What the rule mirrored where, failures with the platform's reason",
)
async def rule_history(
    rule_id: RuleId, caller: Viewer, limit: paging.Limit = 50, cursor: paging.Cursor = None
) -> paging.Page[DeliveryOut]:
    before = paging.decode(cursor)

    def action(session: Session, _: AdminUser) -> paging.Page[DeliveryOut]:
        views = cross_posting.history(session, rule_id, limit=limit + 1, before=before)
        rows, after = paging.page_of(views, limit, lambda v: v.delivery_id)
        return paging.Page(items=[DeliveryOut.of(v) for v in rows], next_cursor=after)

    return await run(caller, action)
