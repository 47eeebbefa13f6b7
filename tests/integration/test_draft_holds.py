"""Held drafts (a room's unsaved draft during a save conflict) and the draft's saver, on
SQLite and PostgreSQL: kept, replaced, read, released; who may do which; and what goes
with the flow or the saver's account."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from engine.models import AdminUser, FlowDefinition, FlowDraftHold, Role
from engine.services import draft_holds, flows
from engine.services.auth import PermissionDenied

BASE = {"nodes": [{"id": "log1", "type": "log", "params": {"message": "hi"}}], "edges": []}
DRAFT = {"nodes": [{"id": "log1", "type": "log", "params": {"message": "mine"}}], "edges": []}


def _person(session: Session, name: str, role: Role, active: bool = True) -> AdminUser:
    made = AdminUser(username=name, role=role, password_hash="x", is_active=active)
    session.add(made)
    session.commit()
    return made


@pytest.fixture
def ada(session: Session) -> AdminUser:
    return _person(session, "ada", Role.editor)


@pytest.fixture
def flow_id(session: Session, ada: AdminUser) -> int:
    flow = flows.create_flow(session, ada, "Held", graph=BASE)
    session.commit()
    return flow.id or 0


def _hold(session: Session, actor: AdminUser, flow_id: int, draft: dict = DRAFT) -> None:
    draft_holds.hold(session, actor, flow_id, draft, BASE, 3, {"field:log1/message": "ada"})
    session.commit()


def test_a_hold_is_kept_replaced_read_and_released(
    session: Session, ada: AdminUser, flow_id: int
) -> None:
    assert draft_holds.fetch(session, ada, flow_id) is None
    _hold(session, ada, flow_id)
    session.expire_all()
    held = draft_holds.fetch(session, ada, flow_id)
    assert held is not None
    assert (held.graph, held.base_graph, held.base_revision) == (DRAFT, BASE, 3)
    assert held.authors == {"field:log1/message": "ada"}
    later = {"nodes": [], "edges": []}
    _hold(session, ada, flow_id, later)  # the autosave during the conflict: replaced
    session.expire_all()
    held = draft_holds.fetch(session, ada, flow_id)
    assert held is not None and held.graph == later
    draft_holds.release(session, ada, flow_id)
    session.commit()
    session.expire_all()
    assert draft_holds.fetch(session, ada, flow_id) is None


def test_only_editors_hold_or_release_and_anyone_signed_in_reads(
    session: Session, ada: AdminUser, flow_id: int
) -> None:
    _hold(session, ada, flow_id)
    viewer = _person(session, "vic", Role.viewer)
    gone = _person(session, "old", Role.admin, active=False)
    for refused in (viewer, gone):
        with pytest.raises(PermissionDenied):
            _hold(session, refused, flow_id, BASE)
        with pytest.raises(PermissionDenied):
            draft_holds.release(session, refused, flow_id)
    with pytest.raises(PermissionDenied):
        draft_holds.fetch(session, gone, flow_id)
    session.rollback()
    held = draft_holds.fetch(session, viewer, flow_id)  # the room shows its draft to viewers
    assert held is not None and held.graph == DRAFT  # nothing refused was written


def test_a_built_in_flow_is_never_held(session: Session, ada: AdminUser, flow_id: int) -> None:
    flow = session.get(FlowDefinition, flow_id)
    assert flow is not None
    flow.system_kind = "community_rules"
    session.commit()
    with pytest.raises(flows.FlowConflict):
        _hold(session, ada, flow_id)


def test_the_hold_goes_with_its_flow(session: Session, ada: AdminUser, flow_id: int) -> None:
    _hold(session, ada, flow_id)
    flows.delete_flow(session, ada, flow_id)
    session.commit()
    session.expire_all()
    assert session.get(FlowDraftHold, flow_id) is None


def test_a_save_records_its_saver_until_their_account_goes(
    session: Session, ada: AdminUser, flow_id: int
) -> None:
    flow = session.get(FlowDefinition, flow_id)
    assert flow is not None and flows.draft_saver(session, flow) == "ada"  # created it
    bob = _person(session, "bob", Role.editor)
    flows.save_draft(session, bob, flow_id, DRAFT, expected_revision=0)
    session.commit()
    assert flows.draft_saver(session, flow) == "bob"
    session.delete(bob)
    session.commit()
    session.expire_all()
    flow = session.get(FlowDefinition, flow_id)
    assert flow is not None and flow.draft_saved_by_id is None
    assert flows.draft_saver(session, flow) == ""
