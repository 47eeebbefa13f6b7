"""The Bot config page's item form without a browser: path edits on the item being edited,
what the form shows per language, the item as it is stored, and the live preview."""

from __future__ import annotations

import pytest

from engine.bot_config.document import Command, Menu, Response
from flowbot_ui.components.bot_preview import preview_of
from flowbot_ui.state import bot_config_items as items

DOCUMENT = {
    "default_language": "en",
    "languages": ["en", "de"],
    "strings": {"hours": {"en": "9 to 5", "de": "9 bis 17"}},
    "responses": [{"key": "rules", "text": {"en": "Be kind."}}],
    "menus": [{"key": "faq", "title": {"en": "FAQ"}}],
}


def test_a_text_is_set_for_the_open_language_and_the_rest_by_type() -> None:
    item = items.new_item("response")
    item = items.put(item, ("text",), "Hello", "en")
    item = items.put(item, ("text",), "Hallo", "de")
    item = items.put(item, ("enabled",), False, "de")
    item = items.put(item, ("delete_after_seconds",), "60", "de")
    assert item["text"] == {"en": "Hello", "de": "Hallo"}
    assert item["enabled"] is False
    assert item["delete_after_seconds"] == 60
    assert items.form_of("response", item, "de").text == "Hallo"
    assert items.form_of("response", item, "en").delete_after == "60"


def test_a_path_outside_the_item_is_refused_and_the_item_is_unchanged() -> None:
    item = items.new_item("command")
    with pytest.raises(LookupError):
        items.put(item, ("options", 0, "name"), "x", "en")
    with pytest.raises(LookupError):
        items.put(item, ("role",), "admin", "en")  # no new fields
    assert item == items.new_item("command")


def test_lists_grow_and_shrink_and_an_emptied_button_row_goes() -> None:
    item = items.append(items.new_item("command"), ("options",), "options")
    item = items.append(item, ("options", 0, "choices"), "choices")
    item = items.put(item, ("options", 0, "choices", 0, "name"), "Red", "en")
    item = items.put(item, ("options", 0, "choices", 0, "value"), "red", "en")
    assert items.form_of("command", item, "en").options[0].choices[0].name == "Red"
    assert item["options"][0]["choices"][0] == {"name": {"en": "Red"}, "value": "red"}

    menu = items.append(items.new_item("menu"), ("rows",), "row")
    menu = items.append(menu, ("rows", 0), "buttons")
    assert [len(row) for row in menu["rows"]] == [2]
    menu = items.drop(menu, ("rows", 0, 0))
    menu = items.drop(menu, ("rows", 0, 0))
    assert menu["rows"] == []
    with pytest.raises(LookupError):
        items.drop(menu, ("rows", 0))


def test_a_new_action_kind_forgets_the_old_target() -> None:
    item = items.put(items.new_item("command"), ("action", "target"), "rules", "en")
    item = items.set_action_kind(item, ("action",), "menu")
    assert item["action"] == {"kind": "menu", "target": ""}


def test_the_stored_item_has_no_blank_translations_nor_empty_media() -> None:
    item = items.put(items.new_item("response"), ("key",), "welcome", "en")
    item = items.put(item, ("text",), "Welcome", "en")
    item = items.put(item, ("text",), "  ", "de")
    item = items.append(item, ("triggers",), "triggers")
    done = items.finished("response", item)
    assert done["text"] == {"en": "Welcome"}
    assert done["media"] is None
    assert Response.model_validate(done).triggers[0].value == ""
    command = items.finished("command", items.new_item("command"))
    assert Command.model_validate(command).name == ""
    assert Menu.model_validate({**items.finished("menu", items.new_item("menu")), "key": "m"})


def test_an_item_opened_from_the_draft_shows_its_media_fields() -> None:
    stored = {"key": "pic", "text": {"en": "Look"}, "media": None}
    assert items.editable("response", stored)["media"] == {"kind": "photo", "url": ""}
    assert stored["media"] is None


def test_the_preview_is_the_bots_answer_in_the_chosen_language() -> None:
    item = items.put(items.new_item("response"), ("text",), "Hi **{{ member.name }}**", "en")
    item = items.put(item, ("text",), "Hallo {{ member.name }}, {{ strings.hours }}", "de")
    item = items.append(item, ("buttons",), "row")
    item = items.put(item, ("buttons", 0, 0, "label"), "Site", "en")
    item = items.set_action_kind(item, ("buttons", 0, 0, "action"), "url")
    item = items.put(item, ("buttons", 0, 0, "action", "target"), "https://example.org", "en")
    item = items.put(item, ("reply_mode",), "dm", "en")

    english = preview_of(DOCUMENT, "response", item, "en", "Helper")
    assert english.telegram == "Hi <b>Alex Morgan</b>"
    assert english.discord == "<p>Hi <strong>Alex Morgan</strong></p>"
    assert [[b.label for b in row.buttons] for row in english.rows] == [["Site"]]
    assert english.rows[0].buttons[0].link
    assert english.notes == ["Sent to the member privately"]

    german = preview_of(DOCUMENT, "response", item, "de", "Helper")
    assert german.telegram == "Hallo Alex Morgan, 9 bis 17"
    assert german.rows[0].buttons[0].label == "Site"  # no German label: the default's


def test_the_preview_of_a_menu_shows_its_buttons_and_a_broken_form_says_why() -> None:
    menu = items.put(items.new_item("menu"), ("title",), "Pick one", "en")
    menu = items.append(menu, ("rows",), "row")
    menu = items.put(menu, ("rows", 0, 0, "label"), "FAQ", "en")
    menu = items.set_action_kind(menu, ("rows", 0, 0, "action"), "menu")
    menu = items.put(menu, ("rows", 0, 0, "action", "target"), "faq", "en")
    shown = preview_of(DOCUMENT, "menu", menu, "en", "Helper")
    assert shown.telegram == "Pick one"
    assert [b.label for b in shown.rows[0].buttons] == ["FAQ"]

    broken = items.put(items.new_item("response"), ("delete_after_seconds",), "soon", "en")
    assert "delete_after_seconds" in preview_of(DOCUMENT, "response", broken, "en", "").error
