"""The debugger: executions filtered by flow, status and time (/executions), and one
execution's timeline stepped through on a read-only canvas of the version that ran
(/executions/[execution_ref]), with re-run from any node."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import reflex as rx
from pydantic import BaseModel
from sqlmodel import col, select

from engine import rerun
from engine.db import session_scope
from engine.models import ExecutionStatus, FlowDefinition, FlowExecution, FlowVersion, utcnow
from engine.services import auth, executions
from flowbot_ui.components.flow_canvas import flow_canvas
from flowbot_ui.components.layout import empty_state, page_header, shell
from flowbot_ui.components.table import data_table
from flowbot_ui.components.workspace import (
    STATUS_COLOURS,
    json_block,
    side_panel,
    status_badge,
    top_bar,
    workspace,
)
from flowbot_ui.state.auth import AuthState
from flowbot_ui.state.flow_graph import canvas_view
from flowbot_ui.state.steps import StepRow, duration, step_rows

PAGE_SIZE = 100
UNFINISHED = [s.value for s in executions.UNFINISHED]
PERIODS = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7), "all": None}
ANY = "any"


class ExecutionRow(BaseModel):
    id: int
    flow: str
    built_in: bool = False  # a run of a flow Flowbot runs by itself (a community's rules)
    status: str
    trigger: str
    started: str
    took: str
    error: str


class Option(BaseModel):
    value: str
    label: str


def _when(value) -> str:  # type: ignore[no-untyped-def]
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


class ExecutionsState(AuthState):
    rows: list[ExecutionRow] = []
    flow_options: list[Option] = []
    flow_filter: str = ANY
    status_filter: str = ANY
    period: str = "all"

    @rx.event
    def load(self) -> None:
        params = self.router.page.params
        self.flow_filter = str(params.get("flow", self.flow_filter) or ANY)
        self._reload()

    def _reload(self) -> None:
        since = PERIODS.get(self.period)
        matching = executions.executions_query(
            flow_id=None if self.flow_filter == ANY else int(self.flow_filter),
            status=None if self.status_filter == ANY else ExecutionStatus(self.status_filter),
            started_after=utcnow() - since if since is not None else None,
        )
        latest = matching.order_by(col(FlowExecution.id).desc()).limit(PAGE_SIZE)
        with session_scope() as session:
            found = session.exec(latest).all()
            names = session.exec(
                select(FlowDefinition.id, FlowDefinition.name, FlowDefinition.system_kind).order_by(
                    FlowDefinition.name
                )
            ).all()
        self.flow_options = [Option(value=ANY, label="All flows")] + [
            Option(value=str(i), label=n) for i, n, _ in names
        ]
        flow_names = {i: n for i, n, _ in names}
        built_in = {i for i, _, kind in names if kind is not None}
        self.rows = [
            ExecutionRow(
                id=e.id or 0,
                flow=flow_names.get(e.flow_id, f"flow {e.flow_id}"),
                built_in=e.flow_id in built_in,
                status=str(e.status),
                trigger=e.trigger_type,
                started=_when(e.started_at),
                took=duration((e.finished_at - e.started_at).total_seconds() * 1000)
                if e.finished_at
                else "…",
                error=(e.error or "")[:140],
            )
            for e in found
        ]

    @rx.event
    def set_flow_filter(self, value: str) -> None:
        self.flow_filter = value if value == ANY or value.isdigit() else ANY
        self._reload()

    @rx.event
    def set_status_filter(self, value: str) -> None:
        known = value == ANY or value in {s.value for s in ExecutionStatus}
        self.status_filter = value if known else ANY
        self._reload()

    @rx.event
    def set_period(self, value: str) -> None:
        self.period = value if value in PERIODS else "all"
        self._reload()


class DebugState(AuthState):
    missing: bool = False
    execution_id: int = 0
    flow_id: int = 0
    flow_name: str = ""
    built_in: bool = False
    version_label: str = ""
    status: str = ""
    failure: str = ""
    trigger: str = ""
    started: str = ""
    canvas: dict = {"key": 0, "seq": 0, "nodes": [], "edges": []}
    steps: list[StepRow] = []
    cursor: int = -1
    message: str = ""
    # the re-run being confirmed: from which node, and what it may do again
    rerun_open: bool = False
    rerun_node: str = ""
    rerun_actions: list[str] = []
    _stepped: bool = False  # the person moved the cursor: live updates leave it there

    @rx.var
    def current(self) -> StepRow | None:
        return self.steps[self.cursor] if 0 <= self.cursor < len(self.steps) else None

    @rx.var
    def highlight(self) -> str:
        return self.steps[self.cursor].node_id if 0 <= self.cursor < len(self.steps) else ""

    @rx.var
    def statuses(self) -> dict[str, str]:
        """Each node's status as of the step the cursor is on: stepping back un-lights."""
        return {s.node_id: s.status for s in self.steps[: self.cursor + 1]}

    @rx.event
    def load(self):  # type: ignore[no-untyped-def]
        try:
            execution_id = int(self.router.page.params.get("execution_ref", 0))
        except (TypeError, ValueError):
            execution_id = 0
        self.message, self.rerun_open, self._stepped = "", False, False
        self._load(execution_id)
        if self.status in ("queued", "running"):
            return DebugState.follow
        return None

    def _load(self, execution_id: int) -> None:
        with session_scope() as session:
            execution = session.get(FlowExecution, execution_id)
            self.missing = execution is None
            if execution is None:
                return
            flow = session.get(FlowDefinition, execution.flow_id)
            version = (
                session.get(FlowVersion, execution.version_id) if execution.version_id else None
            )
            self.execution_id, self.flow_id = execution_id, execution.flow_id
            self.flow_name = flow.name if flow else f"flow {execution.flow_id}"
            self.built_in = flow is not None and flow.system_kind is not None
            self.version_label = (
                "draft test run"
                if version and version.version <= 0
                else f"version {version.version}"
                if version
                else ""
            )
            self.status, self.failure = str(execution.status), execution.error or ""
            self.trigger, self.started = execution.trigger_type, _when(execution.started_at)
            self.canvas = canvas_view(version.graph if version else {}, execution_id, 0)
        self.steps = step_rows(executions.load_steps(execution_id))
        if not self._stepped:  # until the person moves: the first failure, else the start
            failed = next((i for i, s in enumerate(self.steps) if s.status == "failed"), None)
            self.cursor = failed if failed is not None else (0 if self.steps else -1)

    @rx.event(background=True)
    async def follow(self) -> None:
        """A running execution: refresh until it finishes."""
        for _ in range(400):
            await asyncio.sleep(0.3)
            async with self:
                if self._resolve() is None:  # signed out meanwhile
                    return
                self._load(self.execution_id)
                if self.status not in ("queued", "running"):
                    return

    @rx.event
    def step(self, delta: int) -> None:
        if self.steps:
            self.cursor = max(0, min(len(self.steps) - 1, self.cursor + delta))
            self._stepped = True

    @rx.event
    def go_to(self, index: int) -> None:
        self.cursor, self._stepped = index, True

    @rx.event
    def select_node(self, node_id: str) -> None:
        found = [i for i, s in enumerate(self.steps) if s.node_id == node_id]
        if found:
            self.cursor, self._stepped = found[-1], True

    @rx.event
    def ask_rerun(self, node_id: str) -> None:
        """Before a re-run: which real actions it may repeat, for the person to confirm."""
        try:
            with session_scope() as session:
                actions = rerun.rerun_preview(
                    session, self._current_user(session), self.execution_id, node_id
                )
        except (rerun.RerunError, auth.AuthError) as exc:
            self.message = str(exc)
            return
        self.rerun_node, self.rerun_actions, self.rerun_open = node_id, actions, True

    @rx.event
    def set_rerun_open(self, value: bool) -> None:
        self.rerun_open = value

    @rx.event
    async def rerun_from(self, node_id: str):  # type: ignore[no-untyped-def]
        user = self._resolve()
        if user is None:
            return None
        self.rerun_open = False
        try:
            new_id = await asyncio.to_thread(
                rerun.rerun_from_node, user.id or 0, self.execution_id, node_id
            )
        except (rerun.RerunError, auth.AuthError) as exc:
            self.message = str(exc)
            return None
        return rx.redirect(f"/executions/{new_id}")

    @rx.var
    def at_last_step(self) -> bool:
        return self.cursor >= len(self.steps) - 1

    @rx.var
    def unfinished(self) -> bool:
        return self.status in UNFINISHED

    @rx.event
    def cancel(self) -> None:
        """Stop this run (and the flows it started): the same service as the REST API's."""
        try:
            with session_scope() as session:
                executions.cancel(session, self._current_user(session), self.execution_id)
        except (executions.AlreadyFinished, auth.AuthError) as exc:
            self.message = str(exc)
        else:
            self.message = "Cancelled: no further step runs."
        self._load(self.execution_id)


# --------------------------------------------------------------------------- list view


def _filter_select(
    on_change: rx.EventHandler,
    value: rx.Var,
    options: list[tuple[str, str]] | rx.Var,
    test_id: str,
) -> rx.Component:
    items = (
        [rx.select.item(label, value=v) for v, label in options]
        if isinstance(options, list)
        else [rx.foreach(options, lambda o: rx.select.item(o.label, value=o.value))]
    )
    return rx.select.root(
        rx.select.trigger(min_width="160px", data_testid=test_id),
        rx.select.content(*items),
        value=value,
        on_change=on_change,
    )


def _built_in_badge() -> rx.Component:
    return rx.badge(
        "Built-in", color_scheme="violet", variant="surface", data_testid="built-in-badge"
    )


def _execution_row(row: ExecutionRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.link("#", row.id, href="/executions/" + row.id.to_string(), weight="medium")
        ),
        rx.table.cell(rx.hstack(rx.text(row.flow), rx.cond(row.built_in, _built_in_badge()))),
        rx.table.cell(status_badge(row.status)),
        rx.table.cell(rx.code(row.trigger, size="1", variant="ghost")),
        rx.table.cell(rx.text(row.started, size="2", color=rx.color("gray", 11))),
        rx.table.cell(rx.text(row.took, size="2", white_space="nowrap")),
        rx.table.cell(rx.text(row.error, size="1", color=rx.color("red", 11))),
        on_click=rx.redirect("/executions/" + row.id.to_string()),
        cursor="pointer",
        _hover={"background": rx.color("accent", 2)},
        data_testid="execution-row",
        align="center",
    )


def executions_page() -> rx.Component:
    statuses = [(ANY, "Any status")] + [(s.value, s.value.title()) for s in ExecutionStatus]
    periods = [
        ("1h", "Last hour"),
        ("24h", "Last 24 hours"),
        ("7d", "Last 7 days"),
        ("all", "Any time"),
    ]
    return shell(
        page_header("Executions", "Every flow run, step by step."),
        rx.hstack(
            _filter_select(
                ExecutionsState.set_flow_filter,
                ExecutionsState.flow_filter,
                ExecutionsState.flow_options,
                "filter-flow",
            ),
            _filter_select(
                ExecutionsState.set_status_filter,
                ExecutionsState.status_filter,
                statuses,
                "filter-status",
            ),
            _filter_select(
                ExecutionsState.set_period, ExecutionsState.period, periods, "filter-period"
            ),
            spacing="3",
            padding_bottom="12px",
        ),
        rx.cond(
            ExecutionsState.rows.length() == 0,
            empty_state(
                "list-checks",
                "No executions",
                "When a flow runs, each execution and its steps are recorded here.",
            ),
            data_table(
                (
                    "Run",
                    "Flow",
                    "Status",
                    "Trigger",
                    "Started",
                    "Took",
                    "Error",
                ),
                ExecutionsState.rows,
                _execution_row,
            ),
        ),
    )


# --------------------------------------------------------------------------- debugger view


def _timeline_item(row: StepRow, index: rx.Var[int]) -> rx.Component:
    active = DebugState.cursor == index
    return rx.hstack(
        rx.text(row.seq, size="1", color=rx.color("gray", 10), width="20px", flex_shrink="0"),
        rx.tooltip(
            rx.box(
                width="10px",
                height="10px",
                border_radius="5px",
                flex_shrink="0",
                background=rx.match(
                    row.status,
                    *[(s, rx.color(c, 9)) for s, c in STATUS_COLOURS.items()],
                    rx.color("gray", 9),
                ),
                aria_label=row.status,
                data_testid="timeline-status",
            ),
            content=row.status,
        ),
        rx.text(
            row.node_id,
            size="2",
            weight="medium",
            min_width="0",
            overflow="hidden",
            text_overflow="ellipsis",
            white_space="nowrap",
            title=row.node_id,
        ),
        rx.spacer(),
        rx.text(
            row.duration,
            size="1",
            color=rx.color("gray", 10),
            white_space="nowrap",
            flex_shrink="0",
            data_testid="timeline-duration",
        ),
        on_click=DebugState.go_to(index),
        cursor="pointer",
        width="100%",
        padding="6px 8px",
        border_radius="6px",
        align="center",
        background=rx.cond(active, rx.color("accent", 4), "transparent"),
        _hover={"background": rx.color("accent", 3)},
        data_testid="timeline-" + row.node_id,
    )


def _rerun_dialog() -> rx.Component:
    """A re-run sends real messages again: say which before it starts."""
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Re-run from ", rx.code(DebugState.rerun_node), "?"),
            rx.alert_dialog.description(
                "The steps before this node are replayed from this run's record; this node and "
                "everything after it run again for real.",
                size="2",
            ),
            rx.cond(
                DebugState.rerun_actions.length() > 0,
                rx.vstack(
                    rx.text("These actions can run again:", size="2", weight="medium"),
                    rx.foreach(
                        DebugState.rerun_actions,
                        lambda action: rx.hstack(
                            rx.icon("send", size=14, flex_shrink="0", margin_top="3px"),
                            rx.text(action, size="2"),
                            align="start",
                            spacing="2",
                        ),
                    ),
                    spacing="2",
                    margin_top="12px",
                    data_testid="rerun-actions",
                ),
                rx.text(
                    "Nothing from here on acts on a platform or outside Flowbot.",
                    size="2",
                    margin_top="12px",
                    data_testid="rerun-actions",
                ),
            ),
            rx.flex(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(
                    rx.button(
                        "Re-run",
                        color_scheme="red",
                        on_click=DebugState.rerun_from(DebugState.rerun_node),
                        data_testid="rerun-confirm",
                    )
                ),
                justify="end",
                spacing="3",
                margin_top="16px",
            ),
            max_width="520px",
        ),
        open=DebugState.rerun_open,
        on_open_change=DebugState.set_rerun_open,
    )


def _current_step() -> rx.Component:
    step = DebugState.current
    return rx.cond(
        step,
        rx.vstack(
            rx.hstack(
                rx.heading(step.node_id, size="3", data_testid="current-node"),
                rx.code(step.node_type, size="1", variant="ghost"),
                status_badge(step.status),
                align="center",
                spacing="2",
            ),
            rx.cond(
                step.handle != "", rx.text("Followed output: ", rx.code(step.handle), size="1")
            ),
            rx.cond(
                step.error != "",
                rx.callout(
                    step.error,
                    icon="circle-x",
                    color_scheme="red",
                    size="1",
                    width="100%",
                    data_testid="step-error",
                ),
            ),
            rx.text(
                "Input (params as rendered)", size="1", weight="medium", color=rx.color("gray", 11)
            ),
            json_block(step.input, "debug-input"),
            rx.text("Output", size="1", weight="medium", color=rx.color("gray", 11)),
            json_block(rx.cond(step.output != "", step.output, "(none)"), "debug-output"),
            rx.button(
                rx.icon("rotate-ccw", size=14),
                "Re-run from this node",
                size="2",
                variant="soft",
                on_click=DebugState.ask_rerun(step.node_id),
                disabled=~DebugState.can_edit | DebugState.built_in,
                data_testid="rerun",
            ),
            _rerun_dialog(),
            spacing="2",
            width="100%",
        ),
    )


def execution_page() -> rx.Component:
    return workspace(
        rx.cond(
            DebugState.missing,
            rx.center(rx.text("This execution does not exist."), padding="64px", width="100%"),
            rx.fragment(
                top_bar(
                    rx.link(
                        rx.icon("arrow-left", size=18),
                        href="/executions",
                        color=rx.color("gray", 11),
                    ),
                    rx.vstack(
                        rx.heading("Execution #", DebugState.execution_id, size="4"),
                        rx.text(
                            rx.cond(
                                DebugState.built_in,
                                rx.text.span(DebugState.flow_name),
                                rx.link(
                                    DebugState.flow_name,
                                    href="/flows/" + DebugState.flow_id.to_string(),
                                ),
                            ),
                            " · ",
                            DebugState.version_label,
                            " · ",
                            DebugState.trigger,
                            " · ",
                            DebugState.started,
                            size="1",
                            color=rx.color("gray", 10),
                        ),
                        spacing="0",
                    ),
                    status_badge(DebugState.status, data_testid="execution-status"),
                    rx.cond(DebugState.built_in, _built_in_badge()),
                    rx.cond(
                        DebugState.unfinished,
                        rx.button(
                            rx.icon("square", size=14),
                            "Cancel run",
                            variant="soft",
                            color_scheme="red",
                            disabled=~DebugState.can_edit,
                            on_click=DebugState.cancel,
                            data_testid="cancel-run",
                        ),
                    ),
                    rx.spacer(),
                    rx.button(
                        rx.icon("chevron-left", size=16),
                        "Back",
                        variant="soft",
                        color_scheme="gray",
                        on_click=DebugState.step(-1),
                        disabled=DebugState.cursor <= 0,
                        data_testid="step-back",
                    ),
                    rx.text(
                        DebugState.cursor + 1,
                        " / ",
                        DebugState.steps.length(),
                        size="2",
                        data_testid="step-counter",
                    ),
                    rx.button(
                        "Forward",
                        rx.icon("chevron-right", size=16),
                        variant="soft",
                        color_scheme="gray",
                        on_click=DebugState.step(1),
                        disabled=DebugState.at_last_step,
                        data_testid="step-forward",
                    ),
                ),
                rx.cond(
                    DebugState.message != "",
                    rx.callout(DebugState.message, icon="info", width="100%"),
                ),
                rx.cond(
                    DebugState.failure != "",
                    rx.callout(
                        DebugState.failure,
                        icon="triangle-alert",
                        color_scheme="red",
                        width="100%",
                        data_testid="execution-error",
                    ),
                ),
                rx.hstack(
                    side_panel(
                        rx.text("Timeline", size="2", weight="bold"),
                        rx.foreach(DebugState.steps, _timeline_item),
                        width="280px",
                        border_right=f"1px solid {rx.color('gray', 5)}",
                        data_testid="timeline",
                    ),
                    rx.box(
                        flow_canvas(
                            graph=DebugState.canvas,
                            issues={},
                            statuses=DebugState.statuses,
                            highlight=DebugState.highlight,
                            read_only=True,
                            on_select_node=DebugState.select_node,
                        ),
                        flex="1",
                        height="100%",
                        background=rx.color("gray", 2),
                    ),
                    side_panel(
                        _current_step(),
                        width="380px",
                        border_left=f"1px solid {rx.color('gray', 5)}",
                    ),
                    spacing="0",
                    width="100%",
                    flex="1",
                    min_height="0",
                ),
            ),
        )
    )
