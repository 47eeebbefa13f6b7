"""What a bot answers by itself: the published configuration applied to one incoming update.

Pure decisions, no I/O: the connector gathers the facts (:class:`Incoming`, :class:`Facts`),
calls :func:`answer`, and turns the :class:`Reply` into platform calls. Button payloads are
``fb:`` strings short enough for Telegram's 64-byte callback data:

- ``fb:m:<path>``: open a menu; ``path`` is the trail of menu keys (``main/faq``), so the
  submenu's Back button can return to the menu that opened it;
- ``fb:r:<key>``: send a response;  ``fb:f:<flow id>``: start a flow.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from engine.bot_config.document import (
    ActionKind,
    BotAction,
    BotConfigDocument,
    Button,
    ButtonRows,
    Localized,
    Media,
    ReplyMode,
    Response,
    TriggerKind,
    normalize_command,
)
from engine.expressions import ExpressionError, Scope, render_text

PREFIX = "fb:"
MAX_DATA_BYTES = 64
BACK_LABEL: Localized = {
    "en": "« Back", "de": "« Zurück", "fr": "« Retour", "es": "« Atrás", "it": "« Indietro",
    "pt": "« Voltar", "pl": "« Wstecz", "uk": "« Назад", "ru": "« Назад", "nl": "« Terug",
}  # fmt: skip
# Names reply texts may read besides ``trigger`` (the incoming event).
TEXT_NAMES = ("member", "chat", "community", "strings", "bot")


@dataclass(frozen=True)
class Incoming:
    """The update, as far as the bot's configuration cares."""

    kind: Literal["command", "text", "button"]
    command: str = ""  # without the slash
    text: str = ""
    button_data: str = ""
    chat_id: str = ""
    chat_type: str = ""  # private, group, supergroup, channel, guild, dm
    trigger: Mapping[str, Any] = field(default_factory=dict)  # the event, for {{ trigger.* }}


@dataclass(frozen=True)
class Facts:
    """What the connector looked up about the member and the chat."""

    platform_language: str | None = None  # the member's locale on the platform
    language_override: str | None = None  # set for this member by a flow
    community_ids: tuple[int, ...] = ()  # communities the chat belongs to
    member: Mapping[str, Any] = field(default_factory=dict)  # name, username, id
    chat: Mapping[str, Any] = field(default_factory=dict)  # id, title, type
    community: Mapping[str, Any] = field(default_factory=dict)  # id, name, rules
    bot: Mapping[str, Any] = field(default_factory=dict)  # name, username


@dataclass(frozen=True)
class ReplyButton:
    label: str
    data: str | None = None  # callback data / custom id
    url: str | None = None


@dataclass(frozen=True)
class Reply:
    """A message to send (or, for ``edit``, the new content of the clicked message)."""

    text: str  # Flowbot markdown, expressions already rendered
    language: str
    buttons: list[list[ReplyButton]] = field(default_factory=list)
    media: Media | None = None
    mode: ReplyMode = ReplyMode.reply
    edit: bool = False
    delete_after_seconds: int | None = None
    start_flow: int | None = None  # start this flow instead of (or as well as) sending text
    source: str = ""  # "response:help", "menu:main", "flow:3": for traces and tests


class RegexMatcher(Protocol):
    """Searches a pattern in a text within a time bound (the connector passes a bounded one)."""

    def search(self, pattern: str, text: str) -> bool: ...


def pick_language(document: BotConfigDocument, facts: Facts) -> str:
    """The member's override, else their platform locale, else the bot's default language;
    a locale like ``de-AT`` falls back to ``de`` when only that is configured."""
    known = set(document.languages) | {document.default_language}
    for wanted in (facts.language_override, facts.platform_language):
        if not wanted:
            continue
        wanted = wanted.replace("_", "-")
        for candidate in (wanted, wanted.split("-", 1)[0].lower()):
            if candidate in known:
                return candidate
    return document.default_language


def localized(texts: Localized, language: str, default: str) -> str:
    """The text in ``language``, else in the default language, else any non-empty one."""
    return texts.get(language) or texts.get(default) or next(iter(texts.values()), "")


def in_scope(document: BotConfigDocument, incoming: Incoming, facts: Facts) -> bool:
    scope = document.scope
    if scope.everywhere:
        return True
    if incoming.chat_type in ("private", "dm"):
        return scope.private_chats
    return incoming.chat_id in scope.chat_ids or bool(
        set(scope.community_ids) & set(facts.community_ids)
    )


def answer(
    document: BotConfigDocument, incoming: Incoming, facts: Facts, regex: RegexMatcher
) -> Reply | None:
    """The bot's own answer to ``incoming``, or None when its configuration has none."""
    if not in_scope(document, incoming, facts):
        return None
    language = pick_language(document, facts)
    action = _action_for(document, incoming, regex)
    if action is None:
        return None
    action_kind, target, trail = action
    render = _Renderer(document, incoming, facts, language)
    if action_kind is ActionKind.menu:
        return _menu_reply(document, target, trail, render, edit=incoming.kind == "button")
    if action_kind is ActionKind.response:
        found = document.response(target)
        return None if found is None or not found.enabled else _response_reply(found, render)
    if action_kind is ActionKind.flow and target.isdigit():
        return Reply(text="", language=language, start_flow=int(target), source=f"flow:{target}")
    return None


# -- which action -------------------------------------------------------------------------

_Action = tuple[ActionKind, str, str]  # kind, target, menu trail it was opened from


def _action_for(
    document: BotConfigDocument, incoming: Incoming, regex: RegexMatcher
) -> _Action | None:
    if incoming.kind == "button":
        return _button_action(document, incoming.button_data)
    if incoming.kind == "command":
        command = document.command(incoming.command)
        if command is not None and command.enabled and _offered(command.scope.kind, incoming):
            return command.action.kind, command.action.target, ""
        found = _first_response(document.responses, TriggerKind.command, incoming.command)
        return (ActionKind.response, found.key, "") if found else None
    found = _text_response(document.responses, incoming.text, regex)
    return (ActionKind.response, found.key, "") if found else None


def _offered(scope: str, incoming: Incoming) -> bool:
    """A command scoped to private chats is not answered in groups, and the reverse."""
    if scope == "private":
        return incoming.chat_type in ("private", "dm")
    if scope in ("groups", "group_admins"):
        return incoming.chat_type not in ("private", "dm")
    if scope == "chat":
        return True  # Telegram only offers it in that chat
    return True


def _button_action(document: BotConfigDocument, data: str) -> _Action | None:
    if data.startswith(PREFIX):
        kind, _, value = data[len(PREFIX) :].partition(":")
        if kind == "m" and value:
            trail, _, key = value.rpartition("/")
            return ActionKind.menu, key, trail
        if kind == "r" and value:
            return ActionKind.response, value, ""
        if kind == "f" and value:
            return ActionKind.flow, value, ""
        return None
    found = _first_response(document.responses, TriggerKind.button, data)
    return (ActionKind.response, found.key, "") if found else None


def _first_response(
    responses: Iterable[Response], kind: TriggerKind, value: str
) -> Response | None:
    wanted = normalize_command(value) if kind is TriggerKind.command else value
    for response in responses:
        for trigger in response.triggers:
            have = (
                normalize_command(trigger.value) if kind is TriggerKind.command else trigger.value
            )
            if response.enabled and trigger.kind is kind and have == wanted:
                return response
    return None


def _text_response(
    responses: Iterable[Response], text: str, regex: RegexMatcher
) -> Response | None:
    if not text:
        return None
    lowered = text.lower()
    for response in responses:
        if not response.enabled:
            continue
        for trigger in response.triggers:
            if trigger.kind is TriggerKind.keyword and _has_phrase(lowered, trigger.value):
                return response
            if trigger.kind is TriggerKind.regex and regex.search(trigger.value, text):
                return response
    return None


def _has_phrase(lowered_text: str, phrase: str) -> bool:
    """The phrase as whole words: "price" matches "the price?" but not "priceless"."""
    words = phrase.strip().lower()
    return bool(words) and re.search(rf"(?<!\w){re.escape(words)}(?!\w)", lowered_text) is not None


# -- building the reply -------------------------------------------------------------------


class _Renderer:
    """Renders the member's texts: chosen language, fallbacks, expressions."""

    def __init__(
        self, document: BotConfigDocument, incoming: Incoming, facts: Facts, language: str
    ) -> None:
        self.document = document
        self.language = language
        self.scope = Scope(trigger=incoming.trigger)
        strings = {
            name: localized(texts, language, document.default_language)
            for name, texts in document.strings.items()
        }
        self.names = {
            "member": dict(facts.member),
            "chat": dict(facts.chat),
            "community": dict(facts.community),
            "strings": strings,
            "bot": dict(facts.bot),
        }

    def text(self, texts: Localized) -> str:
        """A text with its expressions rendered; one that fails to render is sent as written
        (the admin's publish-time check names broken expressions, a member never sees a crash)."""
        source = localized(texts, self.language, self.document.default_language)
        try:
            return render_text(source, self.scope, names=self.names)
        except ExpressionError:
            return source

    def buttons(self, rows: ButtonRows, trail: str) -> list[list[ReplyButton]]:
        built = [[self.button(button, trail) for button in row] for row in rows]
        return [row for row in built if row]

    def button(self, button: Button, trail: str) -> ReplyButton:
        label = self.text(button.label)
        return ReplyButton(label=label, **_button_target(button.action, trail))


def _button_target(action: BotAction, trail: str) -> dict[str, str]:
    if action.kind is ActionKind.url:
        return {"url": action.target}
    if action.kind is ActionKind.menu:
        return {"data": menu_data(f"{trail}/{action.target}" if trail else action.target)}
    if action.kind is ActionKind.flow:
        return {"data": f"{PREFIX}f:{action.target}"}
    return {"data": f"{PREFIX}r:{action.target}"}


def menu_data(path: str) -> str:
    """``fb:m:<path>``, dropping the oldest menus of the trail to fit in 64 bytes."""
    keys = path.split("/")
    while len(keys) > 1 and len(f"{PREFIX}m:{'/'.join(keys)}".encode()) > MAX_DATA_BYTES:
        keys.pop(0)
    return f"{PREFIX}m:{'/'.join(keys)}"


def _menu_reply(
    document: BotConfigDocument, key: str, trail: str, render: _Renderer, *, edit: bool
) -> Reply | None:
    menu = document.menu(key)
    if menu is None:
        return None
    here = f"{trail}/{key}" if trail else key
    rows = render.buttons(menu.rows, here)
    if trail:
        back = localized(BACK_LABEL, render.language, "en")
        rows.append([ReplyButton(label=back, data=menu_data(trail))])
    return Reply(
        text=render.text(menu.title),
        language=render.language,
        buttons=rows,
        mode=ReplyMode.chat,
        edit=edit,
        source=f"menu:{key}",
    )


def _response_reply(response: Response, render: _Renderer) -> Reply:
    return Reply(
        text=render.text(response.text),
        language=render.language,
        buttons=render.buttons(response.buttons, ""),
        media=response.media,
        mode=response.reply_mode,
        delete_after_seconds=response.delete_after_seconds,
        source=f"response:{response.key}",
    )
