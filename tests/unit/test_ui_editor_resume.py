"""After a reload, a flow whose draft holds edits not saved yet says so and offers Save or
Discard (issue 14, item 6): the editor page's load against a real database, and the
notice the page draws from what it found."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from engine.db import session_scope
from engine.models import FlowDefinition
from engine.services import flows
from flowbot_ui.pages.editor import _resume_notice, editor_page
from flowbot_ui.state.editor import EditorState
from flowbot_ui.state.room import FlowRoom
from tests.ui_harness import People, joined_room, user

GRAPH = {
    "nodes": [
        {"id": "manual1", "type": "manual", "params": {}, "position": {"x": 0, "y": 0}},
        {
            "id": "log1",
            "type": "log",
            "params": {"message": "saved"},
            "position": {"x": 300, "y": 0},
        },
    ],
    "edges": [{"source": "manual1", "sourceHandle": "next", "target": "log1"}],
}


@pytest.fixture
def flow_id(people: People) -> int:
    with session_scope() as session:
        return flows.create_flow(session, user(people.admin_id), "Resume", graph=GRAPH).id or 0


def _saved_message(flow_id: int) -> Any:
    with session_scope() as session:
        flow = session.get(FlowDefinition, flow_id)
        assert flow is not None
        graph = copy.deepcopy(flow.graph)
    return next(n for n in graph["nodes"] if n["id"] == "log1")["params"]["message"]


async def test_a_reload_over_unsaved_edits_says_so_and_save_keeps_them(
    people: People, flow_id: int
) -> None:
    tab, room = await joined_room(people.cookies["editor"], flow_id)
    await tab.run(EditorState, "load")
    page = await tab.state(EditorState)
    assert page.found_on_load == ""  # nothing pending: no notice

    await room._set_param("log1", "message", "typed before the reload")
    await tab.run(EditorState, "load")  # the page loads again; the room kept the edit
    assert page.found_on_load == "unsaved" and room.dirty
    assert _saved_message(flow_id) == "saved"

    await tab.run(FlowRoom, "save")  # the notice's Save
    assert not room.dirty  # the notice's condition is over
    assert _saved_message(flow_id) == "typed before the reload"


async def test_a_reload_over_a_saved_draft_finds_nothing_unsaved(
    people: People, flow_id: int
) -> None:
    tab, room = await joined_room(people.cookies["editor"], flow_id)
    await room._set_param("log1", "message", "saved before the reload")
    await tab.run(FlowRoom, "save")
    await tab.run(EditorState, "load")
    assert (await tab.state(EditorState)).found_on_load == ""


def test_the_notice_is_drawn_from_the_unsaved_finding_with_save_and_discard() -> None:
    """The page's notice: shown when the load found unsaved edits that are still unsaved,
    in plain words, with both ways out."""
    rendered = str(_resume_notice().render())
    assert "found_on_load" in rendered and '"unsaved"' in rendered
    assert "changes that are not saved yet" in rendered
    assert "resume-save" in rendered and "resume-discard" in rendered


async def test_the_finding_ends_when_the_edits_are_saved_or_discarded(
    people: People, flow_id: int
) -> None:
    """While the page asks, its canvas does not autosave (hold_autosave); once the room is
    clean, by this page or a co-editor, the page settles and later edits autosave again."""
    tab, room = await joined_room(people.cookies["editor"], flow_id)
    await room._set_param("log1", "message", "typed before the reload")
    await tab.run(EditorState, "load")
    page = await tab.state(EditorState)
    assert page.found_on_load == "unsaved"

    await tab.run(FlowRoom, "save")
    await tab.run(EditorState, "settle_unsaved")  # the canvas reports the room clean
    assert page.found_on_load == ""


def test_the_canvas_holds_its_autosave_while_the_page_asks() -> None:
    rendered = str(editor_page().render())
    assert "holdAutosave" in rendered and "settle_unsaved" in rendered
