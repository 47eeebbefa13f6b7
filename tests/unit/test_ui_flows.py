"""The Flows page's state against a real database: creating (and going to the editor),
folders, rename, duplicate, move, delete, export and import with its problems listed, the
search, and a viewer's refusals."""

from __future__ import annotations

import base64
import json

from sqlmodel import select

from engine.db import session_scope
from engine.models import FlowDefinition
from engine.services import flows
from flowbot_ui.pages.flows import FlowsState
from tests.ui_harness import People, Tab, names, redirect_target, user

GRAPH = {"nodes": [{"id": "trigger1", "type": "manual", "params": {}}], "edges": []}


def _flows() -> dict[str, int | None]:
    with session_scope() as session:
        return {f.name: f.folder_id for f in session.exec(select(FlowDefinition))}


async def _page(people: People, role: str) -> tuple[Tab, FlowsState]:
    tab = Tab(people.cookies[role], "/flows")
    await tab.run(FlowsState, "load")
    return tab, await tab.state(FlowsState)


async def test_flows_are_made_filed_renamed_copied_and_deleted(people: People) -> None:
    tab, page = await _page(people, "editor")
    events = await tab.run(FlowsState, "create", {"name": "Welcome"})
    [row] = page.rows
    assert redirect_target(events) == f"/flows/{row.id}" and page.message == "Flow created."

    await tab.run(FlowsState, "create_folder", {"name": "Onboarding"})
    folder = next(f for f in page.folders if f.name == "Onboarding")
    await tab.run(FlowsState, "open_dialog", "move", row.id, "Welcome")
    await tab.run(FlowsState, "set_move_to", folder.id)
    await tab.run(FlowsState, "move")
    assert (page.message, page.dialog) == ("Moved.", "")
    assert _flows() == {"Welcome": int(folder.id)}
    await tab.run(FlowsState, "pick_folder", "none")
    assert page.rows == []
    await tab.run(FlowsState, "pick_folder", folder.id)
    assert [r.folder for r in page.rows] == ["Onboarding"]

    await tab.run(FlowsState, "open_dialog", "rename", row.id, "Welcome")
    await tab.run(FlowsState, "rename", {"name": "Greeting"})
    await tab.run(FlowsState, "duplicate", row.id)
    assert sorted(_flows()) == ["Copy of Greeting", "Greeting"]
    await tab.run(FlowsState, "pick_folder", "all")
    await tab.run(FlowsState, "set_search", "copy")
    assert [r.name for r in page.rows] == ["Copy of Greeting"] and page.total == 2

    await tab.run(FlowsState, "open_dialog", "delete", row.id, "Greeting")
    await tab.run(FlowsState, "delete")
    assert page.message == "Deleted Greeting." and sorted(_flows()) == ["Copy of Greeting"]


async def test_a_flow_exported_imports_again_and_a_broken_file_says_why(people: People) -> None:
    with session_scope() as session:
        admin = session.merge(user(people.admin_id))
        flows.create_flow(session, admin, "Welcome", graph=GRAPH)
    tab, page = await _page(people, "editor")
    events = await tab.run(FlowsState, "export", page.rows[0].id)
    assert names(events) == ["_download"]
    args = {str(key._js_expr): value._var_value for key, value in events[0].args}
    assert args["filename"] == "welcome.flow.json"
    document = json.loads(base64.b64decode(args["url"].split("base64,", 1)[1]))
    assert document["name"] == "Welcome"

    await tab.run(FlowsState, "open_dialog", "import")
    await tab.run(FlowsState, "set_import_text", "{not json")
    await tab.run(FlowsState, "do_import")
    assert page.error == "The file was not imported." and page.import_problems
    assert page.dialog == "import"
    await tab.run(FlowsState, "set_import_text", json.dumps({**document, "name": "Imported"}))
    await tab.run(FlowsState, "do_import")
    assert page.message == "Flow imported.", (page.error, page.import_problems)
    assert sorted(_flows()) == ["Imported", "Welcome"]
    await tab.run(FlowsState, "close_dialog", False)
    assert page.dialog == ""


async def test_a_blank_name_and_a_viewer_are_refused(people: People) -> None:
    tab, page = await _page(people, "editor")
    assert await tab.run(FlowsState, "create", {"name": " "}) == []
    assert page.error and _flows() == {}
    await tab.run(FlowsState, "create", {"name": "Welcome"})

    tab, page = await _page(people, "viewer")
    assert [r.name for r in page.rows] == ["Welcome"]
    await tab.run(FlowsState, "create", {"name": "Mine"})
    assert "editor role" in page.error
    await tab.run(FlowsState, "open_dialog", "delete", page.rows[0].id, "Welcome")
    await tab.run(FlowsState, "delete")
    assert "editor role" in page.error and list(_flows()) == ["Welcome"]
