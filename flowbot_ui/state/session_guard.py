"""The gate in front of every event handler: no valid session, no handler.

Reflex runs this middleware before each event (chained and background ones included).
For an event aimed at any protected state (every page state derives from
:class:`AuthState`; the shared editing room is :class:`FlowRoom`), the user is resolved
from the session cookie of this connection's handshake, through ``require_role``; when
there is none, the event is dropped and the browser is sent to the sign-in page. A new
handler is covered without doing anything. Role checks beyond "signed in" are the
services' (each handler passes :meth:`AuthState.current_user` to them).
"""

from __future__ import annotations

import dataclasses

import reflex as rx
from reflex.app import App
from reflex.middleware import Middleware
from reflex.state import BaseState, StateUpdate
from reflex_base.event import Event

from flowbot_ui.state.auth import AuthState

# Handlers that must run signed out: they decide where a signed-out browser goes.
PUBLIC_HANDLERS = frozenset({"guard", "guard_public"})


def protected_classes() -> tuple[type[BaseState], ...]:
    from flowbot_ui.state.room import FlowRoom  # the room imports this package's auth

    return (AuthState, FlowRoom)


def target_class(event: Event) -> tuple[type[BaseState] | None, str]:
    """The state class and handler name an event is aimed at (None when unknown)."""
    path, _, handler = event.name.rpartition(".")
    try:
        return rx.State.get_class_substate(path), handler
    except (ValueError, AttributeError, KeyError):
        return None, handler


def needs_session(event: Event) -> bool:
    cls, handler = target_class(event)
    if cls is None:
        return False
    if issubclass(cls, AuthState) and handler in PUBLIC_HANDLERS:
        return False
    return issubclass(cls, protected_classes())


@dataclasses.dataclass(init=True)
class SessionGuard(Middleware):
    """Refuse events of protected states from connections without a live session."""

    async def preprocess(self, app: App, state: BaseState, event: Event) -> StateUpdate | None:
        if not needs_session(event):
            return None
        auth_state = await state.get_state(AuthState)
        assert isinstance(auth_state, AuthState)
        if auth_state._resolve() is not None:
            return None
        return StateUpdate(events=Event.from_event_type(rx.redirect("/login")))
