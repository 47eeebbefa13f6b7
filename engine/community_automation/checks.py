"""What a message breaks: pure checks of its text against a community's rules."""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.community_rules import AntiLink, BannedWords

# A link: with a scheme, with www., a host followed by a path, or a bare host under a
# top-level domain people link to. "file.txt" or "e.g." are not links.
_URL = re.compile(
    r"""(?ix)
    (?:\bhttps?://|\bwww\.)(?P<host>[a-z0-9-]+(?:\.[a-z0-9-]+)*)
    | \b(?P<bare>(?:[a-z0-9-]+\.)+[a-z]{2,24})(?=/|\b)(?P<path>/\S*)?
    """
)
_COMMON_TLDS = frozenset(
    {"com", "net", "org", "io", "gg", "me", "ru", "de", "uk", "co", "info", "xyz", "link", "ly",
     "app", "dev", "ai", "tv", "cc", "su", "biz", "site", "online"}
)  # fmt: skip
_INVITES = (
    re.compile(r"(?i)\b(?:t|telegram)\.me/(?:\+|joinchat/)[\w-]+"),
    re.compile(r"(?i)\b(?:discord\.gg|(?:discord|discordapp)\.com/invite)/[\w-]+"),
    re.compile(r"(?i)\bchat\.whatsapp\.com/[\w-]+"),
)


@dataclass(frozen=True)
class Hit:
    """What matched and why it counts."""

    what: str
    why: str


def links(text: str) -> list[str]:
    """The hosts of the links in ``text`` (lower case, without ``www.``)."""
    hosts = []
    for match in _URL.finditer(text):
        host = match.group("host")
        if host is None:
            host = match.group("bare")
            if match.group("path") is None and host.rsplit(".", 1)[-1].lower() not in _COMMON_TLDS:
                continue
        hosts.append(host.lower().removeprefix("www."))
    return hosts


def invites(text: str) -> list[str]:
    """Invite links to Telegram chats, Discord servers or WhatsApp groups in ``text``."""
    return [match.group(0) for pattern in _INVITES for match in pattern.finditer(text)]


def allowed(host: str, domains: list[str]) -> bool:
    return any(host == domain or host.endswith("." + domain) for domain in domains)


def forbidden_link(text: str, rule: AntiLink) -> Hit | None:
    """The first invite (when they count) or link to a host outside the allowed domains."""
    found = invites(text) if rule.block_invites else []
    if found:
        return Hit(found[0], "invite link")
    for host in links(text):
        if not allowed(host, rule.allowed_domains):
            return Hit(host, "link outside the allowed domains")
    return None


def banned_word(text: str, rule: BannedWords) -> Hit | None:
    """The first banned word or pattern found in ``text``."""
    for word in rule.words:
        if word.matcher().search(text):
            return Hit(word.pattern, "regular expression" if word.regex else "banned word")
    return None
