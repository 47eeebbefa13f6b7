"""The Cross-post pages' state: rules and templates on /cross-post, one rule's history on
/cross-post/rules/[rule_ref].

Every read and change goes through engine/services/cross_posting.py as the signed-in user,
re-resolved at each call: viewers look, editors change. The rules themselves (loops, filters,
templates in use, broken expressions) are the service's; this module only turns its views
into rows and its refusals into the message shown where the admin is looking.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from pydantic import BaseModel

from engine.db import session_scope
from engine.services import auth, communities, cross_posting
from engine.services.communities import ChatFilters
from engine.services.cross_posting import (
    CrossPostFilter,
    DeliveryView,
    RuleDraft,
    RuleView,
)
from engine.services.errors import Conflict
from flowbot_ui.state.auth import AuthState
from flowbot_ui.state.communities import ANY, PICKER_SIZE, PLATFORMS, ChatItem, Choice
from flowbot_ui.state.communities import _chat_item as chat_item
from flowbot_ui.state.service_calls import Action, run_as_signed_in
from flowbot_ui.state.webhooks import _when as when

REFUSALS = (auth.AuthError, ValueError, LookupError, Conflict)
AS_IS = "as-is"  # a select's value cannot be empty: the rule posts the text as it is
FORMATS = cross_posting.FORMAT_KEYS  # "default", then each platform
VALUES = cross_posting.VARIABLES  # what a template may insert
HISTORY_SIZE = 50
FILTER_FLAGS = ("media_only", "skip_bots")
RULE_FLAGS = ("include_media", "mirror_edits", "mirror_deletes")


class ChatChip(BaseModel):
    platform: str
    title: str


class RuleCard(BaseModel):
    id: int
    name: str
    source: str
    source_platform: str
    targets: list[ChatChip]
    template: str
    filter: str  # in plain words
    mirror_edits: bool
    mirror_deletes: bool
    include_media: bool
    active: bool
    last_mirrored: str
    failures: int  # copies that failed, in the rule's whole history


class TemplateRow(BaseModel):
    id: int
    name: str
    formats: dict[str, str]
    rules: int  # how many rules use it


class DeliveryRow(BaseModel):
    when: str
    action: str
    source_message: str
    target: str
    target_platform: str
    target_message: str
    ok: bool
    error: str


def filter_words(view: CrossPostFilter) -> str:
    """A rule's filter as the admin would say it."""
    said = []
    if view.media_only:
        said.append("only messages with photos or files")
    if view.contains:
        said.append("containing: " + ", ".join(view.contains))
    if view.regex:
        said.append(f"matching the pattern {view.regex}")
    if view.skip_bots:
        said.append("not from bots")
    text = "; ".join(said)
    return text[:1].upper() + text[1:] if said else "Every message"


class CrossPostState(AuthState):
    tab: str = "rules"
    rows: list[RuleCard] = []
    templates: list[TemplateRow] = []
    template_choices: list[Choice] = []
    loaded: bool = False
    message: str = ""
    dialog_error: str = ""

    # the rule dialog
    rule_open: bool = False
    rule_id: int = 0  # 0: a new rule
    rule_form: dict[str, str] = {}
    rule_flags: dict[str, bool] = {}
    source_id: int = 0
    target_ids: list[int] = []
    picked: list[ChatChip] = []  # the source and targets, shown above the picker
    chat_rows: list[ChatItem] = []
    chat_search: str = ""
    chat_platform: str = ANY

    # the template dialog
    template_open: bool = False
    template_id: int = 0  # 0: a new template
    template_name: str = ""
    formats: dict[str, str] = {}
    previews: dict[str, str] = {}
    preview_error: str = ""

    delete_rule_for: int = 0
    delete_template_for: int = 0
    dialog_name: str = ""

    # -- loading ---------------------------------------------------------------------------

    @rx.event
    def load(self) -> None:
        self.message = self.error = ""
        self.tab = "templates" if self.router.page.params.get("tab") == "templates" else "rules"
        self._close_all()
        self._reload()

    def _reload(self) -> None:
        with session_scope() as session:
            self._current_user(session)
            templates = cross_posting.list_templates(session)
            self.rows = [_rule_card(v) for v in cross_posting.list_rules(session)]
        self.templates = [
            TemplateRow(id=t.template_id, name=t.name, formats=t.formats, rules=len(t.rule_names))
            for t in templates
        ]
        self.template_choices = [Choice(id=str(t.id), name=t.name) for t in self.templates]
        self.loaded = True

    def _run(self, action: Action, success: str = "", *, in_dialog: bool = False) -> bool:
        return run_as_signed_in(self, action, REFUSALS, success, in_dialog=in_dialog)

    def _close_all(self) -> None:
        self.rule_open = self.template_open = False
        self.delete_rule_for = self.delete_template_for = 0
        self.dialog_error = self.preview_error = ""

    @rx.event
    def on_dialog_change(self, open_: bool) -> None:
        if not open_:
            self._close_all()

    @rx.event
    def pick_tab(self, tab: str) -> None:
        self.tab = tab if tab in ("rules", "templates") else "rules"

    # -- rules -----------------------------------------------------------------------------

    @rx.event
    def open_new_rule(self) -> None:
        self._close_all()
        self.rule_id, self.source_id, self.target_ids = 0, 0, []
        self.rule_form = {"name": "", "template": AS_IS, "contains": "", "regex": ""}
        self.rule_flags = _flags(CrossPostFilter(), None)
        self._open_rule()

    @rx.event
    def open_edit_rule(self, rule_id: int) -> None:
        self._close_all()
        with session_scope() as session:
            self._current_user(session)
            try:
                view = cross_posting.get_rule(session, rule_id)
            except REFUSALS as refused:
                self.error, self.message = str(refused), ""
                return
        self.rule_id, self.source_id = rule_id, view.source_chat_id
        self.target_ids = view.target_chat_ids
        self.rule_form = {
            "name": view.name,
            "template": str(view.template_id) if view.template_id else AS_IS,
            "contains": ", ".join(view.filter.contains),
            "regex": view.filter.regex or "",
        }
        self.rule_flags = _flags(view.filter, view)
        self._open_rule()

    def _open_rule(self) -> None:
        self.chat_search, self.chat_platform = "", ANY
        self._search_chats()
        self._show_picked()
        self.rule_open = True

    def _search_chats(self) -> None:
        filters = ChatFilters(
            platform=self.chat_platform if self.chat_platform in PLATFORMS else None,
            search=self.chat_search[: communities.MAX_SEARCH] or None,
        )
        with session_scope() as session:
            self._current_user(session)
            self.chat_rows = [
                chat_item(c) for c in communities.chat_page(session, filters, PICKER_SIZE)
            ]

    def _show_picked(self) -> None:
        wanted = [self.source_id, *self.target_ids]
        with session_scope() as session:
            self._current_user(session)
            chats = []
            for chat_id in (i for i in wanted if i):
                try:
                    chats.append(communities.get_chat(session, chat_id))
                except LookupError:  # deleted since; the service says so on save
                    continue
        self.picked = [ChatChip(platform=c.platform, title=c.title) for c in chats]

    @rx.event
    def search_chats(self, form: dict[str, Any]) -> None:
        self.chat_search = str(form.get("search", ""))[: communities.MAX_SEARCH]
        self._search_chats()

    @rx.event
    def pick_chat_platform(self, value: str) -> None:
        self.chat_platform = value if value in PLATFORMS else ANY
        self._search_chats()

    @rx.event
    def pick_source(self, chat_id: int) -> None:
        self.source_id = chat_id
        self.target_ids = [c for c in self.target_ids if c != chat_id]
        self._show_picked()

    @rx.event
    def toggle_target(self, chat_id: int, chosen: bool) -> None:
        others = [c for c in self.target_ids if c != chat_id]
        self.target_ids = [*others, chat_id] if chosen and chat_id != self.source_id else others
        self._show_picked()

    @rx.event
    def save_rule(self, form: dict[str, Any]) -> None:
        rule_id = self.rule_id
        fields = rule_fields(form, self.source_id, self.target_ids)

        def action(session: Any, me: Any) -> None:
            if rule_id:
                cross_posting.update_rule(session, me, rule_id, fields)
            else:
                cross_posting.create_rule(session, me, RuleDraft.model_validate(fields))

        verb = "Saved" if rule_id else "Created"
        if self._run(action, f"{verb} {fields['name'].strip()}.", in_dialog=True):
            self._close_all()

    @rx.event
    def set_active(self, rule_id: int, active: bool) -> None:
        verb = "Active: new messages are mirrored" if active else "Paused: nothing is mirrored"
        self._run(lambda s, me: cross_posting.set_active(s, me, rule_id, active), f"{verb}.")

    @rx.event
    def open_delete_rule(self, rule_id: int) -> None:
        self._close_all()
        self.delete_rule_for = rule_id
        self.dialog_name = next((r.name for r in self.rows if r.id == rule_id), "")

    @rx.event
    def confirm_delete_rule(self) -> None:
        rule_id, name = self.delete_rule_for, self.dialog_name
        if self._run(
            lambda s, me: cross_posting.delete_rule(s, me, rule_id),
            f"Deleted {name}.",
            in_dialog=True,
        ):
            self._close_all()

    # -- templates -------------------------------------------------------------------------

    @rx.event
    def open_new_template(self) -> None:
        self._close_all()
        self.template_id, self.template_name = 0, ""
        self.formats = {name: "{{ text }}" if name == "default" else "" for name in FORMATS}
        self._preview()
        self.template_open = True

    @rx.event
    def open_edit_template(self, template_id: int) -> None:
        self._close_all()
        row = next((t for t in self.templates if t.id == template_id), None)
        if row is None:
            return
        self.template_id, self.template_name = template_id, row.name
        self.formats = {name: row.formats.get(name, "") for name in FORMATS}
        self._preview()
        self.template_open = True

    @rx.event
    def set_format(self, name: str, text: str) -> None:
        self._set_format(name, text)

    def _set_format(self, name: str, text: str) -> None:
        if name in FORMATS:
            self.formats = {**self.formats, name: text}
            self._preview()

    @rx.event
    def insert_value(self, name: str, value: str) -> None:
        """Add ``{{ value }}`` at the end of one format (the admin moves it where wanted)."""
        if name in FORMATS and value in VALUES:
            current = self.formats.get(name, "")
            spacer = "" if current == "" or current.endswith((" ", "\n")) else " "
            self._set_format(name, f"{current}{spacer}{{{{ {value} }}}}")

    def _preview(self) -> None:
        with session_scope() as session:
            self._current_user(session)
        try:
            self.previews = cross_posting.render_preview(self._filled_formats())
        except ValueError as broken:
            self.previews, self.preview_error = {}, str(broken)
        else:
            self.preview_error = ""

    def _filled_formats(self) -> dict[str, str]:
        return {name: text for name, text in self.formats.items() if text.strip()}

    @rx.event
    def save_template(self, form: dict[str, Any]) -> None:
        template_id, formats = self.template_id, self._filled_formats()
        name = str(form.get("name", ""))

        def action(session: Any, me: Any) -> None:
            if template_id:
                cross_posting.update_template(session, me, template_id, name=name, formats=formats)
            else:
                cross_posting.create_template(session, me, name, formats)

        verb = "Saved" if template_id else "Created"
        if self._run(action, f"{verb} template {name.strip()}.", in_dialog=True):
            self._close_all()

    @rx.event
    def open_delete_template(self, template_id: int) -> None:
        self._close_all()
        self.delete_template_for = template_id
        self.dialog_name = next((t.name for t in self.templates if t.id == template_id), "")

    @rx.event
    def confirm_delete_template(self) -> None:
        template_id, name = self.delete_template_for, self.dialog_name
        if self._run(
            lambda s, me: cross_posting.delete_template(s, me, template_id),
            f"Deleted template {name}.",
            in_dialog=True,
        ):
            self._close_all()


def _rule_card(view: RuleView) -> RuleCard:
    return RuleCard(
        id=view.rule_id,
        name=view.name,
        source=view.source_title,
        source_platform=view.source_platform,
        targets=[ChatChip(platform=t.platform, title=t.title) for t in view.targets],
        template=view.template_name or "As is",
        filter=filter_words(view.filter),
        mirror_edits=view.mirror_edits,
        mirror_deletes=view.mirror_deletes,
        include_media=view.include_media,
        active=view.is_active,
        last_mirrored=when(view.last_mirrored_at),
        failures=view.failures,
    )


def _flags(chosen: CrossPostFilter, rule: RuleView | None) -> dict[str, bool]:
    """The rule dialog's switches by their field names: the rule's, or a new rule's defaults."""
    return {
        **{name: bool(getattr(chosen, name)) for name in FILTER_FLAGS},
        **{
            name: bool(getattr(rule, name) if rule else RuleDraft.model_fields[name].default)
            for name in RULE_FLAGS
        },
    }


def rule_fields(form: dict[str, Any], source_id: int, target_ids: list[int]) -> dict[str, Any]:
    """The rule dialog's fields as a rule draft's (the service validates them); switches are
    present when on, the words are comma separated."""

    def on(name: str) -> bool:
        return str(form.get(name, "")).lower() in ("on", "true", "1")

    template = str(form.get("template", AS_IS))
    return {
        "name": str(form.get("name", "")),
        "source_chat_id": source_id,
        "target_chat_ids": list(target_ids),
        "template_id": int(template) if template.isdigit() else None,
        "filter": {
            "contains": str(form.get("contains", "")).split(","),
            "regex": str(form.get("regex", "")).strip() or None,
            **{name: on(name) for name in FILTER_FLAGS},
        },
        **{name: on(name) for name in RULE_FLAGS},
    }


def _route_id(state: AuthState) -> int:
    value = str(state.router.page.params.get("rule_ref", "") or "")
    return int(value) if value.isdigit() and len(value) < 10 else 0


class CrossPostRuleState(AuthState):
    """One rule's history: what was mirrored where, newest first, a page at a time."""

    name: str = ""
    summary: str = ""
    missing: bool = False
    loaded: bool = False
    rows: list[DeliveryRow] = []
    page: int = 1
    has_older: bool = False

    @rx.event
    def load(self) -> None:
        self.page = 1
        self._reload()

    def _reload(self) -> None:
        rule_id, skipped = _route_id(self), (self.page - 1) * HISTORY_SIZE
        with session_scope() as session:
            self._current_user(session)
            try:
                view = cross_posting.get_rule(session, rule_id)
            except LookupError:
                self.missing, self.loaded = True, True
                return
            found = cross_posting.history(session, rule_id, limit=HISTORY_SIZE + 1, offset=skipped)
        self.name, self.missing = view.name, False
        targets = ", ".join(t.title for t in view.targets)
        self.summary = f"From {view.source_title} to {targets}"
        self.has_older = len(found) > HISTORY_SIZE
        self.rows = [_delivery_row(d) for d in found[:HISTORY_SIZE]]
        self.loaded = True

    @rx.event
    def older_page(self) -> None:
        if self.has_older:
            self.page += 1
            self._reload()

    @rx.event
    def newer_page(self) -> None:
        if self.page > 1:
            self.page -= 1
            self._reload()


def _delivery_row(view: DeliveryView) -> DeliveryRow:
    return DeliveryRow(
        when=when(view.created_at),
        action=view.action,
        source_message=view.source_message_id,
        target=view.target_title,
        target_platform=view.target_platform,
        target_message=view.target_message_id or "",
        ok=view.ok,
        error=view.error or "",
    )
