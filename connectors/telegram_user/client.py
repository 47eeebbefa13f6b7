"""The Telegram user-account connector (pyrogram over MTProto) and its login flow.

The account's session string is the instance credential (stored encrypted); api_id and
api_hash come from the instance settings. The session lives only in memory here: nothing is
written to disk, and the string is never logged.

Login is driven from the UI through the supervisor, one step per request:
``TelegramLogin.send_code`` → ``submit_code`` → (2FA accounts) ``submit_password``; the final
step returns the session string for the supervisor to store.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Mapping
from typing import Any

import pyrogram
from pyrogram import errors, handlers, types
from pyrogram.errors.rpc_error import RPCError

from connectors.kit.connector import Connector, EmitEvent, InstanceConfig, ReportStatus
from connectors.kit.errors import CredentialRejected
from connectors.telegram_user import mapper
from connectors.telegram_user.actions import actions, execute_action, map_error
from engine.action_errors import ActionError, ErrorKind

log = logging.getLogger(__name__)


def api_credentials(settings: Mapping[str, Any]) -> tuple[int, str]:
    """api_id and api_hash from the instance settings (my.telegram.org → API development)."""
    try:
        return int(settings["api_id"]), str(settings["api_hash"])
    except (KeyError, TypeError, ValueError):
        raise ValueError("a Telegram account needs api_id and api_hash in its settings") from None


class TelegramUserConnector(Connector):
    kind = "telegram_user"
    actions = actions

    def __init__(self, config: InstanceConfig, emit: EmitEvent, report: ReportStatus) -> None:
        super().__init__(config, emit, report)
        if not config.credential:
            raise ValueError("a Telegram account needs a session string: log in first")
        api_id, api_hash = api_credentials(config.settings)
        self._client = pyrogram.Client(
            f"flowbot-tgu-{config.instance_id}",
            api_id=api_id,
            api_hash=api_hash,
            session_string=config.credential,
            in_memory=True,
            no_updates=False,
        )
        self._client.add_handler(handlers.MessageHandler(self.on_message))

    @property
    def client(self) -> pyrogram.Client:
        return self._client

    async def run(self) -> None:
        await self.report("connecting", "connecting to Telegram", {})
        # start() would fall back to an interactive login on stdin: check the session first.
        try:
            authorized = await self._client.connect()
            await self._client.disconnect()
            if authorized:
                await self._client.start()
        except errors.Unauthorized as error:  # revoked or unregistered session
            raise CredentialRejected(f"Telegram refused the session: {error.ID}") from None
        if not authorized:
            raise CredentialRejected("the Telegram session is no longer valid: log in again")
        try:
            me = self._client.me
            details = {"user_id": str(me.id), "username": me.username} if me else {}
            await self.report("connected", "connected to Telegram", details)
            await asyncio.Event().wait()  # updates arrive through the handler until cancelled
        finally:
            if self._client.is_connected:
                await self._client.stop()

    async def execute(self, action: str, params: Mapping[str, Any]) -> dict[str, Any]:
        return await execute_action(self._client, action, params)

    async def on_message(self, _: pyrogram.Client, message: types.Message) -> None:
        for event in mapper.map_message(message, self.config.instance_id):
            await self.emit(event)


class TelegramLogin:
    """Phone → code → (password) → session string, each step a separate call.

    One object per login attempt, kept by the supervisor between the UI's requests. The
    steps raise ActionError with a message fit for the admin (wrong code, code expired...).
    """

    def __init__(
        self,
        api_id: int,
        api_hash: str,
        phone_number: str,
        *,
        client_factory: Callable[..., pyrogram.Client] = pyrogram.Client,
    ) -> None:
        self.phone_number = phone_number
        self.step = "new"
        self._phone_code_hash: str | None = None
        self.client = client_factory(
            f"flowbot-login-{secrets.token_hex(4)}",
            api_id=api_id,
            api_hash=api_hash,
            in_memory=True,
            no_updates=True,
        )

    async def send_code(self) -> dict[str, Any]:
        self._expect("new")
        await self.client.connect()
        sent = await self._call(self.client.send_code(self.phone_number))
        self._phone_code_hash = sent.phone_code_hash
        self.step = "code_sent"
        return {"step": self.step, "delivery": sent.type.name.lower() if sent.type else None}

    async def submit_code(self, code: str) -> dict[str, Any]:
        self._expect("code_sent")
        assert self._phone_code_hash is not None
        try:
            user = await self._call(
                self.client.sign_in(self.phone_number, self._phone_code_hash, code.strip())
            )
        except errors.SessionPasswordNeeded:
            self.step = "password_required"
            hint = await self._call(self.client.get_password_hint())
            return {"step": self.step, "hint": hint}
        if not isinstance(user, types.User):
            await self.cancel()
            raise ActionError(
                ErrorKind.platform,
                "this phone number has no Telegram account yet: sign up in a Telegram app first",
            )
        return await self._finish(user)

    async def submit_password(self, password: str) -> dict[str, Any]:
        self._expect("password_required")
        user = await self._call(self.client.check_password(password))
        return await self._finish(user)

    async def cancel(self) -> None:
        if self.client.is_connected:
            await self.client.disconnect()
        self.step = "cancelled"

    async def _finish(self, user: types.User) -> dict[str, Any]:
        session_string = await self.client.export_session_string()
        await self.client.disconnect()
        self.step = "done"
        return {
            "step": self.step,
            "session_string": session_string,
            "user": {"id": str(user.id), "username": user.username, "first_name": user.first_name},
        }

    def _expect(self, step: str) -> None:
        if self.step != step:
            raise ActionError(ErrorKind.validation, f"login is at step {self.step!r}, not {step!r}")

    @staticmethod
    async def _call(awaitable: Any) -> Any:
        """Telegram's refusals (wrong code, flood wait) as ActionErrors; 2FA passes through."""
        try:
            return await awaitable
        except errors.SessionPasswordNeeded:
            raise
        except (errors.PhoneCodeInvalid, errors.PasswordHashInvalid) as error:
            raise ActionError(ErrorKind.validation, "wrong code or password") from error
        except errors.PhoneCodeExpired as error:
            raise ActionError(ErrorKind.validation, "the code expired: start again") from error
        except errors.PhoneNumberInvalid as error:
            raise ActionError(ErrorKind.validation, "not a valid phone number") from error
        except RPCError as error:
            raise map_error(error) from error
