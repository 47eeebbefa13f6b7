"""The FastAPI application Reflex mounts with ``api_transformer``."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from engine.api import runs, session_routes, telegram_webhook, v1, webhooks
from engine.api.origins import SameOriginOnly
from engine.api.outage import OUTAGES, unavailable
from engine.db import get_engine
from engine.settings import get_settings


def create_api() -> FastAPI:
    api = FastAPI(title="Flowbot API", docs_url="/api/docs", openapi_url="/api/openapi.json")

    @api.get("/api/health")
    def health() -> JSONResponse:
        """Liveness and database reachability, for load balancers and monitors."""
        settings = get_settings()
        try:
            with get_engine().connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            database = "ok"
        except sa.exc.SQLAlchemyError as exc:
            database = f"error: {type(exc).__name__}"
        body = {
            "status": "ok" if database == "ok" else "degraded",
            "database": database,
            "mode": "embedded" if settings.is_embedded_broker else "scaled",
        }
        return JSONResponse(body, status_code=200 if database == "ok" else 503)

    api.include_router(session_routes.router)
    # An outage of the database or the broker changed nothing: the caller may retry.
    for outage in OUTAGES:
        api.add_exception_handler(outage, unavailable)
    api.include_router(webhooks.router)
    api.include_router(runs.router)
    api.include_router(telegram_webhook.router)
    v1.install(api)
    # Wraps everything mounted below it too, the UI's websocket included.
    api.add_middleware(SameOriginOnly)
    # Outermost of ours: webhook calls skip the routing and middleware above (issue 15).
    api.add_middleware(webhooks.FastPath)
    return api
