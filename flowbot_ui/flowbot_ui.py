"""The Reflex app: pages, the sign-in guard, and the HTTP API mounted beside them."""

from __future__ import annotations

import reflex as rx

from connectors.service import run_embedded
from engine.api.app import create_api
from engine.heartbeats import web_heartbeat
from engine.worker import embedded_worker
from flowbot_ui.pages.accounts import accounts_page
from flowbot_ui.pages.analytics import community_analytics_page, flow_analytics_page
from flowbot_ui.pages.bot_config import bot_page, bots_page
from flowbot_ui.pages.broadcasts import broadcasts_page, composer_page, report_page
from flowbot_ui.pages.communities import communities_page, community_page
from flowbot_ui.pages.connections import connections_page
from flowbot_ui.pages.cross_posting import cross_post_page, cross_post_rule_page
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
from flowbot_ui.pages.members import member_page, members_page
from flowbot_ui.pages.moderation import moderation_page
from flowbot_ui.pages.reputation import reputation_page
from flowbot_ui.pages.scheduled import scheduled_page
from flowbot_ui.pages.settings import SettingsState, settings_page
from flowbot_ui.pages.system import system_page
from flowbot_ui.pages.webhooks import webhooks_page
from flowbot_ui.state.accounts import AccountsState
from flowbot_ui.state.analytics import CommunityAnalyticsState, FlowAnalyticsState
from flowbot_ui.state.auth import AuthState
from flowbot_ui.state.bot_config import BotConfigState, BotsState
from flowbot_ui.state.broadcasts import BroadcastsState, ComposerState, ReportState
from flowbot_ui.state.communities import CommunitiesState, CommunityState
from flowbot_ui.state.connections import ConnectionsState
from flowbot_ui.state.cross_posting import CrossPostRuleState, CrossPostState
from flowbot_ui.state.editor import EditorState
from flowbot_ui.state.members import MembersState, MemberState
from flowbot_ui.state.moderation import ModerationState
from flowbot_ui.state.reputation import ReputationState
from flowbot_ui.state.scheduled import ScheduledState
from flowbot_ui.state.session_guard import SessionGuard
from flowbot_ui.state.system import SystemState
from flowbot_ui.state.webhooks import WebhooksState

app = rx.App(
    theme=rx.theme(accent_color="violet", gray_color="slate", radius="medium"),
    api_transformer=create_api(),
)
app.add_middleware(SessionGuard())  # no protected handler runs without a live session
app.register_lifespan_task(embedded_worker)  # no-op in scaled mode
app.register_lifespan_task(run_embedded)  # connector supervisor (embedded mode)
app.register_lifespan_task(web_heartbeat)  # this process on the System status page

app.add_page(login_page, route="/login", title="Sign in · Flowbot", on_load=AuthState.guard_public)
app.add_page(setup_page, route="/setup", title="Welcome · Flowbot", on_load=AuthState.guard_public)


def protected(view, route: str, title: str, load) -> None:  # type: ignore[no-untyped-def]
    """A page behind sign-in: the guard runs first, then the page's own loader."""
    app.add_page(view, route=route, title=f"{title} · Flowbot", on_load=[AuthState.guard, load])


protected(dashboard_page, "/", "Dashboard", DashboardState.load)
protected(settings_page, "/settings", "Settings", SettingsState.load)
protected(system_page, "/system", "System status", SystemState.load)
protected(connections_page, "/connections", "Connections", ConnectionsState.load)
protected(flows_page, "/flows", "Flows", FlowsState.load)
protected(editor_page, "/flows/[flow_ref]", "Flow editor", EditorState.load)
protected(webhooks_page, "/webhooks", "Webhooks", WebhooksState.load)
protected(executions_page, "/executions", "Executions", ExecutionsState.load)
protected(execution_page, "/executions/[execution_ref]", "Execution", DebugState.load)
protected(communities_page, "/communities", "Communities", CommunitiesState.load)
protected(community_page, "/communities/[community_ref]", "Community", CommunityState.load)
protected(moderation_page, "/moderation", "Moderation", ModerationState.load)
protected(members_page, "/communities/[community_ref]/members", "Members", MembersState.load)
protected(member_page, "/members/[member_ref]", "Member", MemberState.load)
protected(accounts_page, "/accounts", "Accounts", AccountsState.load)
protected(reputation_page, "/reputation", "Leaderboard", ReputationState.load)
protected(scheduled_page, "/scheduled", "Scheduled", ScheduledState.load)
protected(broadcasts_page, "/broadcast", "Broadcast", BroadcastsState.load)
protected(composer_page, "/broadcast/new", "New broadcast", ComposerState.load)
protected(composer_page, "/broadcast/[broadcast_ref]/edit", "Edit broadcast", ComposerState.load)
protected(report_page, "/broadcast/[broadcast_ref]", "Broadcast report", ReportState.load)
protected(cross_post_page, "/cross-post", "Cross-post", CrossPostState.load)
protected(
    cross_post_rule_page, "/cross-post/rules/[rule_ref]", "Cross-post rule", CrossPostRuleState.load
)
protected(bots_page, "/bot-config", "Bot config", BotsState.load)
protected(bot_page, "/bot-config/[bot_ref]", "Bot config", BotConfigState.load)
protected(
    community_analytics_page, "/analytics", "Community analytics", CommunityAnalyticsState.load
)
protected(flow_analytics_page, "/analytics/flows", "Flow analytics", FlowAnalyticsState.load)
