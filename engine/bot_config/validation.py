"""What stops a bot configuration from being published, in words a community admin reads.

Publishing pushes commands to the platform and makes the connectors answer from the
document at once, so everything the platform would refuse (command names, description
lengths, button counts) or the bot could not do (a button opening a menu that does not
exist, a regex that does not compile) is found here first. Each problem has a ``path``
into the document (``commands[0].description``) for the page to point at, and a message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from engine.bot_config.answers import TEXT_NAMES
from engine.bot_config.document import (
    COMMAND_NAME_RULES,
    ActionKind,
    BotAction,
    BotConfigDocument,
    ButtonRows,
    Command,
    Localized,
    ScopeKind,
    TriggerKind,
    normalize_command,
)
from engine.expressions import check_syntax

# Command description lengths each platform accepts.
DESCRIPTION_LIMITS = {"telegram": 256, "discord": 100}
# Buttons per row, rows per message.
ROW_LIMITS = {"telegram": (8, 100), "discord": (5, 5)}
SCOPES = {
    "telegram": {ScopeKind.all, ScopeKind.private, ScopeKind.groups, ScopeKind.group_admins,
                 ScopeKind.chat},
    "discord": {ScopeKind.all, ScopeKind.guild},
}  # fmt: skip
DISCORD_OPTION_NAME = re.compile(r"^[-_\w]{1,32}$")
DISCORD_MAX_OPTIONS = 25
STRING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
LANGUAGE_NAMES = {
    "en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian",
    "pt": "Portuguese", "nl": "Dutch", "pl": "Polish", "uk": "Ukrainian", "ru": "Russian",
    "tr": "Turkish", "ar": "Arabic", "ja": "Japanese", "zh": "Chinese",
}  # fmt: skip


@dataclass(frozen=True)
class Problem:
    path: str  # where in the document, e.g. "menus[1].rows[0][2].action"
    message: str


@dataclass(frozen=True)
class MissingText:
    where: str  # "Command /help description"
    language: str
    path: str = ""


def language_name(code: str) -> str:
    """``de`` → "German"; an unlisted code stays as it is."""
    return LANGUAGE_NAMES.get(code, code)


def problems(
    document: BotConfigDocument, platform: str, flow_ids: Collection[int] | None = None
) -> list[Problem]:
    """Everything that must be fixed before ``document`` can be published for ``platform``
    (``telegram`` or ``discord``); ``flow_ids`` are the published flows (None: unchecked)."""
    check = _Checker(document, platform, flow_ids)
    check.languages()
    check.commands()
    check.responses()
    check.menus()
    check.strings()
    check.scope()
    return check.found


def missing_translations(document: BotConfigDocument) -> list[MissingText]:
    """Every text lacking one of the bot's languages (texts left empty in all are skipped)."""
    missing: list[MissingText] = []
    for where, path, texts in _texts(document):
        if not any(value.strip() for value in texts.values()):
            continue
        for language in document.languages:
            if not texts.get(language, "").strip():
                missing.append(MissingText(where=where, language=language, path=path))
    return missing


def _texts(document: BotConfigDocument) -> Iterator[tuple[str, str, Localized]]:
    """(readable place, path, texts) of every translatable text of the document."""
    for i, command in enumerate(document.commands):
        yield (
            f"Command /{command.name} description",
            f"commands[{i}].description",
            (command.description),
        )
        for j, option in enumerate(command.options):
            yield (
                f"Command /{command.name} option {option.name} description",
                f"commands[{i}].options[{j}].description",
                option.description,
            )
    for i, response in enumerate(document.responses):
        yield f"Response {response.key} text", f"responses[{i}].text", response.text
        yield from _button_texts(
            f"Response {response.key}", f"responses[{i}].buttons", response.buttons
        )
    for i, menu in enumerate(document.menus):
        yield f"Menu {menu.key} title", f"menus[{i}].title", menu.title
        yield from _button_texts(f"Menu {menu.key}", f"menus[{i}].rows", menu.rows)
    for name, texts in document.strings.items():
        yield f"String {name}", f"strings.{name}", texts


def _button_texts(owner: str, path: str, rows: ButtonRows) -> Iterator[tuple[str, str, Localized]]:
    for r, row in enumerate(rows):
        for b, button in enumerate(row):
            yield (
                f"{owner}, row {r + 1} button {b + 1} label",
                f"{path}[{r}][{b}].label",
                button.label,
            )


class _Checker:
    """Walks the document once per part, collecting problems."""

    def __init__(
        self, document: BotConfigDocument, platform: str, flow_ids: Collection[int] | None
    ) -> None:
        self.document = document
        self.platform = platform
        self.flow_ids = flow_ids
        self.default = document.default_language
        self.default_name = f"{language_name(self.default)}, the bot's default language"
        self.found: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.found.append(Problem(path=path, message=message))

    # -- parts --------------------------------------------------------------------------

    def languages(self) -> None:
        languages = self.document.languages
        if self.default not in languages:
            self.add(
                "default_language",
                f"The default language {self.default} is not one of the bot's languages.",
            )
        for language in _duplicates(languages):
            self.add("languages", f"The language {language} is listed twice.")

    def commands(self) -> None:
        pattern, rule = COMMAND_NAME_RULES.get(self.platform, COMMAND_NAME_RULES["telegram"])
        limit = DESCRIPTION_LIMITS.get(self.platform, 256)
        for name in _duplicates(normalize_command(c.name) for c in self.document.commands):
            self.add("commands", f"There are two commands named /{name}: rename one.")
        for i, command in enumerate(self.document.commands):
            path, label = f"commands[{i}]", f"Command /{command.name}"
            if not pattern.match(command.name) or command.name != command.name.lower():
                self.add(f"{path}.name", f"{label}: the name must be {rule}.")
            self._required_text(
                f"{path}.description", command.description, f"{label} has no description"
            )
            for language, text in command.description.items():
                if len(text.strip()) > limit:
                    self.add(
                        f"{path}.description.{language}",
                        f"{label}: the description ({language}) is {len(text.strip())} "
                        f"characters long; {self.platform.title()} allows at most {limit}.",
                    )
            self._command_scope(path, label, command)
            self._options(path, label, command)
            if command.action.kind is ActionKind.url:
                self.add(
                    f"{path}.action",
                    f"{label}: a command cannot open a web address; "
                    "send a response with a link button instead.",
                )
            else:
                self._action(f"{path}.action", label, command.action)

    def responses(self) -> None:
        for key in _duplicates(r.key for r in self.document.responses):
            self.add("responses", f"There are two responses with the key {key}: rename one.")
        for i, response in enumerate(self.document.responses):
            path, label = f"responses[{i}]", f"Response {response.key}"
            if response.media is None:
                self._required_text(f"{path}.text", response.text, f"{label} has no text")
            elif not _is_web_address(response.media.url):
                self.add(
                    f"{path}.media.url",
                    f"{label}: the media address must start with http:// or https://.",
                )
            self._templates(f"{path}.text", label, response.text)
            for t, trigger in enumerate(response.triggers):
                self._trigger(f"{path}.triggers[{t}]", label, trigger.kind, trigger.value)
            self._rows(f"{path}.buttons", label, response.buttons)

    def menus(self) -> None:
        for key in _duplicates(m.key for m in self.document.menus):
            self.add("menus", f"There are two menus with the key {key}: rename one.")
        for i, menu in enumerate(self.document.menus):
            path, label = f"menus[{i}]", f"Menu {menu.key}"
            self._required_text(f"{path}.title", menu.title, f"{label} has no title")
            self._templates(f"{path}.title", label, menu.title)
            if not any(menu.rows):
                self.add(f"{path}.rows", f"{label} has no buttons.")
            self._rows(f"{path}.rows", label, menu.rows)

    def strings(self) -> None:
        for name, texts in self.document.strings.items():
            path, label = f"strings.{name}", f"String {name}"
            if not STRING_NAME.match(name):
                self.add(
                    path,
                    f"{label}: a name is letters, digits and _ (not starting with a "
                    "digit), so texts can read it as {{ strings.name }}.",
                )
            self._required_text(path, texts, f"{label} has no text")

    def scope(self) -> None:
        scope = self.document.scope
        if not scope.everywhere and not (
            scope.community_ids or scope.chat_ids or scope.private_chats
        ):
            self.add(
                "scope",
                "The bot answers nowhere: pick communities or chats, allow "
                "private chats, or let it answer everywhere.",
            )

    # -- pieces -------------------------------------------------------------------------

    def _required_text(self, path: str, texts: Localized, missing: str) -> None:
        if not texts.get(self.default, "").strip():
            self.add(f"{path}.{self.default}", f"{missing} in {self.default_name}.")

    def _templates(self, path: str, label: str, texts: Localized) -> None:
        for language, text in texts.items():
            why = check_syntax(text, TEXT_NAMES)
            if why:
                self.add(f"{path}.{language}", f"{label} ({language}): {why}")

    def _command_scope(self, path: str, label: str, command: Command) -> None:
        scope = command.scope
        if scope.kind not in SCOPES.get(self.platform, set(ScopeKind)):
            self.add(
                f"{path}.scope",
                f"{label}: the scope {scope.kind.value} does not exist on {self.platform.title()}.",
            )
        elif scope.kind in (ScopeKind.chat, ScopeKind.guild) and not scope.target_id.strip():
            where = "chat" if scope.kind is ScopeKind.chat else "server"
            self.add(f"{path}.scope.target_id", f"{label}: say which {where} it is offered in.")

    def _options(self, path: str, label: str, command: Command) -> None:
        if not command.options:
            return
        if self.platform != "discord":
            self.add(
                f"{path}.options",
                f"{label}: options exist only on Discord; Telegram ignores them (remove them).",
            )
            return
        if len(command.options) > DISCORD_MAX_OPTIONS:
            self.add(f"{path}.options", f"{label}: Discord allows at most 25 options.")
        for name in _duplicates(o.name for o in command.options):
            self.add(f"{path}.options", f"{label}: two options are named {name}.")
        for j, option in enumerate(command.options):
            where = f"{path}.options[{j}]"
            if not DISCORD_OPTION_NAME.match(option.name) or option.name != option.name.lower():
                self.add(
                    f"{where}.name",
                    f"{label}: the option name {option.name!r} must be "
                    "1–32 lower-case characters, digits, - and _.",
                )
            self._required_text(
                f"{where}.description",
                option.description,
                f"{label}: option {option.name} has no description",
            )
            if len(option.choices) > DISCORD_MAX_OPTIONS:
                self.add(
                    f"{where}.choices", f"{label}: option {option.name} has more than 25 choices."
                )

    def _trigger(self, path: str, label: str, kind: TriggerKind, value: str) -> None:
        if not value.strip():
            self.add(f"{path}.value", f"{label}: a {kind.value} trigger needs a value.")
        elif kind is TriggerKind.regex:
            try:
                re.compile(value)
            except (re.error, OverflowError, RecursionError) as exc:
                self.add(
                    f"{path}.value",
                    f"{label}: the pattern {value!r} is not a valid regular expression ({exc}).",
                )
        elif kind is TriggerKind.command:
            pattern, rule = COMMAND_NAME_RULES.get(self.platform, COMMAND_NAME_RULES["telegram"])
            if not pattern.match(normalize_command(value)):
                self.add(f"{path}.value", f"{label}: the command name must be {rule}.")

    def _rows(self, path: str, label: str, rows: ButtonRows) -> None:
        per_row, max_rows = ROW_LIMITS.get(self.platform, ROW_LIMITS["telegram"])
        platform = self.platform.title()
        if len(rows) > max_rows:
            self.add(
                path,
                f"{label} has {len(rows)} rows of buttons; {platform} shows at most {max_rows}.",
            )
        for r, row in enumerate(rows):
            if len(row) > per_row:
                self.add(
                    f"{path}[{r}]",
                    f"{label}: row {r + 1} has {len(row)} buttons; "
                    f"{platform} allows at most {per_row} in a row.",
                )
            for b, button in enumerate(row):
                where, name = f"{path}[{r}][{b}]", f"{label}, row {r + 1} button {b + 1}"
                self._required_text(f"{where}.label", button.label, f"{name} has no label")
                self._templates(f"{where}.label", name, button.label)
                self._action(f"{where}.action", name, button.action)

    def _action(self, path: str, label: str, action: BotAction) -> None:
        target = action.target.strip()
        checks: dict[ActionKind, tuple[Callable[[str], bool], str]] = {
            ActionKind.response: (
                lambda key: self.document.response(key) is not None,
                f"sends the response {target!r}, which does not exist",
            ),
            ActionKind.menu: (
                lambda key: self.document.menu(key) is not None,
                f"opens the menu {target!r}, which does not exist",
            ),
            ActionKind.flow: (
                self._flow_exists,
                f"starts flow {target!r}, which does not exist or is not published",
            ),
            ActionKind.url: (_is_web_address, f"opens {target!r}, not an http(s) address"),
        }
        if not target:
            self.add(
                f"{path}.target",
                f"{label}: say which {action.kind.value} it "
                f"{'sends' if action.kind is ActionKind.response else 'opens'}.",
            )
            return
        exists, why = checks[action.kind]
        if not exists(target):
            self.add(f"{path}.target", f"{label} {why}.")

    def _flow_exists(self, target: str) -> bool:
        if not target.isdigit():
            return False
        return self.flow_ids is None or int(target) in self.flow_ids


def _is_web_address(url: str) -> bool:
    parts = urlsplit(url.strip())
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _duplicates(values: Iterator[str] | list[str]) -> list[str]:
    seen: set[str] = set()
    twice: list[str] = []
    for value in values:
        if value in seen and value not in twice:
            twice.append(value)
        seen.add(value)
    return twice
