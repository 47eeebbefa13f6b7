"""The System status page's state against a real database, embedded mode: what a viewer
reads (the database reached, Redis not used, the queues in this process, a connection
that never connected), and what the page's loader shows when the database is unreachable:
said in words, nothing stale kept."""

from __future__ import annotations

import pytest

from engine.db import session_scope
from engine.services import connections
from flowbot_ui.state.system import SystemState
from tests.ui_harness import People, Tab, consume, use_database, user

TOKEN = "123456:" + "A" * 35


async def test_a_viewer_reads_the_status_of_an_embedded_install(people: People) -> None:
    with session_scope() as session:
        admin = session.merge(user(people.admin_id))
        connections.add_connection(session, admin, "telegram_bot", "Helper", credential=TOKEN)
    tab = Tab(people.cookies["viewer"], "/system")
    await tab.run(SystemState, "load")
    page = await tab.state(SystemState)
    assert page.error == "" and page.read_at
    assert page.mode == "embedded" and page.redis == "not used (embedded mode)"
    assert page.database.endswith(" ms")
    assert page.queues and all(q.dead == 0 for q in page.queues)
    assert [(c.name, c.connected) for c in page.connections] == [("Helper", False)]


async def test_an_unreachable_database_is_said_in_words(
    people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    tab = Tab(people.cookies["viewer"], "/system")
    await tab.run(SystemState, "load")
    page = await tab.state(SystemState)
    assert page.queues

    use_database(monkeypatch, "postgresql+psycopg://flowbot@127.0.0.1:1/gone")  # refused
    # The handler itself: through the app, the session guard needs the database too and
    # raises first (reported; the guard's behaviour with the database down is not this
    # page's to decide).
    await consume(SystemState.event_handlers["load"].fn(page))
    assert page.database == "unreachable (see above)"
    [problem] = page.problems
    assert problem.what == "Database" and problem.cause and problem.detail
    assert (page.queues, page.connections, page.processes) == ([], [], [])
