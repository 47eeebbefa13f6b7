"""Community rules run by themselves (engine/community_automation/), on a real database,
against the recording pool fake: what reaches the platform, what is stored, and the
execution of the community's built-in flow that traces it."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

import dramatiq
import pytest
from sqlmodel import Session, select

from engine import actors, pool_client
from engine.community_automation import hold, hold_expiry, rules, system_flow
from engine.community_automation.checks import banned_word, forbidden_link, invites, links
from engine.community_rules import AntiLink, BannedWord, BannedWords, parse_rules
from engine.db import session_scope
from engine.models import (
    Chat,
    Community,
    CommunityConfig,
    CommunityMember,
    ExecutionStatus,
    FlowDefinition,
    FlowExecution,
    MemberRole,
    ModerationLog,
    StepStatus,
    Warning,
    utcnow,
)
from engine.platform_event import EventChat, EventUser, PlatformEvent
from engine.rerun import RerunError, seed_rerun
from engine.services import executions, flows
from engine.services.member_ingest import observe
from tests.fakes.pool import FakePool
from tests.flow_helpers import make_admin

GROUP = EventChat(id="-1001", type="supergroup", title="Ada's group")
LOG_CHAT = "-1009"
ADA = EventUser(id="42", username="ada_l", first_name="Ada", last_name="L")
BOB = EventUser(id="43", first_name="Bob")
T0 = datetime.now(UTC)


# --- a community -------------------------------------------------------------------------------


def community(session: Session, **document: Any) -> int:
    """A community with the Telegram group and a log chat, and these rules."""
    row = Community(name="Ada's community")
    session.add(row)
    session.flush()
    group = Chat(platform="telegram", platform_chat_id=GROUP.id, type="supergroup",
                 title=GROUP.title or "", community_id=row.id)  # fmt: skip
    log_chat = Chat(platform="telegram", platform_chat_id=LOG_CHAT, type="group", title="log")
    session.add_all([group, log_chat])
    session.flush()
    parse_rules(document)  # a test's document must be valid
    session.add(
        CommunityConfig(community_id=row.id, rules={"log_chat_id": log_chat.id, **document})
    )
    session.commit()
    assert row.id is not None
    return row.id


def event(kind: str, event_id: str, **fields: Any) -> PlatformEvent:
    fields.setdefault("chat", GROUP)
    fields.setdefault("user", ADA)
    return PlatformEvent(event_id=event_id, kind=kind, platform="telegram",
                         connector="telegram_bot", occurred_at=T0, **fields)  # fmt: skip


def message(event_id: str, text: str, **fields: Any) -> PlatformEvent:
    return event("tg_message", event_id, text=text, message_id=event_id, **fields)


async def run(item: PlatformEvent, community_id: int) -> int | None:
    """Ingest the event (its member row), then apply the rules as run_rules does."""
    with session_scope() as session:
        observed = observe(session, item)
    return await rules.apply(item, community_id, observed.member_id)


def steps_of(execution_id: int | None) -> dict[str, Any]:
    assert execution_id is not None
    return {step.node_id: step for step in executions.load_steps(execution_id)}


def calls(pool: FakePool, action: str) -> list[dict[str, Any]]:
    return [call.params for call in pool.executions.calls if call.action == action]


# --- pure checks -------------------------------------------------------------------------------


def test_links_and_invites_are_found_in_text_and_ordinary_words_are_not() -> None:
    assert links("see https://Evil.com/x and www.docs.python.org") == [
        "evil.com", "docs.python.org"
    ]  # fmt: skip
    assert links("go to example.org, or sub.github.com/path") == ["example.org", "sub.github.com"]
    assert links("file.txt e.g. 3.14 v1.2") == []
    assert invites("t.me/+abc t.me/joinchat/x discord.gg/y chat.whatsapp.com/z t.me/chan") == [
        "t.me/+abc", "t.me/joinchat/x", "discord.gg/y", "chat.whatsapp.com/z"
    ]  # fmt: skip


def test_allowed_domains_cover_subdomains_but_invites_count_unless_told_not_to() -> None:
    rule = AntiLink(enabled=True, allowed_domains=["python.org", "t.me"])
    assert forbidden_link("https://docs.python.org/3/", rule) is None
    assert forbidden_link("https://t.me/flowbot", rule) is None
    hit = forbidden_link("join t.me/+secret", rule)
    assert hit is not None and hit.why == "invite link"
    lenient = AntiLink(enabled=True, allowed_domains=["t.me"], block_invites=False)
    assert forbidden_link("join t.me/+secret", lenient) is None
    found = forbidden_link("notpython.org/x", rule)
    assert found is not None and found.what == "notpython.org"


def test_banned_words_match_whole_words_and_regexes_case_insensitively() -> None:
    rule = BannedWords(
        enabled=True,
        words=[BannedWord(pattern="spam"), BannedWord(pattern=r"c[a@]sino", regex=True)],
    )
    assert banned_word("SPAM here", rule) is not None
    assert banned_word("spammer", rule) is None
    hit = banned_word("best C@SINO", rule)
    assert hit is not None and hit.why == "regular expression"


# --- welcome -----------------------------------------------------------------------------------


async def test_a_join_is_welcomed_and_traced_as_a_run_of_the_built_in_flow(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    template = "Hi {{ member.name }}, welcome to {{ community.name }}!"
    community_id = community(sqlite_session, welcome={"enabled": True, "message": template})

    execution_id = await run(event("tg_member_joined", "j1"), community_id)

    assert calls(fake_pool, "send_message") == [
        {"chat_id": GROUP.id, "text": "Hi Ada L, welcome to Ada's community!"}
    ]
    steps = steps_of(execution_id)
    assert list(steps) == ["welcome"]
    assert steps["welcome"].status == StepStatus.succeeded
    assert steps["welcome"].node_type == "rule_welcome"
    assert steps["welcome"].output["text"] == "Hi Ada L, welcome to Ada's community!"
    assert steps["welcome"].duration_ms is not None
    with session_scope() as session:
        execution = session.get(FlowExecution, execution_id)
        assert execution is not None and execution.status == ExecutionStatus.succeeded
        flow = session.get(FlowDefinition, execution.flow_id)
        assert flow is not None and flow.system_kind == "community_rules"
        assert flow.name == "Rules · Ada's community"
        assert execution.trigger_type == "tg_member_joined"


async def test_the_member_s_name_is_data_never_a_template(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    community_id = community(sqlite_session, welcome={"enabled": True})
    sly = EventUser(id="66", first_name="{{ 7 * 7 }}")

    await run(event("tg_member_joined", "j1", user=sly), community_id)

    assert calls(fake_pool, "send_message")[0]["text"] == "Welcome, {{ 7 * 7 }}!"


async def test_an_event_no_rule_applies_to_records_no_execution(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    community_id = community(sqlite_session)  # every rule off but reputation

    assert await run(message("m1", "hello"), community_id) is None
    assert await run(event("tg_member_joined", "j1"), community_id) is None
    with session_scope() as session:
        assert session.exec(select(FlowExecution)).all() == []
    assert fake_pool.executions.calls == []


async def test_a_redelivered_event_is_not_applied_twice(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    community_id = community(sqlite_session, welcome={"enabled": True})
    join = event("tg_member_joined", "j1")

    first = await run(join, community_id)
    again = await rules.apply(join, community_id, None)

    assert first is not None and again is None
    assert len(calls(fake_pool, "send_message")) == 1


async def test_a_welcome_set_to_disappear_is_deleted_later_by_a_delayed_message(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    community_id = community(sqlite_session, welcome={"enabled": True, "delete_after_seconds": 30})
    actors.broker.flush_all()

    await run(event("tg_member_joined", "j1"), community_id)

    delayed = [m for q, ms in actors.broker.queues.items() if q.endswith(".DQ") for m in ms.queue]
    (later,) = [decoded(m) for m in delayed]
    assert later.actor_name == "delayed_call"
    assert later.args[2:4] == ("delete_message", {"chat_id": GROUP.id, "message_id": "1"})
    assert 25_000 <= later.options["eta"] - int(datetime.now(UTC).timestamp() * 1000) <= 30_000
    actors.broker.flush_all()


def decoded(message_: Any) -> dramatiq.Message:  # type: ignore[type-arg]
    return dramatiq.Message.decode(message_) if isinstance(message_, bytes) else message_


# --- anti-link, banned words, thresholds --------------------------------------------------------


async def test_a_link_is_deleted_warned_logged_and_the_third_warning_mutes(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    community_id = community(sqlite_session, antilink={"enabled": True},
                             warnings={"mute_at": 3, "mute_minutes": 60})  # fmt: skip

    for n in (1, 2, 3):
        execution_id = await run(
            message(f"m{n}", f"buy at https://shop{n}.example.com"), community_id
        )

    assert [c["message_id"] for c in calls(fake_pool, "delete_message")] == ["m1", "m2", "m3"]
    (mute,) = calls(fake_pool, "mute_member")
    assert (mute["chat_id"], mute["user_id"], mute["duration_seconds"]) == (GROUP.id, "42", 3600)
    log_lines = [c for c in calls(fake_pool, "send_message") if c["chat_id"] == LOG_CHAT]
    assert log_lines and "shop1.example.com" in log_lines[0]["text"]
    with session_scope() as session:
        warnings = session.exec(select(Warning)).all()
        assert [w.issued_by for w in warnings] == ["rules:antilink"] * 3
        logged = {(row.action, row.actor) for row in session.exec(select(ModerationLog))}
        assert ("warn", "rules:antilink") in logged and (
            "delete_message",
            "rules:antilink",
        ) in logged
        assert any(action == "mute" for action, _ in logged)
    step = steps_of(execution_id)["antilink"]
    assert step.output["matched"] is True and step.output["what"] == "shop3.example.com"
    assert step.output["sanction"]["warned"]["sanction"] == "mute"


async def test_admins_and_owners_are_exempt(sqlite_session: Session, fake_pool: FakePool) -> None:
    words = {"enabled": True, "words": [{"pattern": "spam"}]}
    community_id = community(sqlite_session, antilink={"enabled": True}, banned_words=words)
    with session_scope() as session:
        member_id = observe(session, message("m0", "hello")).member_id
        session.get(CommunityMember, member_id).role = MemberRole.admin  # type: ignore[union-attr]

    execution_id = await run(message("m1", "spam at https://x.example.com"), community_id)

    assert fake_pool.executions.calls == []
    steps = steps_of(execution_id)
    assert {name: s.status for name, s in steps.items()} == {
        "antilink": StepStatus.skipped, "banned_words": StepStatus.skipped
    }  # fmt: skip
    assert steps["antilink"].output == {"skipped": "admins and owners are exempt"}


async def test_a_banned_word_bans_when_told_to(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    words = {"enabled": True, "action": "delete_ban", "words": [{"pattern": "scam"}]}
    community_id = community(sqlite_session, banned_words=words)

    execution_id = await run(message("m1", "not a SCAM, promise"), community_id)

    assert [c["message_id"] for c in calls(fake_pool, "delete_message")] == ["m1"]
    assert calls(fake_pool, "ban_member") == [{"chat_id": GROUP.id, "user_id": "42"}]
    output = steps_of(execution_id)["banned_words"].output
    assert (output["what"], output["why"]) == ("scam", "banned word")


async def test_a_message_removed_by_one_rule_is_not_sanctioned_again_by_the_next(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    words = {"enabled": True, "action": "delete_ban", "words": [{"pattern": "scam"}]}
    community_id = community(sqlite_session, antilink={"enabled": True}, banned_words=words)

    execution_id = await run(message("m1", "a scam: https://x.example.com"), community_id)

    assert len(calls(fake_pool, "delete_message")) == 1
    assert calls(fake_pool, "ban_member") == []  # anti-link came first and warned
    with session_scope() as session:
        assert len(session.exec(select(Warning)).all()) == 1
    steps = steps_of(execution_id)
    assert steps["antilink"].output["matched"] is True
    assert steps["banned_words"].status == StepStatus.skipped
    assert steps["banned_words"].output == {
        "skipped": "the message was already removed by antilink"
    }


async def test_a_failing_platform_fails_the_step_and_the_run_with_its_reason(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    community_id = community(sqlite_session, welcome={"enabled": True})
    fake_pool.fail("send_message", "forbidden", "bot was kicked from the group")

    execution_id = await run(event("tg_member_joined", "j1"), community_id)

    step = steps_of(execution_id)["welcome"]
    assert step.status == StepStatus.failed and "bot was kicked" in (step.error or "")
    with session_scope() as session:
        execution = session.get(FlowExecution, execution_id)
        assert execution is not None and execution.status == ExecutionStatus.failed
        assert "bot was kicked" in (execution.error or "")


# --- anti-flood ----------------------------------------------------------------------------------


async def test_flooding_deletes_every_message_past_the_limit_and_warns_once_per_burst(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    community_id = community(
        sqlite_session, antiflood={"enabled": True, "messages": 3, "seconds": 10}
    )

    for n in range(1, 6):
        await run(message(f"m{n}", f"hello {n}"), community_id)

    assert [c["message_id"] for c in calls(fake_pool, "delete_message")] == ["m3", "m4", "m5"]
    with session_scope() as session:
        assert len(session.exec(select(Warning)).all()) == 1


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_racing_workers_count_each_other_s_messages(
    session: Session, fake_pool: FakePool
) -> None:
    """Two messages of one member handled at the same moment by two workers (threads with
    their own event loops and connections): the limit of 2 is seen, one warning follows."""
    community_id = community(session, antiflood={"enabled": True, "messages": 2, "seconds": 60})
    with session_scope() as s:
        member_id = observe(s, message("m0", "first")).member_id
    barrier = threading.Barrier(2)

    async def handle(event_id: str) -> None:
        await rules.apply(message(event_id, "race"), community_id, member_id)
        await pool_client.aclose()

    def worker(event_id: str) -> None:
        barrier.wait(10)
        asyncio.run(handle(event_id))

    await asyncio.gather(asyncio.to_thread(worker, "r1"), asyncio.to_thread(worker, "r2"))

    with session_scope() as s:
        warnings = s.exec(select(Warning)).all()
    assert len(warnings) == 1
    deleted = [c["message_id"] for c in calls(fake_pool, "delete_message")]
    assert deleted in (["r1"], ["r2"], ["r1", "r2"], ["r2", "r1"])


# --- the new-member hold -----------------------------------------------------------------------


async def test_a_held_member_who_presses_the_button_is_let_in_and_not_kicked(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    community_id = community(sqlite_session, hold={"enabled": True, "minutes": 5})

    joined = await run(event("tg_member_joined", "j1"), community_id)

    (mute,) = calls(fake_pool, "mute_member")
    assert mute == {"chat_id": GROUP.id, "user_id": "42"}  # until lifted
    (prompt,) = calls(fake_pool, "send_buttons")
    button = prompt["buttons"][0][0]
    assert prompt["text"] == "Welcome, Ada L! Press the button within 5 minutes."
    assert button["text"] == "I'm not a robot" and button["callback_data"].startswith(
        "flowbot-hold:"
    )
    hold_id = steps_of(joined)["hold"].output["hold_id"]

    def press(event_id: str, user: EventUser) -> PlatformEvent:
        data = {"callback_data": button["callback_data"], "callback_query_id": f"q-{event_id}"}
        return event("tg_callback_query", event_id, user=user, data=data)

    await run(press("p1", BOB), community_id)
    assert calls(fake_pool, "unmute_member") == []
    assert calls(fake_pool, "answer_callback")[-1]["text"] == "This button is not for you."

    pressed = await run(press("p2", ADA), community_id)
    assert calls(fake_pool, "unmute_member") == [{"chat_id": GROUP.id, "user_id": "42"}]
    assert calls(fake_pool, "answer_callback")[-1]["callback_query_id"] == "q-p2"
    assert steps_of(pressed)["hold"].output["confirmed"] is True

    expired = await hold_expiry.expire_hold(hold_id, community_id)
    assert calls(fake_pool, "ban_member") == []
    assert steps_of(expired)["hold"].status == StepStatus.skipped


async def test_a_held_member_who_does_not_press_is_removed_when_the_time_is_up(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    community_id = community(sqlite_session, hold={"enabled": True, "minutes": 5})
    actors.broker.flush_all()
    joined = await run(event("tg_member_joined", "j1"), community_id)
    hold_id = steps_of(joined)["hold"].output["hold_id"]
    (deadline,) = [
        decoded(m) for q, ms in actors.broker.queues.items() if q.endswith(".DQ") for m in ms.queue
    ]
    assert deadline.actor_name == "hold_expired" and deadline.args == (hold_id, community_id)
    actors.broker.flush_all()

    expired = await hold_expiry.expire_hold(hold_id, community_id)
    await hold_expiry.expire_hold(hold_id, community_id)  # a redelivered deadline does nothing more

    assert calls(fake_pool, "ban_member") == [{"chat_id": GROUP.id, "user_id": "42"}]
    assert calls(fake_pool, "unban_member") == [{"chat_id": GROUP.id, "user_id": "42"}]
    with session_scope() as session:
        (kick,) = session.exec(select(ModerationLog).where(ModerationLog.action == "kick")).all()
        assert kick.actor == "rules:hold"
        execution = session.get(FlowExecution, expired)
        assert execution is not None and execution.trigger_type == "rules_hold_expired"


async def test_the_sweep_expires_a_hold_whose_deadline_message_was_lost(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    community_id = community(sqlite_session, hold={"enabled": True, "minutes": 5})
    joined = await run(event("tg_member_joined", "j1"), community_id)
    hold_id = steps_of(joined)["hold"].output["hold_id"]
    actors.broker.flush_all()  # the delayed deadline is lost (an embedded worker restarted)

    def swept() -> list[Any]:
        actors.broker.flush_all()
        hold_expiry.expire_overdue_holds()
        return [decoded(m) for ms in actors.broker.queues.values() for m in ms.queue]

    assert swept() == []  # not yet due
    later = utcnow() + timedelta(minutes=6)
    assert [h.id for h in hold.overdue(later)] == [hold_id]
    with patch("engine.community_automation.hold_expiry.utcnow", return_value=later):
        (sent,) = swept()
    assert sent.actor_name == "hold_expired" and sent.args == (hold_id, community_id)
    await hold_expiry.expire_hold(hold_id, community_id)
    assert calls(fake_pool, "ban_member") == [{"chat_id": GROUP.id, "user_id": "42"}]
    assert hold.overdue(later) == []  # settled: the next sweep sends nothing


# --- the built-in flow is nobody's to edit -------------------------------------------------------


async def test_the_built_in_flow_is_hidden_from_flows_and_refuses_edits_and_re_runs(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    community_id = community(sqlite_session, welcome={"enabled": True})
    execution_id = await run(event("tg_member_joined", "j1"), community_id)
    admin = make_admin()
    with session_scope() as session:
        flow = system_flow.find_rules_flow(session, community_id)
        assert flow is not None and flow.id is not None
        assert flows.list_flows(session) == []
        attempts = [
            lambda: flows.save_draft(session, admin, flow.id, {"nodes": [], "edges": []}),
            lambda: flows.publish(session, admin, flow.id),
            lambda: flows.rename_flow(session, admin, flow.id, "mine now"),
            lambda: flows.delete_flow(session, admin, flow.id),
            lambda: flows.duplicate_flow(session, admin, flow.id),
            lambda: flows.set_status(session, admin, flow.id, flows.FlowStatus.paused),
        ]
        for attempt in attempts:
            with pytest.raises(flows.FlowConflict, match="built in"):
                attempt()
        with pytest.raises(RerunError, match="built-in run"):
            seed_rerun(session, admin, execution_id or 0, "welcome")


async def test_a_renamed_community_renames_its_flow_and_keeps_one(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    community_id = community(sqlite_session, welcome={"enabled": True})
    await run(event("tg_member_joined", "j1"), community_id)
    with session_scope() as session:
        session.get(Community, community_id).name = "Renamed"  # type: ignore[union-attr]
    await run(event("tg_member_joined", "j2", user=BOB), community_id)

    with session_scope() as session:
        (flow,) = session.exec(select(FlowDefinition)).all()
        assert flow.name == "Rules · Renamed"
        assert len(session.exec(select(FlowExecution)).all()) == 2


def test_rules_flow_version_lists_every_rule_in_order() -> None:
    graph = system_flow.rules_graph()
    assert [n["id"] for n in graph["nodes"]] == [rule for rule, _ in system_flow.RULES]
    assert len(graph["edges"]) == len(graph["nodes"]) - 1


async def test_a_new_community_given_a_deleted_one_s_id_gets_its_own_flow(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    community_id = community(sqlite_session, welcome={"enabled": True})
    await run(event("tg_member_joined", "j1"), community_id)
    with session_scope() as session:  # deleted, then a new community took the same id
        reused = session.get(Community, community_id)
        old_flow = system_flow.find_rules_flow(session, community_id)
        assert reused is not None and old_flow is not None
        reused.name = "Newcomer"
        old_flow.created_at = reused.created_at - timedelta(minutes=5)

    await run(event("tg_member_joined", "j2", user=BOB), community_id)

    with session_scope() as session:
        names = sorted(f.name for f in session.exec(select(FlowDefinition)))
        assert names == ["Rules · Ada's community", "Rules · Newcomer"]
        flow = system_flow.find_rules_flow(session, community_id)
        assert flow is not None and flow.name == "Rules · Newcomer"


async def test_a_discord_join_is_welcomed_in_the_server_s_oldest_channel_but_the_log_s(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    guild = Community(name="Server")
    sqlite_session.add(guild)
    sqlite_session.flush()
    rows = [  # discovered in any order; the smallest snowflake is the oldest channel
        Chat(platform="discord", platform_chat_id="900", type="guild", community_id=guild.id),
        Chat(platform="discord", platform_chat_id="12000", parent_chat_id="900", type="text",
             community_id=guild.id),
        Chat(platform="discord", platform_chat_id="9000", parent_chat_id="900", type="text",
             community_id=guild.id),
        Chat(platform="discord", platform_chat_id="700", parent_chat_id="900", type="text",
             community_id=guild.id),
    ]  # fmt: skip
    sqlite_session.add_all(rows)
    sqlite_session.flush()
    sqlite_session.add(CommunityConfig(community_id=guild.id, rules={
        "welcome": {"enabled": True}, "log_chat_id": rows[3].id}))  # fmt: skip
    sqlite_session.commit()
    server = EventChat(id="900", type="guild", guild_id="900")
    join = PlatformEvent(
        event_id="dj1", kind="dc_member_join", platform="discord", connector="discord_bot",
        chat=server, user=EventUser(id="5", username="eve"),
    )  # fmt: skip

    await run(join, guild.id or 0)

    assert calls(fake_pool, "send_message") == [{"channel_id": "9000", "content": "Welcome, eve!"}]


async def test_on_discord_a_hold_is_a_timeout_lifted_by_the_member_s_click(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    server = Community(name="Server")
    sqlite_session.add(server)
    sqlite_session.flush()
    sqlite_session.add_all([
        Chat(platform="discord", platform_chat_id="900", type="guild", community_id=server.id),
        Chat(platform="discord", platform_chat_id="901", parent_chat_id="900", type="text",
             community_id=server.id),
        CommunityConfig(community_id=server.id, rules={"hold": {"enabled": True, "minutes": 2}}),
    ])  # fmt: skip
    sqlite_session.commit()
    eve = EventUser(id="5", username="eve")

    def discord(kind: str, event_id: str, chat: EventChat, **fields: Any) -> PlatformEvent:
        return PlatformEvent(event_id=event_id, kind=kind, platform="discord",
                             connector="discord_bot", chat=chat, user=eve, **fields)  # fmt: skip

    await run(discord("dc_member_join", "j", EventChat(id="900", type="guild", guild_id="900")),
              server.id or 0)  # fmt: skip
    (timeout,) = calls(fake_pool, "timeout_member")
    assert timeout == {"guild_id": "900", "user_id": "5", "reason": "new-member hold",
                       "duration_seconds": 180}  # fmt: skip
    (prompt,) = calls(fake_pool, "send_buttons")
    assert prompt["channel_id"] == "901"
    custom_id = prompt["buttons"][0][0]["custom_id"]
    click = {"custom_id": custom_id, "interaction_id": "i1", "interaction_token": "tok"}
    channel = EventChat(id="901", type="guild", guild_id="900")

    await run(discord("dc_button_click", "c", channel, data=click), server.id or 0)

    assert [c["guild_id"] for c in calls(fake_pool, "remove_timeout")] == ["900"]
    (answer,) = calls(fake_pool, "respond_interaction")
    assert (answer["interaction_id"], answer["ephemeral"]) == ("i1", True)
