"""The dashboard's state against a real database: the counters, the getting-started steps
ticking as the install is set up (the checklist closes itself when all are done), and the
feed of what happened."""

from __future__ import annotations

from engine.db import session_scope
from engine.models import Chat
from engine.services import communities, connections, flows
from flowbot_ui.state.dashboard import DashboardState
from tests.ui_harness import People, Tab, names, user

TOKEN = "123456:" + "A" * 35
GRAPH = {"nodes": [{"id": "trigger1", "type": "manual", "params": {}}], "edges": []}


async def _dashboard(people: People) -> DashboardState:
    tab = Tab(people.cookies["viewer"], "/")
    assert names(await tab.run(DashboardState, "load")) == ["watch"]
    return await tab.state(DashboardState)


async def test_the_steps_tick_as_the_install_is_set_up(people: People) -> None:
    page = await _dashboard(people)
    assert [s.test_id for s in page.steps] == [
        "start-connection", "start-community", "start-chat", "start-flow",
    ]  # fmt: skip
    assert (page.steps_done, page.checklist_open, page.total_flows) == (0, True, 0)

    with session_scope() as session:
        admin = session.merge(user(people.admin_id))
        connection = connections.add_connection(
            session, admin, "telegram_bot", "Helper", credential=TOKEN
        )
        community = communities.create_community(session, admin, "Makers", "")
        chat = Chat(platform="telegram", platform_chat_id="-100", title="Group",
                    bot_instance_id=connection.bot_instance_id)  # fmt: skip
        session.add(chat)
        session.flush()
        communities.attach_chats(session, admin, community.id or 0, [chat.id or 0])
        flow = flows.create_flow(session, admin, "Welcome", graph=GRAPH)
        flows.publish(session, admin, flow.id or 0, activate=True)

    page = await _dashboard(people)
    assert page.steps_done == 4 and not page.checklist_open
    assert (page.active_flows, page.total_flows, page.communities) == (1, 1, 1)
    assert page.connections_total == 1
    assert [r.title for r in page.feed] == ["Helper: Added"]  # the connection, in the feed
    assert len(page.hours) > 24 and [s.name for s in page.series] == ["Makers"]
