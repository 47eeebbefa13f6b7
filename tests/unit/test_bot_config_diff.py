"""Readable changes between two bot configurations: added, removed and changed items field
by field, matched by name or key so reordering is no change."""

from __future__ import annotations

from typing import Any

from engine.bot_config.diff import Change, diff
from engine.bot_config.document import BotConfigDocument

HELP: dict[str, Any] = {
    "name": "help",
    "description": {"en": "Help", "de": "Hilfe"},
    "action": {"kind": "response", "target": "help"},
}
RULES: dict[str, Any] = {"name": "rules", "description": {"en": "Rules"}}
MENU: dict[str, Any] = {
    "key": "main",
    "title": {"en": "Menu"},
    "rows": [[{"label": {"en": "FAQ"}, "action": {"kind": "menu", "target": "faq"}}]],
}


def doc(**fields: Any) -> BotConfigDocument:
    return BotConfigDocument.model_validate(fields)


def lines(old: BotConfigDocument, new: BotConfigDocument) -> list[tuple[str, str, str, str]]:
    return [(c.where, c.what, c.before, c.after) for c in diff(old, new)]


def test_the_same_document_and_a_reordered_one_have_no_changes() -> None:
    document = doc(commands=[HELP, RULES])
    assert diff(document, document) == []
    assert diff(document, doc(commands=[RULES, HELP])) == []


def test_a_changed_description_is_one_line_per_language() -> None:
    new = doc(commands=[{**HELP, "description": {"en": "Help", "de": "Hilfe!", "fr": "Aide"}}])
    assert diff(doc(commands=[HELP]), new) == [
        Change("Command /help", "description (de)", "Hilfe", "Hilfe!"),
        Change("Command /help", "description (fr)", "", "Aide"),
    ]


def test_added_and_removed_items_are_summarised() -> None:
    assert lines(doc(commands=[HELP]), doc(commands=[RULES])) == [
        (
            "Command /help",
            "removed",
            "description (de): Hilfe; description (en): Help; scope: all; enabled: yes; "
            "action: sends response help",
            "",
        ),
        (
            "Command /rules",
            "added",
            "",
            "description (en): Rules; scope: all; enabled: yes; action: sends response",
        ),
    ]


def test_menus_buttons_responses_strings_languages_and_scope() -> None:
    old = doc(
        menus=[MENU],
        responses=[{"key": "faq", "text": {"en": "Ask"}, "triggers": []}],
        strings={"site": {"en": "a.org"}},
    )
    moved = {**MENU, "rows": [[{"label": {"en": "Help"}, "action": {"kind": "url",
             "target": "https://x.org"}}]]}  # fmt: skip
    new = doc(
        menus=[moved],
        responses=[
            {
                "key": "faq",
                "text": {"en": "Ask"},
                "triggers": [{"kind": "keyword", "value": "faq"}],
                "delete_after_seconds": 60,
                "enabled": False,
            }
        ],
        strings={"site": {"en": "b.org"}},
        languages=["en", "de"],
        scope={"everywhere": False, "chat_ids": ["-100"]},
    )
    assert lines(old, new) == [
        ("Languages", "languages", "en", "en, de"),
        ("Scope", "everywhere", "yes", "no"),
        ("Scope", "chats", "", "-100"),
        ("Response faq", "triggers", "", "keyword 'faq'"),
        ("Response faq", "delete after", "", "60 s"),
        ("Response faq", "enabled", "yes", "no"),
        ("Menu main", "row 1 button 1 label (en)", "FAQ", "Help"),
        ("Menu main", "row 1 button 1 action", "opens menu faq", "opens https://x.org"),
        ("String site", "text (en)", "a.org", "b.org"),
    ]


def test_command_options_and_scope_changes() -> None:
    option = {"name": "who", "description": {"en": "Member"}, "type": "user"}
    old = doc(commands=[{**HELP, "options": [option]}])
    new = doc(
        commands=[
            {
                **HELP,
                "scope": {"kind": "guild", "target_id": "55"},
                "options": [{**option, "required": True, "choices": [{"value": "a"}]}],
            }
        ]
    )
    assert lines(old, new) == [
        ("Command /help", "scope", "all", "guild 55"),
        ("Command /help", "option who required", "no", "yes"),
        ("Command /help", "option who choices", "", "a"),
    ]
