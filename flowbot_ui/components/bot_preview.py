"""The Bot config page's live preview: the response or menu being edited, as a member would
get it on Telegram and on Discord.

The answer is the connectors' own (engine/bot_config/answers.py) for a member pressing a
button that opens the item, with sample member, chat and community values; its text is then
formatted per platform (engine/message_format.py) and shown as message_preview shows a
broadcast. Nothing is decided here that the bot would decide differently.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from pydantic import BaseModel, ValidationError

from engine.bot_config.answers import PREFIX, Facts, Incoming, answer, menu_data
from engine.bot_config.document import BotConfigDocument, BotScope
from engine.message_format import render
from flowbot_ui.components.cards import muted
from flowbot_ui.components.message_preview import display_html, message_bubble
from flowbot_ui.state.bot_config_items import Kind, explain, finished

PREVIEW_KEY = "preview"  # the edited item's key while previewed: a new one has none yet
SAMPLE_MEMBER = {"name": "Alex Morgan", "username": "alex_m", "id": "1001"}
SAMPLE_CHAT = {"id": "-1001", "title": "Photo walks", "type": "supergroup"}
SAMPLE_COMMUNITY = {"id": 1, "name": "Photographers", "rules": "1. Be kind. 2. No spam."}
MODE_NOTES = {
    "reply": "Replies to the member's message",
    "chat": "Posted in the chat",
    "thread": "Posted in a thread on the message",
    "dm": "Sent to the member privately",
}


class PreviewButton(BaseModel):
    label: str
    link: bool  # opens a web page rather than doing something in the bot


class PreviewRow(BaseModel):
    buttons: list[PreviewButton]


class Preview(BaseModel):
    telegram: str = ""  # safe HTML
    discord: str = ""
    rows: list[PreviewRow] = []
    media: str = ""  # "photo: https://…"
    notes: list[str] = []
    error: str = ""


def preview_of(
    document: dict[str, Any], kind: Kind, item: dict[str, Any], language: str, bot_name: str
) -> Preview:
    """What the bot would send for ``item`` (unsaved form content) to a member who speaks
    ``language``, or why it cannot be shown yet."""
    if kind == "command":
        return Preview()
    shown = {**finished(kind, item), "key": PREVIEW_KEY}
    if kind == "response":
        shown["enabled"] = True
    place = "responses" if kind == "response" else "menus"
    others = [x for x in document.get(place, []) if x.get("key") != PREVIEW_KEY]
    try:
        built = BotConfigDocument.model_validate(
            {**document, place: [*others, shown], "scope": BotScope().model_dump()}
        )
    except ValidationError as refused:
        return Preview(error=explain(refused))
    data = menu_data(PREVIEW_KEY) if kind == "menu" else f"{PREFIX}r:{PREVIEW_KEY}"
    facts = Facts(
        language_override=language,
        member=SAMPLE_MEMBER,
        chat=SAMPLE_CHAT,
        community=SAMPLE_COMMUNITY,
        bot={"name": bot_name},
    )
    reply = answer(built, Incoming(kind="button", button_data=data), facts, _NoRegex())
    if reply is None:
        return Preview(error="Nothing to show yet.")
    notes = [] if kind == "menu" else [MODE_NOTES[reply.mode.value]]
    if reply.delete_after_seconds:
        notes.append(f"Deleted after {reply.delete_after_seconds} seconds")
    return Preview(
        telegram=display_html("telegram", render(reply.text, "telegram")),
        discord=display_html("discord", render(reply.text, "discord")),
        rows=[
            PreviewRow(buttons=[PreviewButton(label=b.label, link=b.url is not None) for b in row])
            for row in reply.buttons
        ],
        media=f"{reply.media.kind.value}: {reply.media.url}" if reply.media else "",
        notes=notes,
    )


class _NoRegex:
    """A button press reaches no regex trigger."""

    def search(self, pattern: str, text: str) -> bool:
        return False


# -- the component -------------------------------------------------------------------------


def _button(button: PreviewButton, **style: Any) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.text(button.label, size="1", weight="medium"),
            rx.cond(button.link, rx.icon("external-link", size=11)),
            spacing="1",
            align="center",
            justify="center",
        ),
        padding="6px 10px",
        border_radius="6px",
        flex="1",
        text_align="center",
        data_testid="preview-button",
        **style,
    )


def _keyboard(preview: Any, **style: Any) -> rx.Component:
    return rx.vstack(
        rx.foreach(
            preview.rows,
            lambda row: rx.hstack(
                rx.foreach(row.buttons, lambda b: _button(b, **style)), spacing="1", width="100%"
            ),
        ),
        spacing="1",
        width="100%",
    )


def _platform(name: str, icon: str, body: rx.Component, test_id: str) -> rx.Component:
    return rx.vstack(
        rx.hstack(rx.icon(icon, size=14), muted(name), spacing="1", align="center"),
        body,
        spacing="1",
        width="100%",
        data_testid=test_id,
    )


def bot_preview(preview: Any) -> rx.Component:
    """The state's :class:`Preview` as a Telegram-like and a Discord-like message."""
    telegram = rx.vstack(
        rx.cond(preview.media != "", muted(preview.media)),
        message_bubble(preview.telegram, data_testid="preview-telegram-text"),
        _keyboard(preview, background=rx.color("accent", 4), color=rx.color("accent", 12)),
        spacing="1",
        width="100%",
    )
    discord = rx.vstack(
        rx.cond(preview.media != "", muted(preview.media)),
        rx.box(
            rx.html(preview.discord),
            font_size="14px",
            white_space="pre-wrap",
            overflow_wrap="anywhere",
            padding="8px 12px",
            border_left=f"3px solid {rx.color('indigo', 9)}",
            background=rx.color("gray", 3),
            border_radius="4px",
            width="100%",
            data_testid="preview-discord-text",
        ),
        _keyboard(preview, background=rx.color("gray", 6), color=rx.color("gray", 12)),
        spacing="1",
        width="100%",
    )
    return rx.cond(
        preview.error != "",
        muted(preview.error, data_testid="preview-error"),
        rx.vstack(
            _platform("Telegram", "send", telegram, "preview-telegram"),
            _platform("Discord", "gamepad-2", discord, "preview-discord"),
            rx.foreach(preview.notes, lambda note: muted(note)),
            spacing="4",
            width="100%",
        ),
    )
