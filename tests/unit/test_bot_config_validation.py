"""What stops a bot configuration from being published, per platform, in plain words; and
the list of missing translations."""

from __future__ import annotations

from typing import Any

import pytest

from engine.bot_config.document import BotConfigDocument
from engine.bot_config.validation import MissingText, missing_translations, problems


def doc(**fields: Any) -> BotConfigDocument:
    return BotConfigDocument.model_validate({"languages": ["en", "de"], **fields})


def messages(document: BotConfigDocument, platform: str = "telegram", **kw: Any) -> list[str]:
    return [p.message for p in problems(document, platform, **kw)]


def button(label: str, kind: str, target: str) -> dict[str, Any]:
    return {"label": {"en": label}, "action": {"kind": kind, "target": target}}


GOOD = doc(
    commands=[
        {
            "name": "help",
            "description": {"en": "Help"},
            "action": {"kind": "menu", "target": "main"},
        }
    ],
    responses=[
        {
            "key": "rules",
            "triggers": [{"kind": "regex", "value": r"\brules?\b"}],
            "text": {"en": "Be kind, {{ member.name }}. {{ strings.site }}"},
        }
    ],
    menus=[
        {
            "key": "main",
            "title": {"en": "Menu"},
            "rows": [
                [button("Rules", "response", "rules"), button("Site", "url", "https://x.org")]
            ],
        }
    ],
    strings={"site": {"en": "example.org"}},
)


def test_a_good_configuration_has_no_problems_on_either_platform() -> None:
    assert problems(GOOD, "telegram", set()) == []
    assert problems(GOOD, "discord", set()) == []


def test_command_names_and_descriptions_follow_each_platform() -> None:
    long_tg = "x" * 257
    document = doc(
        commands=[
            {"name": "Help-Me", "description": {"en": "Help"}, "action": {"kind": "flow",
             "target": "1"}},
            {"name": "rules", "description": {"de": "Regeln", "en": long_tg},
             "action": {"kind": "flow", "target": "1"}},
            {"name": "nodesc", "action": {"kind": "flow", "target": "1"}},
        ]
    )  # fmt: skip
    assert messages(document, flow_ids={1}) == [
        "Command /Help-Me: the name must be 1–32 characters: a-z, 0-9 and _.",
        "Command /rules: the description (en) is 257 characters long; Telegram allows at most 256.",
        "Command /nodesc has no description in English, the bot's default language.",
    ]
    discord = messages(document, "discord", flow_ids={1})
    assert discord[:2] == [
        "Command /Help-Me: the name must be 1–32 lower-case characters, digits, - and _.",
        "Command /rules: the description (en) is 257 characters long; Discord allows at most 100.",
    ]
    assert messages(doc(commands=[{**document.commands[0].model_dump(), "name": "help-me"}]),
                    "discord", flow_ids={1}) == []  # fmt: skip


def test_duplicates_unknown_targets_and_bad_addresses() -> None:
    document = doc(
        commands=[
            {"name": "help", "description": {"en": "a"}, "action": {"kind": "response",
             "target": "nope"}},
            {"name": "/HELP", "description": {"en": "b"}, "action": {"kind": "flow",
             "target": "9"}},
        ],
        responses=[{"key": "r", "text": {"en": "x"}}, {"key": "r", "text": {"en": "y"}}],
        menus=[{"key": "m", "title": {"en": "M"}, "rows": [[
            button("Go", "menu", "missing"),
            button("Web", "url", "javascript:alert(1)"),
            button("", "response", "r"),
        ]]}],
    )  # fmt: skip
    assert messages(document, flow_ids={1}) == [
        "There are two commands named /help: rename one.",
        "Command /help sends the response 'nope', which does not exist.",
        "Command //HELP: the name must be 1–32 characters: a-z, 0-9 and _.",
        "Command //HELP starts flow '9', which does not exist or is not published.",
        "There are two responses with the key r: rename one.",
        "Menu m, row 1 button 1 opens the menu 'missing', which does not exist.",
        "Menu m, row 1 button 2 opens 'javascript:alert(1)', not an http(s) address.",
        "Menu m, row 1 button 3 has no label in English, the bot's default language.",
    ]


def test_buttons_per_row_and_rows_per_platform() -> None:
    row = [button(str(n), "response", "r") for n in range(6)]
    document = doc(
        responses=[{"key": "r", "text": {"en": "x"}, "buttons": [row] * 6}],
    )
    assert messages(document, "telegram") == []
    discord = messages(document, "discord")
    assert discord[0] == "Response r has 6 rows of buttons; Discord shows at most 5."
    assert discord[1] == "Response r: row 1 has 6 buttons; Discord allows at most 5 in a row."
    nine = doc(responses=[{"key": "r", "text": {"en": "x"}, "buttons": [[row[0]] * 9]}])
    assert messages(nine) == [
        "Response r: row 1 has 9 buttons; Telegram allows at most 8 in a row."
    ]


def test_regexes_and_expressions_that_do_not_compile() -> None:
    document = doc(
        responses=[
            {
                "key": "r",
                "triggers": [{"kind": "regex", "value": "(unclosed"}, {"kind": "keyword",
                             "value": " "}],
                "text": {"en": "Hi {{ member.name", "de": "Hallo {{ secrets.token }}"},
            }
        ]
    )  # fmt: skip
    found = messages(document)
    assert found[0].startswith("Response r (en): ")
    assert found[1].startswith("Response r (de): ") and "secrets" in found[1]
    assert found[2].startswith("Response r: the pattern '(unclosed' is not a valid regular")
    assert found[3] == "Response r: a keyword trigger needs a value."


def test_platform_only_things_and_scopes() -> None:
    command = {
        "name": "ban",
        "description": {"en": "Ban"},
        "scope": {"kind": "guild"},
        "options": [{"name": "who", "description": {"en": "Member"}, "type": "user"}],
        "action": {"kind": "flow", "target": "1"},
    }
    assert messages(doc(commands=[command]), "telegram", flow_ids={1}) == [
        "Command /ban: the scope guild does not exist on Telegram.",
        "Command /ban: options exist only on Discord; Telegram ignores them (remove them).",
    ]
    assert messages(doc(commands=[command]), "discord", flow_ids={1}) == [
        "Command /ban: say which server it is offered in."
    ]
    url_command = {**command, "scope": {"kind": "all"}, "options": [],
                   "action": {"kind": "url", "target": "https://x.org"}}  # fmt: skip
    assert messages(doc(commands=[url_command]), "discord") == [
        "Command /ban: a command cannot open a web address; send a response with a link "
        "button instead."
    ]


def test_languages_strings_and_scope() -> None:
    document = doc(
        default_language="fr",
        languages=["en", "en"],
        strings={"bad name": {"fr": "x"}, "ok": {"en": "only English"}},
        scope={"everywhere": False, "private_chats": False},
    )
    assert messages(document) == [
        "The default language fr is not one of the bot's languages.",
        "The language en is listed twice.",
        "String bad name: a name is letters, digits and _ (not starting with a digit), so "
        "texts can read it as {{ strings.name }}.",
        "String ok has no text in French, the bot's default language.",
        "The bot answers nowhere: pick communities or chats, allow private chats, or let it "
        "answer everywhere.",
    ]


@pytest.mark.parametrize("target", ["abc", "", "1"])
def test_flow_targets_must_be_existing_flow_ids(target: str) -> None:
    document = doc(
        commands=[{"name": "go", "description": {"en": "Go"}, "action": {"kind": "flow",
                   "target": target}}]
    )  # fmt: skip
    found = messages(document, flow_ids={2})
    expected = "Command /go: say which flow it opens." if not target else (
        f"Command /go starts flow '{target}', which does not exist or is not published."
    )  # fmt: skip
    assert found == [expected]


def test_missing_translations_lists_each_text_and_language() -> None:
    missing = missing_translations(GOOD)
    assert missing == [
        MissingText("Command /help description", "de", "commands[0].description"),
        MissingText("Response rules text", "de", "responses[0].text"),
        MissingText("Menu main title", "de", "menus[0].title"),
        MissingText("Menu main, row 1 button 1 label", "de", "menus[0].rows[0][0].label"),
        MissingText("Menu main, row 1 button 2 label", "de", "menus[0].rows[0][1].label"),
        MissingText("String site", "de", "strings.site"),
    ]
    empty = doc(responses=[{"key": "r", "media": {"url": "https://x.org/a.png"}}])
    assert missing_translations(empty) == []
