"""A small moderation history to read back: communities, accounts (one identity spanning
Telegram and Discord), warnings and log rows at chosen times (unit and API tests)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from engine.models import (
    Community,
    ModerationAction,
    ModerationLog,
    PlatformAccount,
    UserIdentity,
    Warning,
)


def ok(platform: str, chat: str) -> dict:
    return {"platform": platform, "chat_id": chat, "ok": True, "error": None}


def refused(platform: str, chat: str, error: str) -> dict:
    return {"platform": platform, "chat_id": chat, "ok": False, "error": error}


class World:
    """Two communities; Ann has a Telegram and a Discord account linked into one identity."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.cats = self.add(Community(name="Cats"))
        self.dogs = self.add(Community(name="Dogs"))
        ann = self.add(UserIdentity(display_name="Ann"))
        self.ann_tg = self.account("telegram", "100", "ann_tg", "Ann T", ann.id)
        self.ann_dc = self.account("discord", "200", "ann_dc", "Ann D", ann.id)
        self.bob = self.account("telegram", "300", "bobby", "", None)
        self.eve = self.account("whatsapp", "49170", None, "=cmd|' /C calc'!A0", None)

    def add(self, row):  # type: ignore[no-untyped-def]
        self.session.add(row)
        self.session.flush()
        return row

    def account(
        self, platform: str, user_id: str, username: str | None, name: str, identity: int | None
    ) -> PlatformAccount:
        account = PlatformAccount(
            platform=platform,
            platform_user_id=user_id,
            username=username,
            display_name=name,
            identity_id=identity,
        )
        return self.add(account)

    def log(
        self,
        community: Community | None,
        action: ModerationAction,
        account: PlatformAccount | None,
        at: datetime,
        *,
        actor: str = "ada",
        reason: str = "",
        results: list[dict] | None = None,
    ) -> ModerationLog:
        return self.add(
            ModerationLog(
                community_id=community.id if community else None,
                action=action,
                platform=account.platform if account else None,
                target_account_id=account.id if account else None,
                actor=actor,
                reason=reason,
                details={"results": results} if results is not None else {},
                created_at=at,
            )
        )

    def warn(
        self,
        community: Community,
        account: PlatformAccount,
        at: datetime,
        *,
        expires: datetime | None = None,
        revoked: bool = False,
    ) -> Warning:
        return self.add(
            Warning(
                community_id=community.id,
                platform_account_id=account.id,
                reason="spam",
                created_at=at,
                expires_at=expires,
                revoked_at=at if revoked else None,
            )
        )
