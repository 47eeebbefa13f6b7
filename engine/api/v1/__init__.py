"""REST API v1: the HTTP face of the services (see README "REST API" for the conventions)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from engine.api.v1 import (
    audit,
    connections,
    errors,
    events,
    executions,
    flows,
    folders,
    nodes,
    people,
    system,
    tokens,
    webhooks,
)

RESOURCES = (
    tokens,
    connections,
    webhooks,
    executions,
    nodes,
    flows,
    folders,
    people,
    audit,
    system,
    events,
)


def install(api: FastAPI) -> None:
    """Mount every resource under /api/v1 and give their errors one shape."""
    router = APIRouter(prefix=errors.PREFIX, responses=errors.RESPONSES)
    for module in RESOURCES:
        router.include_router(module.router)
    api.include_router(router)
    errors.install(api)
