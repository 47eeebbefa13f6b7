"""The Broadcast pages' state: the history, the composer, and one broadcast's report.

Every read and change goes through engine/services/broadcasts.py as the signed-in user,
re-resolved at each call: viewers look, editors compose and send, whatever the page shows.
The composer keeps what the admin typed in the page's state, so a refusal from the service
(no text, no chats, a text too long for Discord...) is shown beside the form and nothing is
lost. The report follows the delivery job's progress on the event bus (``broadcast.<id>``):
each event only says "look again"; the figures are read from the database.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import reflex as rx
from pydantic import BaseModel, ValidationError
from sqlmodel import Session

from engine.broadcast_delivery import TOPIC
from engine.db import session_scope
from engine.models import AdminUser, BroadcastStatus, Platform, Role, TargetStatus
from engine.services import auth, broadcasts, communities
from engine.services.broadcasts import BroadcastDraft, BroadcastView
from engine.services.communities import ChatFilters, ChatView
from engine.services.errors import Conflict
from flowbot_ui.components.message_preview import display_html
from flowbot_ui.state.auth import AuthState
from flowbot_ui.state.bus_follow import follow

REFUSALS = (auth.AuthError, ValueError, LookupError, Conflict)
ALL = "all"
PAGE_SIZE = 50
PICKER_SIZE = 50
TARGETS_SHOWN = 200
PLATFORMS = tuple(p.value for p in Platform)
PLATFORM_NAMES = {"telegram": "Telegram", "discord": "Discord", "whatsapp": "WhatsApp"}
STATUSES = tuple(s.value for s in BroadcastStatus)
TARGET_STATUSES = tuple(s.value for s in TargetStatus)
UNFINISHED = (BroadcastStatus.sending.value, BroadcastStatus.scheduled.value)
ASK_TIME_ZONE = "Intl.DateTimeFormat().resolvedOptions().timeZone"


class Option(BaseModel):
    id: str  # a checkbox's or select's value is a string
    name: str


class ButtonItem(BaseModel):
    """One link button under the message; buttons with the same row sit side by side."""

    row: int
    text: str
    url: str


class ChatOption(BaseModel):
    id: int
    platform: str
    title: str
    detail: str  # the community it is in, or its connection


class BroadcastRow(BaseModel):
    id: int
    title: str
    status: str
    targets: int
    sent: int
    failed: int
    duration: str
    created: str
    finished: str
    by: str


class TargetRow(BaseModel):
    id: int
    title: str
    platform: str
    status: str
    error: str
    sent: str


# --------------------------------------------------------------------------- small helpers


def zone_of(name: str) -> ZoneInfo:
    """The viewer's time zone by its IANA name; UTC when the browser sent nothing usable."""
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(value: datetime | None, zone: ZoneInfo) -> str:
    """A stored (UTC) time as the viewer reads it."""
    if value is None:
        return ""
    aware = value if value.tzinfo else value.replace(tzinfo=ZoneInfo("UTC"))
    return aware.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def duration(started: datetime | None, finished: datetime | None) -> str:
    """How long delivery took ("" before it started; so far, while it runs)."""
    if started is None or finished is None:
        return ""
    seconds = max(0, int((finished - started).total_seconds()))
    if not seconds:
        return "under a second"
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def chats_summary(platforms: list[str]) -> str:
    """ "5 chats: 3 Telegram, 2 Discord" for the targets' platforms."""
    if not platforms:
        return "No chats chosen yet"
    counts = Counter(platforms)
    parts = ", ".join(f"{counts[p]} {name}" for p, name in PLATFORM_NAMES.items() if counts[p])
    noun = "chat" if len(platforms) == 1 else "chats"
    return f"{len(platforms)} {noun}: {parts}"


def first_line(text: str) -> str:
    """What names an untitled broadcast in the history."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")[:120]


def route_id(state: AuthState) -> int:
    value = str(state.router.page.params.get("broadcast_ref", "") or "")
    return int(value) if value.isdigit() and len(value) < 10 else 0


class ViewerTime(rx.State, mixin=True):
    """The viewer's time zone, asked from the browser: times are shown and typed in it."""

    time_zone: str = ""

    @rx.event
    def set_time_zone(self, name: str) -> None:
        self.time_zone = str(zone_of(str(name)[:64]))
        self._reload()

    def _zone(self) -> ZoneInfo:
        return zone_of(self.time_zone)

    def _reload(self) -> None:
        raise NotImplementedError  # each page's state reloads its own rows


# --------------------------------------------------------------------------- the history


class BroadcastsState(ViewerTime, AuthState):
    rows: list[BroadcastRow] = []
    status: str = ALL
    loaded: bool = False
    has_more: bool = False
    message: str = ""
    _shown: int = PAGE_SIZE

    @rx.event
    def load(self):  # type: ignore[no-untyped-def]
        self.error = self.message = ""
        self.status, self._shown = ALL, PAGE_SIZE
        self._reload()
        return rx.call_script(ASK_TIME_ZONE, callback=BroadcastsState.set_time_zone)

    def _reload(self) -> None:
        status = self.status if self.status in STATUSES else None
        zone = self._zone()
        with session_scope() as session:
            self._current_user(session)
            page = broadcasts.list_broadcasts(session, status=status, limit=self._shown + 1)
        self.has_more = len(page) > self._shown
        self.rows = [_history_row(view, zone) for view in page[: self._shown]]
        self.loaded = True

    @rx.event
    def pick_status(self, value: str) -> None:
        self.status = value if value in STATUSES else ALL
        self._shown = PAGE_SIZE
        self._reload()

    @rx.event
    def show_more(self) -> None:
        self._shown += PAGE_SIZE
        self._reload()


def _history_row(view: BroadcastView, zone: ZoneInfo) -> BroadcastRow:
    progress = view.progress
    return BroadcastRow(
        id=view.id,
        title=view.title or first_line(view.text),
        status=str(view.status),
        targets=progress.total,
        sent=progress.sent,
        failed=progress.failed,
        duration=duration(view.started_at, view.finished_at),
        created=local_time(view.created_at, zone),
        finished=local_time(view.finished_at, zone),
        by=view.created_by_name or "",
    )


# --------------------------------------------------------------------------- the composer


def _chat_option(view: ChatView) -> ChatOption:
    return ChatOption(
        id=view.chat_id,
        platform=view.platform,
        title=view.title,
        detail=view.community_name or view.connection_name,
    )


class ComposerState(ViewerTime, AuthState):
    """A new broadcast (/broadcast/new) or a draft being edited (/broadcast/<id>/edit)."""

    loaded: bool = False
    missing: bool = False
    message: str = ""
    dialog_error: str = ""
    _draft_id: int = 0  # which draft Save updates: the route's, or the one first saved here

    title: str = ""
    text: str = ""
    media_url: str = ""
    buttons: list[ButtonItem] = []
    overrides: dict[str, str] = {}
    overrides_open: bool = False

    community_options: list[Option] = []
    chosen_communities: list[str] = []
    chosen_platforms: list[str] = []
    chat_search: str = ""
    chat_results: list[ChatOption] = []
    chosen_chats: list[ChatOption] = []
    target_summary: str = ""
    target_problem: str = ""

    previews: dict[str, str] = {}  # platform -> safe HTML of how it will look
    preview_tab: str = "telegram"

    schedule_open: bool = False
    delete_open: bool = False

    @rx.var
    def draft_id(self) -> int:
        return self._draft_id

    @rx.var
    def chosen_chat_ids(self) -> list[int]:
        return [c.id for c in self.chosen_chats]

    # -- loading ---------------------------------------------------------------------------

    @rx.event
    def load(self):  # type: ignore[no-untyped-def]
        self.error = self.message = self.dialog_error = ""
        self.schedule_open = self.overrides_open = self.delete_open = False
        self.chat_search, self.preview_tab = "", "telegram"
        self._open(route_id(self))
        return rx.call_script(ASK_TIME_ZONE, callback=ComposerState.set_time_zone)

    def _open(self, broadcast_id: int) -> None:
        with session_scope() as session:
            self._current_user(session)
            self.community_options = [
                Option(id=str(c.community_id), name=c.name)
                for c in communities.list_communities(session)
            ]
            self.missing = False
            if broadcast_id:
                try:
                    view = broadcasts.get(session, broadcast_id)
                except LookupError:
                    self.missing, self.loaded = True, True
                    return
                self._fill(view, session)
            else:
                self._fill(None, session)
            self.chat_results = self._search(session)
        self._refresh()
        self.loaded = True

    def _fill(self, view: BroadcastView | None, session: Session) -> None:
        self._draft_id = view.id if view else 0
        self.title = view.title if view else ""
        self.text = view.text if view else ""
        self.media_url = (view.media_url or "") if view else ""
        self.overrides = dict(view.overrides) if view else {}
        self.buttons = [
            ButtonItem(row=r, text=str(b.get("text", "")), url=str(b.get("url", "")))
            for r, row in enumerate(view.buttons if view else [])
            for b in row
        ]
        self.chosen_communities = [str(c) for c in (view.community_ids if view else [])]
        self.chosen_platforms = list(view.platforms) if view else []
        chosen: list[ChatOption] = []
        for chat_id in view.chat_ids if view else []:
            try:
                chosen.append(_chat_option(communities.get_chat(session, chat_id)))
            except LookupError:
                continue  # a chat deleted since: the service refuses it on send anyway
        self.chosen_chats = chosen

    def _reload(self) -> None:
        self._refresh()

    # -- the draft as the service reads it -------------------------------------------------

    def _draft(self) -> BroadcastDraft:
        rows: dict[int, list[dict[str, str]]] = {}
        for button in self.buttons:
            rows.setdefault(button.row, []).append({"text": button.text, "url": button.url})
        return BroadcastDraft(
            title=self.title,
            text=self.text,
            overrides={p: t for p, t in self.overrides.items() if p in PLATFORMS and t.strip()},
            media_url=self.media_url.strip() or None,
            buttons=[rows[r] for r in sorted(rows)],
            community_ids=[int(c) for c in self.chosen_communities if c.isdigit()],
            chat_ids=[c.id for c in self.chosen_chats],
            platforms=[p for p in self.chosen_platforms if p in PLATFORMS],
        )

    def _refresh(self) -> None:
        """The preview and the chats it goes to, as the service sees the draft now."""
        try:
            draft = self._draft()
        except ValidationError as invalid:
            self.target_problem = _first_problem(invalid)
            return
        self.previews = {
            platform: display_html(platform, text)
            for platform, text in broadcasts.preview(draft).items()
        }
        with session_scope() as session:
            try:
                found = broadcasts.resolve_targets(session, draft)
            except REFUSALS as refused:
                self.target_summary, self.target_problem = chats_summary([]), str(refused)
                return
        self.target_summary = chats_summary([str(t.platform) for t in found])
        self.target_problem = ""

    # -- what the admin types --------------------------------------------------------------

    @rx.event
    def set_title(self, value: str) -> None:
        self.title = str(value)[:256]

    @rx.event
    def set_text(self, value: str) -> None:
        self.text = str(value)
        self._refresh()

    @rx.event
    def set_media_url(self, value: str) -> None:
        self.media_url = str(value)
        self._refresh()

    @rx.event
    def set_override(self, platform: str, value: str) -> None:
        if platform in PLATFORMS:
            self.overrides = {**self.overrides, platform: str(value)}
            self._refresh()

    @rx.event
    def toggle_overrides(self) -> None:
        self.overrides_open = not self.overrides_open

    @rx.event
    def add_button(self) -> None:
        row = max((b.row for b in self.buttons), default=-1) + 1
        self.buttons = [*self.buttons, ButtonItem(row=row, text="", url="https://")]

    @rx.event
    def remove_button(self, index: int) -> None:
        self.buttons = [b for i, b in enumerate(self.buttons) if i != index]
        self._refresh()

    @rx.event
    def set_button(self, index: int, part: str, value: str) -> None:
        if part not in ("text", "url"):
            return
        self.buttons = [
            b.model_copy(update={part: str(value)}) if i == index else b
            for i, b in enumerate(self.buttons)
        ]
        self._refresh()

    @rx.event
    def pick_preview(self, platform: str) -> None:
        self.preview_tab = platform if platform in PLATFORMS else "telegram"

    # -- where it goes ---------------------------------------------------------------------

    @rx.event
    def toggle_community(self, community_id: str, chosen: bool) -> None:
        others = [c for c in self.chosen_communities if c != community_id]
        self.chosen_communities = [*others, community_id] if chosen else others
        self._refresh()

    @rx.event
    def toggle_platform(self, platform: str, chosen: bool) -> None:
        others = [p for p in self.chosen_platforms if p != platform]
        self.chosen_platforms = [*others, platform] if chosen and platform in PLATFORMS else others
        self._refresh()

    @rx.event
    def search_chats(self, value: str) -> None:
        self.chat_search = str(value)[: communities.MAX_SEARCH]
        with session_scope() as session:
            self._current_user(session)
            self.chat_results = self._search(session)

    def _search(self, session: Session) -> list[ChatOption]:
        filters = ChatFilters(search=self.chat_search or None)
        return [_chat_option(c) for c in communities.chat_page(session, filters, PICKER_SIZE)]

    @rx.event
    def toggle_chat(self, chat_id: int, chosen: bool) -> None:
        others = [c for c in self.chosen_chats if c.id != chat_id]
        picked = [c for c in self.chat_results if c.id == chat_id]
        self.chosen_chats = [*others, *picked] if chosen else others
        self._refresh()

    # -- saving and sending ----------------------------------------------------------------

    def _save(self, session: Session, me: AdminUser) -> int:
        draft = self._draft()
        if self._draft_id:
            return broadcasts.update_draft(session, me, self._draft_id, draft).id
        return broadcasts.create_draft(session, me, draft).id

    def _refused(self, refused: Exception, *, in_dialog: bool = False) -> None:
        text = _first_problem(refused) if isinstance(refused, ValidationError) else str(refused)
        if in_dialog:
            self.dialog_error = text
        else:
            self.error, self.message = text, ""

    @rx.event
    def save_draft(self) -> None:
        try:
            with session_scope() as session:
                saved = self._save(session, self._current_user(session, Role.editor))
        except (*REFUSALS, ValidationError) as refused:
            self._refused(refused)
            return
        self._draft_id = saved
        self.error, self.message = "", "Draft saved. It is listed on the Broadcast page."

    @rx.event
    def send_now(self):  # type: ignore[no-untyped-def]
        return self._send(None)

    @rx.event
    def open_schedule(self) -> None:
        self.schedule_open, self.dialog_error = True, ""

    @rx.event
    def open_delete(self) -> None:
        self.delete_open, self.dialog_error = True, ""

    @rx.event
    def on_dialog_change(self, open_: bool) -> None:
        if not open_:
            self.schedule_open = self.delete_open = False
            self.dialog_error = ""

    @rx.event
    def delete(self):  # type: ignore[no-untyped-def]
        try:
            with session_scope() as session:
                me = self._current_user(session, Role.editor)
                broadcasts.delete_draft(session, me, self._draft_id)
        except REFUSALS as refused:
            self.dialog_error = str(refused)
            return None
        self.delete_open = False
        return rx.redirect("/broadcast")

    @rx.event
    def schedule(self, form: dict[str, Any]):  # type: ignore[no-untyped-def]
        typed = str(form.get("at", "")).strip()
        try:
            at = datetime.fromisoformat(typed).replace(tzinfo=self._zone())
        except ValueError:
            self.dialog_error = "Pick the day and time it should go out."
            return None
        return self._send(at)

    def _send(self, at: datetime | None):  # type: ignore[no-untyped-def]
        try:
            with session_scope() as session:  # saved and sent together, or neither
                me = self._current_user(session, Role.editor)
                saved = self._save(session, me)
                broadcasts.send(session, me, saved, at=at)
        except (*REFUSALS, ValidationError) as refused:
            self._refused(refused, in_dialog=at is not None)
            return None
        self._draft_id, self.schedule_open = saved, False
        return rx.redirect(f"/broadcast/{saved}")


def _first_problem(error: Exception) -> str:
    if isinstance(error, ValidationError):
        problem = error.errors()[0]
        where = ".".join(str(p) for p in problem.get("loc", ()))
        return f"{where}: {problem.get('msg', 'not valid')}" if where else str(problem["msg"])
    return str(error)


# --------------------------------------------------------------------------- the report


class ReportState(ViewerTime, AuthState):
    """One broadcast (/broadcast/<id>): progress while it goes out, then each chat's result."""

    broadcast_id: int = 0
    loaded: bool = False
    missing: bool = False
    message: str = ""

    title: str = ""
    status: str = ""
    total: int = 0
    sent: int = 0
    failed: int = 0
    pending: int = 0
    cancelled: int = 0
    took: str = ""
    created: str = ""
    scheduled: str = ""
    started: str = ""
    finished: str = ""
    by: str = ""

    targets: list[TargetRow] = []
    target_status: str = ALL
    _watching: int = 0

    @rx.var
    def percent(self) -> int:
        done = self.sent + self.failed + self.cancelled
        return round(100 * done / self.total) if self.total else 0

    @rx.var
    def unfinished(self) -> bool:
        return self.status in UNFINISHED

    @rx.event
    def load(self):  # type: ignore[no-untyped-def]
        self.broadcast_id = route_id(self)
        self.error = self.message = ""
        self.target_status = ALL
        self._reload()
        return [
            rx.call_script(ASK_TIME_ZONE, callback=ReportState.set_time_zone),
            ReportState.watch,
        ]

    def _reload(self) -> None:
        broadcast_id, zone = route_id(self), self._zone()
        status = self.target_status if self.target_status in TARGET_STATUSES else None
        with session_scope() as session:
            self._current_user(session)
            try:
                view = broadcasts.get(session, broadcast_id)
            except LookupError:
                self.missing, self.loaded = True, True
                return
            rows = broadcasts.targets(session, broadcast_id, status=status, limit=TARGETS_SHOWN)
        self.missing = False
        progress = view.progress
        self.title, self.status, self.by = view.title, str(view.status), view.created_by_name
        self.total, self.sent, self.failed = progress.total, progress.sent, progress.failed
        self.pending, self.cancelled = progress.pending, progress.cancelled
        self.took = duration(view.started_at, view.finished_at)
        self.created = local_time(view.created_at, zone)
        self.scheduled = local_time(view.scheduled_at, zone)
        self.started = local_time(view.started_at, zone)
        self.finished = local_time(view.finished_at, zone)
        self.targets = [
            TargetRow(
                id=t.id,
                title=t.title,
                platform=str(t.platform),
                status=str(t.status),
                error=t.error or "",
                sent=local_time(t.sent_at, zone),
            )
            for t in rows
        ]
        self.loaded = True

    @rx.event(background=True)
    async def watch(self) -> None:
        """Follow the delivery job while this report is open (it publishes its progress on
        ``broadcast.<id>``); the figures are read again at each event."""
        async with self:
            topic = TOPIC.format(id=route_id(self))
        await follow(self, topic, lambda _: self._reload(), on_start=self._reload)

    @rx.event
    def pick_target_status(self, value: str) -> None:
        self.target_status = value if value in TARGET_STATUSES else ALL
        self._reload()

    def _act(self, success: str, change: Any) -> None:
        broadcast_id = route_id(self)
        try:
            with session_scope() as session:
                change(session, self._current_user(session, Role.editor), broadcast_id)
        except REFUSALS as refused:
            self.error, self.message = str(refused), ""
            return
        self.error, self.message = "", success
        self._reload()

    @rx.event
    def cancel(self) -> None:
        self._act("Cancelled: the chats it had not reached yet will not get it.", broadcasts.cancel)

    @rx.event
    def retry_failed(self) -> None:
        self._act("Sending again to the chats where it failed.", broadcasts.retry_failed)
