"""How a message will look on each platform, as safe HTML for the composer's preview.

The broadcast service renders the admin's text per platform (engine/message_format.py):
Telegram HTML, Discord markdown, WhatsApp markup. That is what is sent; this module only
turns it into HTML a browser shows the same way the platform's app would. Nothing the
admin typed becomes markup here: Telegram's text is already escaped by the renderer (only
its own few tags remain), Discord's markdown goes through markdown-it with raw HTML off,
and WhatsApp's text is escaped before its markers become tags.
"""

from __future__ import annotations

import html
import re

import reflex as rx
from markdown_it import MarkdownIt

_DISCORD = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable("strikethrough")
_WHATSAPP_MARKS = (
    (re.compile(r"```(.+?)```", re.DOTALL), r"<code>\1</code>"),
    (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])"), r"<b>\1</b>"),
    (re.compile(r"(?<![\w_])_(?!\s)(.+?)(?<!\s)_(?![\w_])"), r"<i>\1</i>"),
    (re.compile(r"(?<![\w~])~(?!\s)(.+?)(?<!\s)~(?![\w~])"), r"<s>\1</s>"),
)


def display_html(platform: str, text: str) -> str:
    """The platform's text as HTML that shows it as the platform's app would."""
    if platform == "telegram":
        return text  # Telegram HTML from the renderer: user text escaped, its tags only
    if platform == "discord":
        # Shown with line breaks kept: drop the newlines markdown-it puts after its tags
        # (escaped text holds no literal ">", so only tags end that way).
        return _DISCORD.render(text).replace(">\n", ">")
    shown = html.escape(text, quote=False)
    for pattern, tag in _WHATSAPP_MARKS:
        shown = pattern.sub(tag, shown)
    return shown


def message_bubble(shown_html: rx.Var, **props: object) -> rx.Component:
    """One rendered message in a chat-like bubble (line breaks kept, long links wrapped)."""
    return rx.box(
        rx.html(shown_html),
        background=rx.color("accent", 2),
        border=f"1px solid {rx.color('accent', 5)}",
        border_radius="12px",
        padding="10px 14px",
        white_space="pre-wrap",
        overflow_wrap="anywhere",
        width="100%",
        font_size="14px",
        style={
            "& a": {"color": rx.color("accent", 11), "text_decoration": "underline"},
            "& p": {"margin": "0 0 6px"},
            "& pre": {"margin": "4px 0", "white_space": "pre-wrap"},
            "& code": {"font_family": "monospace", "background": rx.color("gray", 4)},
        },
        **props,
    )
