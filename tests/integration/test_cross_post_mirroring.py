"""End to end on the fake Telegram and the fake Discord: a cross-post rule mirrors a channel.

Everything real but the platforms: aiogram and hikari under one supervisor, the chats
discovered from the platforms, route_event handing the channel post to the mirror actor
on the embedded worker, the template rendered and posted through the pool API over HTTP.
A post in the Telegram channel arrives in one Discord channel formatted by the template
and fails in another with Discord's own reason, both in the rule's history; editing the
post edits the Discord copy; the rule back from Discord to the channel is refused.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from engine.db import session_scope
from engine.message_format import render
from engine.models import Chat, CrossPostAction, CrossPostDelivery
from engine.models.connections import ConnectorKind
from engine.services import cross_posting
from engine.services.cross_posting import LoopRefused, RuleDraft
from tests.fakes import DISCORD_USER_ID, FakeDiscord, FakeTelegramBotAPI
from tests.fakes import telegram_objects as tg
from tests.flow_helpers import make_admin
from tests.integration.supervised import supervised_instances
from tests.integration.test_community_rules_telegram import eventually

GENERAL, LOCKED = "700000000000000011", "700000000000000012"
FORMAT = "**{{ chat }}**: {{ text }}\n{{ link }}"


def chat_rows(channel_id: str) -> dict[str, int] | None:
    with session_scope() as session:
        rows = {c.platform_chat_id: c.id for c in session.exec(select(Chat)) if c.id}
    return rows if {channel_id, GENERAL, LOCKED} <= rows.keys() else None


def deliveries(action: CrossPostAction, count: int) -> list[CrossPostDelivery] | None:
    with session_scope() as session:
        rows = session.exec(
            select(CrossPostDelivery)
            .where(CrossPostDelivery.action == action)
            .order_by(CrossPostDelivery.id)
        ).all()
    return list(rows) if len(rows) >= count else None


def mirror_rule(chats: dict[str, int], channel_id: str) -> int:
    """Announcements: the channel to both Discord channels, through the template, edits too."""
    editor = make_admin()
    with session_scope() as session:
        template = cross_posting.create_template(session, editor, "Announce", {"discord": FORMAT})
        rule = cross_posting.create_rule(
            session,
            editor,
            RuleDraft(
                name="News to Discord",
                source_chat_id=chats[channel_id],
                target_chat_ids=[chats[GENERAL], chats[LOCKED]],
                template_id=template.id,
                mirror_edits=True,
            ),
        )
        with pytest.raises(LoopRefused, match="would loop: general-.* → Ada's news → general-"):
            back = RuleDraft(
                name="Back", source_chat_id=chats[GENERAL], target_chat_ids=[chats[channel_id]]
            )
            cross_posting.create_rule(session, editor, back)
        return rule.id or 0


def posted_in(fake: FakeDiscord, channel_id: str) -> list[dict[str, Any]]:
    return [c.json for c in fake.calls_to("POST", f"/channels/{channel_id}/messages")]


@pytest.mark.usefixtures("worker")
async def test_a_channel_post_is_mirrored_to_discord_and_its_edit_follows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with FakeTelegramBotAPI() as telegram, FakeDiscord() as discord:
        channel = telegram.add_chat("@adanews", "channel", "Ada's news")
        channel_id = str(channel["id"])
        discord.add_guild(channel_ids=(GENERAL, LOCKED), member_ids=(DISCORD_USER_ID,))
        instances = [
            (ConnectorKind.telegram_bot, telegram.token,
             {"api_base_url": telegram.base_url, "poll_timeout": 1}),
            (ConnectorKind.discord_bot, discord.token, {"api_base_url": discord.rest_url}),
        ]  # fmt: skip
        async with supervised_instances(monkeypatch, instances):
            await telegram.wait_for_call("getUpdates", timeout=10)
            telegram.push_chat_member(
                telegram.me["id"], chat_id=channel["id"], new_status="administrator"
            )
            chats = await eventually(lambda: chat_rows(channel_id), timeout=30)
            rule_id = mirror_rule(chats, channel_id)
            discord.fail_next(f"POST /channels/{LOCKED}/messages", 403, 50001, "Missing Access")

            post = telegram.push_message(
                "Meet-up at **7 pm**", chat_id=channel["id"], kind="channel_post"
            )["channel_post"]
            posts = await eventually(lambda: deliveries(CrossPostAction.post, 2), timeout=30)

            edited = {**post, "text": "Meet-up at **8 pm**", "edit_date": tg.now()}
            telegram.push_update({"edited_channel_post": edited})
            edit = await discord.wait_for_call(
                "PATCH", "/channels/{channel}/messages/{message}", timeout=30
            )
            edits = await eventually(lambda: deliveries(CrossPostAction.edit, 1), timeout=30)

    link = f"https://t.me/adanews/{post['message_id']}"
    sent = render(f"**Ada's news**: Meet-up at **7 pm**\n{link}", "discord")
    assert [body["content"] for body in posted_in(discord, GENERAL)] == [sent]
    mirrored, refused = sorted(posts, key=lambda d: d.ok, reverse=True)
    assert (mirrored.rule_id, mirrored.ok, mirrored.source_chat_id) == (rule_id, True, channel_id)
    assert mirrored.target_platform_chat_id == GENERAL and mirrored.target_message_id
    assert mirrored.source_message_id == str(post["message_id"])
    assert refused.target_platform_chat_id == LOCKED and not refused.ok
    assert refused.error and "Missing Access" in refused.error

    assert edit.params == {"channel": GENERAL, "message": mirrored.target_message_id}
    assert edit.json["content"] == render(f"**Ada's news**: Meet-up at **8 pm**\n{link}", "discord")
    [edit_row] = edits
    assert edit_row.ok and edit_row.target_message_id == mirrored.target_message_id

    with session_scope() as session:
        history = cross_posting.history(session, rule_id)
    assert [(d.action, d.ok) for d in history] == [("edit", True), ("post", False), ("post", True)]
