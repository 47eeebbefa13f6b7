"""Sign-in, first-run and sign-out as plain form posts, so the session cookie is HttpOnly.

A cookie set from page script can be read by page script; one set by the server with
``HttpOnly`` cannot, so an injected script cannot steal a session. The browser then
opens the UI's websocket with the cookie, and every event handler resolves the user from
it on the server (flowbot_ui/state/auth.py).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from engine.api.origins import is_allowed
from engine.client_address import client_address
from engine.db import session_scope
from engine.models import Role, utcnow
from engine.services import auth, sessions
from engine.settings import get_settings

router = APIRouter(include_in_schema=False)
MAX_FORM_BYTES = 16_384


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def _address(request: Request) -> str:
    peer = request.client.host if request.client else ""
    return client_address(peer, request.headers.get("x-forwarded-for", ""))


def _same_site(request: Request) -> bool:
    """Form posts from pages of another origin are refused (besides SameSite=Lax)."""
    origin = request.headers.get("origin")
    return origin is None or is_allowed(origin)


def _go(path: str, **query: str | int) -> RedirectResponse:
    target = f"{path}?{urlencode(query)}" if query else path
    return RedirectResponse(target, status_code=303)


def _signed_in(token: str) -> Response:
    settings = get_settings()
    response = _go("/")
    response.set_cookie(
        sessions.COOKIE_NAME,
        token,
        max_age=settings.session_ttl_hours * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.effective_public_url.startswith("https://"),
    )
    return response


@router.post("/auth/login")
async def login(request: Request) -> Response:
    if not _same_site(request):
        return _go("/login", error="origin")
    form = await _form(request)
    ip = _address(request)
    with session_scope() as session:
        try:
            user = auth.authenticate(
                session, form.get("username", ""), form.get("password", ""), ip=ip
            )
        except auth.LoginRateLimited as exc:
            return _go("/login", error="throttled", wait=exc.retry_after)
        except auth.AuthError:
            return _go("/login", error="invalid")
        user.last_login_at = utcnow()
        token = sessions.issue(
            session, user, ip=ip, user_agent=request.headers.get("user-agent", "")
        )
    return _signed_in(token)


@router.post("/auth/setup")
async def setup(request: Request) -> Response:
    """The very first admin; refused once any account exists."""
    if not _same_site(request):
        return _go("/setup", error="origin")
    form = await _form(request)
    if form.get("password") != form.get("confirm"):
        return _go("/setup", error="mismatch")
    with session_scope() as session:
        try:
            user = auth.create_user(
                session,
                form.get("username", ""),
                form.get("password", ""),
                Role.admin,
                actor=None,
            )
        except auth.InvalidAccount as exc:
            return _go("/setup", error=exc.field)
        except auth.AuthError:
            return _go("/login")
        user.last_login_at = utcnow()
        token = sessions.issue(
            session, user, ip=_address(request), user_agent=request.headers.get("user-agent", "")
        )
    return _signed_in(token)


@router.post("/auth/logout")
async def logout(request: Request) -> Response:
    """Revoke this session on the server (the token is dead even if copied) and clear it."""
    if not _same_site(request):
        return _go("/")
    with session_scope() as session:
        sessions.revoke(session, request.cookies.get(sessions.COOKIE_NAME, ""))
    response = _go("/login")
    response.delete_cookie(sessions.COOKIE_NAME, path="/", httponly=True, samesite="lax")
    return response
