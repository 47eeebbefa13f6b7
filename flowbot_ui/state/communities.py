"""The Communities pages' state: the list with its create dialog, and one community's
chats (with the picker of discovered chats), rules form and settings.

Every read and change goes through engine/services/communities.py as the signed-in user,
re-resolved at each call: viewers look, editors change, admins delete, whatever the page
shows. The community a handler acts on is read from the page's route each time.
"""

from __future__ import annotations

import asyncio
from typing import Any

import reflex as rx
from pydantic import BaseModel

from engine.community_rules import CommunityRules
from engine.db import session_scope
from engine.models import Platform, Role
from engine.services import auth, communities, connections
from engine.services.communities import ChatFilters, ChatView, CommunityView, InvalidRules
from engine.services.errors import Conflict
from flowbot_ui.state.auth import AuthState
from flowbot_ui.state.service_calls import Action, run_as_signed_in

REFUSALS = (auth.AuthError, ValueError, LookupError, Conflict)
PICKER_SIZE = 100
ANY = "any"
DELETE_ALL = "delete"
NO_CHAT = "none"  # a select's value cannot be empty
PLATFORMS = tuple(p.value for p in Platform)
SANCTIONS = {
    "delete": "Delete the message",
    "delete_warn": "Delete and warn",
    "delete_mute": "Delete and mute",
    "delete_ban": "Delete and ban",
}


class CommunityCard(BaseModel):
    id: int
    name: str
    description: str
    telegram: int
    discord: int
    whatsapp: int
    members: int


class ChatItem(BaseModel):
    id: int
    platform: str
    type: str
    title: str
    detail: str  # @username or the platform's id
    members: str
    bot_is_admin: bool
    connection: str
    community_id: int
    community: str
    is_channel: bool  # a Discord channel, shown under its guild


class Choice(BaseModel):
    id: str  # a select's value is a string
    name: str


class EarningItem(BaseModel):
    keywords: str
    points: str
    daily_cap: str


class PlatformText(BaseModel):
    """One platform's override of the welcome message and rules text."""

    platform: str
    enabled: bool
    welcome: str
    rules_text: str


def _card(view: CommunityView) -> CommunityCard:
    counts = view.chats_by_platform
    return CommunityCard(
        id=view.community_id,
        name=view.name,
        description=view.description,
        telegram=counts.get("telegram", 0),
        discord=counts.get("discord", 0),
        whatsapp=counts.get("whatsapp", 0),
        members=view.member_count,
    )


def _chat_item(view: ChatView) -> ChatItem:
    return ChatItem(
        id=view.chat_id,
        platform=view.platform,
        type=view.type,
        title=view.title,
        detail=f"@{view.username}" if view.username else view.platform_chat_id,
        members="" if view.member_count is None else f"{view.member_count:,}",
        bot_is_admin=view.bot_is_admin,
        connection=view.connection_name,
        community_id=view.community_id or 0,
        community=view.community_name,
        is_channel=view.guild_id is not None,
    )


def _route_id(state: AuthState) -> int:
    value = str(state.router.page.params.get("community_ref", "") or "")
    return int(value) if value.isdigit() and len(value) < 10 else 0


class CommunitiesState(AuthState):
    rows: list[CommunityCard] = []
    loaded: bool = False
    message: str = ""
    dialog_error: str = ""
    create_open: bool = False

    @rx.event
    def load(self) -> None:
        self.message = self.error = self.dialog_error = ""
        self.create_open = False
        self._reload()

    def _reload(self) -> None:
        with session_scope() as session:
            self._current_user(session)
            self.rows = [_card(v) for v in communities.list_communities(session)]
        self.loaded = True

    @rx.event
    def on_dialog_change(self, open_: bool) -> None:
        if not open_:
            self.create_open, self.dialog_error = False, ""

    @rx.event
    def open_create(self) -> None:
        self.create_open, self.dialog_error = True, ""

    @rx.event
    def create(self, form: dict[str, Any]):  # type: ignore[no-untyped-def]
        made: list[int] = []

        def action(session: Any, me: Any) -> None:
            name, description = str(form.get("name", "")), str(form.get("description", ""))
            made.append(communities.create_community(session, me, name, description).id or 0)

        if run_as_signed_in(self, action, REFUSALS, in_dialog=True):
            self.create_open = False
            return rx.redirect(f"/communities/{made[0]}")
        return None


class CommunityState(AuthState):
    community_id: int = 0
    missing: bool = False
    loaded: bool = False
    message: str = ""
    dialog_error: str = ""
    tab: str = "chats"

    name: str = ""
    description: str = ""
    member_count: int = 0
    chats: list[ChatItem] = []

    picker_open: bool = False
    picker_rows: list[ChatItem] = []
    picker_search: str = ""
    picker_platform: str = ANY
    picker_selected: list[int] = []
    refresh_connection: str = ""
    connections: list[Choice] = []

    rules_version: int = 0  # a new key for the form's fields when the saved rules change
    form_values: dict[str, str] = {}  # each setting's saved value as its field's text
    form_flags: dict[str, bool] = {}  # each switch's saved state
    _overrides: dict[str, Any] = {}
    earning: list[EarningItem] = []
    platform_texts: list[PlatformText] = []
    log_chats: list[Choice] = []
    rule_errors: dict[str, str] = {}

    delete_open: bool = False
    move_choices: list[Choice] = []
    move_to: str = DELETE_ALL

    # -- loading ---------------------------------------------------------------------------

    @rx.event
    def load(self) -> None:
        self.community_id = _route_id(self)
        self.message = self.error = self.dialog_error = ""
        self.tab = str(self.router.page.params.get("tab", "") or "chats")
        self.picker_open = self.delete_open = False
        self.rule_errors = {}
        self._reload()

    def _reload(self) -> None:
        community_id = _route_id(self)
        with session_scope() as session:
            self._current_user(session)
            try:
                view = communities.get_community(session, community_id)
            except communities.CommunityNotFound:
                self.missing, self.loaded = True, True
                return
            self.missing = False
            self.name, self.description = view.name, view.description
            self.member_count = view.member_count
            self.chats = [_chat_item(c) for c in communities.community_chats(session, community_id)]
            self._load_rules(communities.get_rules(session, community_id))
            others = communities.list_communities(session)
            self.move_choices = [
                Choice(id=str(c.community_id), name=c.name)
                for c in others
                if c.community_id != community_id
            ]
            page = communities.chat_page(session, ChatFilters(), PICKER_SIZE)
            self.log_chats = [Choice(id=str(c.chat_id), name=_chat_label(c)) for c in page]
            self.connections = [
                Choice(id=str(c.connection_id), name=f"{c.name} ({c.kind_label})")
                for c in connections.list_connections(session)
            ]
        self.loaded = True

    def _load_rules(self, rules: CommunityRules) -> None:
        self.form_values, self.form_flags = form_fields(rules)
        self._overrides = rules.model_dump(mode="json")["overrides"]
        self.earning = [
            EarningItem(
                keywords=", ".join(rule.keywords),
                points=str(rule.points),
                daily_cap="" if rule.daily_cap is None else str(rule.daily_cap),
            )
            for rule in rules.reputation.earning
        ]
        self.platform_texts = [
            PlatformText(
                platform=platform,
                enabled=bool(rules.overrides.get(Platform(platform))),
                welcome=rules.for_platform(platform).welcome.message,
                rules_text=rules.for_platform(platform).rules_text,
            )
            for platform in PLATFORMS
        ]
        self.rules_version += 1

    def _run(self, action: Action, success: str = "", *, in_dialog: bool = False) -> bool:
        return run_as_signed_in(self, action, REFUSALS, success, in_dialog=in_dialog)

    @rx.event
    def on_dialog_change(self, open_: bool) -> None:
        if not open_:
            self.picker_open = self.delete_open = False
            self.dialog_error = ""

    @rx.event
    def pick_tab(self, tab: str) -> None:
        self.tab = tab if tab in ("chats", "rules", "settings") else "chats"

    # -- chats -----------------------------------------------------------------------------

    @rx.event
    def open_picker(self) -> None:
        self.picker_open, self.dialog_error, self.picker_selected = True, "", []
        self._search_picker()

    def _search_picker(self) -> None:
        filters = ChatFilters(
            platform=self.picker_platform if self.picker_platform in PLATFORMS else None,
            search=self.picker_search[: communities.MAX_SEARCH] or None,
        )
        with session_scope() as session:
            self._current_user(session)
            page = communities.chat_page(session, filters, PICKER_SIZE)
        self.picker_rows = [_chat_item(c) for c in page]

    @rx.event
    def search_picker(self, form: dict[str, Any]) -> None:
        self.picker_search = str(form.get("search", ""))[: communities.MAX_SEARCH]
        self._search_picker()

    @rx.event
    def pick_platform(self, value: str) -> None:
        self.picker_platform = value if value in PLATFORMS else ANY
        self._search_picker()

    @rx.event
    def toggle_chat(self, chat_id: int, chosen: bool) -> None:
        picked = [c for c in self.picker_selected if c != chat_id]
        self.picker_selected = [*picked, chat_id] if chosen else picked

    @rx.event
    def pick_connection(self, value: str) -> None:
        self.refresh_connection = value

    @rx.event
    async def refresh_chats(self) -> None:
        """Ask the chosen connection for every chat it is in, then show the picker again."""
        connection_id = int(self.refresh_connection) if self.refresh_connection.isdigit() else 0
        try:
            with session_scope() as session:
                me = self._current_user(session, Role.editor)
                target = communities.authorize_refresh(session, me, connection_id)
        except REFUSALS as refused:
            self.dialog_error = str(refused)
            return
        done = await communities.refresh_chats(target)
        if done.error:
            self.dialog_error = f"The connection could not list its chats: {done.error}"
        else:
            self.dialog_error = ""
            self.message = f"The connection is in {done.seen} chats; the list is up to date."
        await asyncio.to_thread(self._search_picker)

    @rx.event
    async def attach(self) -> None:
        community_id, chosen = _route_id(self), list(self.picker_selected)
        attached: list[int] = []

        def action(session: Any, me: Any) -> None:
            attached.extend(communities.attach_chats(session, me, community_id, chosen))

        if not self._run(action, in_dialog=True):
            return
        self.picker_open, self.picker_selected = False, []
        filled = await communities.backfill_members(community_id, attached)
        recorded = sum(b.recorded for b in filled)
        refusals = [f"{b.title}: {b.error}" for b in filled if b.error]
        self.message = f"Attached {len(attached)} chats; {recorded} members recorded from them."
        if refusals:
            self.message += " Could not list members of " + "; ".join(refusals) + "."
        await asyncio.to_thread(self._reload)

    @rx.event
    def detach(self, chat_id: int) -> None:
        community_id = _route_id(self)
        self._run(
            lambda s, me: communities.detach_chat(s, me, community_id, chat_id),
            "Detached. Its members stay recorded; new events there no longer count here.",
        )

    # -- rules -----------------------------------------------------------------------------

    @rx.event
    def add_earning_rule(self) -> None:
        self.earning = [*self.earning, EarningItem(keywords="", points="1", daily_cap="5")]

    @rx.event
    def remove_earning_rule(self, index: int) -> None:
        self.earning = [rule for i, rule in enumerate(self.earning) if i != index]

    @rx.event
    def toggle_platform_text(self, platform: str, enabled: bool) -> None:
        self.platform_texts = [
            item.model_copy(update={"enabled": enabled}) if item.platform == platform else item
            for item in self.platform_texts
        ]

    @rx.event
    def save_rules(self, form: dict[str, Any]) -> None:
        community_id = _route_id(self)
        document = rules_document(form, len(self.earning), self._overrides)
        try:
            with session_scope() as session:
                me = self._current_user(session, Role.editor)
                saved = communities.save_rules(session, me, community_id, document)
        except InvalidRules as refused:
            self.rule_errors = refused.errors
            self.error, self.message = "Some settings need fixing: see the marked fields.", ""
            return
        except REFUSALS as refused:
            self.error, self.message = str(refused), ""
            return
        self.rule_errors, self.error = {}, ""
        self.message = "Rules saved: they apply to the next message or join."
        self._load_rules(saved)

    # -- settings --------------------------------------------------------------------------

    @rx.event
    def save_settings(self, form: dict[str, Any]) -> None:
        community_id = _route_id(self)
        name, description = str(form.get("name", "")), str(form.get("description", ""))
        self._run(
            lambda s, me: communities.update_community(
                s, me, community_id, name=name, description=description
            ),
            "Saved.",
        )

    @rx.event
    def open_delete(self) -> None:
        self.delete_open, self.dialog_error, self.move_to = True, "", DELETE_ALL

    @rx.event
    def pick_move_to(self, value: str) -> None:
        self.move_to = value

    @rx.event
    def confirm_delete(self, form: dict[str, Any]):  # type: ignore[no-untyped-def]
        community_id = _route_id(self)
        typed = str(form.get("confirm", ""))
        move_to = int(self.move_to) if self.move_to.isdigit() else None
        if run_as_signed_in(
            self,
            lambda s, me: communities.delete_community(
                s, me, community_id, move_to=move_to, confirm_name=typed
            ),
            REFUSALS,
            in_dialog=True,
        ):
            return rx.redirect("/communities")
        return None


def form_fields(rules: CommunityRules) -> tuple[dict[str, str], dict[str, bool]]:
    """The rules form's starting texts and switches, by the fields' dotted names."""
    values: dict[str, str] = {}
    flags: dict[str, bool] = {}
    for key, value in rules.model_dump(mode="json", exclude={"overrides"}).items():
        for name, item in value.items() if isinstance(value, dict) else [("", value)]:
            dotted = f"{key}.{name}" if name else key
            if isinstance(item, bool):
                flags[dotted] = item
            elif isinstance(item, str | int) or item is None:
                values[dotted] = "" if item is None else str(item)
    values["antilink.allowed_domains"] = "\n".join(rules.antilink.allowed_domains)
    values["banned_words.words"] = "\n".join(w.pattern for w in rules.banned_words.words)
    flags["banned_words.regex"] = any(w.regex for w in rules.banned_words.words)
    values["log_chat_id"] = str(rules.log_chat_id) if rules.log_chat_id else NO_CHAT
    return values, flags


def _chat_label(view: ChatView) -> str:
    return f"{view.title} ({view.platform}, {view.type})"


def _optional(value: Any) -> Any:
    """An empty number field means "off" (None); anything else goes to validation as typed."""
    text = str(value if value is not None else "").strip()
    return None if text == "" else text


def _lines(value: Any) -> list[str]:
    return [
        part.strip() for part in str(value or "").replace(",", "\n").splitlines() if part.strip()
    ]


def _platform_texts(form: dict[str, Any], platform: str) -> dict[str, Any]:
    """A platform's own welcome message and rules text, where they differ from the rest."""
    texts: dict[str, Any] = {}
    welcome = str(form.get(f"overrides.{platform}.welcome", ""))
    if welcome != str(form.get("welcome.message", "")):
        texts["welcome"] = {"message": welcome}
    rules_text = str(form.get(f"overrides.{platform}.rules_text", ""))
    if rules_text != str(form.get("rules_text", "")):
        texts["rules_text"] = rules_text
    return texts


def rules_document(
    form: dict[str, Any], earning_rows: int, overrides: dict[str, Any]
) -> dict[str, Any]:
    """The rules form's fields as a rules document (the service validates it): switches are
    present when on, empty numbers are "off", lists are one item a line."""

    def on(name: str) -> bool:
        return str(form.get(name, "")).lower() in ("on", "true", "1")

    regex = on("banned_words.regex")
    earning = [
        {
            "keywords": _lines(form.get(f"earning.{i}.keywords")),
            "points": _optional(form.get(f"earning.{i}.points")),
            "daily_cap": _optional(form.get(f"earning.{i}.daily_cap")),
        }
        for i in range(earning_rows)
    ]
    texts = {
        platform: _platform_texts(form, platform)
        for platform in PLATFORMS
        if on(f"overrides.{platform}.enabled")
    }
    kept = {
        platform: {k: v for k, v in (changes or {}).items() if k not in ("welcome", "rules_text")}
        for platform, changes in overrides.items()
    }
    merged = {
        platform: {**kept.get(platform, {}), **texts.get(platform, {})}
        for platform in {*kept, *texts}
    }
    return {
        "language": str(form.get("language", "en")),
        "rules_text": str(form.get("rules_text", "")),
        "welcome": {
            "enabled": on("welcome.enabled"),
            "message": str(form.get("welcome.message", "")),
            "delete_after_seconds": _optional(form.get("welcome.delete_after_seconds")),
        },
        "warnings": {
            "mute_at": _optional(form.get("warnings.mute_at")),
            "mute_minutes": _optional(form.get("warnings.mute_minutes")),
            "ban_at": _optional(form.get("warnings.ban_at")),
            "expire_days": _optional(form.get("warnings.expire_days")),
        },
        "antiflood": {
            "enabled": on("antiflood.enabled"),
            "messages": _optional(form.get("antiflood.messages")),
            "seconds": _optional(form.get("antiflood.seconds")),
            "action": str(form.get("antiflood.action", "delete_warn")),
            "mute_minutes": _optional(form.get("antiflood.mute_minutes")),
        },
        "antilink": {
            "enabled": on("antilink.enabled"),
            "allowed_domains": _lines(form.get("antilink.allowed_domains")),
            "block_invites": on("antilink.block_invites"),
            "action": str(form.get("antilink.action", "delete_warn")),
        },
        "banned_words": {
            "enabled": on("banned_words.enabled"),
            "words": [
                {"pattern": word, "regex": regex}
                for word in str(form.get("banned_words.words", "")).splitlines()
                if word.strip()
            ],
            "action": str(form.get("banned_words.action", "delete_warn")),
        },
        "hold": {
            "enabled": on("hold.enabled"),
            "minutes": _optional(form.get("hold.minutes")),
            "message": str(form.get("hold.message", "")),
            "button_text": str(form.get("hold.button_text", "")),
        },
        "reputation": {"enabled": on("reputation.enabled"), "earning": earning},
        "log_chat_id": None
        if form.get("log_chat_id") == NO_CHAT
        else _optional(form.get("log_chat_id")),
        "overrides": {platform: changes for platform, changes in merged.items() if changes},
    }
