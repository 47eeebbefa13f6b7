"""The built-in flow a community's rules run as: one per community, created on first need.

Rules are not drawn, but their runs are executions of this flow (``system_kind`` set),
so the Executions list and the debugger show them like any other, with a "Built-in"
badge. Its one version is a chain of placeholder nodes, one per rule, so the debugger's
canvas lights the rule each step evaluated. The schema has no column naming the
community a system flow serves, so ``created_by`` holds it ("community:12").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from engine.db import saved_id
from engine.models import Community, FlowDefinition, FlowStatus, FlowVersion

SYSTEM_KIND = "community_rules"
RULES: tuple[tuple[str, str], ...] = (
    ("welcome", "Welcome message"),
    ("hold", "New-member hold"),
    ("antiflood", "Anti-flood"),
    ("antilink", "Anti-link"),
    ("banned_words", "Banned words"),
    ("reputation", "Reputation earning"),
)
"""(node id, label) of every rule, in the order they are drawn and evaluated."""


def rules_graph() -> dict[str, Any]:
    """The version's graph: the rules as a chain of labelled nodes (never executed as a
    graph; the node ids are the steps' ``node_id``)."""
    nodes = [
        {
            "id": node_id,
            "type": f"rule_{node_id}",
            "label": label,
            "position": {"x": 300.0 * index, "y": 0.0},
            "params": {},
        }
        for index, (node_id, label) in enumerate(RULES)
    ]
    edges = [
        {"source": a["id"], "sourceHandle": "next", "target": b["id"]}
        for a, b in zip(nodes, nodes[1:], strict=False)
    ]
    return {"nodes": nodes, "edges": edges}


@dataclass(frozen=True)
class RulesFlow:
    flow_id: int
    version_id: int


def owner_tag(community_id: int) -> str:
    return f"community:{community_id}"


def flow_name(community: Community) -> str:
    return f"Rules · {community.name}"[:128]


def find_rules_flow(session: Session, community_id: int) -> FlowDefinition | None:
    """The community's rules flow. One made before the community was belonged to a
    deleted community whose id SQLite gave again: it keeps its runs, and is not this one's."""
    community = session.get(Community, community_id)
    if community is None:
        return None
    return session.exec(
        select(FlowDefinition)
        .where(
            FlowDefinition.system_kind == SYSTEM_KIND,
            FlowDefinition.created_by == owner_tag(community_id),
            FlowDefinition.created_at >= community.created_at,
        )
        .order_by(col(FlowDefinition.id))
    ).first()


def ensure_rules_flow(session: Session, community_id: int) -> RulesFlow:
    """The community's rules flow and its current version, created (or renamed, or given
    a new version when the rules' graph changed) as needed.

    The community row is locked first (a no-op UPDATE: a row lock on PostgreSQL, the
    write lock on SQLite), so two workers seeing a community's first event at once
    create one flow, not two.
    """
    session.exec(
        sa.update(Community).where(col(Community.id) == community_id).values(id=col(Community.id))
    )
    community = session.get(Community, community_id)
    if community is None:
        raise LookupError(f"community {community_id} does not exist")
    flow = find_rules_flow(session, community_id)
    if flow is None:
        flow = FlowDefinition(
            name=flow_name(community),
            description="Built in: the community's rules, run on its chats' events.",
            status=FlowStatus.active,
            graph=rules_graph(),
            system_kind=SYSTEM_KIND,
            created_by=owner_tag(community_id),
        )
        session.add(flow)
        session.flush()
    elif flow.name != flow_name(community):
        flow.name = flow_name(community)
        session.add(flow)
    version = session.get(FlowVersion, flow.published_version_id or -1)
    if version is None or version.graph != rules_graph():
        last = version.version if version is not None else 0
        version = FlowVersion(
            flow_id=saved_id(flow), version=last + 1, graph=rules_graph(), created_by="system"
        )
        session.add(version)
        session.flush()
        flow.published_version_id = version.id
        flow.graph = rules_graph()
        session.add(flow)
    assert flow.id is not None and version.id is not None
    return RulesFlow(flow.id, version.id)


def is_system(flow: FlowDefinition | None) -> bool:
    return flow is not None and flow.system_kind is not None
