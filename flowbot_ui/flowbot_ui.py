"""The Reflex app: pages, the sign-in guard, and the HTTP API mounted beside them."""

from __future__ import annotations

import reflex as rx

from connectors.service import run_embedded
from engine.api.app import create_api
from engine.worker import embedded_worker
from flowbot_ui.pages.connections import connections_page
from flowbot_ui.pages.dashboard import DashboardState, dashboard_page
from flowbot_ui.pages.editor import editor_page
from flowbot_ui.pages.executions import (
    DebugState,
    ExecutionsState,
    execution_page,
    executions_page,
)
from flowbot_ui.pages.flows import FlowsState, flows_page
from flowbot_ui.pages.login import login_page, setup_page
from flowbot_ui.pages.sections import SECTION_VIEWS, SectionState
from flowbot_ui.pages.settings import SettingsState, settings_page
from flowbot_ui.state.auth import AuthState
from flowbot_ui.state.connections import ConnectionsState
from flowbot_ui.state.editor import EditorState

app = rx.App(
    theme=rx.theme(accent_color="violet", gray_color="slate", radius="medium"),
    api_transformer=create_api(),
)
app.register_lifespan_task(embedded_worker)  # no-op in scaled mode
app.register_lifespan_task(run_embedded)  # connector supervisor (embedded mode)

app.add_page(login_page, route="/login", title="Sign in · Flowbot", on_load=AuthState.guard_public)
app.add_page(setup_page, route="/setup", title="Welcome · Flowbot", on_load=AuthState.guard_public)
app.add_page(
    dashboard_page,
    route="/",
    title="Dashboard · Flowbot",
    on_load=[AuthState.guard, DashboardState.load],
)
app.add_page(
    settings_page,
    route="/settings",
    title="Settings · Flowbot",
    on_load=[AuthState.guard, SettingsState.load],
)
app.add_page(
    connections_page,
    route="/connections",
    title="Connections · Flowbot",
    on_load=[AuthState.guard, ConnectionsState.load],
)
app.add_page(
    flows_page,
    route="/flows",
    title="Flows · Flowbot",
    on_load=[AuthState.guard, FlowsState.load],
)
app.add_page(
    editor_page,
    route="/flows/[flow_ref]",
    title="Flow editor · Flowbot",
    on_load=[AuthState.guard, EditorState.load],
)
app.add_page(
    executions_page,
    route="/executions",
    title="Executions · Flowbot",
    on_load=[AuthState.guard, ExecutionsState.load],
)
app.add_page(
    execution_page,
    route="/executions/[execution_ref]",
    title="Execution · Flowbot",
    on_load=[AuthState.guard, DebugState.load],
)
for section, view in SECTION_VIEWS:
    app.add_page(
        view,
        route=section.route,
        title=f"{section.title} · Flowbot",
        on_load=[AuthState.guard, SectionState.load],
    )
