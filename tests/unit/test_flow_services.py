"""The flows page's services: list with stats, rename, duplicate, move, delete, import/export."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from engine import db
from engine.models import (
    AdminUser,
    AuditLog,
    ExecutionStatus,
    FlowDefinition,
    FlowExecution,
    FlowExecutionStep,
    FlowStatus,
    FlowVersion,
    Role,
    StepStatus,
)
from engine.services import flows
from engine.services.auth import PermissionDenied
from engine.services.errors import Conflict, NotFound
from tests.flow_helpers import five_node_graph


@pytest.fixture
def admin(sqlite_session: Session) -> AdminUser:
    user = AdminUser(username="ada", role=Role.admin, password_hash="x")
    sqlite_session.add(user)
    sqlite_session.flush()
    return user


@pytest.fixture
def viewer(sqlite_session: Session) -> AdminUser:
    user = AdminUser(username="vic", role=Role.viewer, password_hash="x")
    sqlite_session.add(user)
    sqlite_session.flush()
    return user


def _run(session: Session, flow_id: int, status: ExecutionStatus) -> FlowExecution:
    execution = FlowExecution(flow_id=flow_id, status=status)
    session.add(execution)
    session.flush()
    session.add(
        FlowExecutionStep(
            execution_id=execution.id,
            seq=1,
            step_key="t",
            node_id="t",
            node_type="tg_command",
            status=StepStatus.succeeded,
        )
    )
    session.flush()
    return execution


def test_list_with_stats_search_and_folders(sqlite_session: Session, admin: AdminUser) -> None:
    folder = flows.create_folder(sqlite_session, admin, "Moderation")
    greet = flows.create_flow(sqlite_session, admin, "Greeter", graph=five_node_graph())
    spam = flows.create_flow(sqlite_session, admin, "Spam filter", folder_id=folder.id)
    for status in (ExecutionStatus.succeeded, ExecutionStatus.succeeded, ExecutionStatus.failed):
        _run(sqlite_session, greet.id, status)
    _run(sqlite_session, greet.id, ExecutionStatus.running)  # unfinished: not in the rate

    rows = {row.name: row for row in flows.list_flows(sqlite_session)}
    assert rows["Greeter"].runs == 3 and rows["Greeter"].succeeded == 2
    assert rows["Greeter"].success_rate == pytest.approx(2 / 3)
    assert rows["Greeter"].last_run_at is not None
    assert rows["Spam filter"].success_rate is None and rows["Spam filter"].last_run_at is None

    assert [r.name for r in flows.list_flows(sqlite_session, search="SPAM")] == ["Spam filter"]
    in_folder = flows.list_flows(sqlite_session, folder_id=folder.id, all_folders=False)
    assert [r.id for r in in_folder] == [spam.id]
    top = flows.list_flows(sqlite_session, folder_id=None, all_folders=False)
    assert [r.id for r in top] == [greet.id]


def test_rename_duplicate_move(sqlite_session: Session, admin: AdminUser) -> None:
    folder = flows.create_folder(sqlite_session, admin, "Greetings")
    flow = flows.create_flow(sqlite_session, admin, "Greeter", graph=five_node_graph())
    flows.rename_flow(sqlite_session, admin, flow.id, "  Welcome  ")
    assert sqlite_session.get(FlowDefinition, flow.id).name == "Welcome"
    with pytest.raises(flows.FlowError):
        flows.rename_flow(sqlite_session, admin, flow.id, " ")

    copy = flows.duplicate_flow(sqlite_session, admin, flow.id)
    assert copy.id != flow.id and copy.name == "Copy of Welcome"
    assert copy.graph == flow.graph and copy.status == "draft"

    flows.move_flow(sqlite_session, admin, copy.id, folder.id)
    assert sqlite_session.get(FlowDefinition, copy.id).folder_id == folder.id
    flows.move_flow(sqlite_session, admin, copy.id, None)
    assert sqlite_session.get(FlowDefinition, copy.id).folder_id is None
    with pytest.raises(flows.FlowError, match="does not exist"):
        flows.move_flow(sqlite_session, admin, copy.id, 999)

    actions = set(sqlite_session.exec(select(AuditLog.action)).all())
    assert {"flow_renamed", "flow_duplicated", "flow_moved", "folder_created"} <= actions


def test_delete_removes_versions_and_runs(sqlite_session: Session, admin: AdminUser) -> None:
    flow = flows.create_flow(sqlite_session, admin, "Greeter", graph=five_node_graph())
    flows.publish(sqlite_session, admin, flow.id)
    execution = _run(sqlite_session, flow.id, ExecutionStatus.failed)
    other = flows.create_flow(sqlite_session, admin, "Other", graph=five_node_graph())
    child = FlowExecution(flow_id=other.id, parent_execution_id=execution.id, depth=1)
    sqlite_session.add(child)
    sqlite_session.flush()

    flows.delete_flow(sqlite_session, admin, flow.id)
    assert sqlite_session.get(FlowDefinition, flow.id) is None
    assert not sqlite_session.exec(select(FlowVersion).where(FlowVersion.flow_id == flow.id)).all()
    assert not sqlite_session.exec(
        select(FlowExecution).where(FlowExecution.flow_id == flow.id)
    ).all()
    sqlite_session.refresh(child)
    assert child.parent_execution_id is None  # the other flow's run is kept
    with pytest.raises(flows.FlowError):
        flows.delete_flow(sqlite_session, admin, flow.id)


def test_export_import_round_trip(sqlite_session: Session, admin: AdminUser) -> None:
    flow = flows.create_flow(sqlite_session, admin, "Greeter", graph=five_node_graph())
    document = json.dumps(flows.export_flow(sqlite_session, flow.id))
    imported = flows.import_flow(sqlite_session, admin, document)
    assert imported.name == "Greeter" and imported.graph == flow.graph

    bare = flows.import_flow(sqlite_session, admin, five_node_graph())
    assert bare.name == "Imported flow"


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        ({"format": "other", "graph": {}}, "unknown format"),
        ({"nodes": [{"id": "a", "type": "no_such_type"}], "edges": []}, "unknown node type"),
        ({"nodes": "x"}, "malformed"),
    ],
)
def test_import_refuses_with_every_problem(
    sqlite_session: Session, admin: AdminUser, document: object, problem: str
) -> None:
    with pytest.raises(flows.FlowImportError) as caught:
        flows.import_flow(sqlite_session, admin, document)  # type: ignore[arg-type]
    assert any(problem in text for text in caught.value.problems)


def test_versions_and_restore(sqlite_session: Session, admin: AdminUser) -> None:
    flow = flows.create_flow(sqlite_session, admin, "Greeter", graph=five_node_graph())
    first = flows.publish(sqlite_session, admin, flow.id)
    changed = five_node_graph()
    changed["nodes"][3]["params"]["text"] = "Bye"
    flows.save_draft(sqlite_session, admin, flow.id, changed, expected_revision=0)
    flows.publish(sqlite_session, admin, flow.id)
    assert [v.version for v in flows.list_versions(sqlite_session, flow.id)] == [2, 1]

    with pytest.raises(flows.StaleRevision):
        flows.restore_version(sqlite_session, admin, flow.id, first.id, expected_revision=0)
    restored = flows.restore_version(sqlite_session, admin, flow.id, first.id, expected_revision=1)
    assert restored.graph == five_node_graph() and restored.revision == 2


def test_viewers_cannot_change_flows(
    sqlite_session: Session, admin: AdminUser, viewer: AdminUser
) -> None:
    flow = flows.create_flow(sqlite_session, admin, "Greeter")
    for call in (
        lambda: flows.rename_flow(sqlite_session, viewer, flow.id, "x"),
        lambda: flows.duplicate_flow(sqlite_session, viewer, flow.id),
        lambda: flows.move_flow(sqlite_session, viewer, flow.id, None),
        lambda: flows.delete_flow(sqlite_session, viewer, flow.id),
        lambda: flows.import_flow(sqlite_session, viewer, five_node_graph()),
        lambda: flows.create_folder(sqlite_session, viewer, "x"),
    ):
        with pytest.raises(PermissionDenied):
            call()


def test_refusals_say_what_kind_they_are(sqlite_session: Session, admin: AdminUser) -> None:
    """Missing things are NotFound, wrong states Conflict: every face answers them alike."""
    flow = flows.create_flow(sqlite_session, admin, "Greeter")
    for missing in (
        lambda: flows.rename_flow(sqlite_session, admin, 999, "x"),
        lambda: flows.create_flow(sqlite_session, admin, "x", folder_id=999),
        lambda: flows.get_version(sqlite_session, flow.id, 1),
        lambda: flows.rename_folder(sqlite_session, admin, 999, "x"),
    ):
        with pytest.raises(NotFound):
            missing()
    with pytest.raises(Conflict):
        flows.set_status(sqlite_session, admin, flow.id, FlowStatus.active)  # not published
    flows.save_draft(sqlite_session, admin, flow.id, {"nodes": [{"id": "a", "type": "?"}]})
    with pytest.raises(Conflict):
        flows.publish(sqlite_session, admin, flow.id)  # the draft has errors


def test_edit_flow_checks_the_revision(sqlite_session: Session, admin: AdminUser) -> None:
    folder = flows.create_folder(sqlite_session, admin, "Mod")
    flow = flows.create_flow(sqlite_session, admin, "Greeter")
    edited = flows.edit_flow(
        sqlite_session, admin, flow.id, expected_revision=0, name="Hi", folder=folder.id
    )
    assert (edited.name, edited.folder_id, edited.revision) == ("Hi", folder.id, 0)
    flows.edit_flow(sqlite_session, admin, flow.id, description="d", folder=flows.ROOT)
    assert edited.folder_id is None and edited.description == "d" and edited.name == "Hi"
    with pytest.raises(flows.StaleRevision):
        flows.edit_flow(sqlite_session, admin, flow.id, expected_revision=3, name="x")


def test_delete_folder_moves_its_contents_or_refuses(
    sqlite_session: Session, admin: AdminUser, viewer: AdminUser
) -> None:
    old = flows.create_folder(sqlite_session, admin, "Old")
    new = flows.create_folder(sqlite_session, admin, "New")
    child = flows.create_folder(sqlite_session, admin, "Child")
    child.parent_id = old.id
    flow = flows.create_flow(sqlite_session, admin, "Greeter", folder_id=old.id)
    with pytest.raises(PermissionDenied):
        flows.delete_folder(sqlite_session, viewer, old.id)
    with pytest.raises(flows.FlowConflict):
        flows.delete_folder(sqlite_session, admin, old.id)
    with pytest.raises(flows.FlowError, match="into the folder being deleted"):
        flows.delete_folder(sqlite_session, admin, old.id, child.id)
    flows.delete_folder(sqlite_session, admin, old.id, new.id)
    sqlite_session.refresh(flow)
    sqlite_session.refresh(child)
    assert flow.folder_id == new.id and child.parent_id == new.id
    assert flows.folder_counts(sqlite_session, [new.id, child.id]) == {new.id: 1}
    flows.delete_folder(sqlite_session, admin, child.id)  # empty: no move_to needed
    flows.delete_folder(sqlite_session, admin, new.id, flows.ROOT)
    sqlite_session.refresh(flow)
    assert flow.folder_id is None and not flows.list_folders(sqlite_session)


def test_graph_diff_names_what_changed() -> None:
    old = five_node_graph()
    new = json.loads(json.dumps(old))
    new["nodes"][1]["params"]["values"] = ["go"]
    new["nodes"][1]["params"]["ignore_case"] = True
    new["nodes"][2]["position"] = {"x": 10, "y": 0}
    new["nodes"][4]["type"] = "dc_send_message"
    del new["nodes"][3]
    new["edges"] = [e for e in new["edges"] if "m" not in (e["source"], e["target"])]
    new["edges"].append({"id": "e9", "source": "v", "target": "s"})
    diff = flows.graph_diff(old, new)
    assert diff.nodes_added == [] and diff.nodes_removed == [flows.NodeRef("m", "template")]
    assert diff.nodes_changed == [
        flows.NodeChange("c", "text_contains", ["ignore_case", "values"]),
        flows.NodeChange("s", "dc_send_message", [], type_changed=True),
        flows.NodeChange("v", "set_variable", [], moved=True),
    ]
    assert diff.edges_added == [flows.EdgeRef("v", "next", "s")]
    assert diff.edges_removed == [
        flows.EdgeRef("m", "next", "s"),
        flows.EdgeRef("v", "next", "m"),
    ]
    assert flows.graph_diff(old, json.loads(json.dumps(old))) == flows.GraphDiff()


# --------------------------------------------------------------------------- draft saves

STALE = "Someone else saved this flow meanwhile; reload to merge."


def _people(session: Session) -> tuple[AdminUser, AdminUser]:
    editor = AdminUser(username="eve", role=Role.editor, password_hash="x")
    viewer = AdminUser(username="vic", role=Role.viewer, password_hash="x")
    session.add_all([editor, viewer])
    session.flush()
    return editor, viewer


def test_a_draft_save_needs_the_revision_it_was_made_from(session: Session) -> None:
    """The conditional UPDATE: the right flow only, the revision counted by one, a stale
    copy refused with nothing written, and no revision given saves over anything."""
    editor, viewer = _people(session)
    flow = flows.create_flow(session, editor, "Greeter")
    other = flows.create_flow(session, editor, "Other")
    before = flow.updated_at

    saved = flows.save_draft(session, editor, flow.id, five_node_graph(), expected_revision=0)
    assert saved is flow  # the caller's copy is refreshed, not left at the old draft
    assert (flow.graph, flow.revision, flow.trigger_type) == (five_node_graph(), 1, "tg_command")
    assert flow.updated_at > before
    session.refresh(other)
    assert (other.graph, other.revision, other.trigger_type) == (flows.EMPTY_GRAPH, 0, None)

    with pytest.raises(flows.StaleRevision) as stale:
        flows.save_draft(session, editor, flow.id, flows.EMPTY_GRAPH, expected_revision=0)
    assert str(stale.value) == STALE
    session.refresh(flow)
    assert (flow.graph, flow.revision) == (five_node_graph(), 1)

    with pytest.raises(PermissionDenied):
        flows.save_draft(session, viewer, flow.id, flows.EMPTY_GRAPH, expected_revision=1)
    last = flows.save_draft(session, editor, flow.id, flows.EMPTY_GRAPH)  # no revision: wins
    assert (last.graph, last.revision, last.trigger_type) == (flows.EMPTY_GRAPH, 2, None)


def test_the_revision_check_of_edits_and_publishing(session: Session) -> None:
    """``_expect_revision``: a matching or absent revision passes, another is refused."""
    editor, _ = _people(session)
    flow = flows.create_flow(session, editor, "Greeter", graph=five_node_graph())
    flows.save_draft(session, editor, flow.id, five_node_graph())
    assert flows.edit_flow(session, editor, flow.id, expected_revision=1, name="A").name == "A"
    assert flows.edit_flow(session, editor, flow.id, name="B").name == "B"
    for stale in (
        lambda: flows.edit_flow(session, editor, flow.id, expected_revision=0, name="C"),
        lambda: flows.publish(session, editor, flow.id, expected_revision=2),
    ):
        with pytest.raises(flows.StaleRevision) as refused:
            stale()
        assert str(refused.value) == STALE
    assert flows.publish(session, editor, flow.id, expected_revision=1).version == 1
    assert flow.name == "B"


def test_a_built_in_flow_is_not_saved_and_a_missing_one_is_not_found(session: Session) -> None:
    editor, _ = _people(session)
    flow = flows.create_flow(session, editor, "Rules", graph=five_node_graph())
    flow.system_kind = "community_rules"
    session.add(flow)
    session.flush()
    with pytest.raises(flows.FlowConflict) as refused:
        flows.save_draft(session, editor, flow.id, flows.EMPTY_GRAPH)
    assert str(refused.value) == (
        "'Rules' is built in: it runs a community's rules. Change the rules on the "
        "community instead."
    )
    session.refresh(flow)
    assert (flow.graph, flow.revision) == (five_node_graph(), 0)
    with pytest.raises(flows.FlowNotFound, match="^Flow 999 does not exist.$"):
        flows.save_draft(session, editor, 999, flows.EMPTY_GRAPH)


def _lock_waiters() -> int:
    """Sessions of this database waiting for a lock (a fresh connection each time: a
    transaction keeps one view of ``pg_stat_activity``)."""
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    with db.get_engine().connect() as connection:
        return int(connection.execute(query).scalar_one())


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_savers_of_one_revision_on_postgresql_one_wins(session: Session) -> None:
    """The second UPDATE waits for the first saver's row lock, then re-checks the revision
    (PostgreSQL's READ COMMITTED): it is refused, not written over the first."""
    editor, _ = _people(session)
    flow_id = flows.create_flow(session, editor, "Greeter").id
    session.commit()

    def second_save() -> str:
        with Session(db.get_engine()) as second:
            try:
                flows.save_draft(second, editor, flow_id, flows.EMPTY_GRAPH, expected_revision=0)
            except flows.StaleRevision as exc:
                return str(exc)
            second.commit()
            return "saved"

    with Session(db.get_engine()) as first, ThreadPoolExecutor(1) as pool:
        flows.save_draft(first, editor, flow_id, five_node_graph(), expected_revision=0)
        outcome = pool.submit(second_save)
        deadline = time.monotonic() + 30
        while _lock_waiters() == 0:  # the second saver is at the UPDATE, waiting
            assert time.monotonic() < deadline and not outcome.done(), outcome
            time.sleep(0.02)
        first.commit()
        assert outcome.result(timeout=30) == STALE
    session.expire_all()
    stored = flows.get_flow(session, flow_id)
    assert (stored.graph, stored.revision) == (five_node_graph(), 1)
