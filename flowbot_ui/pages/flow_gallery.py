"""The "New flow" gallery: a blank flow or one of the templates, which asks only for the
connections, chats or community it needs (pickers of real ones) and opens in the editor.

The cards and each template's pickers are drawn from engine/flow_templates when the page
compiles; only the choices and the picks live in the state.
"""

from __future__ import annotations

import reflex as rx
from pydantic import BaseModel
from reflex.event import EventSpec

from engine.db import session_scope
from engine.flow_templates import TEMPLATES, FlowTemplate, Need, get_template
from engine.flow_templates.choices import choices
from engine.models import Role
from engine.services import auth, flows
from flowbot_ui.components.cards import card_icon, muted
from flowbot_ui.components.forms import error_callout
from flowbot_ui.state.auth import AuthState

GALLERY = "gallery"  # the dialog's first page: the cards


class Option(BaseModel):
    value: str
    label: str
    detail: str


class GalleryState(AuthState):
    shown: str = ""  # "": closed; GALLERY: the cards; else the picked template's id
    options: dict[str, list[Option]] = {}  # by need key
    picked: dict[str, str] = {}  # by need key: the chosen option's value
    _folder_id: int | None = None

    @rx.event
    def open_gallery(self, folder: str) -> None:
        """Open on the cards; a flow made here goes into ``folder`` (the one being viewed)."""
        self._folder_id = int(folder) if folder.isdigit() else None
        self.shown, self.error, self.options, self.picked = GALLERY, "", {}, {}

    @rx.event
    def close(self, open_: bool = False) -> None:
        if not open_:
            self.shown = ""

    @rx.event
    def back(self) -> None:
        self.shown, self.error = GALLERY, ""

    @rx.event
    def choose(self, template_id: str) -> None:
        """Show the template's pickers, each filled in when it offers exactly one choice."""
        self.shown, self.error, self.picked = template_id, "", {}
        self._load_options()

    @rx.event
    def pick(self, key: str, value: str) -> None:
        if self.shown not in TEMPLATES:
            return
        self.picked = {**self.picked, key: value}
        for need in TEMPLATES[self.shown].needs:  # chats follow their connection
            if need.connection == key:
                self.picked.pop(need.key, None)
        self._load_options()

    def _load_options(self) -> None:
        try:
            with session_scope() as session:
                self._current_user(session, Role.editor)
                template = get_template(self.shown)
                for need in template.needs:
                    offered = choices(session, need, self.picked)
                    self.options[need.key] = [Option(**vars(c)) for c in offered]
                    if len(offered) == 1 and need.key not in self.picked:  # a later chat
                        self.picked[need.key] = offered[0].value  # picker follows it
        except (KeyError, auth.AuthError) as exc:
            self.error = str(exc)
        self.options = dict(self.options)

    @rx.event
    def create(self):  # type: ignore[no-untyped-def]
        created = 0
        try:
            with session_scope() as session:
                me = self._current_user(session, Role.editor)
                flow = flows.create_from_template(
                    session, me, self.shown, dict(self.picked), folder_id=self._folder_id
                )
                created = flow.id or 0
        except (flows.FlowError, auth.AuthError) as exc:
            self.error = str(exc)
            return None
        self.shown = ""
        return rx.redirect(f"/flows/{created}")


# --------------------------------------------------------------------------- view


def _card(
    title: str, description: str, icon: str, on_click: EventSpec | list, test_id: str
) -> rx.Component:
    return rx.card(
        rx.hstack(
            card_icon(rx.icon(icon, size=20)),
            rx.vstack(
                rx.text(title, weight="bold", size="2"),
                rx.text(description, size="1", color=rx.color("gray", 11)),
                spacing="1",
            ),
            spacing="3",
            align="start",
        ),
        as_child=False,
        cursor="pointer",
        on_click=on_click,
        data_testid=test_id,
        _hover={"background": rx.color("accent", 2)},
    )


def _cards(blank: EventSpec | list) -> rx.Component:
    return rx.grid(
        _card(
            "Blank flow",
            "Start from an empty canvas and draw the flow yourself.",
            "file-plus",
            blank,
            "template-blank",
        ),
        *[
            _card(t.title, t.description, t.icon, GalleryState.choose(t.id), f"template-{t.id}")
            for t in TEMPLATES.values()
        ],
        columns="2",
        spacing="3",
        max_height="60vh",
        overflow_y="auto",
        padding="2px",
        data_testid="template-gallery",
    )


def _picker(need: Need) -> rx.Component:
    options = GalleryState.options[need.key]
    hint = "Pick a connection above first." if need.connection else "None yet: add one first."
    return rx.vstack(
        rx.text(need.label, size="2", weight="medium"),
        rx.cond(
            options.length() > 0,
            rx.select.root(
                rx.select.trigger(
                    placeholder=f"Choose the {need.label.lower()}…",
                    width="100%",
                    data_testid=f"pick-{need.key}",
                ),
                rx.select.content(
                    rx.foreach(
                        options,
                        lambda o: rx.select.item(o.label + " · " + o.detail, value=o.value),
                    )
                ),
                value=GalleryState.picked.get(need.key, ""),
                on_change=lambda value: GalleryState.pick(need.key, value),
            ),
            muted(hint),
        ),
        spacing="1",
        width="100%",
    )


def _pickers(template: FlowTemplate) -> rx.Component:
    return rx.vstack(
        muted(template.description),
        *[_picker(need) for need in template.needs],
        spacing="3",
        width="100%",
        data_testid=f"template-form-{template.id}",
    )


def gallery_dialog(blank: EventSpec | list) -> rx.Component:
    """The dialog; ``blank`` is what the "Blank flow" card does (the page's name form)."""
    choosing = GalleryState.shown == GALLERY
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(
                rx.cond(choosing, "New flow", "New flow from a template"),
            ),
            rx.cond(
                choosing,
                _cards(blank),
                rx.vstack(
                    rx.match(
                        GalleryState.shown,
                        *[(t.id, _pickers(t)) for t in TEMPLATES.values()],
                        rx.fragment(),
                    ),
                    error_callout(GalleryState.error),
                    rx.flex(
                        rx.button(
                            "Back", variant="soft", color_scheme="gray", on_click=GalleryState.back
                        ),
                        rx.button(
                            "Create and open",
                            on_click=GalleryState.create,
                            data_testid="template-create",
                        ),
                        spacing="3",
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                ),
            ),
            max_width="760px",
        ),
        open=GalleryState.shown != "",
        on_open_change=GalleryState.close,
    )
