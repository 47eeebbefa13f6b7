"""Flowbot markdown per platform, and the pool calls that post a message per connector."""

from __future__ import annotations

import pytest

from engine.message_format import (
    LinkButton,
    OutgoingMessage,
    is_web_url,
    length_error,
    media_kind,
    message_calls,
    render,
    sent_message_id,
)
from engine.nodes.registry import REGISTRY

DOCS = LinkButton("Docs", "https://example.org/docs")


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("telegram", "<b>bold <i>both</i></b> <s>gone</s> <code>x</code>"),
        ("discord", "**bold _both_** ~~gone~~ `x`"),
        ("whatsapp", "*bold _both_* ~gone~ ```x```"),
        ("plain", "bold both gone x"),
    ],
)
def test_inline_markup_nested(platform: str, expected: str) -> None:
    assert render("**bold _both_** ~~gone~~ `x`", platform) == expected


def test_telegram_escapes_user_text_and_emits_no_other_tags() -> None:
    out = render("<script>alert(1)</script> & `a<b` **<i>**", "telegram")
    assert out == (
        "&lt;script&gt;alert(1)&lt;/script&gt; &amp; <code>a&lt;b</code> <b>&lt;i&gt;</b>"
    )


def test_links_per_platform() -> None:
    text = "see [the docs](https://example.org/a?x=1&y=2)"
    assert render(text, "telegram") == (
        'see <a href="https://example.org/a?x=1&amp;y=2">the docs</a>'
    )
    assert render(text, "discord") == "see [the docs](<https://example.org/a?x=1&y=2>)"
    assert render(text, "whatsapp") == "see the docs (https://example.org/a?x=1&y=2)"


def test_only_web_links_become_links() -> None:
    assert "<a" not in render("[x](javascript:alert(1)) [y](mailto:a@b.c)", "telegram")
    assert is_web_url("https://example.org") and not is_web_url("ftp://example.org")
    assert not is_web_url("https://")


def test_code_block_keeps_its_text_and_language() -> None:
    text = "before\n\n```python\nif a < b:\n    **not bold**\n```"
    assert render(text, "telegram") == (
        'before\n\n<pre><code class="language-python">if a &lt; b:\n    **not bold**</code></pre>'
    )
    assert render(text, "discord") == "before\n\n```python\nif a < b:\n    **not bold**\n```"
    assert render(text, "whatsapp") == "before\n\n```if a < b:\n    **not bold**```"


def test_line_breaks_and_paragraphs_survive() -> None:
    assert render("one\ntwo\n\nthree", "telegram") == "one\ntwo\n\nthree"


def test_discord_escapes_literal_markers_and_line_starts() -> None:
    assert render("snake_case 2\\*3\n# not a heading\n> not a quote", "discord") == (
        "snake\\_case 2\\*3\n\\# not a heading\n\\> not a quote"
    )


def test_headings_lists_and_html_stay_literal() -> None:
    text = "# Title\n- item\n<b>x</b>"
    assert render(text, "whatsapp") == text


def test_length_counts_what_each_platform_counts() -> None:
    # Telegram counts the visible text: tags do not count.
    assert length_error("**" + "a" * 4096 + "**", "telegram") is None
    error = length_error("a" * 2001, "discord")
    assert error == "the Discord version is 2001 characters long; Discord takes at most 2000"
    assert length_error("a" * 2000, "discord") is None


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://x.org/a.PNG", "photo"),
        ("https://x.org/image", "photo"),
        ("https://x.org/v.mp4", "video"),
        ("https://x.org/rules.pdf", "document"),
    ],
)
def test_media_kind(url: str, kind: str) -> None:
    assert media_kind(url) == kind


def test_telegram_bot_text_with_buttons() -> None:
    message = OutgoingMessage("hi", buttons=((DOCS,),))
    assert message_calls("telegram_bot", "-100", message, "<b>hi</b>") == [
        (
            "send_buttons",
            {
                "chat_id": "-100",
                "parse_mode": "HTML",
                "text": "<b>hi</b>",
                "buttons": [[{"text": "Docs", "url": DOCS.url}]],
            },
        )
    ]
    plain = message_calls("telegram_bot", "-100", OutgoingMessage("hi"), "hi")
    assert plain == [("send_message", {"chat_id": "-100", "parse_mode": "HTML", "text": "hi"})]


def test_telegram_bot_photo_caption_or_text_after() -> None:
    short = OutgoingMessage("hi", media_url="https://x.org/a.png")
    assert message_calls("telegram_bot", "1", short, "hi") == [
        (
            "send_photo",
            {"chat_id": "1", "parse_mode": "HTML", "photo": short.media_url, "caption": "hi"},
        )
    ]
    long_text = "<b>" + "a" * 1025 + "</b>"
    calls = message_calls("telegram_bot", "1", short, long_text)
    assert [action for action, _ in calls] == ["send_photo", "send_message"]
    assert "caption" not in calls[0][1] and calls[1][1]["text"] == long_text
    # exactly 1024 visible characters still fit, whatever the tags and entities add
    fits = "<b>" + "&amp;" * 1024 + "</b>"
    assert [a for a, _ in message_calls("telegram_bot", "1", short, fits)] == ["send_photo"]


def test_telegram_bot_media_with_buttons_puts_buttons_on_the_text() -> None:
    message = OutgoingMessage("hi", media_url="https://x.org/v.mp4", buttons=((DOCS,),))
    calls = message_calls("telegram_bot", "1", message, "hi")
    assert calls[0] == (
        "send_video",
        {"chat_id": "1", "parse_mode": "HTML", "video": message.media_url},
    )
    assert calls[1][0] == "send_buttons"


def test_telegram_user_links_as_text_and_media() -> None:
    message = OutgoingMessage("hi", media_url="https://x.org/r.pdf", buttons=((DOCS,),))
    assert message_calls("telegram_user", "me", message, "hi") == [
        (
            "send_media",
            {
                "chat_id": "me",
                "parse_mode": "html",
                "media_type": "document",
                "media": message.media_url,
                "caption": f'hi\n\n<a href="{DOCS.url}">Docs</a>',
            },
        )
    ]


def test_discord_image_embed_and_link_buttons() -> None:
    message = OutgoingMessage(
        "hi", media_url="https://x.org/a.png", buttons=((DOCS, LinkButton("Site", "https://s.io")),)
    )
    assert message_calls("discord_bot", "42", message, "hi") == [
        (
            "send_buttons",
            {
                "channel_id": "42",
                "content": "hi",
                "embed": {"image_url": message.media_url},
                "buttons": [
                    [
                        {"label": "Docs", "style": "link", "url": DOCS.url},
                        {"label": "Site", "style": "link", "url": "https://s.io"},
                    ]
                ],
            },
        )
    ]


def test_discord_other_media_is_a_link() -> None:
    message = OutgoingMessage("hi", media_url="https://x.org/v.mp4")
    assert message_calls("discord_bot", "42", message, "hi") == [
        ("send_message", {"channel_id": "42", "content": "hi\nhttps://x.org/v.mp4"})
    ]


def test_whatsapp_text_and_image_with_links() -> None:
    text_only = OutgoingMessage("hi", buttons=((DOCS,),))
    assert message_calls("whatsapp_user", "1@g.us", text_only, "*hi*") == [
        ("send_text", {"chat_id": "1@g.us", "text": f"*hi*\n\nDocs ({DOCS.url})"})
    ]
    image = OutgoingMessage("hi", media_url="https://x.org/a.jpg")
    assert message_calls("whatsapp_user", "1@g.us", image, "hi") == [
        ("send_image", {"chat_id": "1@g.us", "file": image.media_url, "caption": "hi"})
    ]


def test_unknown_connector_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot post"):
        message_calls("email", "x", OutgoingMessage("hi"), "hi")


def test_sent_message_id() -> None:
    assert sent_message_id({"message_id": 12}) == "12"
    assert sent_message_id({"ok": True}) is None


_PREFIX = {
    "telegram_bot": "tg_",
    "telegram_user": "tgu_",
    "discord_bot": "dc_",
    "whatsapp_user": "wa_",
}
_EVERY_SHAPE = [
    OutgoingMessage("hi"),
    OutgoingMessage("hi", buttons=((DOCS,),)),
    OutgoingMessage("hi", media_url="https://x.org/a.png"),
    OutgoingMessage("hi", media_url="https://x.org/v.mp4", buttons=((DOCS,),)),
    OutgoingMessage("hi", media_url="https://x.org/r.pdf"),
]


@pytest.mark.parametrize("kind", sorted(_PREFIX))
@pytest.mark.parametrize("message", _EVERY_SHAPE)
def test_every_call_is_a_valid_connector_action(kind: str, message: OutgoingMessage) -> None:
    """The connectors validate params with the node declarations' models: so do we."""
    for action, params in message_calls(kind, "123", message, "hi"):
        REGISTRY.get(_PREFIX[kind] + action).params.model_validate(params)
