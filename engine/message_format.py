"""Flowbot's message markdown, and how a message is posted on each platform.

Admins write a message once (``**bold**``, ``_italic_``, ``~~strike~~``, `` `code` ``,
fenced blocks, ``[label](https://url)``, line breaks); :func:`render` turns it into what
each platform reads: Telegram HTML (user text escaped, only the tags Telegram accepts),
Discord markdown (user text escaped), WhatsApp's own markers. Anything else (headings,
lists, raw HTML) stays literal text, so nothing an admin types can become markup they did
not mean. :func:`message_calls` spells the pool calls that post a message with media and
link buttons through each connector kind; broadcasts, cross-posting and scheduled messages
all go through it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.token import Token

Call = tuple[str, dict[str, Any]]

# Longest text each platform takes in one message (Telegram counts the text without its
# tags); a Telegram photo caption is shorter, so a longer text follows the photo instead.
TEXT_LIMITS = {"telegram": 4096, "discord": 2000, "whatsapp": 65536}
TELEGRAM_CAPTION_LIMIT = 1024
LINK_SCHEMES = ("http", "https")

_PARSER = MarkdownIt("zero", {"breaks": True}).enable(
    ["emphasis", "strikethrough", "backticks", "fence", "link", "newline", "escape"]
)


@dataclass(frozen=True)
class LinkButton:
    """A button under a message that opens a web page."""

    text: str
    url: str


@dataclass(frozen=True)
class OutgoingMessage:
    """What is posted: markdown text, optional media, link buttons row by row."""

    text: str
    media_url: str | None = None
    buttons: tuple[tuple[LinkButton, ...], ...] = ()


def is_web_url(url: str) -> bool:
    """Only http(s) links become links or buttons: the platforms refuse or mistreat others."""
    parts = urlsplit(url.strip())
    return parts.scheme in LINK_SCHEMES and bool(parts.netloc)


# --- rendering -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Style:
    """How one platform spells each piece of markup."""

    escape: Callable[[str], str]
    marks: dict[str, tuple[str, str]]  # token type without _open/_close -> (before, after)
    code: Callable[[str], str]
    block: Callable[[str, str], str]  # (code, language)
    link: Callable[[str, str], str]  # (rendered label, url)


def _telegram_escape(text: str) -> str:
    return html.escape(text, quote=False)


def _telegram_block(code: str, language: str) -> str:
    body = _telegram_escape(code)
    if language:
        return f'<pre><code class="language-{html.escape(language)}">{body}</code></pre>'
    return f"<pre>{body}</pre>"


_DISCORD_SPECIAL = re.compile(r"([\\*_~`|\[\]])")
_DISCORD_LINE_START = re.compile(r"(?m)^([#>-])")


def _discord_escape(text: str) -> str:
    return _DISCORD_LINE_START.sub(r"\\\1", _DISCORD_SPECIAL.sub(r"\\\1", text))


def _plain_link(label: str, url: str) -> str:
    return url if label.strip() in ("", url) else f"{label} ({url})"


_STYLES: dict[str, _Style] = {
    "telegram": _Style(
        escape=_telegram_escape,
        marks={"strong": ("<b>", "</b>"), "em": ("<i>", "</i>"), "s": ("<s>", "</s>")},
        code=lambda code: f"<code>{_telegram_escape(code)}</code>",
        block=_telegram_block,
        link=lambda label, url: f'<a href="{html.escape(url)}">{label}</a>',
    ),
    "discord": _Style(
        escape=_discord_escape,
        marks={"strong": ("**", "**"), "em": ("_", "_"), "s": ("~~", "~~")},
        code=lambda code: f"``{code}``" if "`" in code else f"`{code}`",
        block=lambda code, language: f"```{language}\n{code}\n```",
        link=lambda label, url: f"[{label}](<{url}>)",
    ),
    "whatsapp": _Style(
        escape=lambda text: text,
        marks={"strong": ("*", "*"), "em": ("_", "_"), "s": ("~", "~")},
        code=lambda code: f"```{code}```",
        block=lambda code, language: f"```{code}```",
        link=_plain_link,
    ),
    # What a reader sees: Telegram's length limits count this, not the tags.
    "plain": _Style(
        escape=lambda text: text,
        marks={},
        code=lambda code: code,
        block=lambda code, language: code,
        link=lambda label, url: label,
    ),
}


def _inline(tokens: Sequence[Token], style: _Style) -> str:
    out: list[str] = []
    links: list[str | None] = []  # href of each open link; None where it is not a web link
    label_starts: list[int] = []
    for token in tokens:
        kind = token.type
        if kind == "text":
            out.append(style.escape(token.content))
        elif kind == "code_inline":
            out.append(style.code(token.content))
        elif kind in ("softbreak", "hardbreak"):
            out.append("\n")
        elif kind == "link_open":
            href = str(token.attrGet("href") or "")
            links.append(href if is_web_url(href) else None)
            label_starts.append(len(out))
        elif kind == "link_close":
            target, start = links.pop(), label_starts.pop()
            label = "".join(out[start:])
            del out[start:]
            out.append(style.link(label, target) if target else label)
        else:
            name, _, edge = kind.rpartition("_")
            before, after = style.marks.get(name, ("", ""))
            out.append(before if edge == "open" else after)
    return "".join(out)


def platform_text(text: str, overrides: Mapping[Any, str], platform: str) -> str:
    """The markdown shown on ``platform``: its override, else the common text. The keys are
    platform names, plain or as a Literal of them (a mapping is invariant in its key)."""
    return overrides.get(platform) or text


def render(text: str, platform: str) -> str:
    """``text`` (Flowbot markdown) as ``platform`` reads it: "telegram" (HTML),
    "discord", "whatsapp", or "plain" (what a reader sees)."""
    style = _STYLES[platform]
    blocks: list[str] = []
    for token in _PARSER.parse(text):
        if token.type == "inline":
            blocks.append(_inline(token.children or [], style))
        elif token.type == "fence":
            blocks.append(style.block(token.content.rstrip("\n"), token.info.strip()))
    return "\n\n".join(blocks)


def length_error(text: str, platform: str) -> str | None:
    """Why ``text`` cannot be posted on ``platform`` in one message, if it is too long.

    Telegram counts the text a reader sees, the others what is sent."""
    counted = render(text, "plain" if platform == "telegram" else platform)
    limit = TEXT_LIMITS[platform]
    if len(counted) <= limit:
        return None
    return (
        f"the {platform.capitalize()} version is {len(counted)} characters long; "
        f"{platform.capitalize()} takes at most {limit}"
    )


# --- pool calls -----------------------------------------------------------------------------

_VIDEO = (".mp4", ".mov", ".webm", ".mkv")
_IMAGE = (".jpg", ".jpeg", ".png", ".gif", ".webp")


def media_kind(url: str) -> str:
    """photo, video or document, by the URL's file extension (a page with no extension is
    taken as a picture, the common case for announcements)."""
    path = urlsplit(url).path.lower()
    if path.endswith(_VIDEO):
        return "video"
    if path.endswith(_IMAGE) or "." not in path.rpartition("/")[2]:
        return "photo"
    return "document"


def _visible_length(telegram_html: str) -> int:
    return len(html.unescape(re.sub(r"<[^>]+>", "", telegram_html)))


def _with_links(text: str, message: OutgoingMessage, platform: str) -> str:
    """Buttons as link lines under the text, where the connector has no link buttons."""
    style = _STYLES[platform]
    lines = [
        style.link(style.escape(button.text), button.url)
        for row in message.buttons
        for button in row
    ]
    return "\n\n".join([text, "\n".join(lines)]) if lines else text


def _telegram_bot(chat_id: str, message: OutgoingMessage, text: str) -> list[Call]:
    """A photo's caption takes no buttons (tg_send_photo has none) and at most 1024
    characters: otherwise the text, with its buttons, follows the media."""
    base = {"chat_id": chat_id, "parse_mode": "HTML"}
    keyboard = [[{"text": b.text, "url": b.url} for b in row] for row in message.buttons]
    post: Call = (
        ("send_buttons", {**base, "text": text, "buttons": keyboard})
        if keyboard
        else ("send_message", {**base, "text": text})
    )
    if not message.media_url:
        return [post]
    kind = media_kind(message.media_url)
    media = {**base, kind: message.media_url}
    if not keyboard and _visible_length(text) <= TELEGRAM_CAPTION_LIMIT:
        return [(f"send_{kind}", {**media, "caption": text})]
    return [(f"send_{kind}", media), post]


def _telegram_user(chat_id: str, message: OutgoingMessage, text: str) -> list[Call]:
    text = _with_links(text, message, "telegram")
    base = {"chat_id": chat_id, "parse_mode": "html"}
    if not message.media_url:
        return [("send_message", {**base, "text": text})]
    media = {
        **base,
        "media_type": media_kind(message.media_url),
        "media": message.media_url,
    }
    if _visible_length(text) <= TELEGRAM_CAPTION_LIMIT:
        return [("send_media", {**media, "caption": text})]
    return [("send_media", media), ("send_message", {**base, "text": text})]


def _discord_bot(chat_id: str, message: OutgoingMessage, text: str) -> list[Call]:
    params: dict[str, Any] = {"channel_id": chat_id, "content": text}
    if message.media_url and media_kind(message.media_url) == "photo":
        params["embed"] = {"image_url": message.media_url}
    elif message.media_url:
        params["content"] = f"{text}\n{message.media_url}"
    if not message.buttons:
        return [("send_message", params)]
    rows = [
        [{"label": b.text, "style": "link", "url": b.url} for b in row] for row in message.buttons
    ]
    return [("send_buttons", {**params, "buttons": rows})]


_WHATSAPP_MEDIA = {"photo": "send_image", "video": "send_video", "document": "send_document"}


def _whatsapp_user(chat_id: str, message: OutgoingMessage, text: str) -> list[Call]:
    text = _with_links(text, message, "whatsapp")
    if not message.media_url:
        return [("send_text", {"chat_id": chat_id, "text": text})]
    action = _WHATSAPP_MEDIA[media_kind(message.media_url)]
    return [(action, {"chat_id": chat_id, "file": message.media_url, "caption": text})]


_CALLS: dict[str, Callable[[str, OutgoingMessage, str], list[Call]]] = {
    "telegram_bot": _telegram_bot,
    "telegram_user": _telegram_user,
    "discord_bot": _discord_bot,
    "whatsapp_user": _whatsapp_user,
}


def message_calls(
    kind: str, chat_id: str, message: OutgoingMessage, platform_text: str
) -> list[Call]:
    """The pool calls, in order, that post ``message`` (its text already rendered for the
    platform as ``platform_text``) to a chat through connector ``kind``; the first call's
    result carries the platform's message id."""
    if kind not in _CALLS:
        raise ValueError(f"connector {kind!r} cannot post messages")
    return _CALLS[kind](chat_id, message, platform_text)


def sent_message_id(result: dict[str, Any]) -> str | None:
    """The platform's id of a message a send call made."""
    value = result.get("message_id")
    return None if value is None else str(value)
