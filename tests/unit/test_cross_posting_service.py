"""Cross-posting service: templates checked by rendering a sample, rules checked against the
chats, templates and each other (loops refused, named by chat), filters, roles, history."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session

from engine import cross_post_delivery
from engine.models import BotInstance, Chat, CrossPostDelivery, Role
from engine.platform_event import PlatformEvent
from engine.services import cross_posting
from engine.services.auth import PermissionDenied
from engine.services.cross_posting import (
    ChatNotFound,
    CrossPostFilter,
    InvalidCrossPost,
    InvalidTemplate,
    LoopRefused,
    NameTaken,
    RuleDraft,
    SourceMessage,
    TemplateInUse,
)
from tests.fakes.pool import FakePool
from tests.unit.test_community_service import user


def chat(session: Session, platform: str, chat_id: str, title: str, **fields: object) -> int:
    row = Chat(platform=platform, platform_chat_id=chat_id, title=title, **fields)
    session.add(row)
    session.commit()
    return row.id or 0


@pytest.fixture
def chats(sqlite_session: Session) -> dict[str, int]:
    s = sqlite_session
    return {
        "news": chat(s, "telegram", "-1001", "News", type="channel", username="news"),
        "guild": chat(s, "discord", "G1", "Server", type="guild"),
        "general": chat(s, "discord", "C1", "general", type="text", parent_chat_id="G1"),
        "group": chat(s, "whatsapp", "g@g.us", "Friends"),
    }


def draft(source: int, *targets: int, **fields: object) -> RuleDraft:
    return RuleDraft.model_validate(
        {"name": f"rule {source}", "source_chat_id": source, "target_chat_ids": list(targets)}
        | fields
    )


def test_a_template_is_checked_by_rendering_a_sample(sqlite_session: Session) -> None:
    editor = user(sqlite_session, Role.editor)
    made = cross_posting.create_template(
        sqlite_session, editor, " Announce ", {"default": "{{ text }}", "discord": "**{{ chat }}**"}
    )
    assert made.name == "Announce"
    with pytest.raises(InvalidTemplate) as refused:
        cross_posting.create_template(
            sqlite_session,
            editor,
            "Broken",
            {"telegram": "{{ txet }}", "discord": "{{ text.__class__ }}", "slack": "x"},
        )
    assert set(refused.value.errors) == {"telegram", "discord", "slack"}
    assert "unknown variable 'txet'" in refused.value.errors["telegram"]
    assert "not available" in refused.value.errors["discord"]
    with pytest.raises(InvalidTemplate, match="at least one format"):
        cross_posting.create_template(sqlite_session, editor, "Empty", {"default": "  "})
    with pytest.raises(NameTaken):
        cross_posting.create_template(sqlite_session, editor, "announce", {"default": "x"})
    viewer = user(sqlite_session, Role.viewer)
    with pytest.raises(PermissionDenied):
        cross_posting.create_template(sqlite_session, viewer, "Mine", {"default": "x"})


def test_preview_substitutes_the_message_as_data() -> None:
    sample = {"text": "{{ 7*7 }}", "author": "Eve"}
    shown = cross_posting.render_preview({"default": "{{ author }}: {{ text }}"}, sample)
    assert shown == {
        "telegram": "Eve: {{ 7*7 }}",
        "discord": "Eve: {{ 7\\*7 }}",  # escaped: shown as typed, not as markdown
        "whatsapp": "Eve: {{ 7*7 }}",
    }
    plain = cross_posting.render_preview({"whatsapp": "> _{{ text }}_"}, {"text": "hi"})
    assert plain["whatsapp"] == "> _hi_"
    assert plain["telegram"] == "Ada:\nhi"  # no format: the text under an author line


def test_a_rule_is_checked_against_its_chats_and_template(
    sqlite_session: Session, chats: dict[str, int]
) -> None:
    editor = user(sqlite_session, Role.editor)
    s = sqlite_session
    with pytest.raises(InvalidCrossPost, match="is the source"):
        cross_posting.create_rule(s, editor, draft(chats["news"], chats["news"]))
    with pytest.raises(InvalidCrossPost, match="Discord server"):
        cross_posting.create_rule(s, editor, draft(chats["news"], chats["guild"]))
    with pytest.raises(ChatNotFound, match="never discovered"):
        cross_posting.create_rule(s, editor, draft(chats["news"], 999))
    with pytest.raises(cross_posting.TemplateNotFound):
        cross_posting.create_rule(s, editor, draft(chats["news"], chats["general"], template_id=9))
    rule = cross_posting.create_rule(
        s, editor, draft(chats["news"], chats["general"], chats["general"], chats["group"])
    )
    view = cross_posting.get_rule(s, rule.id or 0)
    assert (view.source_title, view.source_platform) == ("News", "telegram")
    assert view.target_chat_ids == [chats["general"], chats["group"]]
    assert view.is_active and view.filter == CrossPostFilter() and view.failures == 0


def test_loops_are_refused_naming_the_chats(sqlite_session: Session, chats: dict[str, int]) -> None:
    editor = user(sqlite_session, Role.editor)
    s = sqlite_session
    news, general, group = chats["news"], chats["general"], chats["group"]
    cross_posting.create_rule(s, editor, draft(news, general))
    cross_posting.create_rule(s, editor, draft(general, group, name="second"))
    with pytest.raises(LoopRefused, match="would loop: Friends → News → general → Friends"):
        cross_posting.create_rule(s, editor, draft(group, news, name="back"))
    paused = cross_posting.create_rule(s, editor, draft(group, news, name="back", active=False))
    with pytest.raises(LoopRefused, match="would loop"):
        cross_posting.set_active(s, editor, paused.id or 0, True)
    with pytest.raises(LoopRefused):
        cross_posting.update_rule(s, editor, paused.id or 0, {"active": True, "name": "x"})
    assert not cross_posting.get_rule(s, paused.id or 0).is_active


def test_a_used_template_cannot_be_deleted(sqlite_session: Session, chats: dict[str, int]) -> None:
    editor = user(sqlite_session, Role.editor)
    s = sqlite_session
    template = cross_posting.create_template(s, editor, "Quote", {"default": "> {{ text }}"})
    rule = cross_posting.create_rule(
        s, editor, draft(chats["news"], chats["general"], name="News out", template_id=template.id)
    )
    assert cross_posting.get_template(s, template.id or 0).rule_names == ["News out"]
    with pytest.raises(TemplateInUse, match="News out"):
        cross_posting.delete_template(s, editor, template.id or 0)
    cross_posting.update_rule(s, editor, rule.id or 0, {"template_id": None})
    cross_posting.delete_template(s, editor, template.id or 0)
    assert cross_posting.list_templates(s) == []


def test_filters() -> None:
    news = CrossPostFilter(contains=["#news", " "], regex=r"^\[")
    assert news.contains == ["#news"]
    assert news.matches("[x] #NEWS", has_media=False, from_bot=False)
    assert not news.matches("#news", has_media=False, from_bot=False)
    assert not news.matches("[x] #news", has_media=False, from_bot=True)
    assert not CrossPostFilter(media_only=True).matches("x", has_media=False, from_bot=False)
    with pytest.raises(ValueError, match="not a valid regular expression"):
        CrossPostFilter(regex="(")
    with pytest.raises(ValueError):
        CrossPostFilter(regex="a" * 201)


def test_history_pages_newest_first(sqlite_session: Session, chats: dict[str, int]) -> None:
    editor = user(sqlite_session, Role.editor)
    s = sqlite_session
    rule = cross_posting.create_rule(s, editor, draft(chats["news"], chats["general"]))
    for n, ok in ((1, True), (2, False)):
        s.add(
            CrossPostDelivery(
                rule_id=rule.id or 0,
                source_platform="telegram",
                source_chat_id="-1001",
                source_message_id=str(n),
                target_chat_id=chats["general"],
                target_platform="discord",
                target_platform_chat_id="C1",
                target_message_id=None if not ok else "m1",
                ok=ok,
                error=None if ok else "Missing Access",
            )
        )
    s.commit()
    newest, older = cross_posting.history(s, rule.id or 0)
    assert (newest.source_message_id, newest.ok, newest.error) == ("2", False, "Missing Access")
    assert (older.target_title, older.target_message_id) == ("general", "m1")
    assert [d.source_message_id for d in cross_posting.history(s, rule.id or 0, offset=1)] == ["1"]
    view = cross_posting.get_rule(s, rule.id or 0)
    assert view.failures == 1 and view.last_mirrored_at is not None
    cross_posting.delete_rule(s, editor, rule.id or 0)
    assert cross_posting.list_rules(s) == []


def test_plain_text_keeps_the_author_line() -> None:
    message = SourceMessage("hi", "Ada", "News", "", "", "telegram")
    assert cross_posting.plain_text(message) == "Ada:\nhi"
    assert cross_posting.plain_text(SourceMessage("hi", "", "", "", "", "")) == "hi"


# --- mirroring (engine/cross_post_delivery.py) ------------------------------------------------


def posted(chat_id: str, message_id: str, kind: str = "tg_channel_post", **fields: Any) -> Any:
    platform = {"tg": "telegram", "dc": "discord", "wa": "whatsapp"}[kind[:2]]
    chat = {"id": chat_id, "type": "channel" if platform == "telegram" else "guild"}
    return PlatformEvent.model_validate(
        {
            "event_id": f"{kind}:{chat_id}:{message_id}",
            "kind": kind,
            "platform": platform,
            "chat": chat | ({"guild_id": "G1"} if platform == "discord" else {}),
            "message_id": message_id,
            "text": "Hello",
        }
        | fields
    )


async def test_a_message_is_mirrored_once_and_copies_are_not_mirrored_back(
    sqlite_session: Session, chats: dict[str, int], fake_pool: FakePool
) -> None:
    editor = user(sqlite_session, Role.editor)
    s = sqlite_session
    cross_posting.create_rule(s, editor, draft(chats["news"], chats["general"], chats["group"]))
    cross_posting.create_rule(s, editor, draft(chats["general"], chats["group"], name="chain"))
    s.commit()
    photo = {"media": {"type": "photo", "file_id": "AgAD"}}
    rows = await cross_post_delivery.mirror(posted("-1001", "5", **photo))
    assert [(r.target_platform_chat_id, r.ok) for r in rows] == [("C1", True), ("g@g.us", True)]
    discord = fake_pool.executions.calls[0]
    assert (discord.kind, discord.action) == ("discord_bot", "send_message")
    assert discord.params["content"] == "News:\nHello\n\n(media not carried)"
    assert await cross_post_delivery.mirror(posted("-1001", "5", **photo)) == []  # redelivered
    assert len(fake_pool.executions.calls) == 2

    copy = posted("C1", rows[0].target_message_id or "", kind="dc_message")
    assert await cross_post_delivery.mirror(copy) == []
    bot = posted("C1", "77", kind="dc_message", user={"id": "9", "is_bot": True})
    assert await cross_post_delivery.mirror(bot) == []
    human = await cross_post_delivery.mirror(
        posted("C1", "78", kind="dc_message", user={"id": "8", "display_name": "Bo"})
    )
    assert [(r.rule_id, r.target_platform_chat_id) for r in human] == [(2, "g@g.us")]
    assert fake_pool.executions.calls[-1].params == {"chat_id": "g@g.us", "text": "Bo:\nHello"}


async def test_deletions_and_failures_follow_the_rule(
    sqlite_session: Session, chats: dict[str, int], fake_pool: FakePool
) -> None:
    editor = user(sqlite_session, Role.editor)
    s = sqlite_session
    cross_posting.create_rule(
        s, editor, draft(chats["general"], chats["news"], chats["group"], mirror_deletes=True)
    )
    s.commit()
    rows = await cross_post_delivery.mirror(posted("C1", "5", kind="dc_message"))
    assert [r.ok for r in rows] == [True, True]
    gone = await cross_post_delivery.mirror(posted("C1", "5", kind="dc_message_delete"))
    assert [(r.action, r.target_platform_chat_id, r.ok, r.error) for r in gone] == [
        ("delete", "-1001", True, None),
        ("delete", "g@g.us", False, "A copy on whatsapp cannot be deleted by Flowbot."),
    ]
    delete = fake_pool.executions.calls[-1]
    assert (delete.action, delete.params) == (
        "delete_message",
        {"chat_id": "-1001", "message_id": rows[0].target_message_id},
    )
    fake_pool.fail("send_text", "platform", "not logged in")
    failed = await cross_post_delivery.mirror(posted("C1", "6", kind="dc_message"))
    assert [(r.ok, r.error) for r in failed] == [(True, None), (False, "not logged in")]
    only = await cross_post_delivery.mirror(posted("C1", "6", kind="dc_message_delete"))
    assert [r.target_platform_chat_id for r in only] == ["-1001"]  # no copy where it failed


def test_only_watched_chats_are_handed_to_the_actor(
    sqlite_session: Session, chats: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(cross_post_delivery.mirror_message, "send", sent.append)
    editor = user(sqlite_session, Role.editor)
    cross_posting.create_rule(sqlite_session, editor, draft(chats["news"], chats["general"]))
    sqlite_session.commit()
    cross_post_delivery.handle(posted("-1001", "1"))
    cross_post_delivery.handle(posted("-1002", "1"))
    cross_post_delivery.handle(posted("-1001", "1", kind="tg_chat_boost"))
    assert [e["chat"]["id"] for e in sent] == ["-1001"]


async def test_a_telegram_photo_travels_only_with_the_bot_that_received_it(
    sqlite_session: Session, chats: dict[str, int], fake_pool: FakePool
) -> None:
    s = sqlite_session
    bot = BotInstance(name="tg", kind="telegram_bot")
    s.add(bot)
    s.commit()
    news = s.get(Chat, chats["news"])
    assert news is not None
    news.bot_instance_id = bot.id
    archive = chat(s, "telegram", "-1002", "Archive", bot_instance_id=bot.id)
    editor = user(s, Role.editor)
    cross_posting.create_rule(s, editor, draft(chats["news"], archive, chats["general"]))
    s.commit()
    photo = posted(
        "-1001",
        "5",
        connector="telegram_bot",
        instance_id=bot.id,
        media={"type": "photo", "file_id": "AgAD"},
    )
    await cross_post_delivery.mirror(photo)
    same_bot, discord = fake_pool.executions.calls
    assert (same_bot.instance_id, same_bot.action) == (bot.id, "send_photo")
    assert (same_bot.params["photo"], same_bot.params["caption"]) == ("AgAD", "News:\nHello")
    assert discord.params["content"].endswith(cross_post_delivery.MEDIA_NOT_CARRIED)
