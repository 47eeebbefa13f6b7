"""Cross-posting: templates say how a mirrored message looks per platform, rules say which
chat's messages go where, and the delivery history says what was mirrored.

The Cross-posting page, /api/v1/cross-post and the ``cross_post`` node use these functions
only, so the rules hold everywhere: viewers look, editors change; a template is checked by
rendering a sample message when it is saved; a template used by rules cannot be deleted;
rules whose chats would form a cycle (A → B → A) are refused, since each copy would be
mirrored back. Mirroring itself is engine/cross_post_delivery.py's.

A format is the admin's template (engine/expressions, its sandbox and limits) over the
source message: ``text``, ``author``, ``chat``, ``link``, ``media``, ``platform``. The
message is data: what a chat member wrote is substituted as a value, never rendered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import networkx as nx
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlmodel import Session, col, select

from engine.expressions import ExpressionError, Scope, check_syntax, render_text
from engine.message_format import render
from engine.models import (
    AdminUser,
    BotInstance,
    Chat,
    CrossPostDelivery,
    CrossPostRule,
    CrossPostTemplate,
    Role,
    utcnow,
)
from engine.platform_calls import DEFAULT_KIND, PLATFORMS
from engine.platform_event import PlatformEvent
from engine.services import audit
from engine.services.auth import require_role
from engine.services.errors import Conflict, NotFound

MAX_NAME = 128
MAX_FORMAT = 4096
MAX_TARGETS = 50
MAX_WORDS = 20
MAX_REGEX = 200
# A filter's regex reads this much of a message: a bounded pattern on bounded text.
MATCHED_CHARS = 4096
DEFAULT = "default"
FORMAT_KEYS = (DEFAULT, *PLATFORMS)
VARIABLES = ("text", "author", "chat", "link", "media", "platform")
GUILD = "guild"


class InvalidCrossPost(ValueError):
    """A template or rule change refused, with a message fit to show the admin."""


class TemplateNotFound(InvalidCrossPost, NotFound):
    """The template does not exist (any more)."""


class RuleNotFound(InvalidCrossPost, NotFound):
    """The rule does not exist (any more)."""


class ChatNotFound(InvalidCrossPost, NotFound):
    """A chat of the rule was never discovered, or is gone."""


class NameTaken(Conflict):
    """Another template or rule has this name."""


class TemplateInUse(Conflict):
    """The template is used by rules; change or delete them first."""


class LoopRefused(Conflict):
    """The rule would close a cycle of active rules: each copy would be mirrored back."""


class InvalidTemplate(InvalidCrossPost):
    """Formats that do not render; ``errors`` maps each wrong format ("discord") to why."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        listed = "; ".join(f"{name}: {problem}" for name, problem in errors.items())
        super().__init__(f"The template is not valid: {listed}")


class CrossPostFilter(BaseModel):
    """Which messages of the source chat a rule mirrors (all of these must hold)."""

    model_config = ConfigDict(extra="forbid")

    contains: list[str] = Field(
        default_factory=list,
        max_length=MAX_WORDS,
        description="Only messages containing one of these words (any case); empty: any.",
        examples=[["#news"]],
    )
    regex: str | None = Field(
        default=None,
        max_length=MAX_REGEX,
        description="Only messages matching this regular expression.",
        examples=[r"^\[release\]"],
    )
    media_only: bool = Field(default=False, description="Only messages with media.")
    skip_bots: bool = Field(default=True, description="Leave out messages sent by bots.")

    @field_validator("contains")
    @classmethod
    def _words(cls, words: list[str]) -> list[str]:
        return [w.strip()[:MAX_NAME] for w in words if w.strip()]

    @field_validator("regex")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if not pattern:
            return None
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return pattern

    def matches(self, text: str, *, has_media: bool, from_bot: bool) -> bool:
        if (self.media_only and not has_media) or (self.skip_bots and from_bot):
            return False
        lowered = text.lower()
        if self.contains and not any(word.lower() in lowered for word in self.contains):
            return False
        return not self.regex or re.search(self.regex, text[:MATCHED_CHARS]) is not None


@dataclass(frozen=True)
class SourceMessage:
    """What a format can read about the message being mirrored."""

    text: str
    author: str
    chat: str
    link: str
    media: str
    platform: str

    def names(self) -> dict[str, str]:
        return asdict(self)


SAMPLE = SourceMessage(
    text="Meet-up on Friday at 7 pm, bring a friend!",
    author="Ada",
    chat="Photo club",
    link="https://t.me/photoclub/42",
    media="",
    platform="telegram",
)


def plain_text(message: SourceMessage) -> str:
    """A message mirrored without a template: its text, under an author line."""
    if not message.author:
        return message.text
    return f"{message.author}:\n{message.text}" if message.text else message.author


def source_message(event: PlatformEvent, source: Chat | None = None) -> SourceMessage:
    """What a template reads about ``event``'s message (``source``: its chat's row, which
    knows a Telegram chat's public username for the link)."""
    chat = event.chat
    user = event.user
    title = (source.title if source else "") or (chat.title if chat else "") or ""
    author = (
        (user.display_name or user.first_name or user.username or user.id)
        if user
        else str(event.data.get("author_signature") or title)
    )
    return SourceMessage(
        text=event.text or "",
        author=author or "",
        chat=title,
        link=_link(event, source),
        media=media_url(event) or "",
        platform=event.platform,
    )


def _link(event: PlatformEvent, source: Chat | None) -> str:
    chat, message_id = event.chat, event.message_id
    if chat is None or not message_id:
        return ""
    if event.platform == "telegram" and source is not None and source.username:
        return f"https://t.me/{source.username}/{message_id}"
    if event.platform == "discord" and chat.guild_id:
        return f"https://discord.com/channels/{chat.guild_id}/{chat.id}/{message_id}"
    return ""


def media_url(event: PlatformEvent) -> str | None:
    """A media URL any platform can fetch (a Discord attachment's, or one the event carries);
    a Telegram file id is not one."""
    attachments = event.data.get("attachments") or []
    if attachments and isinstance(attachments[0], str):
        return attachments[0]
    return event.media.url if event.media is not None else None


def connector_of(session: Session, chat: Chat) -> tuple[str, int | None]:
    """The connector kind and instance that reach a discovered chat: the one that found it,
    else the platform's default connector on any instance."""
    instance = session.get(BotInstance, chat.bot_instance_id) if chat.bot_instance_id else None
    if instance is None:
        return DEFAULT_KIND[str(chat.platform)], None
    return str(instance.kind), instance.id


def render_format(
    formats: Mapping[str, str],
    platform: str,
    message: SourceMessage,
    scope: Scope | None = None,
    fallback: str | None = None,
) -> str:
    """``message`` through the platform's format (else ``default``; else ``fallback``, or
    the message as plain text). ``scope`` adds what a flow's node may read besides (its
    trigger, node outputs)."""
    fmt = formats.get(platform) or formats.get(DEFAULT)
    if not fmt:
        return plain_text(message) if fallback is None else fallback
    return render_text(fmt, scope or Scope(), names=message.names())


def render_preview(
    formats: Mapping[str, str], sample: Mapping[str, str] | None = None
) -> dict[str, str]:
    """What each platform is sent for a sample message (the one given, else :data:`SAMPLE`):
    Telegram HTML, Discord markdown, WhatsApp markup. Refused like a save when a format
    does not render."""
    message = SourceMessage(**{**SAMPLE.names(), **dict(sample or {})})
    cleaned = _valid_formats(formats)
    return {
        platform: render(render_format(cleaned, platform, message), platform)
        for platform in PLATFORMS
    }


def _valid_formats(formats: Mapping[str, str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    cleaned: dict[str, str] = {}
    for key, fmt in formats.items():
        if key not in FORMAT_KEYS:
            errors[key] = f"not a platform; use {', '.join(FORMAT_KEYS)}"
        elif len(fmt) > MAX_FORMAT:
            errors[key] = f"longer than {MAX_FORMAT} characters"
        elif fmt.strip():
            cleaned[key] = fmt
    if not cleaned and not errors:
        errors[DEFAULT] = "write at least one format"
    for key, fmt in cleaned.items():
        problem = check_syntax(fmt, VARIABLES)
        if problem is None:
            try:
                render_text(fmt, Scope(), names=SAMPLE.names())
            except ExpressionError as exc:
                problem = str(exc)
        if problem:
            errors[key] = problem
    if errors:
        raise InvalidTemplate(errors)
    return cleaned


# --- templates --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateView:
    template_id: int
    name: str
    formats: dict[str, str]
    rule_names: list[str]  # the rules that use it
    created_at: datetime
    updated_at: datetime

    @property
    def rule_count(self) -> int:
        return len(self.rule_names)


def list_templates(
    session: Session, *, limit: int = 200, before: int | None = None
) -> list[TemplateView]:
    """Newest first, ids below ``before``."""
    query = select(CrossPostTemplate)
    if before is not None:
        query = query.where(col(CrossPostTemplate.id) < before)
    rows = session.exec(query.order_by(col(CrossPostTemplate.id).desc()).limit(limit)).all()
    return _template_views(session, list(rows))


def get_template(session: Session, template_id: int) -> TemplateView:
    return _template_views(session, [_template(session, template_id)])[0]


def _template_views(session: Session, rows: list[CrossPostTemplate]) -> list[TemplateView]:
    used: dict[int, list[str]] = {}
    for template_id, name in session.exec(
        select(CrossPostRule.template_id, CrossPostRule.name)
        .where(col(CrossPostRule.template_id).in_([t.id for t in rows]))
        .order_by(col(CrossPostRule.name))
    ).all():
        used.setdefault(template_id or 0, []).append(name)
    return [
        TemplateView(
            template_id=t.id or 0,
            name=t.name,
            formats=dict(t.formats),
            rule_names=used.get(t.id or 0, []),
            created_at=t.created_at,
            updated_at=t.updated_at,
        )
        for t in rows
    ]


def create_template(
    session: Session, actor: AdminUser, name: str, formats: Mapping[str, str]
) -> CrossPostTemplate:
    require_role(actor, Role.editor)
    template = CrossPostTemplate(
        name=_free_name(session, CrossPostTemplate, name), formats=_valid_formats(formats)
    )
    session.add(template)
    session.flush()
    _audit(session, actor, "cross_post_template_created", template.id, name=template.name)
    return template


def update_template(
    session: Session,
    actor: AdminUser,
    template_id: int,
    name: str | None = None,
    formats: Mapping[str, str] | None = None,
) -> CrossPostTemplate:
    """Rename and/or replace the formats (None: unchanged)."""
    require_role(actor, Role.editor)
    template = _template(session, template_id)
    if name is not None:
        template.name = _free_name(session, CrossPostTemplate, name, but=template_id)
    if formats is not None:
        template.formats = _valid_formats(formats)
    template.updated_at = utcnow()
    session.add(template)
    session.flush()
    _audit(session, actor, "cross_post_template_updated", template_id, name=template.name)
    return template


def delete_template(session: Session, actor: AdminUser, template_id: int) -> None:
    """Refused while rules use it (they are named)."""
    require_role(actor, Role.editor)
    view = get_template(session, template_id)
    if view.rule_names:
        raise TemplateInUse(
            f"The template {view.name!r} is used by the rules {', '.join(view.rule_names)}; "
            "give them another template or delete them first."
        )
    session.delete(_template(session, template_id))
    session.flush()
    _audit(session, actor, "cross_post_template_deleted", template_id, name=view.name)


def _template(session: Session, template_id: int) -> CrossPostTemplate:
    template = session.get(CrossPostTemplate, template_id)
    if template is None:
        raise TemplateNotFound(f"Cross-post template {template_id} does not exist.")
    return template


# --- rules ------------------------------------------------------------------------------------


class RuleDraft(BaseModel):
    """Everything a rule says; the service checks the chats, the template and loops."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME, examples=["Announcements to Discord"])
    source_chat_id: int = Field(description="The discovered chat whose messages are mirrored.")
    target_chat_ids: list[int] = Field(
        min_length=1, max_length=MAX_TARGETS, description="Where they go.", examples=[[4, 9]]
    )
    template_id: int | None = Field(
        default=None, description="How they look; none: the text as is, under an author line."
    )
    filter: CrossPostFilter = Field(default_factory=CrossPostFilter)
    include_media: bool = True
    mirror_edits: bool = False
    mirror_deletes: bool = False
    active: bool = True


@dataclass(frozen=True)
class ChatRef:
    chat_id: int
    platform: str
    title: str


@dataclass(frozen=True)
class RuleView:
    rule_id: int
    name: str
    source_chat_id: int
    source_title: str
    source_platform: str
    targets: list[ChatRef]
    template_id: int | None
    template_name: str
    filter: CrossPostFilter
    include_media: bool
    mirror_edits: bool
    mirror_deletes: bool
    is_active: bool
    last_mirrored_at: datetime | None
    failures: int  # deliveries that failed, in the rule's whole history
    created_at: datetime
    updated_at: datetime

    @property
    def target_chat_ids(self) -> list[int]:
        return [t.chat_id for t in self.targets]


def list_rules(session: Session, *, limit: int = 200, before: int | None = None) -> list[RuleView]:
    """Newest first, ids below ``before``."""
    query = select(CrossPostRule)
    if before is not None:
        query = query.where(col(CrossPostRule.id) < before)
    rows = session.exec(query.order_by(col(CrossPostRule.id).desc()).limit(limit)).all()
    return _rule_views(session, list(rows))


def get_rule(session: Session, rule_id: int) -> RuleView:
    return _rule_views(session, [_rule(session, rule_id)])[0]


def _rule_views(session: Session, rules: list[CrossPostRule]) -> list[RuleView]:
    chat_ids = {c for r in rules for c in (r.source_chat_id, *r.target_chat_ids)}
    chats = {
        c.id: ChatRef(c.id or 0, str(c.platform), _title(c))
        for c in session.exec(select(Chat).where(col(Chat.id).in_(chat_ids))).all()
    }
    names = dict(
        session.exec(
            select(CrossPostTemplate.id, CrossPostTemplate.name).where(
                col(CrossPostTemplate.id).in_({r.template_id for r in rules})
            )
        ).all()
    )
    delivered = {
        rule_id: (last, failed)
        for rule_id, last, failed in session.exec(
            select(
                CrossPostDelivery.rule_id,
                sa.func.max(CrossPostDelivery.created_at),
                sa.func.sum(sa.case((col(CrossPostDelivery.ok), 0), else_=1)),
            )
            .where(col(CrossPostDelivery.rule_id).in_([r.id for r in rules]))
            .group_by(col(CrossPostDelivery.rule_id))
        ).all()
    }

    def ref(chat_id: int) -> ChatRef:  # a chat deleted since shows as its id
        return chats.get(chat_id) or ChatRef(chat_id, "", f"chat {chat_id}")

    views = []
    for r in rules:
        source = ref(r.source_chat_id)
        last, failed = delivered.get(r.id or 0, (None, 0))
        views.append(
            RuleView(
                rule_id=r.id or 0,
                name=r.name,
                source_chat_id=source.chat_id,
                source_title=source.title,
                source_platform=source.platform,
                targets=[ref(t) for t in r.target_chat_ids],
                template_id=r.template_id,
                template_name=names.get(r.template_id, ""),
                filter=CrossPostFilter.model_validate(r.filter or {}),
                include_media=r.include_media,
                mirror_edits=r.mirror_edits,
                mirror_deletes=r.mirror_deletes,
                is_active=r.is_active,
                last_mirrored_at=last,
                failures=failed,
                created_at=r.created_at,
                updated_at=r.updated_at,
            )
        )
    return views


def create_rule(session: Session, actor: AdminUser, draft: RuleDraft) -> CrossPostRule:
    require_role(actor, Role.editor)
    rule = CrossPostRule(name="", source_chat_id=draft.source_chat_id, created_by=actor.id)
    _apply(session, rule, draft)
    _audit(session, actor, "cross_post_rule_created", rule.id, name=rule.name)
    return rule


def update_rule(
    session: Session, actor: AdminUser, rule_id: int, changes: RuleDraft | Mapping[str, Any]
) -> CrossPostRule:
    """Replace a rule (a whole draft) or change some of its fields (a partial
    :class:`RuleDraft`); either way checked as a whole."""
    require_role(actor, Role.editor)
    rule = _rule(session, rule_id)
    if isinstance(changes, RuleDraft):
        draft, changed = changes, sorted(RuleDraft.model_fields)
    else:
        try:
            draft = RuleDraft.model_validate({**_draft_of(rule), **changes})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise InvalidCrossPost(f"The rule is not valid: {where}: {first['msg']}") from None
        changed = sorted(changes)
    _apply(session, rule, draft)
    _audit(session, actor, "cross_post_rule_updated", rule_id, changed=changed)
    return rule


def set_active(session: Session, actor: AdminUser, rule_id: int, active: bool) -> CrossPostRule:
    """Turn a rule on (checked for loops like a save) or off."""
    return update_rule(session, actor, rule_id, {"active": active})


def delete_rule(session: Session, actor: AdminUser, rule_id: int) -> None:
    """The rule and its history; the copies it posted stay where they are."""
    require_role(actor, Role.editor)
    rule = _rule(session, rule_id)
    session.exec(sa.delete(CrossPostDelivery).where(col(CrossPostDelivery.rule_id) == rule_id))
    session.delete(rule)
    session.flush()
    _audit(session, actor, "cross_post_rule_deleted", rule_id, name=rule.name)


def _draft_of(rule: CrossPostRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "source_chat_id": rule.source_chat_id,
        "target_chat_ids": list(rule.target_chat_ids),
        "template_id": rule.template_id,
        "filter": dict(rule.filter or {}),
        "include_media": rule.include_media,
        "mirror_edits": rule.mirror_edits,
        "mirror_deletes": rule.mirror_deletes,
        "active": rule.is_active,
    }


def _apply(session: Session, rule: CrossPostRule, draft: RuleDraft) -> None:
    """Check ``draft`` against the chats, templates and other rules, then write it."""
    source = _postable(session, draft.source_chat_id, "source")
    targets = list(dict.fromkeys(draft.target_chat_ids))
    if source.id in targets:
        raise InvalidCrossPost(f"{_title(source)} is the source; it cannot be a target too.")
    for chat_id in targets:
        _postable(session, chat_id, "target")
    if draft.template_id is not None:
        _template(session, draft.template_id)
    if draft.active:
        _refuse_loop(session, rule.id, source.id or 0, targets)
    rule.name = _free_name(session, CrossPostRule, draft.name, but=rule.id)
    rule.source_chat_id = source.id or 0
    rule.target_chat_ids = targets
    rule.template_id = draft.template_id
    rule.filter = draft.filter.model_dump()
    rule.include_media = draft.include_media
    rule.mirror_edits = draft.mirror_edits
    rule.mirror_deletes = draft.mirror_deletes
    rule.is_active = draft.active
    rule.updated_at = utcnow()
    session.add(rule)
    session.flush()


def _postable(session: Session, chat_id: int, role: str) -> Chat:
    chat = session.get(Chat, chat_id)
    if chat is None:
        raise ChatNotFound(f"The {role} chat {chat_id} was never discovered.")
    if chat.gone_at is not None:
        raise ChatNotFound(f"{_title(chat)} is gone: the bot or account left it.")
    if chat.platform == "discord" and chat.parent_chat_id is None:
        raise InvalidCrossPost(f"{_title(chat)} is a Discord server; pick one of its channels.")
    return chat


def _refuse_loop(session: Session, rule_id: int | None, source: int, targets: list[int]) -> None:
    """Refuse when the active rules, with this one as drafted, let a message come back."""
    graph: nx.DiGraph[int] = nx.DiGraph()
    query = select(CrossPostRule).where(col(CrossPostRule.is_active))
    if rule_id is not None:
        query = query.where(col(CrossPostRule.id) != rule_id)
    for other in session.exec(query).all():
        graph.add_edges_from((other.source_chat_id, t) for t in other.target_chat_ids)
    graph.add_edges_from((source, t) for t in targets)
    try:
        cycle = nx.find_cycle(graph, source)
    except nx.NetworkXNoCycle:
        return
    path = [edge[0] for edge in cycle] + [cycle[-1][1]]
    titles = dict(session.exec(select(Chat.id, Chat.title).where(col(Chat.id).in_(path))).all())
    shown = " → ".join(titles.get(chat_id) or f"chat {chat_id}" for chat_id in path)
    raise LoopRefused(f"This rule would loop: {shown}. Turn one of these rules off first.")


def _rule(session: Session, rule_id: int) -> CrossPostRule:
    rule = session.get(CrossPostRule, rule_id)
    if rule is None:
        raise RuleNotFound(f"Cross-post rule {rule_id} does not exist.")
    return rule


# --- history ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryView:
    delivery_id: int
    action: str
    source_message_id: str
    target_chat_id: int | None
    target_title: str
    target_platform: str
    target_message_id: str | None
    ok: bool
    error: str | None
    created_at: datetime


def history(
    session: Session, rule_id: int, *, limit: int = 50, before: int | None = None, offset: int = 0
) -> list[DeliveryView]:
    """What the rule mirrored where, newest first (ids below ``before``, or skipping
    ``offset``), failures with the platform's reason."""
    _rule(session, rule_id)
    query = (
        select(CrossPostDelivery, Chat.title)
        .outerjoin(Chat, col(Chat.id) == CrossPostDelivery.target_chat_id)
        .where(CrossPostDelivery.rule_id == rule_id)
    )
    if before is not None:
        query = query.where(col(CrossPostDelivery.id) < before)
    rows = session.exec(
        query.order_by(col(CrossPostDelivery.id).desc()).offset(offset).limit(limit)
    ).all()
    return [
        DeliveryView(
            delivery_id=d.id or 0,
            action=str(d.action),
            source_message_id=d.source_message_id,
            target_chat_id=d.target_chat_id,
            target_title=title or d.target_platform_chat_id,
            target_platform=str(d.target_platform),
            target_message_id=d.target_message_id,
            ok=d.ok,
            error=d.error,
            created_at=d.created_at,
        )
        for d, title in rows
    ]


# --- shared -----------------------------------------------------------------------------------


def _title(chat: Chat) -> str:
    return chat.title or chat.username or chat.platform_chat_id


def _free_name(
    session: Session,
    model: type[CrossPostTemplate] | type[CrossPostRule],
    name: str,
    *,
    but: int | None = None,
) -> str:
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > MAX_NAME:
        raise InvalidCrossPost(f"Give a name of 1 to {MAX_NAME} characters.")
    query = select(model.id).where(sa.func.lower(col(model.name)) == cleaned.lower())
    if but is not None:
        query = query.where(col(model.id) != but)
    if session.exec(query).first() is not None:
        raise NameTaken(f"There is already one named {cleaned!r}.")
    return cleaned


def _audit(session: Session, actor: AdminUser, action: str, target_id: Any, **details: Any) -> None:
    """``cross_post_template_…`` and ``cross_post_rule_…`` changes, by whom."""
    target_type = action.rsplit("_", 1)[0]
    audit.record(
        session, actor.username, action, target_type=target_type, target_id=target_id, **details
    )
