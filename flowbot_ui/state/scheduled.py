"""The Scheduled page's state: the agenda by day in the viewer's time zone, the create/edit
dialog with its live cron preview, pause/resume/cancel, and one message's delivery history.

Every read and change goes through engine/services/scheduled_messages.py as the signed-in
user, re-resolved at each call: viewers look, editors change. The viewer's time zone is
asked from the browser (UTC until it answers); the worker publishes ``scheduled.<id>`` after
each delivery, and the open page reloads on it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import reflex as rx
from pydantic import BaseModel

from engine.db import session_scope
from engine.message_format import render
from engine.models import ScheduledStatus
from engine.scheduled_messages import TOPIC
from engine.services import auth, communities, scheduled_messages
from engine.services.communities import GUILD, ChatFilters
from engine.services.errors import Conflict
from engine.services.scheduled_messages import InvalidSchedule, ScheduledView
from flowbot_ui.state.auth import AuthState
from flowbot_ui.state.broadcasts import ASK_TIME_ZONE, ViewerTime, zone_of
from flowbot_ui.state.bus_follow import follow
from flowbot_ui.state.service_calls import run_as_signed_in

REFUSALS = (auth.AuthError, ValueError, LookupError, Conflict)
UPCOMING = "upcoming"
VIEWS = (UPCOMING, "sent", "failed", "cancelled")
ONCE, REPEAT = "once", "repeat"
PICKER_SIZE = 500
PREVIEW_CHARS = 140


class AgendaItem(BaseModel):
    id: int
    title: str
    preview: str
    media: bool
    status: str
    time: str  # the next time in the viewer's zone (with the date, once finished)
    repeats: str  # "Repeats: every…" or "Once"
    chat: str
    platform: str
    community: str
    last_error: str
    flow_id: int
    flow_name: str


class DayGroup(BaseModel):
    label: str  # Today, Tomorrow, or the date
    messages: list[AgendaItem]


class ChatChoice(BaseModel):
    id: str  # a select's value is a string
    name: str


class DeliveryItem(BaseModel):
    due: str
    ok: bool
    detail: str  # the platform's error, or its message id


def _day_label(moment: datetime, today: datetime) -> str:
    days = (moment.date() - today.date()).days
    return {0: "Today", 1: "Tomorrow"}.get(days, f"{moment:%a %d %b %Y}")


def _item(view: ScheduledView, zone: ZoneInfo, with_date: bool) -> AgendaItem:
    local = view.next_at.astimezone(zone)
    text = " ".join(render(view.text, "plain").split())  # what a reader sees
    return AgendaItem(
        id=view.scheduled_id,
        title=view.title,
        preview=text if len(text) <= PREVIEW_CHARS else f"{text[:PREVIEW_CHARS]}…",
        media=view.media_url is not None,
        status=view.status,
        time=f"{local:%a %d %b %Y %H:%M}" if with_date else f"{local:%H:%M}",
        repeats=f"Repeats: {view.repeats} ({view.timezone})" if view.repeats else "Once",
        chat=view.chat_title,
        platform=view.platform,
        community=view.community_name,
        last_error=view.last_error or "",
        flow_id=view.flow_id or 0,
        flow_name=view.flow_name,
    )


def agenda_days(views: list[ScheduledView], zone: ZoneInfo, now: datetime) -> list[DayGroup]:
    """Upcoming messages under their day's heading, in the viewer's zone; a time that has
    passed (a paused or resumed one-off) is under Today, for the next sweep."""
    today = now.astimezone(zone)
    groups: dict[str, list[AgendaItem]] = {}
    for view in views:
        label = _day_label(max(view.next_at.astimezone(zone), today), today)
        groups.setdefault(label, []).append(_item(view, zone, with_date=False))
    return [DayGroup(label=label, messages=items) for label, items in groups.items()]


class ScheduledState(ViewerTime, AuthState):
    days: list[DayGroup] = []
    loaded: bool = False
    message: str = ""
    dialog_error: str = ""
    view: str = UPCOMING
    _watching: int = 0

    # the create/edit dialog
    editor_open: bool = False
    editing_id: int = 0
    form_key: int = 0  # a new key for the uncontrolled fields when the dialog opens
    chat_choices: list[ChatChoice] = []
    f_title: str = ""
    f_chat: str = ""
    f_text: str = ""
    f_media: str = ""
    f_mode: str = ONCE
    f_once: str = ""  # datetime-local: naive, read in f_zone
    f_cron: str = ""
    f_zone: str = "UTC"
    cron_description: str = ""
    cron_error: str = ""
    cron_runs: list[str] = []

    # the delivery history drawer and the cancel confirmation
    history_open: bool = False
    history_title: str = ""
    history: list[DeliveryItem] = []
    cancel_id: int = 0

    # -- loading ---------------------------------------------------------------------------

    @rx.event
    def load(self):  # type: ignore[no-untyped-def]
        self.message = self.error = self.dialog_error = ""
        self.editor_open = self.history_open = False
        self.cancel_id = 0
        self._reload()
        return [
            rx.call_script(ASK_TIME_ZONE, callback=ScheduledState.set_time_zone),
            ScheduledState.watch,
        ]

    @rx.event
    def set_view(self, value: str) -> None:
        self.view = value if value in VIEWS else UPCOMING
        self._reload()

    def _reload(self) -> None:
        zone = zone_of(self.time_zone)
        status = None if self.view == UPCOMING else ScheduledStatus(self.view)
        with session_scope() as session:
            self._current_user(session)
            views = scheduled_messages.agenda(session, status=status)
        if status is None:
            self.days = agenda_days(views, zone, datetime.now(zone))
        else:
            items = [_item(v, zone, with_date=True) for v in views]
            self.days = [DayGroup(label=self.view.capitalize(), messages=items)] if items else []
        self.loaded = True

    @rx.event(background=True)
    async def watch(self) -> None:
        """Show each delivery the worker reports while this page is open."""
        await follow(self, TOPIC.format(id="*"), lambda _: self._reload())

    # -- the create/edit dialog ------------------------------------------------------------

    @rx.event
    def on_dialog_change(self, open_: bool) -> None:
        if not open_:
            self.editor_open = self.history_open = False
            self.cancel_id, self.dialog_error = 0, ""

    @rx.event
    def open_new(self) -> None:
        self._open_editor(None)

    @rx.event
    def open_edit(self, scheduled_id: int) -> None:
        with session_scope() as session:
            self._current_user(session)
            view = scheduled_messages.get(session, int(scheduled_id))
        self._open_editor(view)

    def _open_editor(self, view: ScheduledView | None) -> None:
        with session_scope() as session:
            self._current_user(session)
            chats = communities.chat_page(session, ChatFilters(), PICKER_SIZE)
        self.chat_choices = [
            ChatChoice(id=str(c.chat_id), name=f"{c.title or c.platform_chat_id} · {c.platform}")
            for c in chats
            if c.type != GUILD  # a Discord server is posted to in its channels
        ]
        zone_name = view.timezone if view else str(zone_of(self.time_zone))
        self.editing_id = view.scheduled_id if view else 0
        self.f_title = view.title if view else ""
        self.f_chat = str(view.chat_id or "") if view else ""
        self.f_text = view.text if view else ""
        self.f_media = (view.media_url or "") if view else ""
        self.f_mode = REPEAT if view and view.repeat_cron else ONCE
        self.f_cron = (view.repeat_cron or "") if view else ""
        self.f_zone = zone_name
        now = datetime.now(ZoneInfo("UTC"))
        when = view.next_at if view and not view.repeat_cron else now + timedelta(hours=1)
        self.f_once = f"{when.astimezone(zone_of(zone_name)):%Y-%m-%dT%H:%M}"
        self._preview()
        self.form_key += 1
        self.dialog_error, self.editor_open = "", True

    @rx.event
    def set_mode(self, value: str | list[str]) -> None:
        self.f_mode = REPEAT if value == REPEAT else ONCE

    @rx.event
    def set_chat(self, value: str) -> None:
        self.f_chat = value

    @rx.event
    def set_cron(self, value: str) -> None:
        self.f_cron = str(value)[: scheduled_messages.MAX_CRON]
        self._preview()

    @rx.event
    def set_zone(self, value: str) -> None:
        self.f_zone = str(value)[:64]
        self._preview()

    def _preview(self) -> None:
        """The cron in words and its next times, or what is wrong with it."""
        self.cron_description, self.cron_error, self.cron_runs = "", "", []
        if not self.f_cron.strip():
            return
        try:
            self.cron_description = scheduled_messages.describe_cron(self.f_cron.strip())
            runs = scheduled_messages.next_runs(self.f_cron.strip(), self.f_zone)
        except InvalidSchedule as refused:
            self.cron_description, self.cron_error = "", str(refused)
            return
        viewer = zone_of(self.time_zone)
        self.cron_runs = [self._both_zones(run, viewer) for run in runs]

    def _both_zones(self, run: datetime, viewer: ZoneInfo) -> str:
        shown = f"{run:%a %d %b %Y %H:%M} ({self.f_zone})"
        if str(viewer) == self.f_zone:
            return shown
        return f"{shown} · {run.astimezone(viewer):%a %H:%M} your time"

    @rx.event
    def save(self, form: dict[str, Any]) -> None:
        repeat = self.f_mode == REPEAT
        data: dict[str, Any] = {
            "title": str(form.get("title", "")),
            "chat_id": self.f_chat or None,
            "text": str(form.get("text", "")),
            "media_url": str(form.get("media_url", "")) or None,
            "repeat_cron": self.f_cron if repeat else None,
            "send_at": None if repeat else (str(form.get("send_at", "")) or None),
            "timezone": self.f_zone,
        }
        editing = self.editing_id

        def action(session: Any, me: Any) -> None:
            fields = scheduled_messages.fields_from(data)
            if editing:
                scheduled_messages.update(session, me, editing, fields.model_dump())
            else:
                scheduled_messages.create(session, me, fields)

        done = "Saved." if editing else "Scheduled."
        if run_as_signed_in(self, action, REFUSALS, done, in_dialog=True):
            self.editor_open = False

    # -- pause, resume, cancel -------------------------------------------------------------

    @rx.event
    def pause(self, scheduled_id: int) -> None:
        sid = int(scheduled_id)
        run_as_signed_in(
            self, lambda s, me: scheduled_messages.pause(s, me, sid), REFUSALS, "Paused."
        )

    @rx.event
    def resume(self, scheduled_id: int) -> None:
        sid = int(scheduled_id)
        run_as_signed_in(
            self, lambda s, me: scheduled_messages.resume(s, me, sid), REFUSALS, "Resumed."
        )

    @rx.event
    def ask_cancel(self, scheduled_id: int) -> None:
        self.cancel_id, self.dialog_error = int(scheduled_id), ""

    @rx.event
    def confirm_cancel(self) -> None:
        sid = self.cancel_id
        action = lambda s, me: scheduled_messages.cancel(s, me, sid)  # noqa: E731
        if run_as_signed_in(self, action, REFUSALS, "Cancelled.", in_dialog=True):
            self.cancel_id = 0

    # -- delivery history ------------------------------------------------------------------

    @rx.event
    def open_history(self, scheduled_id: int) -> None:
        zone = zone_of(self.time_zone)
        with session_scope() as session:
            self._current_user(session)
            view = scheduled_messages.get(session, int(scheduled_id))
            rows = scheduled_messages.deliveries(session, view.scheduled_id)
        self.history_title = view.title or view.chat_title
        self.history = [
            DeliveryItem(
                due=f"{d.due_at.astimezone(zone):%a %d %b %Y %H:%M}",
                ok=d.ok,
                detail=(d.error or "") if not d.ok else f"message {d.platform_message_id or '—'}",
            )
            for d in rows
        ]
        self.history_open = True
