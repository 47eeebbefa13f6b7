"""Running a service call as the signed-in user from a page's state.

The service decides (roles, validation); the page only shows what it said: a refusal in
the page's error line or inside the open dialog, a success as the confirmation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import Session

from engine.db import session_scope
from engine.models import AdminUser

Action = Callable[[Session, AdminUser], Any]


def run_as_signed_in(
    state: Any,
    action: Action,
    refusals: tuple[type[Exception], ...],
    success: str = "",
    *,
    in_dialog: bool = False,
) -> bool:
    """Run ``action``; True when it went through (the state's rows are then reloaded)."""
    try:
        with session_scope() as session:
            action(session, state._current_user(session))
    except refusals as exc:
        if in_dialog:
            state.dialog_error = str(exc)
        else:
            state.error, state.message = str(exc), ""
        return False
    state.dialog_error = ""
    if success:
        state.error, state.message = "", success
    state._reload()
    return True
