"""Flows: definitions (draft graph), published versions, executions and their steps."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine.models.base import created_at_field, enum_field, fk, json_field, optional_json_field


class FlowStatus(StrEnum):
    draft = "draft"
    active = "active"
    paused = "paused"


class ExecutionStatus(StrEnum):
    queued = "queued"
    running = "running"
    waiting = "waiting"  # parked on a durable delay
    succeeded = "succeeded"
    failed = "failed"
    stopped = "stopped"


UNFINISHED = (ExecutionStatus.queued, ExecutionStatus.running, ExecutionStatus.waiting)


class StepStatus(StrEnum):
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    skipped = "skipped"


class FlowFolder(SQLModel, table=True):
    __tablename__ = "flow_folder"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=sa.String(128))
    parent_id: int | None = fk("flow_folder.id", nullable=True)
    created_at: datetime = created_at_field()


class FlowDefinition(SQLModel, table=True):
    __tablename__ = "flow_definition"
    __table_args__ = (sa.Index("ix_flow_definition_trigger", "status", "trigger_type"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=sa.String(128), index=True)
    description: str = Field(default="", sa_type=sa.Text)
    folder_id: int | None = fk("flow_folder.id", nullable=True)
    status: FlowStatus = enum_field(FlowStatus.draft)
    # The draft being edited: {"nodes": [...], "edges": [...]}.
    graph: dict[str, Any] = json_field()
    # Bumped on every saved edit: concurrent savers detect each other.
    revision: int = 0
    published_version_id: int | None = Field(default=None, nullable=True)
    trigger_type: str | None = Field(default=None, sa_type=sa.String(64))
    bot_instance_id: int | None = fk("bot_instance.id", nullable=True)
    # Set on flows Flowbot runs by itself (a community's rules): not drawn, not editable,
    # but their executions are traced and debugged like any other.
    system_kind: str | None = Field(default=None, sa_type=sa.String(32))
    created_by: str = Field(default="", sa_type=sa.String(64))
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()
    # Who saved the draft last: a save refused as stale names whose changes keeping one's
    # own would overwrite.
    draft_saved_by_id: int | None = fk("admin_user.id", nullable=True, index=False)


class FlowDraftHold(SQLModel, table=True):
    """An editing room's unsaved draft while a save made elsewhere is unresolved: the room
    keeps it in memory only, so this is what survives a server restart until someone
    takes the saved version, keeps theirs or merges."""

    __tablename__ = "flow_draft_hold"

    flow_id: int = Field(
        primary_key=True,
        foreign_key="flow_definition.id",
        ondelete="CASCADE",
        sa_column_kwargs={"autoincrement": False},  # the flow's id, never generated
    )
    graph: dict[str, Any] = json_field()  # the room's draft
    base_graph: dict[str, Any] = json_field()  # what it was last loaded or saved as
    base_revision: int  # the revision of that base
    authors: dict[str, str] = json_field()  # flow_merge.edit_key -> who touched it last
    updated_at: datetime = created_at_field()


class FlowVersion(SQLModel, table=True):
    """An immutable published graph; executions always run a version, never a draft."""

    __tablename__ = "flow_version"
    __table_args__ = (sa.UniqueConstraint("flow_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    flow_id: int = fk("flow_definition.id", index=False)
    version: int
    graph: dict[str, Any] = json_field()
    note: str = Field(default="", sa_type=sa.Text)
    created_by: str = Field(default="", sa_type=sa.String(64))
    created_at: datetime = created_at_field()


class FlowExecution(SQLModel, table=True):
    __tablename__ = "flow_execution"
    __table_args__ = (
        sa.Index("ix_flow_execution_flow_started", "flow_id", "started_at"),
        sa.Index("ix_flow_execution_status_resume", "status", "resume_at"),
        sa.Index("ix_flow_execution_finished", "finished_at"),  # analytics: ended per hour/day
        sa.Index("ix_flow_execution_started", "started_at", "id"),  # the activity feed
    )

    id: int | None = Field(default=None, primary_key=True)
    flow_id: int = fk("flow_definition.id", index=False)
    version_id: int | None = fk("flow_version.id", nullable=True, index=False)
    status: ExecutionStatus = enum_field(ExecutionStatus.queued)
    # One execution per triggering event: redelivered messages find the existing row.
    idempotency_key: str | None = Field(default=None, sa_type=sa.String(128), unique=True)
    trigger_type: str = Field(default="manual", sa_type=sa.String(64))
    trigger_data: dict[str, Any] = json_field()
    context: dict[str, Any] = json_field()
    result: dict[str, Any] | None = optional_json_field()
    error: str | None = Field(default=None, sa_type=sa.Text)
    parent_execution_id: int | None = fk("flow_execution.id", nullable=True)
    # The execution a trigger started; its whole tree (run_flow children) shares one budget.
    # None on the root itself.
    root_execution_id: int | None = fk("flow_execution.id", nullable=True)
    depth: int = 0
    step_count: int = 0
    resume_at: datetime | None = None
    started_at: datetime = created_at_field()
    finished_at: datetime | None = None


class FlowExecutionStep(SQLModel, table=True):
    __tablename__ = "flow_execution_step"
    __table_args__ = (
        sa.UniqueConstraint("execution_id", "seq"),
        # A re-run finds a step by its key: node id plus loop iteration path.
        sa.UniqueConstraint("execution_id", "step_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    execution_id: int = fk("flow_execution.id", index=False)
    seq: int
    step_key: str = Field(sa_type=sa.String(200))  # "send1", "loop1[3]/send1"
    node_id: str = Field(sa_type=sa.String(64))
    node_type: str = Field(sa_type=sa.String(64))
    status: StepStatus = enum_field(StepStatus.running)
    input: dict[str, Any] = json_field()
    output: dict[str, Any] | None = optional_json_field()
    error: str | None = Field(default=None, sa_type=sa.Text)
    handle: str | None = Field(default=None, sa_type=sa.String(64))
    started_at: datetime = created_at_field()
    duration_ms: float | None = None


class UserFlowContext(SQLModel, table=True):
    """Variables and counters a flow keeps per user, chat or flow between executions."""

    __tablename__ = "user_flow_context"
    __table_args__ = (sa.UniqueConstraint("flow_id", "scope", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    flow_id: int = fk("flow_definition.id", index=False)
    scope: str = Field(sa_type=sa.String(128))  # "user:telegram:42", "chat:discord:9", "flow"
    key: str = Field(sa_type=sa.String(128))
    value: Any = optional_json_field()
    updated_at: datetime = created_at_field()
    expires_at: datetime | None = None


class FlowEvent(SQLModel, table=True):
    """Recent platform events, kept for the debugger's sample payloads and pruned daily."""

    __tablename__ = "flow_event"
    __table_args__ = (sa.Index("ix_flow_event_kind_created", "kind", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(sa_type=sa.String(128), unique=True)
    kind: str = Field(sa_type=sa.String(64))
    platform: str = Field(sa_type=sa.String(32))
    bot_instance_id: int | None = fk("bot_instance.id", nullable=True, index=False)
    payload: dict[str, Any] = json_field()
    created_at: datetime = created_at_field()
    expires_at: datetime | None = Field(default=None, index=True)
