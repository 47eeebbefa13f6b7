"""End to end on the fake Discord (REST and gateway): a community's rules run by themselves.

Everything real but Discord: hikari under the supervisor, the guild and its channels
discovered from GUILD_CREATE, route_event recording members, the rules actor on the
embedded worker, the moderation service, the pool API over HTTP. A member who joins the
server is welcomed in its first channel; three links are deleted and warned, the log
channel hears of each, and the third warning times the member out (PATCH of the member).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import select

from engine.community_automation.system_flow import find_rules_flow
from engine.db import session_scope
from engine.models import Chat, CommunityMember, ExecutionStatus, PlatformAccount, Warning
from engine.models.connections import ConnectorKind
from engine.services import executions
from tests.fakes import DISCORD_GUILD_ID, DISCORD_USER_ID, FakeDiscord
from tests.fakes import discord_objects as dc
from tests.integration.supervised import supervised_instance
from tests.integration.test_community_rules_telegram import community_of, eventually

GENERAL, MODS = "700000000000000001", "700000000000000002"
ADA_ID = "800000000000000042"


def chat_rows() -> dict[str, int] | None:
    with session_scope() as session:
        rows = {c.platform_chat_id: c.id for c in session.exec(select(Chat)) if c.id}
    return rows if {str(DISCORD_GUILD_ID), GENERAL, MODS} <= rows.keys() else None


def community_with_rules(chats: dict[str, int]) -> int:
    return community_of(
        "Ada's server",
        chats[str(DISCORD_GUILD_ID)],
        {
            "welcome": {
                "enabled": True,
                "message": "Welcome to {{ chat.title }}, {{ member.name }}!",
            },
            "antilink": {"enabled": True},
            "warnings": {"mute_at": 3, "mute_minutes": 30},
            "log_chat_id": chats[MODS],
        },
    )


def ada_member() -> CommunityMember | None:
    with session_scope() as session:
        return session.exec(
            select(CommunityMember)
            .join(PlatformAccount, PlatformAccount.id == CommunityMember.platform_account_id)
            .where(PlatformAccount.platform_user_id == ADA_ID)
        ).first()


def posted_in(fake: FakeDiscord, channel_id: str) -> list[dict[str, Any]]:
    return [
        call.json
        for call in fake.calls_to("POST", "/channels/{channel}/messages")
        if call.params.get("channel") == channel_id
    ]


def logged_about(fake: FakeDiscord, what: str) -> list[str] | None:
    lines = [body.get("content") or "" for body in posted_in(fake, MODS)]
    return lines if any(what in line for line in lines) else None


@pytest.mark.usefixtures("worker")
async def test_welcome_then_links_deleted_warned_logged_and_the_third_warning_times_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with FakeDiscord() as fake:
        fake.add_guild(channel_ids=(GENERAL, MODS), member_ids=(DISCORD_USER_ID,))
        ada = fake.user(ADA_ID, "ada")
        settings = {"api_base_url": fake.rest_url}
        async with supervised_instance(monkeypatch, ConnectorKind.discord_bot, fake.token,
                                       settings):  # fmt: skip
            community_id = community_with_rules(await eventually(chat_rows, timeout=30))

            await fake.dispatch(
                "GUILD_MEMBER_ADD", {**dc.member(ada), "guild_id": str(DISCORD_GUILD_ID)}
            )
            welcome = await eventually(lambda: posted_in(fake, GENERAL))
            member = await eventually(ada_member)

            links = [
                fake.user_message(
                    f"free nitro https://nitro{n}.example.com", channel_id=GENERAL, user_id=ADA_ID
                )
                for n in (1, 2, 3)
            ]
            for link in links:
                await fake.dispatch("MESSAGE_CREATE", link)
            timeout = await fake.wait_for_call(
                "PATCH", "/guilds/{guild}/members/{user}", timeout=30
            )
            await fake.wait_for_call(
                "DELETE", "/channels/{channel}/messages/{message}", count=3, timeout=30
            )
            log_lines = await eventually(lambda: logged_about(fake, "nitro3.example.com"))

    assert [body["content"] for body in welcome] == ["Welcome to Flowbot Test Guild, ada!"]
    assert member.community_id == community_id
    deleted = fake.calls_to("DELETE", "/channels/{channel}/messages/{message}")
    assert sorted(call.params["message"] for call in deleted) == sorted(m["id"] for m in links)
    assert {call.params["channel"] for call in deleted} == {GENERAL}
    assert (timeout.params["guild"], timeout.params["user"]) == (str(DISCORD_GUILD_ID), ADA_ID)
    until = datetime.fromisoformat(timeout.json["communication_disabled_until"])
    assert 29 * 60 < (until - datetime.now(UTC)).total_seconds() <= 30 * 60
    assert any("nitro1.example.com" in line for line in log_lines)
    with session_scope() as session:
        warnings = session.exec(select(Warning)).all()
        assert [w.issued_by for w in warnings] == ["rules:antilink"] * 3
        flow = find_rules_flow(session, community_id)
        assert flow is not None
        runs = session.exec(executions.executions_query(flow_id=flow.id)).all()
    assert sorted(run.trigger_type for run in runs) == ["dc_member_join"] + ["dc_message"] * 3
    assert all(run.status == ExecutionStatus.succeeded for run in runs)
    join_run = next(run for run in runs if run.trigger_type == "dc_member_join")
    (step,) = executions.execution_view(join_run, steps=True)["steps"]
    assert (step["node_id"], step["status"]) == ("welcome", "succeeded")
    assert step["output"]["chat_id"] == GENERAL
