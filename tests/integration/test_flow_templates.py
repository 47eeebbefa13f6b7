"""Every gallery template, created through its pickers, published and run on the fakes.

Everything real but the platforms: aiogram and hikari under the supervisor, the embedded
Dramatiq worker, the flow runtime and the pool API. Each test picks the template's
connections, chats and community from what the pickers offer (as the "New flow" dialog
does), publishes the draft, sends what triggers it and waits for the platform call.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from croniter import croniter
from sqlmodel import select

from engine import actors, schedules
from engine.db import session_scope
from engine.flow_templates import TEMPLATES, get_template
from engine.flow_templates.choices import choices
from engine.models import (
    Chat,
    FlowVersion,
    Platform,
    PlatformAccount,
    ReputationScore,
    WebhookEndpoint,
)
from engine.models.connections import ConnectorKind
from engine.services import communities, flows, reputation, webhooks
from engine.services.moderation import member_row
from tests.api_client import api_client
from tests.fakes import (
    DISCORD_CHANNEL_ID,
    DISCORD_GUILD_ID,
    TELEGRAM_CHAT_ID,
    TELEGRAM_USER_ID,
    FakeDiscord,
    FakeTelegramBotAPI,
)
from tests.flow_helpers import make_admin
from tests.integration.supervised import supervised_instances
from tests.integration.test_supervisor import eventually

pytestmark = pytest.mark.usefixtures("worker")

CHANNEL_ID = -1_009_876_543_210
BOB_ID = 515_151


def test_the_gallery_has_the_twelve_templates_the_issue_asks_for() -> None:
    assert set(TEMPLATES) == {
        "welcome", "ping", "keyword_reply", "anti_link", "three_strikes", "join_requests",
        "thanks_reputation", "weekly_leaderboard", "daily_digest", "channel_to_discord",
        "webhook_alert", "github_to_discord",
    }  # fmt: skip


# --- the world each test runs in ----------------------------------------------------------


async def discovered(instance_id: int, platform: Platform, chat_id: int | str) -> int:
    """The row id of a chat the fake announces to the bot (a Discord server's channels),
    once chat discovery has recorded it: recording it here as well raced with discovery
    (a duplicate row, refused by the database's unique key)."""

    def row() -> int | None:
        with session_scope() as session:
            return session.exec(
                select(Chat.id).where(
                    Chat.platform == platform,
                    Chat.platform_chat_id == str(chat_id),
                    Chat.bot_instance_id == instance_id,
                )
            ).first()

    found: int = await eventually(row, timeout=20, what=f"discovery of chat {chat_id}")
    return found


def add_chat(
    instance_id: int, platform: Platform, chat_id: int | str, kind: str, title: str
) -> int:
    """The connection's chat (its row id): as chat discovery recorded it, or recorded the
    same way here when discovery has not seen it yet."""
    with session_scope() as session:
        known = session.exec(
            select(Chat).where(Chat.platform == platform, Chat.platform_chat_id == str(chat_id))
        ).first()
        if known is not None and known.bot_instance_id == instance_id:
            assert known.id is not None
            return known.id
        chat = Chat(
            platform=platform,
            platform_chat_id=str(chat_id),
            bot_instance_id=instance_id,
            type=kind,
            title=title,
            parent_chat_id=DISCORD_GUILD_ID if platform is Platform.discord else None,
        )
        session.add(chat)
        session.flush()
        assert chat.id is not None
        return chat.id


def add_community(chat_row: int) -> int:
    admin = make_admin()
    with session_scope() as session:
        community = communities.create_community(session, admin, "Ada's community")
        assert community.id is not None
        communities.attach_chats(session, admin, community.id, [chat_row])
        return community.id


def from_template(template_id: str, **wanted: Any) -> int:
    """Create the template's flow picking, for each need, the offered choice whose value is
    ``wanted[key]`` (the picker must offer it), and publish it; the flow's id."""
    admin = make_admin()
    template = get_template(template_id)
    with session_scope() as session:
        for need in template.needs:
            offered = [c.value for c in choices(session, need, wanted)]
            assert str(wanted[need.key]) in offered, (need.key, offered)
        flow = flows.create_from_template(session, admin, template_id, wanted)
        flows.publish(session, admin, flow.id)
        assert flow.id is not None
        return flow.id


@asynccontextmanager
async def telegram(
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[FakeTelegramBotAPI, int]]:
    """The fake Telegram with Ada, the bot polling under the supervisor; its instance id."""
    async with FakeTelegramBotAPI() as fake:
        fake.add_user(TELEGRAM_USER_ID, first_name="Ada")
        fake.add_user(BOB_ID, first_name="Bob")
        settings = {"api_base_url": fake.base_url, "poll_timeout": 1}
        kind = ConnectorKind.telegram_bot
        async with supervised_instances(monkeypatch, [(kind, fake.token, settings)]) as (_, ids):
            await fake.wait_for_call("getUpdates", timeout=10)
            yield fake, ids[0]


async def sent_text(fake: FakeTelegramBotAPI, count: int = 1) -> str:
    call = await fake.wait_for_call("sendMessage", count=count, timeout=20)
    return call.params["text"]


# --- Telegram templates -------------------------------------------------------------------


async def test_welcome(monkeypatch: pytest.MonkeyPatch) -> None:
    async with telegram(monkeypatch) as (fake, bot):
        from_template("welcome", telegram=bot)
        fake.push_chat_member(TELEGRAM_USER_ID)
        assert (await sent_text(fake)).startswith("Welcome, Ada!")
        assert fake.calls_to("sendMessage")[0].params["chat_id"] == TELEGRAM_CHAT_ID


async def test_ping(monkeypatch: pytest.MonkeyPatch) -> None:
    async with telegram(monkeypatch) as (fake, bot):
        from_template("ping", telegram=bot)
        fake.push_command("ping")
        assert await sent_text(fake) == "pong Ada"


async def test_keyword_reply(monkeypatch: pytest.MonkeyPatch) -> None:
    async with telegram(monkeypatch) as (fake, bot):
        from_template("keyword_reply", telegram=bot)
        fake.push_message("nice weather")
        asked = fake.push_message("What are your opening hours?")
        call = await fake.wait_for_call("sendMessage", timeout=20)
        assert call.params["text"].startswith("We are open")
        assert call.params["reply_parameters"]["message_id"] == asked["message"]["message_id"]
        assert len(fake.calls_to("sendMessage")) == 1


async def test_anti_link(monkeypatch: pytest.MonkeyPatch) -> None:
    async with telegram(monkeypatch) as (fake, bot):
        from_template("anti_link", telegram=bot)
        fake.push_message("hello")
        spam = fake.push_message("cheap stuff at https://spam.example/offer")
        deleted = await fake.wait_for_call("deleteMessage", timeout=20)
        assert deleted.params["message_id"] == spam["message"]["message_id"]
        assert "links are not allowed" in await sent_text(fake)
        assert len(fake.calls_to("deleteMessage")) == 1


async def test_three_strikes(monkeypatch: pytest.MonkeyPatch) -> None:
    async with telegram(monkeypatch) as (fake, bot):
        from_template("three_strikes", telegram=bot)
        for strike in (1, 2, 3):
            fake.push_message("FREE MONEY for everyone")
            await fake.wait_for_call("deleteMessage", count=strike, timeout=20)
            text = await sent_text(fake, count=strike)
            if strike < 3:
                assert f"strike {strike} of 3" in text
        mute = await fake.wait_for_call("restrictChatMember", timeout=20)
        assert mute.params["user_id"] == TELEGRAM_USER_ID
        assert mute.params["permissions"]["can_send_messages"] is False
        assert text == "Ada is muted for a day after three strikes."


async def test_join_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    async with telegram(monkeypatch) as (fake, bot):
        from_template("join_requests", telegram=bot)
        fake.push_join_request(TELEGRAM_USER_ID)
        approved = await fake.wait_for_call("approveChatJoinRequest", timeout=20)
        assert approved.params == {"chat_id": TELEGRAM_CHAT_ID, "user_id": TELEGRAM_USER_ID}
        greeting = await fake.wait_for_call("sendMessage", timeout=20)
        assert greeting.params["chat_id"] == TELEGRAM_USER_ID
        assert greeting.params["text"].startswith("Welcome to ")


async def test_thanks_reputation(monkeypatch: pytest.MonkeyPatch) -> None:
    async with telegram(monkeypatch) as (fake, bot):
        group = add_chat(bot, Platform.telegram, TELEGRAM_CHAT_ID, "supergroup", "Group")
        community_id = add_community(group)
        from_template("thanks_reputation", telegram=bot)
        answer = fake.push_message("Use the export button", user_id=BOB_ID)
        fake.push_message("thanks!", reply_to_message=answer["message"])
        call = await fake.log.wait_for(
            lambda c: c.method == "sendMessage" and c.params["text"].startswith("+1 for"),
            timeout=20,
        )
        assert call.params["text"].startswith("+1 for Bob (")
        with session_scope() as session:
            scores = session.exec(
                select(PlatformAccount.platform_user_id, ReputationScore.score)
                .join(ReputationScore, ReputationScore.platform_account_id == PlatformAccount.id)
                .where(ReputationScore.community_id == community_id)
            ).all()
        assert [user for user, score in scores if score > 0] == [str(BOB_ID)]  # not the thanker


# --- scheduled templates ------------------------------------------------------------------


def run_schedule_once(flow_id: int) -> None:
    """Fire the flow's schedule at its first due time after publishing, as the scheduler
    tick does (engine.actors.fire_schedules) when that time comes."""
    with session_scope() as session:
        version = session.exec(select(FlowVersion).where(FlowVersion.flow_id == flow_id)).one()
        trigger = next(n for n in version.graph["nodes"] if n["type"] == "schedule")
        published = version.created_at
    due = croniter(trigger["params"]["cron"], published).get_next(type(published))
    (execution_id,) = schedules.fire_due_schedules(due + timedelta(seconds=1))
    actors.execute_flow.send(execution_id)


async def test_weekly_leaderboard(monkeypatch: pytest.MonkeyPatch) -> None:
    async with telegram(monkeypatch) as (fake, bot):
        group = add_chat(bot, Platform.telegram, TELEGRAM_CHAT_ID, "supergroup", "Group")
        community_id = add_community(group)
        give_points(community_id, {"ada": 5, "bob": 2})
        run_schedule_once(from_template(
            "weekly_leaderboard", community=community_id, telegram=bot, chat=group
        ))  # fmt: skip
        text = await sent_text(fake)
        assert text.splitlines() == ["🏆 Leaderboard of the week", "1. Ada: 5", "2. Bob: 2"]


async def test_daily_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    async with telegram(monkeypatch) as (fake, bot):
        group = add_chat(bot, Platform.telegram, TELEGRAM_CHAT_ID, "supergroup", "Group")
        community_id = add_community(group)
        give_points(community_id, {"ada": 5, "bob": 2})
        run_schedule_once(from_template(
            "daily_digest", community=community_id, telegram=bot, chat=group
        ))  # fmt: skip
        assert await sent_text(fake) == (
            "Good morning! 2 members are in the community today. Most helpful: Ada, Bob."
        )
        assert fake.calls_to("sendMessage")[0].params["chat_id"] == TELEGRAM_CHAT_ID


def give_points(community_id: int, points: dict[str, int]) -> None:
    """Members of the community (their names capitalised) with these reputation scores."""
    with session_scope() as session:
        for number, (name, score) in enumerate(points.items(), start=1):
            account = PlatformAccount(
                platform=Platform.telegram, platform_user_id=str(9000 + number),
                username=name, display_name=name.capitalize(),
            )  # fmt: skip
            session.add(account)
            session.flush()
            assert account.id is not None
            member_row(session, community_id, account.id)
            reputation.adjust(session, "tests", community_id, account.id, score, "seeded")


# --- across platforms and from webhooks ---------------------------------------------------


@asynccontextmanager
async def telegram_and_discord(
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[FakeTelegramBotAPI, FakeDiscord, int, int]]:
    """Both fakes, both bots running under one supervisor; their instance ids."""
    async with FakeTelegramBotAPI() as telegram_fake, FakeDiscord() as discord_fake:
        discord_fake.add_guild()
        instances = [
            (ConnectorKind.telegram_bot, telegram_fake.token,
             {"api_base_url": telegram_fake.base_url, "poll_timeout": 1}),
            (ConnectorKind.discord_bot, discord_fake.token,
             {"api_base_url": discord_fake.rest_url}),
        ]  # fmt: skip
        async with supervised_instances(monkeypatch, instances) as (_, (tg, dc)):
            await telegram_fake.wait_for_call("getUpdates", timeout=10)
            await discord_fake.wait_until_ready(timeout=20)
            yield telegram_fake, discord_fake, tg, dc


async def discord_message(fake: FakeDiscord) -> dict[str, Any]:
    call = await fake.wait_for_call("POST", "/channels/{channel}/messages", timeout=20)
    assert call.path == f"/channels/{DISCORD_CHANNEL_ID}/messages"
    return call.json


async def test_channel_to_discord(monkeypatch: pytest.MonkeyPatch) -> None:
    async with telegram_and_discord(monkeypatch) as (telegram_fake, discord_fake, tg, dc):
        telegram_fake.add_chat(CHANNEL_ID, "channel", "Flowbot News")
        channel = add_chat(tg, Platform.telegram, CHANNEL_ID, "channel", "Flowbot News")
        text_channel = await discovered(dc, Platform.discord, DISCORD_CHANNEL_ID)
        from_template(
            "channel_to_discord",
            telegram=tg, chat=channel, discord=dc, discord_channel=text_channel,
        )  # fmt: skip
        telegram_fake.push_message("in the group, not mirrored")
        telegram_fake.push_message("Version 2.0 is out!", chat_id=CHANNEL_ID, kind="channel_post")
        assert (await discord_message(discord_fake))["content"] == "Version 2.0 is out!"
        assert len(discord_fake.calls_to("POST", "/channels/{channel}/messages")) == 1


def endpoint_of(flow_id: int) -> str:
    """The flow's webhook URL path: the endpoint its node owns (created on publish), or one
    made for it the way the Webhooks page does."""
    with session_scope() as session:
        found = session.exec(select(WebhookEndpoint).where(WebhookEndpoint.flow_id == flow_id))
        endpoint = found.first() or webhooks.create_webhook(session, make_admin(), "hook", flow_id)
        return f"/api/webhooks/{endpoint.token}"


async def test_webhook_alert(monkeypatch: pytest.MonkeyPatch) -> None:
    async with telegram(monkeypatch) as (fake, bot):
        alerts = add_chat(bot, Platform.telegram, TELEGRAM_CHAT_ID, "supergroup", "Ops")
        url = endpoint_of(from_template("webhook_alert", telegram=bot, chat=alerts))
        async with api_client() as http:
            answer = await http.post(url, json={"text": "Disk 91% full on db-1"})
        assert answer.status_code == 202, answer.text
        assert await sent_text(fake) == "🔔 Disk 91% full on db-1"
        assert fake.calls_to("sendMessage")[0].params["chat_id"] == TELEGRAM_CHAT_ID


GITHUB_PUSH = {
    "ref": "refs/heads/main",
    "repository": {"full_name": "ada/engine"},
    "sender": {"login": "ada"},
    "head_commit": {"message": "Add the difference engine"},
}


async def test_github_to_discord(monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeDiscord() as fake:
        fake.add_guild()
        settings = {"api_base_url": fake.rest_url}
        kind = ConnectorKind.discord_bot
        async with supervised_instances(monkeypatch, [(kind, fake.token, settings)]) as (_, ids):
            await fake.wait_until_ready(timeout=20)
            channel = await discovered(ids[0], Platform.discord, DISCORD_CHANNEL_ID)
            url = endpoint_of(
                from_template("github_to_discord", discord=ids[0], discord_channel=channel)
            )
            headers = {"content-type": "application/json", "x-github-event": "push"}
            async with api_client() as http:
                answer = await http.post(url, content=json.dumps(GITHUB_PUSH), headers=headers)
            assert answer.status_code == 202, answer.text
            message = await discord_message(fake)
    assert message["content"] == "**ada**: push on ada/engine — Add the difference engine"


async def test_a_picker_answer_it_did_not_offer_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with telegram(monkeypatch) as (_, bot):
        admin = make_admin()
        with session_scope() as session:
            with pytest.raises(flows.FlowError, match="Pick the alert chat"):
                flows.create_from_template(session, admin, "webhook_alert", {"telegram": bot})
            with pytest.raises(flows.FlowError, match="Telegram bot: pick one of the offered"):
                flows.create_from_template(session, admin, "ping", {"telegram": bot + 100})
            with pytest.raises(flows.FlowError, match="no template"):
                flows.create_from_template(session, admin, "nope", {})
