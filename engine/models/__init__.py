"""All SQLModel tables; importing this package registers them on the metadata."""

from engine.models.admin import AdminUser, ApiToken, AuditLog, Role, UserSession
from engine.models.analytics import (
    CommunityAnalyticsSnapshot,
    FlowDailyStats,
    ReputationEvent,
    ReputationScore,
)
from engine.models.api import ApiIdempotentAnswer
from engine.models.base import Platform, utcnow
from engine.models.botconfig import BotConfigDraft, BotConfigVersion
from engine.models.broadcast import (
    BroadcastMessage,
    BroadcastStatus,
    BroadcastTarget,
    CrossPostAction,
    CrossPostDelivery,
    CrossPostRule,
    CrossPostTemplate,
    TargetStatus,
)
from engine.models.communities import (
    Chat,
    Community,
    CommunityConfig,
    CommunityMember,
    MemberRole,
)
from engine.models.connections import (
    BotInstance,
    ConnectionStatus,
    ConnectorKind,
    PlatformConnection,
    PlatformConnectionLog,
)
from engine.models.flows import (
    ExecutionStatus,
    FlowDefinition,
    FlowDraftHold,
    FlowEvent,
    FlowExecution,
    FlowExecutionStep,
    FlowFolder,
    FlowStatus,
    FlowVersion,
    StepStatus,
    UserFlowContext,
)
from engine.models.health import AppSetting, HealthCheck, HealthIncident, ProcessHeartbeat
from engine.models.identity import LinkSuggestionDismissal, PlatformAccount, UserIdentity
from engine.models.moderation import (
    ModerationAction,
    ModerationLog,
    Warning,
)
from engine.models.scheduled import ScheduledDelivery, ScheduledMessage, ScheduledStatus
from engine.models.webhooks import WebhookEndpoint, WebhookSignatureSeen

__all__ = [
    "AppSetting",
    "FlowDailyStats",
    "FlowDraftHold",
    "HealthCheck",
    "HealthIncident",
    "ProcessHeartbeat",
    "ScheduledDelivery",
    "TargetStatus",
    "CrossPostRule",
    "CrossPostDelivery",
    "CrossPostAction",
    "BroadcastTarget",
    "AdminUser",
    "ApiIdempotentAnswer",
    "ApiToken",
    "AuditLog",
    "BotConfigDraft",
    "BotConfigVersion",
    "BotInstance",
    "BroadcastMessage",
    "BroadcastStatus",
    "Chat",
    "Community",
    "CommunityAnalyticsSnapshot",
    "CommunityConfig",
    "CommunityMember",
    "ConnectionStatus",
    "ConnectorKind",
    "CrossPostTemplate",
    "ExecutionStatus",
    "FlowDefinition",
    "FlowEvent",
    "FlowExecution",
    "FlowExecutionStep",
    "FlowFolder",
    "FlowStatus",
    "FlowVersion",
    "MemberRole",
    "LinkSuggestionDismissal",
    "ModerationAction",
    "ModerationLog",
    "Platform",
    "PlatformAccount",
    "PlatformConnection",
    "PlatformConnectionLog",
    "ReputationEvent",
    "ReputationScore",
    "Role",
    "ScheduledMessage",
    "ScheduledStatus",
    "StepStatus",
    "UserFlowContext",
    "UserSession",
    "UserIdentity",
    "Warning",
    "WebhookEndpoint",
    "WebhookSignatureSeen",
    "utcnow",
]
