"""The Bot config page's handlers as the signed-in user: an editor's save and publish reach
the database, a viewer's are refused by the service and change nothing, and a save made
stale by someone else's keeps the form as typed until it is saved again.

The handler matrix (test_handler_authorization.py) already calls every handler signed out
and as a viewer with forged arguments; these follow the page's real sequence of events.
"""

from __future__ import annotations

from typing import Any

import pytest
from reflex.state import State
from reflex_base import constants
from sqlmodel import Session, select

from engine.models import AdminUser, BotConfigVersion, BotInstance, ConnectorKind, Role
from engine.services import auth, bot_config, sessions
from flowbot_ui.state.bot_config import BotConfigState

PASSWORD = "correct horse battery"


@pytest.fixture
def people(sqlite_session: Session) -> dict[str, Any]:
    admin = auth.create_user(sqlite_session, "root", PASSWORD, Role.admin, actor=None)
    editor = auth.create_user(sqlite_session, "eddie", PASSWORD, Role.editor, actor=admin)
    viewer = auth.create_user(sqlite_session, "victor", PASSWORD, Role.viewer, actor=admin)
    bot = BotInstance(name="Helper", kind=ConnectorKind.telegram_bot)
    sqlite_session.add(bot)
    sqlite_session.flush()
    found = {
        "bot": bot.id,
        "admin": admin,
        "editor": sessions.issue(sqlite_session, editor),
        "viewer": sessions.issue(sqlite_session, viewer),
    }
    sqlite_session.commit()
    return found


async def _page(cookie: str, bot_id: int) -> BotConfigState:
    """The page's state as Reflex builds it for a browser on /bot-config/<bot_id>, loaded."""
    root = State(_reflex_internal_init=True)
    router = {
        constants.RouteVar.HEADERS: {"cookie": f"{sessions.COOKIE_NAME}={cookie}"},
        constants.RouteVar.PATH: f"/bot-config/{bot_id}",
        constants.RouteVar.QUERY: {"bot_ref": str(bot_id)},
        constants.RouteVar.CLIENT_TOKEN: "client-token",
        constants.RouteVar.SESSION_ID: "sid",
        constants.RouteVar.CLIENT_IP: "198.51.100.7",
    }
    root.router_data = root._update_router_vars(router, {})
    page = await root.get_state(BotConfigState)
    assert isinstance(page, BotConfigState)
    _run(page, "load")
    return page


def _run(page: BotConfigState, handler: str, *args: Any) -> Any:
    return BotConfigState.event_handlers[handler].fn(page, *args)


def _write_response(page: BotConfigState, key: str, text: str) -> None:
    _run(page, "set_tab", "responses")
    _run(page, "new_item")
    _run(page, "edit", ["key"], key)
    _run(page, "edit", ["text"], text)
    _run(page, "save_item")


def _draft(session: Session, bot_id: int) -> dict[str, Any]:
    session.expire_all()
    admin = session.exec(select(AdminUser).where(AdminUser.username == "root")).one()
    return bot_config.get_draft(session, admin, bot_id).document.model_dump(mode="json")


async def test_an_editor_saves_and_publishes(sqlite_session: Session, people: dict) -> None:
    page = await _page(people["editor"], people["bot"])
    assert page.name == "Helper" and not page.missing
    _write_response(page, "hello", "Hi {{ member.name }}")
    assert page.message == "Saved response hello in the draft.", page.error
    assert _draft(sqlite_session, people["bot"])["responses"][0]["text"] == {
        "en": "Hi {{ member.name }}"
    }
    assert page.preview.telegram == "Hi Alex Morgan"

    _run(page, "publish")
    assert page.live_version == 1 and not page.problems_open, page.error
    assert sqlite_session.exec(select(BotConfigVersion)).one().published_by == "eddie"


async def test_a_viewer_reads_and_changes_nothing(sqlite_session: Session, people: dict) -> None:
    editor = await _page(people["editor"], people["bot"])
    _write_response(editor, "hello", "Hi")
    before = _draft(sqlite_session, people["bot"])

    page = await _page(people["viewer"], people["bot"])
    assert [row.key for row in page.responses] == ["hello"]
    assert not page.can_edit
    _write_response(page, "other", "Mine now")
    assert "editor" in page.error.lower() and page.message == ""
    _run(page, "publish")
    _run(page, "set_string", "x", "en", "y")
    _run(page, "save_scope")
    assert _draft(sqlite_session, people["bot"]) == before
    assert sqlite_session.exec(select(BotConfigVersion)).all() == []


async def test_a_stale_save_keeps_the_form_until_saved_again(
    sqlite_session: Session, people: dict
) -> None:
    page = await _page(people["editor"], people["bot"])
    bot_config.set_strings(sqlite_session, people["admin"], people["bot"], {"a": {"en": "A"}})
    sqlite_session.commit()

    _write_response(page, "hello", "Typed before the conflict")
    assert page.conflict and "Someone else changed" in page.error
    assert page.form.text == "Typed before the conflict"
    assert _draft(sqlite_session, people["bot"])["responses"] == []

    _run(page, "reload_draft")
    assert not page.conflict and page.form.text == "Typed before the conflict"
    assert [row.name for row in page.strings] == ["a"]
    _run(page, "save_item")
    draft = _draft(sqlite_session, people["bot"])
    assert [r["key"] for r in draft["responses"]] == ["hello"]
    assert draft["strings"] == {"a": {"en": "A"}}  # the other save is kept too
