"""A flow sets a member's language for the bot's own answers: db_query's one write query,
run by the executor, committed, validated (language code), and '' clears it."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from engine.models import ExecutionStatus, PlatformAccount
from engine.nodes import REGISTRY
from engine.nodes.utility import QUERIES
from engine.runtime import run_flow_now
from tests.unit.test_community_service import account
from tests.unit.test_runtime import chain, make_flow, node, steps, trigger

SET_LANGUAGE = node(
    "lang",
    "db_query",
    query="set_member_language",
    params={
        "platform": "{{ trigger.platform }}",
        "user_id": "{{ trigger.user.id }}",
        "language": "{{ trigger.text }}",
    },
)


def _override(session: Session) -> str | None:
    session.expire_all()
    return session.exec(
        select(PlatformAccount.language_override).where(PlatformAccount.platform_user_id == "42")
    ).one()


async def test_a_flow_sets_and_clears_the_members_language(sqlite_session: Session) -> None:
    account(sqlite_session, "telegram", "42")
    flow_id = make_flow(sqlite_session, *chain(SET_LANGUAGE))

    chosen = await run_flow_now(flow_id, trigger(text="de-AT"), trigger_type="tg_message")
    assert chosen.status is ExecutionStatus.succeeded, chosen.error
    assert _override(sqlite_session) == "de-AT"
    output = steps(sqlite_session, chosen.execution_id)[-1].output
    assert output == {"query": "set_member_language", "rows": [], "row_count": 1}

    refused = await run_flow_now(flow_id, trigger(text="Deutsch bitte"), trigger_type="tg_message")
    assert refused.status is ExecutionStatus.failed
    assert "language must be a language code like en or de-AT" in (refused.error or "")
    assert _override(sqlite_session) == "de-AT"

    cleared = await run_flow_now(flow_id, trigger(text=""), trigger_type="tg_message")
    assert cleared.status is ExecutionStatus.succeeded, cleared.error
    assert _override(sqlite_session) is None


def test_only_the_write_query_is_committed_and_its_values_are_checked() -> None:
    assert [name for name, q in QUERIES.items() if q.writes] == ["set_member_language"]
    params = REGISTRY.get("db_query").params
    ok = params(
        query="set_member_language",
        params={"platform": "discord", "user_id": 1234, "language": "fr"},
    )
    assert ok.params["user_id"] == "1234"
    bad = {"platform": "icq", "user_id": "1", "language": "fr"}
    with pytest.raises(ValueError, match="platform must be telegram, discord or whatsapp"):
        params(query="set_member_language", params=bad)
