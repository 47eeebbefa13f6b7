"""Sections whose full pages arrive with later work: they show what the database holds,
honestly, never sample data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import reflex as rx

from engine.db import session_scope
from engine.models import CommunityAnalyticsSnapshot
from engine.services.overview import count_rows
from flowbot_ui.components.layout import empty_state, page_header, shell
from flowbot_ui.state.auth import AuthState


@dataclass(frozen=True)
class SectionPage:
    route: str
    title: str
    description: str
    model: type
    noun: str
    icon: str
    empty_hint: str


SECTION_PAGES: tuple[SectionPage, ...] = (
    SectionPage(
        "/analytics",
        "Analytics",
        "Members, messages and moderation over time.",
        CommunityAnalyticsSnapshot,
        "daily snapshots",
        "chart-line",
        "Daily figures appear once communities exist and snapshots have been taken.",
    ),
)

_MODELS = {p.route: p.model for p in SECTION_PAGES}


class SectionState(AuthState):
    count: int = -1

    @rx.event
    def load(self) -> None:
        with session_scope() as session:
            self.count = count_rows(session, _MODELS[self.current_path])


def _section_view(page: SectionPage) -> Callable[[], rx.Component]:
    def view() -> rx.Component:
        return shell(
            page_header(page.title, page.description),
            rx.cond(
                SectionState.count == 0,
                empty_state(page.icon, f"No {page.noun} yet", page.empty_hint),
                rx.cond(
                    SectionState.count > 0,
                    rx.callout(
                        f"{SectionState.count} {page.noun} stored. "
                        "This page's list and editor are not built yet.",
                        icon="info",
                    ),
                ),
            ),
        )

    view.__name__ = f"{page.route.strip('/').replace('-', '_')}_page"
    return view


SECTION_VIEWS = [(page, _section_view(page)) for page in SECTION_PAGES]
