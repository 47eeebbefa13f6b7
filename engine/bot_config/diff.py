"""Readable changes between two bot configurations, for the Versions tab and the API.

Each part of the document (a command, a response, a menu, a string, the languages, the
scope) is flattened into labelled fields of plain text ("description (de)" → "Hilfe",
"row 1 button 2 opens" → "menu faq"); comparing those fields gives lines an admin
reads without knowing the JSON: ``Change("Command /help", "description (de)", "Hilfe",
"Hilfe!")``. Items are matched by name or key, so reordering is not a change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from engine.bot_config.document import (
    ActionKind,
    BotAction,
    BotConfigDocument,
    ButtonRows,
    Command,
    Localized,
    Menu,
    Response,
)

ADDED = "added"
REMOVED = "removed"

Fields = dict[str, str]


@dataclass(frozen=True)
class Change:
    where: str  # "Command /help", "Menu main", "Languages"
    what: str  # "description (de)", "added", "removed"
    before: str
    after: str


def diff(old: BotConfigDocument, new: BotConfigDocument) -> list[Change]:
    """What changed from ``old`` to ``new``, part by part, field by field."""
    changes: list[Change] = []
    for label, old_items, new_items in _parts(old, new):
        for name in [*old_items, *(n for n in new_items if n not in old_items)]:
            where = f"{label}{name}"
            before, after = old_items.get(name), new_items.get(name)
            if before is None and after is not None:
                changes.append(Change(where, ADDED, "", _summary(after)))
            elif after is None and before is not None:
                changes.append(Change(where, REMOVED, _summary(before), ""))
            elif before is not None and after is not None:
                changes.extend(_field_changes(where, before, after))
    return changes


def _parts(
    old: BotConfigDocument, new: BotConfigDocument
) -> list[tuple[str, dict[str, Fields], dict[str, Fields]]]:
    """(label prefix, fields by item name, before and after) of each kind of item."""
    return [
        ("", {"Languages": _languages(old)}, {"Languages": _languages(new)}),
        ("", {"Scope": _scope(old)}, {"Scope": _scope(new)}),
        ("Command /", _by(old.commands, _command), _by(new.commands, _command)),
        ("Response ", _by(old.responses, _response), _by(new.responses, _response)),
        ("Menu ", _by(old.menus, _menu), _by(new.menus, _menu)),
        ("String ", _strings(old), _strings(new)),
    ]


def _field_changes(where: str, before: Fields, after: Fields) -> list[Change]:
    names = [*before, *(n for n in after if n not in before)]
    return [
        Change(where, name, before.get(name, ""), after.get(name, ""))
        for name in names
        if before.get(name, "") != after.get(name, "")
    ]


def _summary(fields: Fields) -> str:
    """An added or removed item in one line: its first few fields."""
    return "; ".join(f"{name}: {value}" for name, value in fields.items() if value)


# -- flattening ---------------------------------------------------------------------------


def _by(
    items: Sequence[Command | Response | Menu], flatten: Callable[[Any], Fields]
) -> dict[str, Fields]:
    """Each item's fields under its name (commands) or key (responses, menus)."""
    return {item.name if isinstance(item, Command) else item.key: flatten(item) for item in items}


def _localized(label: str, texts: Localized) -> Fields:
    return {f"{label} ({language})": text for language, text in sorted(texts.items())}


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _action(action: BotAction) -> str:
    if action.kind is ActionKind.url:
        return f"opens {action.target}"
    verb = {ActionKind.response: "sends response", ActionKind.menu: "opens menu"}
    return f"{verb.get(action.kind, 'starts flow')} {action.target}".strip()


def _buttons(rows: ButtonRows) -> Fields:
    fields: Fields = {}
    for r, row in enumerate(rows):
        for b, button in enumerate(row):
            place = f"row {r + 1} button {b + 1}"
            fields |= _localized(f"{place} label", button.label)
            fields[f"{place} action"] = _action(button.action)
    return fields


def _command(command: Command) -> Fields:
    scope = command.scope.kind.value
    fields = _localized("description", command.description) | {
        "scope": f"{scope} {command.scope.target_id}".strip(),
        "enabled": _yes(command.enabled),
        "action": _action(command.action),
    }
    for option in command.options:
        place = f"option {option.name}"
        fields |= _localized(f"{place} description", option.description)
        fields[f"{place} type"] = option.type.value
        fields[f"{place} required"] = _yes(option.required)
        choices = ", ".join(choice.value for choice in option.choices)
        fields[f"{place} choices"] = choices
    return fields


def _response(response: Response) -> Fields:
    triggers = ", ".join(f"{t.kind.value} {t.value!r}" for t in response.triggers)
    media = f"{response.media.kind.value} {response.media.url}" if response.media else ""
    delete_after = response.delete_after_seconds
    return (
        {"triggers": triggers}
        | _localized("text", response.text)
        | {
            "media": media,
            "reply": response.reply_mode.value,
            "delete after": f"{delete_after} s" if delete_after else "",
            "enabled": _yes(response.enabled),
        }
        | _buttons(response.buttons)
    )


def _menu(menu: Menu) -> Fields:
    return _localized("title", menu.title) | _buttons(menu.rows)


def _strings(document: BotConfigDocument) -> dict[str, Fields]:
    return {name: _localized("text", texts) for name, texts in document.strings.items()}


def _languages(document: BotConfigDocument) -> Fields:
    return {
        "default language": document.default_language,
        "languages": ", ".join(document.languages),
    }


def _scope(document: BotConfigDocument) -> Fields:
    scope = document.scope
    return {
        "everywhere": _yes(scope.everywhere),
        "communities": ", ".join(str(c) for c in scope.community_ids),
        "chats": ", ".join(scope.chat_ids),
        "private chats": _yes(scope.private_chats),
    }
