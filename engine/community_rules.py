"""A community's rules: what runs by itself on its chats, without anyone drawing a flow.

Stored as one JSON document in ``community_config.rules`` and always read through
:class:`CommunityRules`, so a saved document is validated once, defaults fill what an
older document lacks, and a platform's overrides have the shape of the rules they
override (``overrides["discord"] = {"welcome": {"message": "..."}}``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.models.base import Platform

MAX_TEXT = 4096
MAX_ITEMS = 200

Sanction = Literal["delete", "delete_warn", "delete_mute", "delete_ban"]
"""What a rule does to a message that breaks it (and to its author)."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Welcome(Section):
    enabled: bool = False
    message: str = Field(
        default="Welcome, {{ member.name }}!",
        max_length=MAX_TEXT,
        description="Sent when someone joins; expressions see member, chat and community.",
    )
    delete_after_seconds: int | None = Field(default=None, ge=5, le=86_400)


class Warnings(Section):
    mute_at: int | None = Field(default=3, ge=1, le=100, description="Mute at this many")
    mute_minutes: int = Field(default=1440, ge=1, le=40_320)
    ban_at: int | None = Field(default=5, ge=1, le=100, description="Ban at this many")
    expire_days: int | None = Field(default=30, ge=1, le=3650)


class AntiFlood(Section):
    enabled: bool = False
    messages: int = Field(default=5, ge=2, le=100)
    seconds: int = Field(default=10, ge=1, le=3600)
    action: Sanction = "delete_warn"
    mute_minutes: int = Field(default=10, ge=1, le=40_320)


class AntiLink(Section):
    enabled: bool = False
    allowed_domains: list[str] = Field(default_factory=list, max_length=MAX_ITEMS)
    block_invites: bool = Field(default=True, description="Invites to other groups count")
    action: Sanction = "delete_warn"

    @field_validator("allowed_domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        cleaned = [d.strip().lower().removeprefix("www.") for d in value if d.strip()]
        bad = [d for d in cleaned if not re.fullmatch(r"[a-z0-9.-]{1,253}", d)]
        if bad:
            raise ValueError(f"not a domain name: {bad[0]}")
        return cleaned


class BannedWord(Section):
    pattern: str = Field(min_length=1, max_length=200)
    regex: bool = False

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str, info: Any) -> str:
        if info.data.get("regex", False):
            _compile(value)
        return value

    def matcher(self) -> re.Pattern[str]:
        """A case-insensitive pattern: a regex as written, a word as a whole word."""
        if self.regex:
            return _compile(self.pattern)
        return re.compile(rf"(?<!\w){re.escape(self.pattern)}(?!\w)", re.IGNORECASE)


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as error:
        raise ValueError(f"not a valid regular expression: {pattern!r} ({error})") from error


class BannedWords(Section):
    enabled: bool = False
    words: list[BannedWord] = Field(default_factory=list, max_length=MAX_ITEMS)
    action: Sanction = "delete_warn"

    @field_validator("words", mode="after")
    @classmethod
    def _regexes_compile(cls, value: list[BannedWord]) -> list[BannedWord]:
        for word in value:
            word.matcher()
        return value


class NewMemberHold(Section):
    enabled: bool = False
    minutes: int = Field(default=10, ge=1, le=1440, description="Kick if not confirmed by then")
    message: str = Field(
        default="Welcome, {{ member.name }}! Press the button within {{ minutes }} minutes.",
        max_length=MAX_TEXT,
    )
    button_text: str = Field(default="I'm not a robot", min_length=1, max_length=64)


class EarningRule(Section):
    """Points for the member someone replies to, when the reply contains a keyword."""

    keywords: list[str] = Field(min_length=1, max_length=50)
    points: int = Field(default=1, ge=-100, le=100)
    daily_cap: int | None = Field(default=5, ge=1, le=1000)


class Reputation(Section):
    enabled: bool = True
    earning: list[EarningRule] = Field(
        default_factory=lambda: [
            EarningRule(keywords=["thanks", "thank you", "спасибо", "danke", "merci", "gracias"])
        ],
        max_length=50,
    )


class CommunityRules(Section):
    language: str = Field(default="en", max_length=16)
    rules_text: str = Field(default="", max_length=MAX_TEXT)
    welcome: Welcome = Field(default_factory=Welcome)
    warnings: Warnings = Field(default_factory=Warnings)
    antiflood: AntiFlood = Field(default_factory=AntiFlood)
    antilink: AntiLink = Field(default_factory=AntiLink)
    banned_words: BannedWords = Field(default_factory=BannedWords)
    hold: NewMemberHold = Field(default_factory=NewMemberHold)
    reputation: Reputation = Field(default_factory=Reputation)
    log_chat_id: int | None = Field(
        default=None, description="The Chat (row id) every moderation action is posted to"
    )
    overrides: dict[Platform, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per platform, sections that differ there, e.g. {'discord': {'welcome': "
        "{'message': '...'}}}",
    )

    @field_validator("overrides")
    @classmethod
    def _overrides_valid(cls, value: dict[Platform, dict[str, Any]]) -> dict[Platform, Any]:
        for platform, changes in value.items():
            if "overrides" in changes:
                raise ValueError(f"{platform} overrides cannot hold overrides")
            _merged(CommunityRules(), changes)  # raises on an unknown or invalid setting
        return value

    def for_platform(self, platform: str) -> CommunityRules:
        """The rules as they apply on one platform: its overrides merged over the rest."""
        changes = {str(key): value for key, value in self.overrides.items()}.get(platform)
        return _merged(self, changes) if changes else self


def _merged(base: CommunityRules, changes: dict[str, Any]) -> CommunityRules:
    document = base.model_dump(exclude={"overrides"})
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(document.get(key), dict):
            document[key] = {**document[key], **value}
        else:
            document[key] = value
    return CommunityRules.model_validate(document)


def parse_rules(document: Mapping[str, Any] | None) -> CommunityRules:
    """The rules a stored document holds (defaults for what it lacks)."""
    return CommunityRules.model_validate(document or {})
