"""The answer to an outage of the database or the broker, for the app's exception handler
and for the webhook receiver's fast path (engine/api/webhooks.py), which bypasses it."""

from __future__ import annotations

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import JSONResponse

from engine.api.v1 import errors
from engine.services.executions import RETRY_AFTER_SECONDS, Unavailable

# What an outage raises: answered with unavailable() by the app and by the fast path.
OUTAGES: tuple[type[Exception], ...] = (Unavailable, sa.exc.OperationalError)
MESSAGE = "Temporarily unavailable (database or message broker): try again later."


def unavailable(request: Request, exc: Exception) -> JSONResponse:
    """503 with Retry-After: nothing was recorded, so sending the request again is safe."""
    content = (
        errors.body("unavailable", MESSAGE)
        if request.url.path.startswith(errors.PREFIX)
        else {"detail": MESSAGE}
    )
    return JSONResponse(content, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
