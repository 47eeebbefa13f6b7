"""The Bot config pages' state: the bots on /bot-config, one bot's draft, publishing and
versions on /bot-config/[bot_ref].

Every read and change goes through engine/services/bot_config.py as the signed-in user,
re-resolved at each call: viewers look, editors change. The draft is saved whole with the
revision it was read at, so an edit made elsewhere meanwhile is refused (StaleDraft) instead
of overwritten; the open form keeps what the admin typed, and saving again after "Reload"
applies it to the newer draft. What is valid is the service's to say (problems, publish).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import partial
from typing import Any

import reflex as rx
from pydantic import BaseModel, ValidationError

from engine.bot_config.document import COMMAND_NAME_RULES
from engine.db import session_scope
from engine.services import auth, bot_config, communities, flows
from engine.services.bot_config import BotSummary, DraftView, InvalidBotConfig, StaleDraft
from engine.services.communities import GUILD, ChatFilters
from flowbot_ui.components.bot_preview import Preview, preview_of
from flowbot_ui.state import bot_config_items as items
from flowbot_ui.state.auth import AuthState
from flowbot_ui.state.bot_config_items import ItemForm, Kind
from flowbot_ui.state.communities import PICKER_SIZE, Choice
from flowbot_ui.state.webhooks import _when as when

REFUSALS = (auth.AuthError, ValueError, LookupError)
UPSERTS = {
    "command": bot_config.upsert_command,
    "response": bot_config.upsert_response,
    "menu": bot_config.upsert_menu,
}
DELETES = {
    "command": bot_config.delete_command,
    "response": bot_config.delete_response,
    "menu": bot_config.delete_menu,
}
TABS = ("commands", "responses", "menus", "translations", "scope", "versions")
KIND_OF_TAB: dict[str, Kind] = {"commands": "command", "responses": "response", "menus": "menu"}
DRAFT = "draft"  # the diff's "version" that is the unpublished draft
CONFLICT = "Someone else changed this bot's configuration meanwhile. Reload to see it; what "
CONFLICT += "you typed stays here, and saving again applies it to the newer draft."
# What the "Insert a value…" menu offers besides the bot's own strings.
VALUES = (
    ("Member's name", "member.name"),
    ("Member's username", "member.username"),
    ("Chat title", "chat.title"),
    ("Community name", "community.name"),
    ("Community rules", "community.rules"),
    ("Bot's name", "bot.name"),
)


class BotRow(BaseModel):
    id: int
    name: str
    platform: str
    live_version: int  # 0: never published
    has_changes: bool
    published: str  # "v3, 2026-… UTC", or ""


class ItemRow(BaseModel):
    key: str
    summary: str
    enabled: bool


class ProblemRow(BaseModel):
    where: str
    message: str


class StringRow(BaseModel):
    name: str
    texts: dict[str, str]


class VersionRow(BaseModel):
    version: int
    by: str
    when: str
    note: str


class ChangeRow(BaseModel):
    where: str
    what: str
    before: str
    after: str


def _bot_row(summary: BotSummary) -> BotRow:
    live = summary.live_version or 0
    published = f"v{live}, {when(summary.published_at)}" if live else ""
    return BotRow(
        id=summary.instance_id,
        name=summary.name,
        platform=summary.platform,
        live_version=live,
        has_changes=summary.has_changes,
        published=published,
    )


class BotsState(AuthState):
    """The list of bots (Telegram and Discord bot connections) with their config status."""

    rows: list[BotRow] = []
    loaded: bool = False

    @rx.event
    def load(self) -> None:
        with session_scope() as session:
            me = self._current_user(session)
            found = bot_config.list_bots(session, me)
        self.rows = [_bot_row(s) for s in found]
        self.loaded = True


def _summary(kind: Kind, item: dict[str, Any], language: str) -> str:
    """One line under an item of the list: what it does or says."""
    if kind == "command":
        action = item.get("action") or {}
        return f"{action.get('kind', '')}: {action.get('target') or '—'}"
    texts = item.get("text" if kind == "response" else "title") or {}
    text = texts.get(language) or next(iter(texts.values()), "")
    return " ".join(text.split())[:80]


class BotConfigState(AuthState):
    """One bot's draft: its items, the item form with its live preview, publishing."""

    bot_id: int = 0
    name: str = ""
    platform: str = ""
    missing: bool = False
    loaded: bool = False
    message: str = ""
    dialog_error: str = ""
    conflict: bool = False
    tab: str = "commands"

    live_version: int = 0
    has_changes: bool = False
    updated: str = ""
    languages: list[str] = []
    default_language: str = "en"
    commands: list[ItemRow] = []
    responses: list[ItemRow] = []
    menus: list[ItemRow] = []
    _doc: dict[str, Any] = {}
    _revision: int = 0

    # pickers
    flow_choices: list[Choice] = []
    community_choices: list[Choice] = []
    chat_choices: list[Choice] = []  # the bot's chats (Discord: channels)
    guild_choices: list[Choice] = []  # Discord servers the bot is in

    # the item form (commands, responses, menus)
    editing: bool = False
    edit_kind: str = ""
    edit_lang: str = "en"
    editing_key: str = ""  # the key the item is stored under; "" for a new one
    form: ItemForm = ItemForm()
    preview: Preview = Preview()
    _item: dict[str, Any] = {}

    # publishing
    problems: list[ProblemRow] = []
    problems_open: bool = False

    # translations
    strings: list[StringRow] = []
    missing_texts: list[ProblemRow] = []
    new_language: str = ""
    new_string: str = ""

    # scope
    everywhere: bool = True
    private_chats: bool = True
    scope_communities: list[str] = []
    scope_chats: list[str] = []

    # versions
    versions: list[VersionRow] = []
    diff_from: str = ""
    diff_to: str = DRAFT
    changes: list[ChangeRow] = []
    rollback_to: int = 0

    @rx.var
    def response_keys(self) -> list[str]:
        return [row.key for row in self.responses]

    @rx.var
    def menu_keys(self) -> list[str]:
        return [row.key for row in self.menus]

    @rx.var
    def string_names(self) -> list[str]:
        return [row.name for row in self.strings]

    @rx.var
    def name_rule(self) -> str:
        rule = COMMAND_NAME_RULES.get(self.platform)
        return f"Without the slash; {rule[1]}." if rule else "Without the slash."

    @rx.var
    def version_choices(self) -> list[str]:
        return [str(row.version) for row in self.versions]

    # -- loading ---------------------------------------------------------------------------

    @rx.event
    def load(self) -> None:
        self.message = self.error = self.dialog_error = ""
        self.conflict = self.editing = self.problems_open = False
        self.rollback_to, self.changes = 0, []
        ref = str(self.router.page.params.get("bot_ref", ""))
        self.bot_id = int(ref) if ref.isdigit() else 0
        tab = str(self.router.page.params.get("tab", ""))
        self.tab = tab if tab in TABS else "commands"
        self._reload()
        if not self.missing:
            self._load_pickers()
            self._compare_latest()

    def _reload(self) -> None:
        """The draft, its versions and what is missing, as the service has them now."""
        with session_scope() as session:
            me = self._current_user(session)
            bot = next(
                (b for b in bot_config.list_bots(session, me) if b.instance_id == self.bot_id), None
            )
            if bot is None:
                self.missing, self.loaded = True, True
                return
            draft = bot_config.get_draft(session, me, self.bot_id)
            found = bot_config.list_versions(session, me, self.bot_id)
        self.missing, self.name, self.platform = False, bot.name, bot.platform
        self._take_draft(draft)
        self.versions = [
            VersionRow(version=v.version, by=v.published_by, when=when(v.published_at), note=v.note)
            for v in found
        ]
        self.loaded = True

    def _take_draft(self, draft: DraftView) -> None:
        doc = draft.document.model_dump(mode="json")
        self._doc, self._revision = doc, draft.revision
        self.live_version = draft.live_version or 0
        self.has_changes = draft.has_changes
        self.updated = f"{draft.updated_by or 'nobody'}, {when(draft.updated_at)}"
        self.languages, self.default_language = list(doc["languages"]), doc["default_language"]
        if self.edit_lang not in self.languages:
            self.edit_lang = self.default_language
        lang = self.default_language
        self.commands = [
            ItemRow(key=f"/{c['name']}", summary=_summary("command", c, lang), enabled=c["enabled"])
            for c in doc["commands"]
        ]
        self.responses = [
            ItemRow(key=r["key"], summary=_summary("response", r, lang), enabled=r["enabled"])
            for r in doc["responses"]
        ]
        self.menus = [
            ItemRow(key=m["key"], summary=_summary("menu", m, lang), enabled=True)
            for m in doc["menus"]
        ]
        self.strings = [StringRow(name=k, texts=v) for k, v in doc["strings"].items()]
        scope = doc["scope"]
        self.everywhere, self.private_chats = scope["everywhere"], scope["private_chats"]
        self.scope_communities = [str(c) for c in scope["community_ids"]]
        self.scope_chats = list(scope["chat_ids"])
        self.missing_texts = [
            ProblemRow(where=m.where, message=m.language)
            for m in bot_config.missing_translations(draft.document)
        ]
        if self.editing:
            self._show_form()

    def _load_pickers(self) -> None:
        with session_scope() as session:
            self._current_user(session)
            found = flows.list_flows(session)
            groups = communities.list_communities(session)
            chats = communities.chat_page(
                session, ChatFilters(connection_id=self.bot_id), PICKER_SIZE
            )
        self.flow_choices = [
            Choice(id=str(f.id), name=f.name if f.published else f"{f.name} (not published)")
            for f in found
        ]
        self.community_choices = [Choice(id=str(c.community_id), name=c.name) for c in groups]
        shown = [
            (c.type, Choice(id=c.platform_chat_id, name=c.title or c.platform_chat_id))
            for c in chats
        ]
        self.chat_choices = [choice for kind, choice in shown if kind != GUILD]
        self.guild_choices = [choice for kind, choice in shown if kind == GUILD]

    @rx.event
    def reload_draft(self) -> None:
        """After a conflict: the newer draft, the open form untouched."""
        self.conflict, self.error, self.message = False, "", ""
        self._reload()

    @rx.event
    def set_tab(self, tab: str) -> None:
        self.tab = tab if tab in TABS else "commands"
        self.editing = False

    @rx.event
    def on_dialog_change(self, open_: bool) -> None:
        if not open_:
            self.problems_open, self.rollback_to, self.dialog_error = False, 0, ""

    # -- saving the draft ------------------------------------------------------------------

    def _save(self, change: Callable[..., DraftView], success: str) -> bool:
        """Run one service edit as the signed-in user, from the draft revision this page
        shows; True when it went through."""
        base = self._revision
        try:
            with session_scope() as session:
                me = self._current_user(session)
                draft = change(session, me, self.bot_id, base_revision=base)
        except StaleDraft:
            self.conflict, self.error, self.message = True, CONFLICT, ""
            return False
        except ValidationError as refused:
            self.error, self.message = items.explain(refused), ""
            return False
        except REFUSALS as refused:
            self.error, self.message = str(refused), ""
            return False
        self.conflict, self.error, self.message = False, "", success
        self._take_draft(draft)
        return True

    # -- the item form ---------------------------------------------------------------------

    @rx.event
    def open_item(self, key: str) -> None:
        kind = KIND_OF_TAB.get(self.tab)
        if kind is None:
            return
        wanted = str(key).lstrip("/")
        stored = next(
            (x for x in self._doc[f"{kind}s"] if x[items.KEY_FIELD[kind]] == wanted), None
        )
        if stored is None:
            return
        self._open(kind, items.editable(kind, stored), wanted)

    @rx.event
    def new_item(self) -> None:
        kind = KIND_OF_TAB.get(self.tab)
        if kind is not None:
            self._open(kind, items.new_item(kind), "")

    def _open(self, kind: Kind, item: dict[str, Any], key: str) -> None:
        self.edit_kind, self._item, self.editing_key = kind, item, key
        self.edit_lang = self.default_language
        self.editing, self.error, self.message = True, "", ""
        self._show_form()

    @rx.event
    def close_item(self) -> None:
        self.editing = False

    def _show_form(self) -> None:
        kind: Kind = self.edit_kind  # type: ignore[assignment]
        self.form = items.form_of(kind, self._item, self.edit_lang)
        self.preview = preview_of(self._doc, kind, self._item, self.edit_lang, self.name)

    def _change(self, change: Any, *args: Any) -> None:
        """Apply one edit to the form's copy; a path outside the item is ignored."""
        try:
            self._item = change(self._item, *args)
        except (LookupError, ValueError):
            return
        self._show_form()

    @rx.event
    def set_edit_lang(self, language: str | list[str]) -> None:
        if language in self.languages:
            self.edit_lang = str(language)
            self._show_form()

    @rx.event
    def edit(self, path: list[str | int], value: Any) -> None:
        self._change(items.put, tuple(path), value, self.edit_lang)

    @rx.event
    def set_action(self, path: list[str | int], kind: str) -> None:
        self._change(items.set_action_kind, tuple(path), kind)

    @rx.event
    def add_part(self, path: list[str | int], part: str) -> None:
        if part in (*items.NEW_PARTS, "row"):
            self._change(items.append, tuple(path), part)

    @rx.event
    def remove_part(self, path: list[str | int]) -> None:
        self._change(items.drop, tuple(path))

    @rx.event
    def insert_value(self, name: str) -> None:
        """Add ``{{ name }}`` at the end of the text in the open language."""
        allowed = {v for _, v in VALUES} | {f"strings.{s}" for s in self.string_names}
        if name not in allowed:
            return
        field = "text" if self.edit_kind == "response" else "title"
        current = (self._item.get(field) or {}).get(self.edit_lang, "")
        spacer = "" if not current or current.endswith((" ", "\n")) else " "
        self._change(items.put, (field,), f"{current}{spacer}{{{{ {name} }}}}", self.edit_lang)

    @rx.event
    def save_item(self) -> None:
        kind: Kind = self.edit_kind  # type: ignore[assignment]
        done = items.finished(kind, self._item)
        key_field = items.KEY_FIELD[kind]
        done[key_field] = str(done[key_field]).strip().lstrip("/")
        upsert = UPSERTS[kind]
        replaces = self.editing_key or None
        shown = f"/{done[key_field]}" if kind == "command" else done[key_field]
        if self._save(
            partial(upsert, **{kind: done}, replaces=replaces),
            f"Saved {kind} {shown} in the draft.",
        ):
            self.editing_key = done[key_field]

    @rx.event
    def delete_item(self) -> None:
        kind: Kind = self.edit_kind  # type: ignore[assignment]
        key = self.editing_key
        if self._save(
            lambda s, me, bot, **kw: DELETES[kind](s, me, bot, key, **kw),
            f"Deleted {kind} {key} from the draft.",
        ):
            self.editing = False

    # -- translations ----------------------------------------------------------------------

    @rx.event
    def set_new_language(self, value: str) -> None:
        self.new_language = str(value).strip()[:16]

    def _languages(self, default: str, languages: list[str], success: str) -> bool:
        return self._save(
            partial(bot_config.set_languages, default_language=default, languages=languages),
            success,
        )

    @rx.event
    def add_language(self) -> None:
        wanted = [*self.languages, self.new_language]
        if self._languages(self.default_language, wanted, f"Added {self.new_language}."):
            self.new_language = ""

    @rx.event
    def remove_language(self, language: str) -> None:
        rest = [x for x in self.languages if x != language]
        self._languages(
            self.default_language, rest, f"Removed {language}; its texts stay in the draft."
        )

    @rx.event
    def set_default_language(self, language: str) -> None:
        self._languages(str(language), self.languages, f"{language} is now the default language.")

    @rx.event
    def set_new_string(self, value: str) -> None:
        self.new_string = str(value).strip()[:64]

    def _strings(self, strings: dict[str, dict[str, str]], success: str) -> bool:
        return self._save(partial(bot_config.set_strings, strings=strings), success)

    @rx.event
    def add_string(self) -> None:
        strings = copy.deepcopy(self._doc["strings"])
        if not self.new_string or self.new_string in strings:
            self.error = "Give the new string a name no other string has."
            return
        strings[self.new_string] = {}
        if self._strings(strings, f"Added the string {self.new_string}."):
            self.new_string = ""

    @rx.event
    def set_string(self, name: str, language: str, value: str) -> None:
        """One cell of the strings table, saved when the admin leaves it."""
        strings = copy.deepcopy(self._doc["strings"])
        texts = strings.get(name)
        if texts is None or texts.get(language, "") == value:
            return
        if value.strip():
            texts[language] = value
        else:
            texts.pop(language, None)
        self._strings(strings, f"Saved the string {name} ({language}).")

    @rx.event
    def remove_string(self, name: str) -> None:
        strings = {k: v for k, v in self._doc["strings"].items() if k != name}
        self._strings(strings, f"Removed the string {name}.")

    # -- scope -----------------------------------------------------------------------------

    @rx.event
    def set_everywhere(self, value: bool) -> None:
        self.everywhere = bool(value)

    @rx.event
    def set_private_chats(self, value: bool) -> None:
        self.private_chats = bool(value)

    @rx.event
    def toggle_community(self, community_id: str, on: bool) -> None:
        rest = [c for c in self.scope_communities if c != community_id]
        self.scope_communities = [*rest, community_id] if on else rest

    @rx.event
    def toggle_chat(self, chat_id: str, on: bool) -> None:
        rest = [c for c in self.scope_chats if c != chat_id]
        self.scope_chats = [*rest, chat_id] if on else rest

    @rx.event
    def save_scope(self) -> None:
        scope = {
            "everywhere": self.everywhere,
            "private_chats": self.private_chats,
            "community_ids": [int(c) for c in self.scope_communities if c.isdigit()],
            "chat_ids": list(self.scope_chats),
        }
        self._save(partial(bot_config.set_scope, scope=scope), "Saved where the bot answers.")

    # -- publishing ------------------------------------------------------------------------

    @rx.event
    def publish(self):  # type: ignore[no-untyped-def]
        try:
            with session_scope() as session:
                me = self._current_user(session)
                version = bot_config.publish(session, me, self.bot_id)
        except InvalidBotConfig as refused:
            self.problems = [ProblemRow(where=p.path, message=p.message) for p in refused.problems]
            self.problems_open, self.dialog_error = True, ""
            return None
        except REFUSALS as refused:
            self.error, self.message = str(refused), ""
            return None
        self.error = ""
        self._reload()
        self._compare_latest()
        return rx.toast.success(f"Published v{version.version}")

    # -- versions --------------------------------------------------------------------------

    @rx.event
    def set_diff_from(self, value: str) -> None:
        self.diff_from = str(value)
        self._diff()

    @rx.event
    def set_diff_to(self, value: str) -> None:
        self.diff_to = str(value)
        self._diff()

    def _compare_latest(self) -> None:
        """The newest change first: unpublished edits (live → draft), else what the last
        publish changed (the version before → live)."""
        numbers = self.version_choices
        if not numbers:
            self.diff_from, self.diff_to = "", DRAFT
        elif self.has_changes or len(numbers) == 1:
            self.diff_from, self.diff_to = numbers[0], DRAFT
        else:
            self.diff_from, self.diff_to = numbers[1], numbers[0]
        self._diff()

    def _diff(self) -> None:
        """The readable changes from one version to another (or the draft)."""
        if not self.diff_from.isdigit():
            self.changes = []
            return
        newer = None if self.diff_to == DRAFT else int(self.diff_to)
        try:
            with session_scope() as session:
                me = self._current_user(session)
                found = bot_config.diff(session, me, self.bot_id, int(self.diff_from), newer)
        except REFUSALS as refused:
            self.error, self.changes = str(refused), []
            return
        self.changes = [
            ChangeRow(where=c.where, what=c.what, before=c.before, after=c.after) for c in found
        ]

    @rx.event
    def ask_rollback(self, version: int) -> None:
        self.rollback_to, self.dialog_error = int(version), ""

    @rx.event
    def confirm_rollback(self):  # type: ignore[no-untyped-def]
        wanted = self.rollback_to
        try:
            with session_scope() as session:
                me = self._current_user(session)
                version = bot_config.rollback(session, me, self.bot_id, wanted)
        except REFUSALS as refused:
            self.dialog_error = str(refused)
            return None
        self.rollback_to = 0
        self._reload()
        self._compare_latest()
        return rx.toast.success(f"Rolled back: v{version.version} (a copy of v{wanted}) is live")
