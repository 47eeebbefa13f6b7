"""The FastAPI application Reflex mounts with ``api_transformer``."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from engine.api import runs, session_routes, telegram_webhook, v1, webhooks
from engine.api.origins import SameOriginOnly
from engine.db import get_engine
from engine.services.executions import RETRY_AFTER_SECONDS, Unavailable
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
    api.add_exception_handler(Unavailable, unavailable)
    api.add_exception_handler(sa.exc.OperationalError, unavailable)
    api.include_router(webhooks.router)
    api.include_router(runs.router)
    api.include_router(telegram_webhook.router)
    v1.install(api)
    # Wraps everything mounted below it too, the UI's websocket included.
    api.add_middleware(SameOriginOnly)
    return api


def unavailable(request: Request, exc: Exception) -> JSONResponse:
    """503 with Retry-After: nothing was recorded, so sending the request again is safe."""
    message = "Temporarily unavailable (database or message broker): try again later."
    content = (
        v1.errors.body("unavailable", message)
        if request.url.path.startswith(v1.errors.PREFIX)
        else {"detail": message}
    )
    return JSONResponse(content, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
