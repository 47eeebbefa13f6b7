"""Cross-posting service: templates checked by rendering a sample, rules checked against the
chats, templates and each other (loops refused, named by chat), filters, roles, history."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from engine.models import AdminUser, Chat, CrossPostDelivery, Role
from engine.services import auth, cross_posting
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
from tests.flow_helpers import make_admin


def user(session: Session, role: Role) -> AdminUser:
    made = auth.create_user(session, f"u_{role.value}", "a-long-password", role, actor=make_admin())
    session.commit()
    return made


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
