"""End to end on the fake Telegram Bot API: a community's rules run by themselves.

Everything real but Telegram: aiogram under the supervisor, route_event recording the
chats and members, the rules actor on the embedded worker, the moderation service, the
pool API over HTTP. A join is welcomed; three links are deleted and warned, the log chat
hears of each, and the third warning mutes (restrictChatMember).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import pytest
from sqlmodel import select

from engine.community_automation.system_flow import find_rules_flow
from engine.db import session_scope
from engine.models import Chat, CommunityMember, ExecutionStatus, PlatformAccount, Warning
from engine.models.connections import ConnectorKind
from engine.services import communities, executions
from tests.fakes import TELEGRAM_CHAT_ID, TELEGRAM_USER_ID, FakeTelegramBotAPI
from tests.flow_helpers import make_admin
from tests.integration.supervised import supervised_instance

LOG_CHAT_ID = -1_009_999
T = TypeVar("T")


async def eventually(read: Callable[[], T | None], timeout: float = 20.0) -> T:
    """What ``read`` gives once it gives something (it reads the database afresh)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await asyncio.to_thread(read)
        if found:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"nothing came of {read.__name__} in {timeout} s")
        await asyncio.sleep(0.1)


def chat_rows() -> dict[str, int] | None:
    with session_scope() as session:
        rows = {c.platform_chat_id: c.id for c in session.exec(select(Chat)) if c.id}
    wanted = {str(TELEGRAM_CHAT_ID), str(LOG_CHAT_ID)}
    return rows if wanted <= rows.keys() else None


def community_of(name: str, chat_id: int, rules: dict[str, Any]) -> int:
    """A new community (its id) with the chat (a Chat row id) attached and these rules saved."""
    admin = make_admin()
    with session_scope() as session:
        community = communities.create_community(session, admin, name)
        assert community.id is not None
        communities.attach_chats(session, admin, community.id, [chat_id])
        communities.save_rules(session, admin, community.id, rules)
        return community.id


def community_with_rules(chats: dict[str, int]) -> int:
    return community_of(
        "Ada's community",
        chats[str(TELEGRAM_CHAT_ID)],
        {
            "welcome": {"enabled": True, "message": "Welcome, {{ member.name }}!"},
            "antilink": {"enabled": True, "allowed_domains": ["flowbot.dev"]},
            "warnings": {"mute_at": 3, "mute_minutes": 60, "ban_at": 5},
            "log_chat_id": chats[str(LOG_CHAT_ID)],
        },
    )


@asynccontextmanager
async def bot_in_group_and_log_chat(
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[FakeTelegramBotAPI]:
    """The fake Telegram with Ada, her group and the log chat; the bot polling under the
    supervisor and made administrator in both chats."""
    async with FakeTelegramBotAPI() as fake:
        fake.add_user(TELEGRAM_USER_ID, first_name="Ada")
        fake.add_chat(TELEGRAM_CHAT_ID, "supergroup", "Ada's group")
        fake.add_chat(LOG_CHAT_ID, "group", "Moderators")
        settings = {"api_base_url": fake.base_url, "poll_timeout": 1}
        async with supervised_instance(monkeypatch, ConnectorKind.telegram_bot, fake.token,
                                       settings):  # fmt: skip
            await fake.wait_for_call("getUpdates", timeout=10)
            for chat_id in (TELEGRAM_CHAT_ID, LOG_CHAT_ID):
                fake.push_chat_member(fake.me["id"], chat_id=chat_id, new_status="administrator")
            yield fake


def ada_member() -> CommunityMember | None:
    with session_scope() as session:
        return session.exec(
            select(CommunityMember)
            .join(PlatformAccount, PlatformAccount.id == CommunityMember.platform_account_id)
            .where(PlatformAccount.platform_user_id == str(TELEGRAM_USER_ID))
        ).first()


def warnings_of_ada() -> list[Warning]:
    with session_scope() as session:
        return list(session.exec(select(Warning)).all())


def sent_to(fake: FakeTelegramBotAPI, chat_id: int) -> list[dict[str, Any]]:
    return [
        c.params for c in fake.calls_to("sendMessage") if str(c.params["chat_id"]) == str(chat_id)
    ]


def logged_about(fake: FakeTelegramBotAPI, what: str) -> list[str] | None:
    """The log chat's lines, once one of them names ``what``."""
    lines = [m["text"] for m in sent_to(fake, LOG_CHAT_ID)]
    return lines if any(what in line for line in lines) else None


@pytest.mark.usefixtures("worker")
async def test_welcome_then_links_deleted_warned_logged_and_the_third_warning_mutes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with bot_in_group_and_log_chat(monkeypatch) as fake:
        community_id = community_with_rules(await eventually(chat_rows))

        fake.push_chat_member(TELEGRAM_USER_ID, chat_id=TELEGRAM_CHAT_ID)
        welcome = await eventually(lambda: sent_to(fake, TELEGRAM_CHAT_ID))
        member = await eventually(ada_member)

        links = [
            fake.push_message(f"cheap at https://spam{n}.example.com", chat_id=TELEGRAM_CHAT_ID)
            for n in (1, 2, 3)
        ]
        mute = await fake.wait_for_call("restrictChatMember", timeout=30)
        deleted = await fake.wait_for_call("deleteMessage", count=3, timeout=30)
        log_lines = await eventually(lambda: logged_about(fake, "spam3.example.com"))

    assert [(m["chat_id"], m["text"]) for m in welcome] == [(TELEGRAM_CHAT_ID, "Welcome, Ada!")]
    assert member.community_id == community_id and member.left_at is None
    assert deleted is not None
    posted = sorted(update["message"]["message_id"] for update in links)
    assert sorted(c.params["message_id"] for c in fake.calls_to("deleteMessage")) == posted
    assert mute.params["user_id"] == TELEGRAM_USER_ID
    assert mute.params["permissions"]["can_send_messages"] is False
    assert "until_date" in mute.params
    assert [w.issued_by for w in warnings_of_ada()] == ["rules:antilink"] * 3
    assert any("spam1.example.com" in line for line in log_lines)

    with session_scope() as session:
        flow = find_rules_flow(session, community_id)
        assert flow is not None and flow.system_kind == "community_rules"
        runs = session.exec(executions.executions_query(flow_id=flow.id)).all()
    assert {run.trigger_type for run in runs} == {"tg_member_joined", "tg_message"}
    assert all(run.status == ExecutionStatus.succeeded for run in runs)
    link_steps = [
        step
        for run in runs
        if run.trigger_type == "tg_message"
        for step in executions.execution_view(run, steps=True)["steps"]
    ]
    assert [(s["node_id"], s["status"]) for s in link_steps] == [("antilink", "succeeded")] * 3
    assert sorted(s["output"]["what"] for s in link_steps) == [
        f"spam{n}.example.com" for n in (1, 2, 3)
    ]
    thresholds = sorted(s["output"]["sanction"]["warned"]["sanction"] for s in link_steps)
    assert thresholds == ["mute", "none", "none"]


@pytest.mark.usefixtures("worker")
async def test_a_new_member_held_until_they_press_the_button(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with bot_in_group_and_log_chat(monkeypatch) as fake:
        chats = await eventually(chat_rows)
        community_of("Held", chats[str(TELEGRAM_CHAT_ID)], {"hold": {"enabled": True}})

        fake.push_chat_member(TELEGRAM_USER_ID, chat_id=TELEGRAM_CHAT_ID)
        held = await fake.wait_for_call("restrictChatMember", timeout=20)
        prompt = await fake.wait_for_call("sendMessage", timeout=20)
        button = prompt.params["reply_markup"]["inline_keyboard"][0][0]
        fake.push_callback_query(button["callback_data"], chat_id=TELEGRAM_CHAT_ID)
        lifted = await fake.wait_for_call("restrictChatMember", count=2, timeout=20)
        answer = await fake.wait_for_call("answerCallbackQuery", timeout=20)

    assert held.params["permissions"]["can_send_messages"] is False
    assert "until_date" not in held.params  # held until they press
    assert prompt.params["chat_id"] == TELEGRAM_CHAT_ID
    assert prompt.params["text"] == "Welcome, Ada! Press the button within 10 minutes."
    assert button["text"] == "I'm not a robot"
    assert lifted.params["permissions"]["can_send_messages"] is True
    assert answer.params["text"] == "Thanks, you can write now."
    assert fake.calls_to("banChatMember") == []
