"""A flow's unsaved draft held in the database while a save conflict is open.

An editing room keeps its draft in server memory and autosaves it; but once a save made
elsewhere refuses the room's save, nothing is saved until an editor chooses (take the
saved version, keep the room's, or merge). The hold keeps what the choice needs (the
draft, the base it was edited from, that base's revision and who touched what) so a
server restart in between loses nothing and offers the same choice.
"""

from __future__ import annotations

import copy
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from engine.models import AdminUser, FlowDraftHold, Role, utcnow
from engine.services.auth import require_role
from engine.services.flows import editable_flow


def hold(
    session: Session,
    actor: AdminUser,
    flow_id: int,
    graph: dict[str, Any],
    base_graph: dict[str, Any],
    base_revision: int,
    authors: dict[str, str],
) -> FlowDraftHold:
    """Keep (or replace) the flow's held draft; editors only, like saving it."""
    require_role(actor, Role.editor)
    editable_flow(session, flow_id)
    found = session.get(FlowDraftHold, flow_id) or FlowDraftHold(flow_id=flow_id, base_revision=0)
    found.graph, found.base_graph = copy.deepcopy(graph), copy.deepcopy(base_graph)
    found.base_revision, found.authors = base_revision, dict(authors)
    found.updated_at = utcnow()
    session.add(found)
    session.flush()
    return found


def fetch(session: Session, actor: AdminUser, flow_id: int) -> FlowDraftHold | None:
    """The flow's held draft, if any. Viewers may read it: the room shows its draft to
    everyone who opens the editor, and whoever opens it first after a restart loads it."""
    require_role(actor, Role.viewer)
    return session.get(FlowDraftHold, flow_id)


def release(session: Session, actor: AdminUser, flow_id: int) -> None:
    """Drop the held draft: the conflict is over (saved, taken, merged)."""
    require_role(actor, Role.editor)
    session.exec(sa.delete(FlowDraftHold).where(col(FlowDraftHold.flow_id) == flow_id))
