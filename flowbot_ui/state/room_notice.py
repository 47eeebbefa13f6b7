"""What the editor says to one person only: their own save or action refused.

The room's ``notice`` is everyone's (a save, a publish: news for all who have the flow
open); a refusal concerns the person refused, so it goes to their own state, never to the
room (issue 17: "notices go only to the person they concern")."""

from __future__ import annotations

import reflex as rx

from flowbot_ui.state.auth import AuthState


class PersonalNotice(AuthState):
    """One client's own notice on the editor page."""

    text: str = ""

    @rx.event
    def dismiss(self) -> None:
        self.text = ""
