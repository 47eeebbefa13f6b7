"""One error shape for the whole REST API: ``{"error": {"code", "message", "details"}}``.

Routes raise :class:`ApiError` (or let a service refusal through: the services' exceptions
are mapped here, once); FastAPI's own 404/405/422 answers get the same envelope.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

PREFIX = "/api/v1"

_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "too_large",
    422: "invalid",
    428: "precondition_required",
    429: "rate_limited",
    503: "unavailable",
}


class ErrorBody(BaseModel):
    """What went wrong: ``code`` for programs, ``message`` for people."""

    code: str = Field(description="Stable and machine-readable.", examples=["not_found"])
    message: str = Field(examples=["Flow 7 does not exist."])
    details: Any = Field(
        default=None,
        description="More about the error when there is more, e.g. the invalid fields.",
        examples=[[{"field": "name", "problem": "Field required"}]],
    )


class ErrorEnvelope(BaseModel):
    """Every error answer of /api/v1 has this shape."""

    error: ErrorBody


def _documented(description: str, **headers: str) -> dict[str, Any]:
    response: dict[str, Any] = {"model": ErrorEnvelope, "description": description}
    if headers:
        response["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in headers.items()
        }
    return response


# The refusals any /api/v1 operation can answer, in OpenAPI; a resource adds its own
# (409, 412, 413...) with ``responses=`` on its route.
RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _documented("A malformed request, e.g. a cursor this API did not give out."),
    401: _documented(
        "No API token, or one that is invalid, expired or revoked.",
        **{"WWW-Authenticate": "`Bearer`."},
    ),
    403: _documented("The token (or its owner) does not have the role this needs."),
    404: _documented("No such resource, or not one this token may see."),
    422: _documented("The request does not match the schema; `details` lists the fields."),
    429: _documented(
        "Over this token's request budget for the minute (FLOWBOT_API_REQUESTS_PER_MINUTE).",
        **{"Retry-After": "Seconds until the next minute starts."},
    ),
    503: _documented(
        "The database or the message broker is unreachable; nothing was done, retry.",
        **{"Retry-After": "Seconds to wait before retrying."},
    ),
}


class ApiError(Exception):
    """An answer other than success, with a stable machine-readable ``code``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.message = message
        self.details = details
        self.headers = headers or {}


def body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


async def _answer(response: Response | Awaitable[Response]) -> Response:
    """What an earlier handler answered; Starlette allows plain and async handlers."""
    return await response if inspect.isawaitable(response) else response


def _response(error: ApiError) -> JSONResponse:
    return JSONResponse(
        body(error.code, error.message, error.details),
        status_code=error.status,
        headers=error.headers,
    )


def install(api: FastAPI) -> None:
    """Register the handlers; answers outside /api/v1 keep FastAPI's own shape."""

    @api.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _response(exc)

    previous_http = api.exception_handlers.get(StarletteHTTPException)
    previous_invalid = api.exception_handlers.get(RequestValidationError)

    @api.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Any:
        if not request.url.path.startswith(PREFIX) and previous_http is not None:
            return await _answer(previous_http(request, exc))
        headers = dict(exc.headers or {})
        return _response(ApiError(exc.status_code, str(exc.detail), headers=headers))

    @api.exception_handler(sa.exc.DataError)
    async def unstorable(request: Request, exc: sa.exc.DataError) -> JSONResponse:
        """A value the database cannot hold (an id past PostgreSQL's integer range, a NUL
        character in JSON): the request's fault, answered 422 rather than a server error."""
        message = "A value in the request is out of the range or character set stored."
        if not request.url.path.startswith(PREFIX):
            return JSONResponse({"detail": message}, status_code=422)
        return _response(ApiError(422, message))

    @api.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Any:
        if not request.url.path.startswith(PREFIX) and previous_invalid is not None:
            return await _answer(previous_invalid(request, exc))
        details = [
            {"field": ".".join(str(p) for p in e.get("loc", ())[1:]), "problem": e.get("msg")}
            for e in exc.errors()
        ]
        return _response(ApiError(422, "The request does not match the schema.", details=details))
