"""A community's rules in the browser: their runs listed in Executions with a Built-in
badge, stepped through in the debugger (one step per rule, its node labelled on the
canvas), never offered for a re-run, and their flow absent from the Flows list."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from playwright.sync_api import Browser, expect

from engine.community_automation import rules
from engine.models import Chat, Community, CommunityConfig
from engine.platform_event import EventChat, EventUser, PlatformEvent
from engine.services.member_ingest import observe
from tests.e2e.conftest import screenshot
from tests.e2e.flow_ui import new_page, server_db

GROUP = EventChat(id="-100777", type="supergroup", title="Gardeners")


def rules_run_on_the_server(data_dir: Path) -> None:
    """A thank-you reply in a community with anti-link and reputation: two steps, no call
    to any platform (no link; reputation is Flowbot's own)."""
    with server_db(data_dir) as session:
        community = Community(name="Gardeners")
        session.add(community)
        session.flush()
        session.add(Chat(platform="telegram", platform_chat_id=GROUP.id, type="supergroup",
                         title="Gardeners", community_id=community.id))  # fmt: skip
        session.add(
            CommunityConfig(community_id=community.id, rules={"antilink": {"enabled": True}})
        )
        session.flush()
        reply = PlatformEvent(
            event_id="e2e-thanks", kind="tg_message", platform="telegram",
            connector="telegram_bot", chat=GROUP, user=EventUser(id="1", first_name="Ada"),
            text="thanks, that fixed my tomatoes", message_id="55", reply_to_message_id="54",
            data={"reply_to_user": {"id": "2", "first_name": "Bob"}},
        )  # fmt: skip
        member_id = observe(session, reply).member_id
        session.commit()
        assert community.id is not None
        apply = rules.apply(reply, community.id, member_id)
        with ThreadPoolExecutor(1) as thread:  # Playwright's sync API holds this thread's loop
            assert thread.submit(asyncio.run, apply).result() is not None


def test_rule_runs_show_as_built_in_and_are_not_re_run(
    browser: Browser, app_url: str, server_data: Path
) -> None:
    page = new_page(browser, app_url)
    rules_run_on_the_server(server_data)

    page.goto(f"{app_url}/flows")
    expect(page.get_by_text("Rules · Gardeners")).to_have_count(0)

    page.goto(f"{app_url}/executions")
    row = page.get_by_test_id("execution-row").filter(has_text="Rules · Gardeners")
    expect(row.get_by_test_id("built-in-badge")).to_be_visible()
    screenshot(page, "executions-built-in")

    row.get_by_role("link").first.click()
    expect(page.get_by_test_id("built-in-badge")).to_be_visible()
    expect(page.get_by_test_id("timeline-antilink")).to_be_visible()
    expect(page.get_by_test_id("timeline-reputation")).to_be_visible()
    expect(page.get_by_text("Reputation earning").first).to_be_visible()
    page.get_by_test_id("timeline-reputation").click()
    expect(page.get_by_test_id("debug-output")).to_contain_text("given")
    expect(page.get_by_test_id("rerun")).to_be_disabled()
    screenshot(page, "debugger-built-in")
