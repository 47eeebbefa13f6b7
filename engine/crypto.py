"""Secrets at rest: bot tokens, session strings and webhook secrets.

Values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under a key derived
from ``FLOWBOT_SECRET_KEY``; :class:`EncryptedText` makes a column transparently
encrypted so no caller can forget to do it.
"""

from __future__ import annotations

import base64
from functools import lru_cache

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken

from engine.settings import derive_key, get_settings


class SecretDecryptionError(RuntimeError):
    """A stored secret could not be decrypted (wrong FLOWBOT_SECRET_KEY?)."""


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derive_key(secret_key, "secrets-at-rest")))


def _current() -> Fernet:
    return _fernet(get_settings().effective_secret_key)


def encrypt(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _current().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise SecretDecryptionError(
            "a stored secret cannot be decrypted: FLOWBOT_SECRET_KEY differs from the one "
            "it was saved with"
        ) from exc


def mask(value: str | None, visible: int = 4) -> str:
    """What the UI shows of a secret: never more than its last few characters."""
    if not value:
        return ""
    if len(value) <= visible * 2:
        return "•" * 8
    return "•" * 8 + value[-visible:]


class EncryptedText(sa.types.TypeDecorator[str]):
    """A text column stored encrypted; Python code sees only plaintext."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: sa.Dialect) -> str | None:
        return None if value is None else encrypt(value)

    def process_result_value(self, value: str | None, dialect: sa.Dialect) -> str | None:
        return None if value is None else decrypt(value)
