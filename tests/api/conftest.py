"""REST API tests: a migrated database, one account per role, a token per account."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlmodel import Session

from engine.db import session_scope
from engine.models import AdminUser, ApiToken, Role
from engine.services import auth
from tests.api_client import api_client

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Tokens:
    """Bearer headers: ``read_only`` is an admin's viewer-role token."""

    admin: dict[str, str]
    editor: dict[str, str]
    viewer: dict[str, str]
    read_only: dict[str, str]


def _bearer(plaintext: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {plaintext}"}


@pytest.fixture
def tokens(migrated_db: str) -> Tokens:
    with session_scope() as session:
        admin = auth.create_user(session, "ada", PASSWORD, Role.admin, actor=None)
        editor = auth.create_user(session, "eddie", PASSWORD, Role.editor, actor=admin)
        viewer = auth.create_user(session, "victor", PASSWORD, Role.viewer, actor=admin)
        made = {
            "admin": auth.create_api_token(session, admin, "admin", Role.admin).plaintext,
            "editor": auth.create_api_token(session, editor, "editor", Role.editor).plaintext,
            "viewer": _token_of(session, viewer),
            "read_only": auth.create_api_token(session, admin, "read-only", Role.viewer).plaintext,
        }
        return Tokens(**{name: _bearer(plaintext) for name, plaintext in made.items()})


def _token_of(session: Session, viewer: AdminUser) -> str:
    """Viewers cannot create tokens (the service says so); an admin may have given one."""
    plaintext = f"fbt_viewer-{secrets.token_urlsafe(16)}"
    session.add(
        ApiToken(
            admin_id=viewer.id or 0,
            name="viewer",
            token_hash=hashlib.sha256(plaintext.encode()).hexdigest(),
            prefix=plaintext[:10],
            role=Role.viewer,
        )
    )
    return plaintext


@pytest.fixture
async def api(tokens: Tokens) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client() as http:
        yield http
