"""Bearer API-token authentication for the REST routes."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Header, HTTPException

from engine.db import session_scope
from engine.models import AdminUser, Role
from engine.services.auth import user_for_api_token


def api_user(needed: Role) -> Callable[..., AdminUser]:
    """A dependency: the token's owner, if both owner and token have the ``needed`` role.

    401 without a valid token, 403 when its rights (the lesser of token and owner) fall
    short.
    """

    def dependency(authorization: str = Header(default="")) -> AdminUser:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HTTPException(401, "Send an API token: Authorization: Bearer <token>.")
        with session_scope() as session:
            found = user_for_api_token(session, token.strip())
            if found is None:
                raise HTTPException(401, "The API token is invalid, expired or revoked.")
            user, api_token = found
            if not (Role(user.role).allows(needed) and Role(api_token.role).allows(needed)):
                raise HTTPException(403, f"This needs the {needed.value} role.")
            return user

    return dependency
