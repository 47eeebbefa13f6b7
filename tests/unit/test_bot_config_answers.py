"""The bot's own answers, decided without I/O: language fallback, keyword and regex
triggers, menu buttons with their trail and Back, the scope, disabled items, and texts with
expressions (member text is data, never a template)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from engine.bot_config.answers import (
    MAX_DATA_BYTES,
    Facts,
    Incoming,
    Reply,
    ReplyButton,
    answer,
    menu_data,
    pick_language,
)
from engine.bot_config.document import BotConfigDocument


@dataclass
class FakeRegex:
    """Records the searches; matches when the pattern is in ``matching``."""

    matching: set[str] = field(default_factory=set)
    searched: list[tuple[str, str]] = field(default_factory=list)

    def search(self, pattern: str, text: str) -> bool:
        self.searched.append((pattern, text))
        return pattern in self.matching


def button(label: str, kind: str, target: str) -> dict[str, Any]:
    return {"label": {"en": label}, "action": {"kind": kind, "target": target}}


DOCUMENT = BotConfigDocument.model_validate(
    {
        "default_language": "en",
        "languages": ["en", "de", "pt-BR"],
        "commands": [
            {"name": "help", "description": {"en": "Help"},
             "action": {"kind": "response", "target": "help"}},
            {"name": "menu", "description": {"en": "Menu"},
             "action": {"kind": "menu", "target": "main"}},
            {"name": "off", "enabled": False, "action": {"kind": "response", "target": "help"}},
            {"name": "dm", "scope": {"kind": "private"},
             "action": {"kind": "response", "target": "help"}},
            {"name": "go", "action": {"kind": "flow", "target": "7"}},
        ],
        "responses": [
            {"key": "help", "text": {"en": "Hello {{ member.name }}",
                                     "de": "Hallo {{ member.name }}", "pt-BR": "Olá"}},
            {"key": "price", "triggers": [{"kind": "keyword", "value": "Price List"}],
             "text": {"en": "Prices in {{ chat.title }}"}},
            {"key": "pattern", "triggers": [{"kind": "regex", "value": "^order \\d+$"}],
             "text": {"en": "Rules: {{ community.rules }}"}},
            {"key": "quiet", "enabled": False, "triggers": [{"kind": "keyword", "value": "hush"}],
             "text": {"en": "never"}},
            {"key": "echo", "triggers": [{"kind": "keyword", "value": "echo"}],
             "text": {"en": "You said: {{ trigger.text }} ({{ strings.site }})"}},
            {"key": "old", "triggers": [{"kind": "button", "value": "legacy-button"}],
             "text": {"en": "From a flow's button"}},
        ],
        "menus": [
            {"key": "main", "title": {"en": "Main", "de": "Haupt"},
             "rows": [[button("FAQ", "menu", "faq"), button("Help", "response", "help")],
                      [button("Web", "url", "https://example.org"), button("Run", "flow", "7")]]},
            {"key": "faq", "title": {"en": "FAQ"}, "rows": [[button("Deeper", "menu", "deep")]]},
            {"key": "deep", "title": {"en": "Deep"}, "rows": []},
        ],
        "strings": {"site": {"en": "example.org", "de": "beispiel.de"}},
    }
)  # fmt: skip
GROUP = {"chat_id": "-100", "chat_type": "supergroup"}


def ask(incoming: Incoming, document: BotConfigDocument = DOCUMENT, **facts: Any) -> Reply | None:
    return answer(document, incoming, Facts(**facts), FakeRegex())


def command(name: str, **fields: Any) -> Incoming:
    return Incoming(kind="command", command=name, **{**GROUP, **fields})


def text(words: str, **fields: Any) -> Incoming:
    return Incoming(kind="text", text=words, trigger={"text": words}, **{**GROUP, **fields})


def press(data: str) -> Incoming:
    return Incoming(kind="button", button_data=data, **GROUP)


@pytest.mark.parametrize(
    ("override", "locale", "language"),
    [
        ("de", "en", "de"),  # a flow's choice wins over the platform locale
        (None, "de", "de"),
        (None, "de-AT", "de"),  # a regional locale falls back to its language
        (None, "pt_BR", "pt-BR"),  # the exact region when configured
        (None, "fr", "en"),  # unknown: the bot's default language
        ("xx", "de", "de"),  # an unknown override is skipped
        (None, None, "en"),
    ],
)
def test_language_fallback_chain(override: str | None, locale: str | None, language: str) -> None:
    facts = Facts(language_override=override, platform_language=locale)
    assert pick_language(DOCUMENT, facts) == language
    reply = ask(command("help"), language_override=override, platform_language=locale,
                member={"name": "Ann"})  # fmt: skip
    assert reply is not None and reply.language == language
    expected = {"de": "Hallo Ann", "en": "Hello Ann", "pt-BR": "Olá"}[language]
    assert reply.text == expected


def test_a_missing_translation_falls_back_to_the_default_language() -> None:
    reply = ask(command("menu"), platform_language="pt-BR")
    assert reply is not None and reply.language == "pt-BR" and reply.text == "Main"


def test_commands_are_matched_however_they_are_spelled() -> None:
    for spelled in ("help", "/HELP", "help@my_bot"):
        reply = ask(command(spelled), member={"name": "Bo"})
        assert reply is not None and reply.source == "response:help"


def test_keywords_match_whole_words_in_any_case() -> None:
    assert ask(text("what is the PRICE LIST?"), chat={"title": "Shop"}) == Reply(
        text="Prices in Shop", language="en", source="response:price"
    )
    assert ask(text("price listing please")) is None
    assert ask(text("pricelist")) is None


def test_regex_triggers_go_through_the_bounded_matcher() -> None:
    regex = FakeRegex(matching={"^order \\d+$"})
    reply = answer(DOCUMENT, text("order 12"), Facts(community={"rules": "Be kind"}), regex)
    assert reply is not None and reply.text == "Rules: Be kind"
    assert ("^order \\d+$", "order 12") in regex.searched
    assert answer(DOCUMENT, text("order 12"), Facts(), FakeRegex()) is None


def test_disabled_commands_and_responses_do_not_answer() -> None:
    assert ask(command("off")) is None
    assert ask(text("hush now")) is None


def test_a_private_command_is_not_answered_in_groups() -> None:
    assert ask(command("dm")) is None
    assert ask(command("dm", chat_type="private")) is not None


def test_a_command_can_start_a_flow() -> None:
    reply = ask(command("go"))
    assert reply is not None and (reply.start_flow, reply.text, reply.source) == (7, "", "flow:7")


def test_menus_carry_their_trail_and_submenus_get_back() -> None:
    main = ask(command("menu"))
    assert main is not None and not main.edit and main.text == "Main"
    assert main.buttons == [
        [ReplyButton("FAQ", data="fb:m:main/faq"), ReplyButton("Help", data="fb:r:help")],
        [ReplyButton("Web", url="https://example.org"), ReplyButton("Run", data="fb:f:7")],
    ]
    faq = ask(press("fb:m:main/faq"))
    assert faq is not None and faq.edit and faq.text == "FAQ"
    assert faq.buttons == [
        [ReplyButton("Deeper", data="fb:m:main/faq/deep")],
        [ReplyButton("« Back", data="fb:m:main")],
    ]
    deep = ask(press("fb:m:main/faq/deep"))
    assert deep is not None and deep.buttons == [[ReplyButton("« Back", data="fb:m:main/faq")]]
    back = ask(press("fb:m:main"))
    assert back is not None and back.edit and back.source == "menu:main"
    german = ask(press("fb:m:main/faq"), platform_language="de")
    assert german is not None and german.buttons[-1] == [ReplyButton("« Zurück", data="fb:m:main")]


def test_button_payloads_send_responses_flows_and_old_buttons() -> None:
    reply = ask(press("fb:r:help"), member={"name": "Cy"})
    assert reply is not None and reply.text == "Hello Cy" and not reply.edit
    flow = ask(press("fb:f:7"))
    assert flow is not None and flow.start_flow == 7
    legacy = ask(press("legacy-button"))
    assert legacy is not None and legacy.source == "response:old"
    assert ask(press("fb:x:whatever")) is None
    assert ask(press("fb:m:main/unknown")) is None


def test_menu_payloads_fit_telegrams_64_bytes_dropping_the_oldest_menus() -> None:
    keys = [f"menu_number_{n:02d}" for n in range(6)]
    data = menu_data("/".join(keys))
    assert len(data.encode()) <= MAX_DATA_BYTES
    assert data.endswith("/".join(keys[-2:])) and keys[0] not in data
    assert menu_data("a" * 80) == "fb:m:" + "a" * 80  # one key is kept whatever its length


def scoped(**scope: Any) -> BotConfigDocument:
    return DOCUMENT.model_copy(update={"scope": DOCUMENT.scope.model_copy(update=scope)})


def test_scope_everywhere_communities_chats_and_private() -> None:
    only = scoped(everywhere=False, community_ids=[3], chat_ids=["-200"], private_chats=False)
    assert ask(command("help"), only) is None
    assert ask(command("help"), only, community_ids=(3,)) is not None
    assert ask(command("help", chat_id="-200"), only) is not None
    assert ask(command("help", chat_type="private"), only, community_ids=(3,)) is None
    private = scoped(everywhere=False, private_chats=True)
    assert ask(command("help", chat_type="private"), private) is not None
    assert ask(command("help"), scoped(everywhere=True)) is not None


def test_member_text_is_data_never_a_template() -> None:
    hostile = "{{ strings.site }} {{ 7 * 7 }} {% for x in y %}"
    reply = ask(text(f"echo {hostile}"))
    assert reply is not None
    assert reply.text == f"You said: echo {hostile} (example.org)"
    german = ask(text("echo hi"), platform_language="de")
    assert german is not None and german.text.endswith("(beispiel.de)")


def test_a_text_that_fails_to_render_is_sent_as_written() -> None:
    broken = BotConfigDocument.model_validate(
        {"responses": [{"key": "b", "triggers": [{"kind": "keyword", "value": "b"}],
                        "text": {"en": "Hi {{ member.name.upper( }}"}}]}
    )  # fmt: skip
    reply = answer(broken, text("b"), Facts(), FakeRegex())
    assert reply is not None and reply.text == "Hi {{ member.name.upper( }}"
