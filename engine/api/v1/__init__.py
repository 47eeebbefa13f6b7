"""REST API v1: the HTTP face of the services (see README "REST API" for the conventions)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from engine.api.v1 import (
    activity,
    analytics,
    audit,
    bot_config,
    broadcasts,
    chats,
    communities,
    connections,
    cross_posting,
    errors,
    events,
    executions,
    flows,
    folders,
    identities,
    members,
    moderation,
    nodes,
    people,
    reputation,
    scheduled_messages,
    system,
    tokens,
    webhooks,
)

RESOURCES = (
    tokens,
    connections,
    webhooks,
    communities,
    chats,
    executions,
    nodes,
    flows,
    folders,
    people,
    audit,
    system,
    events,
    moderation,
    identities,
    reputation,
    members,
    cross_posting,
    broadcasts,
    scheduled_messages,
    bot_config,
    activity,
    analytics,
)


def install(api: FastAPI) -> None:
    """Mount every resource under /api/v1 and give their errors one shape."""
    router = APIRouter(prefix=errors.PREFIX, responses=errors.RESPONSES)
    for module in RESOURCES:
        router.include_router(module.router)
    api.include_router(router)
    errors.install(api)
