"""Bot configuration: the draft admins edit, its problems, publishing, versions and rollback.

The Bot config page and /api/v1/bots change a bot's configuration only through these
functions, so the rules hold everywhere: viewers read, editors edit, publish and roll
back; every change is audited. Only Telegram and Discord bots have a configuration.

The draft is one document with a ``revision`` that grows with each save; a save names the
revision it started from and is refused when someone saved meanwhile (one conditional
UPDATE, so two racing savers cannot both win). Publishing copies the draft into the next
version, commits, and only then announces ``bot_config.published`` so a connector that
reloads at once reads the committed version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from engine import events
from engine.bot_config import validation
from engine.bot_config.diff import Change
from engine.bot_config.diff import diff as diff_documents
from engine.bot_config.document import (
    KEY_RULE,
    BotConfigDocument,
    BotScope,
    Command,
    Menu,
    Response,
    normalize_command,
)
from engine.bot_config.validation import MissingText, Problem
from engine.models import (
    AdminUser,
    BotConfigDraft,
    BotConfigVersion,
    BotInstance,
    ConnectorKind,
    FlowDefinition,
    Role,
    utcnow,
)
from engine.services import audit
from engine.services.auth import require_role
from engine.services.errors import Conflict, NotFound

Part = TypeVar("Part", bound=BaseModel)
PUBLISHED_TOPIC = "bot_config.published"
PLATFORMS = {ConnectorKind.telegram_bot: "telegram", ConnectorKind.discord_bot: "discord"}
STALE = "Someone else saved the bot configuration meanwhile; reload."
MAX_NOTE = 256


class BotConfigError(ValueError):
    """A bot configuration change refused, with a message fit to show the admin."""


class BotNotFound(BotConfigError, NotFound):
    """No such bot, no bot configuration for this kind of connection, or no such version
    or item."""


class StaleDraft(BotConfigError, Conflict):
    """The draft changed since the caller read it."""


class InvalidBotConfig(BotConfigError, Conflict):
    """Publishing refused: ``problems`` lists what to fix."""

    def __init__(self, problems: list[Problem]) -> None:
        count = len(problems)
        super().__init__(
            f"The configuration has {count} problem{'s' if count != 1 else ''} to fix before "
            f"publishing: {problems[0].message}" + (f" (and {count - 1} more)" if count > 1 else "")
        )
        self.problems = problems


@dataclass(frozen=True)
class BotSummary:
    instance_id: int
    name: str
    platform: str  # telegram or discord
    username: str | None
    live_version: int | None
    published_at: datetime | None
    has_changes: bool  # the draft differs from the live version
    commands: int
    responses: int
    menus: int


@dataclass(frozen=True)
class DraftView:
    instance_id: int
    platform: str
    document: BotConfigDocument
    revision: int
    updated_by: str
    updated_at: datetime
    live_version: int | None
    has_changes: bool


@dataclass(frozen=True)
class VersionView:
    instance_id: int
    version: int
    document: BotConfigDocument
    published_by: str
    published_at: datetime
    note: str


# --- reading -------------------------------------------------------------------------------


def list_bots(session: Session, user: AdminUser) -> list[BotSummary]:
    """Every Telegram and Discord bot with its configuration's state, by name."""
    require_role(user, Role.viewer)
    bots = session.exec(
        select(BotInstance)
        .where(col(BotInstance.kind).in_(list(PLATFORMS)))
        .order_by(BotInstance.name, col(BotInstance.id))
    ).all()
    ids = [bot.id for bot in bots]
    drafts = {
        row.bot_instance_id: row
        for row in session.exec(
            select(BotConfigDraft).where(col(BotConfigDraft.bot_instance_id).in_(ids))
        ).all()
    }
    lives = _live_rows(session, ids)
    summaries = []
    for bot in bots:
        assert bot.id is not None
        draft, live = drafts.get(bot.id), lives.get(bot.id)
        document = _document(draft.document) if draft else _empty_document(bot)
        summaries.append(
            BotSummary(
                instance_id=bot.id,
                name=bot.name,
                platform=PLATFORMS[ConnectorKind(bot.kind)],
                username=bot.platform_username,
                live_version=live.version if live else None,
                published_at=live.published_at if live else None,
                has_changes=_differs(document, live),
                commands=len(document.commands),
                responses=len(document.responses),
                menus=len(document.menus),
            )
        )
    return summaries


def get_draft(session: Session, user: AdminUser, instance_id: int) -> DraftView:
    """The draft (made on first read: empty, in the bot's default language)."""
    require_role(user, Role.viewer)
    bot = _bot(session, instance_id)
    return _draft_view(session, bot, _draft_row(session, bot))


def problems(session: Session, user: AdminUser, instance_id: int) -> list[Problem]:
    """What must be fixed in the draft before it can be published."""
    draft = get_draft(session, user, instance_id)
    return _problems_of(session, draft.document, draft.platform)


def missing_translations(document: BotConfigDocument) -> list[MissingText]:
    """Every text lacking one of the bot's languages."""
    return validation.missing_translations(document)


def list_versions(session: Session, user: AdminUser, instance_id: int) -> list[VersionView]:
    """The published versions, newest first."""
    require_role(user, Role.viewer)
    _bot(session, instance_id)
    rows = session.exec(
        select(BotConfigVersion)
        .where(BotConfigVersion.bot_instance_id == instance_id)
        .order_by(col(BotConfigVersion.version).desc())
    ).all()
    return [_version_view(row) for row in rows]


def get_version(session: Session, user: AdminUser, instance_id: int, version: int) -> VersionView:
    require_role(user, Role.viewer)
    _bot(session, instance_id)
    return _version_view(_version_row(session, instance_id, version))


def diff(
    session: Session, user: AdminUser, instance_id: int, old: int, new: int | None
) -> list[Change]:
    """What changed from version ``old`` (0: nothing yet, so version 1 shows what it added)
    to version ``new`` (None: the draft)."""
    require_role(user, Role.viewer)
    bot = _bot(session, instance_id)
    if old == 0:
        before = _empty_document(bot)
    else:
        before = _document(_version_row(session, instance_id, old).document)
    if new is None:
        after = _document(_draft_row(session, bot).document)
    else:
        after = _document(_version_row(session, instance_id, new).document)
    return diff_documents(before, after)


def live_document(session: Session, instance_id: int) -> tuple[int, BotConfigDocument] | None:
    """The live (highest) version and its document, for the connectors; no user involved."""
    live = _live_rows(session, [instance_id]).get(instance_id)
    return None if live is None else (live.version, _document(live.document))


# --- editing -------------------------------------------------------------------------------


def save_draft(
    session: Session,
    user: AdminUser,
    instance_id: int,
    document: BotConfigDocument | dict[str, Any],
    *,
    base_revision: int | None,
) -> DraftView:
    """Replace the draft; refused (StaleDraft) when ``base_revision`` is not the stored one.
    ``base_revision=None`` overwrites whatever is there (REST's ``If-Match: *``)."""
    require_role(user, Role.editor)
    checked = parse_document(document)
    bot = _bot(session, instance_id)
    _draft_row(session, bot)
    conditions = [col(BotConfigDraft.bot_instance_id) == instance_id]
    if base_revision is not None:
        conditions.append(col(BotConfigDraft.revision) == base_revision)
    result = session.exec(
        sa.update(BotConfigDraft)
        .where(*conditions)
        .values(
            document=checked.model_dump(mode="json"),
            revision=BotConfigDraft.revision + 1,
            updated_by=user.username,
            updated_at=utcnow(),
        )
    )
    if result.rowcount == 0:
        raise StaleDraft(STALE)
    row = _draft_row(session, bot)
    session.refresh(row)
    audit.record(
        session,
        user.username,
        "bot_config_draft_saved",
        target_type="bot_instance",
        target_id=instance_id,
        revision=row.revision,
    )
    return _draft_view(session, bot, row)


def parse_document(document: BotConfigDocument | dict[str, Any]) -> BotConfigDocument:
    """``document`` as the schema reads it, or the first problem in plain words."""
    return _parsed(BotConfigDocument, document)


def _parsed(model: type[Part], data: BaseModel | dict[str, Any]) -> Part:
    """``data`` read as ``model`` (a model instance is checked again, as edited), or
    BotConfigError naming the first problem."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = _in_words(first)
        raise BotConfigError(f"{where}: {message}" if where else message) from None


def _in_words(error: Any) -> str:
    """Pydantic's message, with the document's two patterns (keys, languages) spelled out."""
    if error["type"] == "string_pattern_mismatch":
        names = {str(part) for part in error["loc"]}
        if "key" in names:
            return f"{error['input']!r} is not a key: use {KEY_RULE}."
        if names & {"languages", "default_language"}:
            return f"{error['input']!r} is not a language code like en or de-AT."
    return str(error["msg"]).removeprefix("Value error, ")


def _edit(
    session: Session,
    user: AdminUser,
    instance_id: int,
    change: Callable[[BotConfigDocument], None],
    base_revision: int | None,
) -> DraftView:
    """Read the draft, apply ``change`` to a copy, save it under the revision check (the
    read revision when the caller names none, so a concurrent save still is not lost)."""
    require_role(user, Role.editor)
    current = get_draft(session, user, instance_id)
    if base_revision is not None and base_revision != current.revision:
        raise StaleDraft(STALE)
    document = current.document.model_copy(deep=True)
    change(document)
    return save_draft(session, user, instance_id, document, base_revision=current.revision)


def upsert_command(
    session: Session,
    user: AdminUser,
    instance_id: int,
    command: Command | dict[str, Any],
    *,
    replaces: str | None = None,
    base_revision: int | None = None,
) -> DraftView:
    """Add ``command``, or replace the one named ``replaces`` (default: its own name), in
    place; renaming onto another command's name is refused."""

    def change(document: BotConfigDocument) -> None:
        new = _parsed(Command, command)
        old = replaces if replaces is not None else new.name
        _put(
            document.commands,
            new,
            normalize_command(old),
            normalize_command(new.name),
            lambda c: normalize_command(c.name),
            f"There is already a command /{new.name}.",
        )

    return _edit(session, user, instance_id, change, base_revision)


def delete_command(
    session: Session,
    user: AdminUser,
    instance_id: int,
    name: str,
    *,
    base_revision: int | None = None,
) -> DraftView:
    def change(document: BotConfigDocument) -> None:
        _remove(
            document.commands,
            normalize_command(name),
            lambda c: normalize_command(c.name),
            f"There is no command /{normalize_command(name)}.",
        )

    return _edit(session, user, instance_id, change, base_revision)


def upsert_response(
    session: Session,
    user: AdminUser,
    instance_id: int,
    response: Response | dict[str, Any],
    *,
    replaces: str | None = None,
    base_revision: int | None = None,
) -> DraftView:
    """Add ``response``, or replace the one keyed ``replaces`` (default: its own key)."""

    def change(document: BotConfigDocument) -> None:
        new = _parsed(Response, response)
        _put(
            document.responses,
            new,
            replaces or new.key,
            new.key,
            lambda r: r.key,
            f"There is already a response {new.key}.",
        )

    return _edit(session, user, instance_id, change, base_revision)


def delete_response(
    session: Session,
    user: AdminUser,
    instance_id: int,
    key: str,
    *,
    base_revision: int | None = None,
) -> DraftView:
    def change(document: BotConfigDocument) -> None:
        _remove(document.responses, key, lambda r: r.key, f"There is no response {key}.")

    return _edit(session, user, instance_id, change, base_revision)


def upsert_menu(
    session: Session,
    user: AdminUser,
    instance_id: int,
    menu: Menu | dict[str, Any],
    *,
    replaces: str | None = None,
    base_revision: int | None = None,
) -> DraftView:
    """Add ``menu``, or replace the one keyed ``replaces`` (default: its own key)."""

    def change(document: BotConfigDocument) -> None:
        new = _parsed(Menu, menu)
        _put(
            document.menus,
            new,
            replaces or new.key,
            new.key,
            lambda m: m.key,
            f"There is already a menu {new.key}.",
        )

    return _edit(session, user, instance_id, change, base_revision)


def delete_menu(
    session: Session,
    user: AdminUser,
    instance_id: int,
    key: str,
    *,
    base_revision: int | None = None,
) -> DraftView:
    def change(document: BotConfigDocument) -> None:
        _remove(document.menus, key, lambda m: m.key, f"There is no menu {key}.")

    return _edit(session, user, instance_id, change, base_revision)


def set_strings(
    session: Session,
    user: AdminUser,
    instance_id: int,
    strings: dict[str, dict[str, str]],
    *,
    base_revision: int | None = None,
) -> DraftView:
    """Replace the strings table (name → language → text)."""

    def change(document: BotConfigDocument) -> None:
        document.strings = dict(strings)

    return _edit(session, user, instance_id, change, base_revision)


def set_languages(
    session: Session,
    user: AdminUser,
    instance_id: int,
    default_language: str,
    languages: list[str],
    *,
    base_revision: int | None = None,
) -> DraftView:
    """The bot's languages; the default one is always among them (added first if left out)."""
    ordered = list(dict.fromkeys([default_language, *languages]))

    def change(document: BotConfigDocument) -> None:
        document.default_language = default_language
        document.languages = ordered

    return _edit(session, user, instance_id, change, base_revision)


def set_scope(
    session: Session,
    user: AdminUser,
    instance_id: int,
    scope: BotScope | dict[str, Any],
    *,
    base_revision: int | None = None,
) -> DraftView:
    """Where the bot answers at all."""

    def change(document: BotConfigDocument) -> None:
        new = _parsed(BotScope, scope)
        document.scope = new

    return _edit(session, user, instance_id, change, base_revision)


# --- publishing ----------------------------------------------------------------------------


def publish(
    session: Session,
    user: AdminUser,
    instance_id: int,
    *,
    note: str = "",
    base_revision: int | None = None,
) -> VersionView:
    """The draft as the next version, once it has no problems; connectors reload it.
    With ``base_revision``, only the draft revision the publisher reviewed is published."""
    require_role(user, Role.editor)
    draft = get_draft(session, user, instance_id)
    if base_revision is not None and base_revision != draft.revision:
        raise StaleDraft(STALE)
    found = _problems_of(session, draft.document, draft.platform)
    if found:
        raise InvalidBotConfig(found)
    version = _new_version(session, user, instance_id, draft.document, note[:MAX_NOTE])
    audit.record(
        session,
        user.username,
        "bot_config_published",
        target_type="bot_instance",
        target_id=instance_id,
        version=version.version,
        revision=draft.revision,
    )
    return _announce(session, version)


def rollback(
    session: Session,
    user: AdminUser,
    instance_id: int,
    version: int,
    *,
    base_revision: int | None = None,
) -> VersionView:
    """Publish version ``version``'s document again as a new version, and put it in the
    draft too, so the next edit starts from what is live. With ``base_revision``, refused
    when the draft changed since the caller looked (its edits would be replaced)."""
    require_role(user, Role.editor)
    bot = _bot(session, instance_id)
    old = _document(_version_row(session, instance_id, version).document)
    draft = _draft_row(session, bot)
    if base_revision is not None and base_revision != draft.revision:
        raise StaleDraft(STALE)
    save_draft(session, user, instance_id, old, base_revision=draft.revision)
    row = _new_version(session, user, instance_id, old, f"Rollback to v{version}")
    audit.record(
        session,
        user.username,
        "bot_config_rolled_back",
        target_type="bot_instance",
        target_id=instance_id,
        version=row.version,
        to_version=version,
    )
    return _announce(session, row)


def _new_version(
    session: Session, user: AdminUser, instance_id: int, document: BotConfigDocument, note: str
) -> BotConfigVersion:
    last = session.exec(
        select(sa.func.max(BotConfigVersion.version)).where(
            BotConfigVersion.bot_instance_id == instance_id
        )
    ).one()
    row = BotConfigVersion(
        bot_instance_id=instance_id,
        version=(last or 0) + 1,
        document=document.model_dump(mode="json"),
        published_by=user.username,
        note=note,
    )
    session.add(row)
    return row


def _announce(session: Session, row: BotConfigVersion) -> VersionView:
    """Commit, then tell the connectors: they read the version as soon as they hear."""
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise StaleDraft("Someone else published meanwhile; reload and publish again.") from None
    session.refresh(row)
    events.publish(PUBLISHED_TOPIC, {"instance_id": row.bot_instance_id, "version": row.version})
    return _version_view(row)


# --- helpers -------------------------------------------------------------------------------


def _bot(session: Session, instance_id: int) -> BotInstance:
    bot = session.get(BotInstance, instance_id)
    if bot is None:
        raise BotNotFound(f"Bot {instance_id} does not exist.")
    if bot.kind not in PLATFORMS:
        raise BotNotFound(
            f"{bot.name} is not a Telegram or Discord bot: only bots have a bot configuration."
        )
    return bot


def _empty_document(bot: BotInstance) -> BotConfigDocument:
    try:
        return BotConfigDocument(
            default_language=bot.default_language, languages=[bot.default_language]
        )
    except ValidationError:
        return BotConfigDocument()


def _draft_row(session: Session, bot: BotInstance) -> BotConfigDraft:
    """The bot's draft row, made (empty) the first time anyone looks."""
    query = select(BotConfigDraft).where(BotConfigDraft.bot_instance_id == bot.id)
    row = session.exec(query).first()
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = BotConfigDraft(
                bot_instance_id=bot.id or 0,
                document=_empty_document(bot).model_dump(mode="json"),
            )
            session.add(row)
    except IntegrityError:  # made by a concurrent first reader
        row = session.exec(query).one()
    return row


def _live_rows(session: Session, instance_ids: list[Any]) -> dict[int, BotConfigVersion]:
    """The highest version of each bot that has one."""
    if not instance_ids:
        return {}
    newest = (
        select(
            BotConfigVersion.bot_instance_id,
            sa.func.max(BotConfigVersion.version).label("version"),
        )
        .where(col(BotConfigVersion.bot_instance_id).in_(instance_ids))
        .group_by(col(BotConfigVersion.bot_instance_id))
        .subquery()
    )
    rows = session.exec(
        select(BotConfigVersion).join(
            newest,
            sa.and_(
                col(BotConfigVersion.bot_instance_id) == newest.c.bot_instance_id,
                col(BotConfigVersion.version) == newest.c.version,
            ),
        )
    ).all()
    return {row.bot_instance_id: row for row in rows}


def _version_row(session: Session, instance_id: int, version: int) -> BotConfigVersion:
    row = session.exec(
        select(BotConfigVersion).where(
            BotConfigVersion.bot_instance_id == instance_id, BotConfigVersion.version == version
        )
    ).first()
    if row is None:
        raise BotNotFound(f"Version {version} of this bot's configuration does not exist.")
    return row


def _document(data: dict[str, Any]) -> BotConfigDocument:
    return BotConfigDocument.model_validate(data or {})


def _differs(document: BotConfigDocument, live: BotConfigVersion | None) -> bool:
    if live is None:
        return document != BotConfigDocument(
            default_language=document.default_language, languages=[document.default_language]
        )
    return document != _document(live.document)


def _draft_view(session: Session, bot: BotInstance, row: BotConfigDraft) -> DraftView:
    assert bot.id is not None
    live = _live_rows(session, [bot.id]).get(bot.id)
    document = _document(row.document)
    return DraftView(
        instance_id=bot.id,
        platform=PLATFORMS[ConnectorKind(bot.kind)],
        document=document,
        revision=row.revision,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
        live_version=live.version if live else None,
        has_changes=_differs(document, live),
    )


def _version_view(row: BotConfigVersion) -> VersionView:
    return VersionView(
        instance_id=row.bot_instance_id,
        version=row.version,
        document=_document(row.document),
        published_by=row.published_by,
        published_at=row.published_at,
        note=row.note,
    )


def _problems_of(session: Session, document: BotConfigDocument, platform: str) -> list[Problem]:
    published = select(FlowDefinition.id).where(
        col(FlowDefinition.published_version_id).isnot(None)
    )
    flow_ids = {i for i in session.exec(published).all() if i is not None}
    return validation.problems(document, platform, flow_ids)


def _put(
    items: list[Any],
    new: Any,
    old_name: str,
    new_name: str,
    name_of: Callable[[Any], str],
    taken: str,
) -> None:
    """Replace the item named ``old_name`` by ``new`` in place, or append it."""
    names = [name_of(item) for item in items]
    if new_name != old_name and new_name in names:
        raise BotConfigError(taken)
    if old_name in names:
        items[names.index(old_name)] = new
    else:
        items.append(new)


def _remove(items: list[Any], name: str, name_of: Callable[[Any], str], missing: str) -> None:
    for index, item in enumerate(items):
        if name_of(item) == name:
            del items[index]
            return
    raise BotNotFound(missing)
