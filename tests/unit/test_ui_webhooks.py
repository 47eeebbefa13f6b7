"""The Webhooks page's state against a real database: a webhook made for a flow, its URL
rotated, the wait and its timeout, a signing secret shown once and removed, pausing and
deleting, and a viewer's refusals."""

from __future__ import annotations

from sqlmodel import select

from engine.db import session_scope
from engine.models.webhooks import WebhookEndpoint
from engine.services import flows
from flowbot_ui.state.webhooks import WebhooksState
from tests.ui_harness import People, Tab, user


def _flow(people: People) -> int:
    with session_scope() as session:
        admin = session.merge(user(people.admin_id))
        return flows.create_flow(session, admin, "Orders").id or 0


def _hooks() -> list[WebhookEndpoint]:
    with session_scope() as session:
        rows = list(session.exec(select(WebhookEndpoint)))
        session.expunge_all()
        return rows


async def _page(people: People, role: str) -> tuple[Tab, WebhooksState]:
    tab = Tab(people.cookies[role], "/webhooks")
    await tab.run(WebhooksState, "load")
    return tab, await tab.state(WebhooksState)


async def _made(people: People) -> tuple[Tab, WebhooksState, int]:
    flow_id = _flow(people)
    tab, page = await _page(people, "editor")
    await tab.run(WebhooksState, "open_create")
    await tab.run(WebhooksState, "pick_flow", str(flow_id))
    await tab.run(WebhooksState, "create", {"name": "Shop"})
    return tab, page, page.rows[0].id


async def test_a_webhook_is_made_for_a_flow_and_its_url_rotated(people: People) -> None:
    tab, page, hook_id = await _made(people)
    assert (page.message, page.create_open) == ("Created Shop: its URL is ready to use.", False)
    [row] = page.rows
    assert (row.name, row.flow_name, row.active, row.has_secret) == ("Shop", "Orders", True, False)
    assert row.url.endswith(_hooks()[0].token) and row.url in row.curl
    assert [f.name for f in page.flows] == ["Orders"]

    await tab.run(WebhooksState, "rotate", hook_id)
    assert page.message == "New URL for Shop: the old one now answers 404."
    assert page.rows[0].url != row.url and page.rows[0].url.endswith(_hooks()[0].token)


async def test_waiting_for_the_result_and_its_timeout(people: People) -> None:
    tab, page, hook_id = await _made(people)
    await tab.run(WebhooksState, "set_wait", hook_id, True)
    assert page.rows[0].wait and _hooks()[0].wait_for_result
    await tab.run(WebhooksState, "set_timeout", hook_id, "soon")
    assert page.error == "The wait timeout is a whole number of seconds."
    await tab.run(WebhooksState, "set_timeout", hook_id, "9999")
    assert page.error  # past the service's limit
    await tab.run(WebhooksState, "set_timeout", hook_id, "20")
    assert (page.message, page.rows[0].timeout) == ("Waits up to 20 s for the result.", 20)
    await tab.run(WebhooksState, "set_timeout", hook_id, "20")  # unchanged: no call
    assert page.message == "Waits up to 20 s for the result."


async def test_a_secret_is_shown_once_then_removed(people: People) -> None:
    tab, page, hook_id = await _made(people)
    await tab.run(WebhooksState, "new_secret", hook_id)
    assert (page.secret_for, page.dialog_name) == (hook_id, "Shop") and len(page.secret) > 20
    assert page.rows[0].has_secret
    await tab.run(WebhooksState, "on_dialog_change", False)
    assert page.secret == ""  # gone from the page once its dialog closed
    await tab.run(WebhooksState, "clear_secret", hook_id)
    assert page.message.startswith("Signing secret removed") and not page.rows[0].has_secret


async def test_pause_and_delete(people: People) -> None:
    tab, page, hook_id = await _made(people)
    await tab.run(WebhooksState, "set_active", hook_id, False)
    assert page.message.startswith("Paused") and not _hooks()[0].is_active
    await tab.run(WebhooksState, "open_delete", hook_id)
    assert page.dialog_name == "Shop"
    await tab.run(WebhooksState, "confirm_delete")
    assert (page.message, page.rows, _hooks()) == ("Deleted Shop.", [], [])


async def test_a_blank_name_and_a_viewer_are_refused(people: People) -> None:
    _, _, hook_id = await _made(people)
    tab, page = await _page(people, "editor")
    await tab.run(WebhooksState, "create", {"name": "   "})
    assert page.dialog_error and len(_hooks()) == 1

    tab, page = await _page(people, "viewer")
    for handler, args in (("rotate", (hook_id,)), ("new_secret", (hook_id,)),
                          ("set_active", (hook_id, False))):  # fmt: skip
        await tab.run(WebhooksState, handler, *args)
        assert "editor role" in page.error, handler
    await tab.run(WebhooksState, "create", {"name": "Mine"})
    assert "editor role" in page.dialog_error
    [hook] = _hooks()
    assert hook.is_active and page.secret == ""
