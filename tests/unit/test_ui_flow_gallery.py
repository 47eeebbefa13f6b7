"""The template gallery's state against a real database: a template's pickers filled in
when there is one choice, a flow made from it into the folder being viewed, a missing
pick said, and a viewer refused."""

from __future__ import annotations

from sqlmodel import select

from engine.db import session_scope
from engine.models import FlowDefinition
from engine.services import connections, flows
from flowbot_ui.pages.flow_gallery import GalleryState
from tests.ui_harness import People, Tab, redirect_target, user

TOKEN = "123456:" + "A" * 35


def _bot_and_folder(people: People) -> tuple[int, int]:
    with session_scope() as session:
        admin = session.merge(user(people.admin_id))
        connection = connections.add_connection(
            session, admin, "telegram_bot", "Helper", credential=TOKEN
        )
        folder = flows.create_folder(session, admin, "Moderation")
        session.flush()
        return connection.bot_instance_id, folder.id or 0


def _flows() -> list[tuple[str, int | None]]:
    with session_scope() as session:
        return [(f.name, f.folder_id) for f in session.exec(select(FlowDefinition))]


async def test_a_flow_is_made_from_a_template_into_the_folder(people: People) -> None:
    bot, folder = _bot_and_folder(people)
    tab = Tab(people.cookies["editor"], "/flows")
    await tab.run(GalleryState, "open_gallery", str(folder))
    gallery = await tab.state(GalleryState)
    assert gallery.shown == "gallery"
    await tab.run(GalleryState, "choose", "welcome")
    assert [o.value for o in gallery.options["telegram"]] == [str(bot)]
    assert gallery.picked == {"telegram": str(bot)}  # the only choice, filled in
    events = await tab.run(GalleryState, "create")
    [(name, in_folder)] = _flows()
    assert in_folder == folder and gallery.shown == ""
    with session_scope() as session:
        made = session.exec(select(FlowDefinition)).one()
    assert redirect_target(events) == f"/flows/{made.id}" and name == made.name


async def test_a_missing_pick_is_said_and_a_viewer_is_refused(people: People) -> None:
    tab = Tab(people.cookies["editor"], "/flows")
    await tab.run(GalleryState, "open_gallery", "")
    await tab.run(GalleryState, "choose", "webhook_alert")  # no connection to pick
    gallery = await tab.state(GalleryState)
    assert await tab.run(GalleryState, "create") == []
    assert gallery.error and _flows() == []
    await tab.run(GalleryState, "back")
    assert (gallery.shown, gallery.error) == ("gallery", "")
    await tab.run(GalleryState, "pick", "telegram", "1")  # not on a template: ignored
    assert gallery.picked == {}
    await tab.run(GalleryState, "close", False)
    assert gallery.shown == ""

    _bot_and_folder(people)
    viewer = Tab(people.cookies["viewer"], "/flows")
    await viewer.run(GalleryState, "open_gallery", "")
    await viewer.run(GalleryState, "choose", "welcome")
    seen = await viewer.state(GalleryState)
    assert "editor role" in seen.error
    await viewer.run(GalleryState, "create")
    assert "editor role" in seen.error and _flows() == []
