"""The Moderation log page's state against a real database (tests/moderation_world.py's
history): filters, the overview beside the log, a bad date said on the page, paging, and
the CSV download."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from engine.db import session_scope
from engine.models import ModerationAction
from flowbot_ui.state import moderation
from flowbot_ui.state.moderation import ModerationState
from tests.moderation_world import World, ok
from tests.ui_harness import People, Tab, names

NOW = datetime.now(UTC).replace(microsecond=0)


def _history() -> tuple[int, int]:
    """In Cats: Ann warned, then banned on Telegram; in Dogs: Bob muted by eddie. Ids."""
    with session_scope() as session:
        world = World(session)
        world.log(world.cats, ModerationAction.warn, world.ann_tg, NOW - timedelta(days=2),
                  reason="spam")  # fmt: skip
        world.log(world.cats, ModerationAction.ban, world.ann_tg, NOW - timedelta(days=1),
                  results=[ok("telegram", "-100")])  # fmt: skip
        world.log(world.dogs, ModerationAction.mute, world.bob, NOW, actor="eddie")
        world.warn(world.cats, world.ann_tg, NOW - timedelta(days=2))
        return world.cats.id or 0, world.dogs.id or 0


async def test_the_log_filters_and_its_overview(people: People) -> None:
    cats, _ = _history()
    tab = Tab(people.cookies["viewer"], "/moderation", community=str(cats))
    await tab.run(ModerationState, "load")
    page = await tab.state(ModerationState)
    assert page.community == str(cats)
    assert [r.action for r in page.rows] == ["ban", "warn"]
    assert page.rows[0].targets == "telegram -100: ok"
    assert (page.bans, page.warnings) == (1, 1)
    assert {o.label for o in page.community_options} >= {"Cats", "Dogs"}

    await tab.run(ModerationState, "pick_community", "everything")
    assert page.community == "all" and len(page.rows) == 3
    assert [o.value for o in page.actor_options] == ["all", "ada", "eddie"]
    await tab.run(ModerationState, "pick_actor", "eddie")
    assert [r.action for r in page.rows] == ["mute"]
    await tab.run(ModerationState, "pick_actor", "mallory")  # not among the choices
    assert page.actor == "all" and len(page.rows) == 3
    await tab.run(ModerationState, "pick_action", "ban")
    assert [r.action for r in page.rows] == ["ban"]
    await tab.run(ModerationState, "pick_platform", "discord")
    assert page.rows == []
    await tab.run(ModerationState, "clear_filters")
    assert len(page.rows) == 3

    day = (NOW - timedelta(days=1)).date().isoformat()
    await tab.run(ModerationState, "search", {"member": "", "since": day, "until": day})
    assert [r.action for r in page.rows] == ["ban"]
    await tab.run(ModerationState, "search", {"member": "bob"})
    assert [(r.action, r.target) for r in page.rows] == [("mute", "@bobby")]


async def test_a_bad_date_is_said_and_nothing_is_shown(people: People) -> None:
    _history()
    tab = Tab(people.cookies["viewer"], "/moderation")
    await tab.run(ModerationState, "load")
    await tab.run(ModerationState, "search", {"since": "last week"})
    page = await tab.state(ModerationState)
    assert page.error == "The from date is not a date: 'last week'." and page.rows == []


async def test_pages_of_the_log(people: People, monkeypatch: pytest.MonkeyPatch) -> None:
    _history()
    monkeypatch.setattr(moderation, "PAGE_SIZE", 2)
    tab = Tab(people.cookies["viewer"], "/moderation")
    await tab.run(ModerationState, "load")
    page = await tab.state(ModerationState)
    assert ([r.action for r in page.rows], page.has_older) == (["mute", "ban"], True)
    await tab.run(ModerationState, "older_page")
    assert ([r.action for r in page.rows], page.page, page.has_older) == (["warn"], 2, False)
    await tab.run(ModerationState, "older_page")  # none older: stays
    assert page.page == 2
    await tab.run(ModerationState, "newer_page")
    assert (page.page, [r.action for r in page.rows]) == (1, ["mute", "ban"])


async def test_the_csv_download_holds_the_filtered_log(people: People) -> None:
    cats, _ = _history()
    tab = Tab(people.cookies["viewer"], "/moderation", community=str(cats))
    await tab.run(ModerationState, "load")
    events = await tab.run(ModerationState, "download_csv")
    assert names(events) == ["_download"]
    args = {str(key._js_expr): value._var_value for key, value in events[0].args}
    assert args["filename"] == "moderation-log.csv"
    csv = base64.b64decode(args["url"].split("base64,", 1)[1]).decode()
    assert "ban" in csv and "warn" in csv and "mute" not in csv
    assert (await tab.state(ModerationState)).message == ""
