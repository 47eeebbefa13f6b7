"""The composer's preview shows each platform's text as its app would, and never turns
what the admin typed into markup."""

from __future__ import annotations

import pytest

from engine.message_format import render
from flowbot_ui.components.message_preview import display_html

TYPED = "**Meet-up** on _Friday_, ~~Thursday~~ `room 4` [map](https://example.org/m?a=1&b=2)"
HOSTILE = '<img src=x onerror="alert(1)"> [click](javascript:alert(1)) <script>x</script>'


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        (
            "telegram",
            "<b>Meet-up</b> on <i>Friday</i>, <s>Thursday</s> <code>room 4</code> "
            '<a href="https://example.org/m?a=1&amp;b=2">map</a>',
        ),
        (
            "discord",
            "<p><strong>Meet-up</strong> on <em>Friday</em>, <s>Thursday</s> <code>room 4</code> "
            '<a href="https://example.org/m?a=1&amp;b=2">map</a></p>',
        ),
        (
            "whatsapp",
            "<b>Meet-up</b> on <i>Friday</i>, <s>Thursday</s> <code>room 4</code> "
            "map (https://example.org/m?a=1&amp;b=2)",
        ),
    ],
)
def test_formatting_shows_as_on_the_platform(platform: str, expected: str) -> None:
    assert display_html(platform, render(TYPED, platform)).strip() == expected


@pytest.mark.parametrize("platform", ["telegram", "discord", "whatsapp"])
def test_typed_html_and_script_links_stay_text(platform: str) -> None:
    shown = display_html(platform, render(HOSTILE, platform))
    assert "<img" not in shown and "<script" not in shown
    assert "&lt;img" in shown and "&lt;script&gt;" in shown
    assert "<a" not in shown  # a javascript: link is no link, only its text


def test_whatsapp_markers_inside_words_are_left_alone() -> None:
    assert display_html("whatsapp", "snake_case_name and 2*3*4") == "snake_case_name and 2*3*4"
