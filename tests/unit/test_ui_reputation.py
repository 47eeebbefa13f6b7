"""The Reputation page's state against a real database: the leaderboard per community,
one member's history, a manual adjustment with its checks, and a viewer's refusal."""

from __future__ import annotations

from engine.db import session_scope
from engine.models import Community, PlatformAccount
from engine.services import reputation
from flowbot_ui.state.reputation import ReputationState
from tests.ui_harness import People, Tab


def _scores() -> tuple[int, int, int]:
    """Ada 5 points and Bob 2 in Makers, Bob 7 in Chess; (makers, chess, ada's account)."""
    with session_scope() as session:
        makers, chess = Community(name="Makers"), Community(name="Chess")
        ada = PlatformAccount(platform="telegram", platform_user_id="1", display_name="Ada")
        bob = PlatformAccount(platform="discord", platform_user_id="2", username="bob")
        session.add_all([makers, chess, ada, bob])
        session.flush()
        for community, account, delta in ((makers, ada, 5), (makers, bob, 2), (chess, bob, 7)):
            reputation.adjust(session, "seed", community.id or 0, account.id or 0, delta, "seed")
        return makers.id or 0, chess.id or 0, ada.id or 0


def _score(community_id: int, name: str) -> int:
    with session_scope() as session:
        board = reputation.leaderboard(session, community_id, 10)
        return next(x.score for x in board if x.name == name)


async def _page(people: People, role: str) -> tuple[Tab, ReputationState]:
    tab = Tab(people.cookies[role], "/reputation")
    await tab.run(ReputationState, "load")
    return tab, await tab.state(ReputationState)


async def test_the_leaderboard_per_community_and_a_members_history(people: People) -> None:
    makers, _, _ = _scores()
    tab, page = await _page(people, "viewer")
    assert sorted(c.name for c in page.communities) == ["Chess", "Makers"]
    assert [(x.name, x.score) for x in page.leaders][0] == ("bob", 9)  # all communities
    await tab.run(ReputationState, "pick_community", str(makers))
    assert [(x.rank, x.name, x.score) for x in page.leaders] == [(1, "Ada", 5), (2, "bob", 2)]
    assert page.history_title == "Recent changes" and len(page.history) == 2

    await tab.run(ReputationState, "show_history", 2)
    assert page.history_title == "History of bob"
    assert [(h.community, h.delta) for h in page.history] == [("Makers", 2)]
    await tab.run(ReputationState, "show_history", 99)  # no such rank: unchanged
    assert page.history_title == "History of bob"
    await tab.run(ReputationState, "pick_community", "999")
    assert page.community == "all"


async def test_an_editor_adjusts_points_and_bad_input_is_said(people: People) -> None:
    makers, _, ada = _scores()
    tab, page = await _page(people, "editor")
    ada_rank = next(x.rank for x in page.leaders if x.name == "Ada")
    await tab.run(ReputationState, "open_adjust", ada_rank)
    assert (page.adjust_open, page.adjust_name, page.adjust_account) == (True, "Ada", str(ada))
    await tab.run(ReputationState, "adjust", {"delta": "3"})
    assert page.dialog_error == "Pick the community the points count in."
    await tab.run(ReputationState, "pick_adjust_community", str(makers))
    await tab.run(ReputationState, "adjust", {"delta": "three"})
    assert page.dialog_error == "The change is a whole number, e.g. 5 or -2."
    await tab.run(ReputationState, "pick_adjust_account", "")
    await tab.run(ReputationState, "adjust", {"delta": "3"})
    assert page.dialog_error == "Pick the account."
    await tab.run(ReputationState, "pick_adjust_account", str(ada))
    await tab.run(ReputationState, "adjust", {"delta": "-2", "reason": "off topic"})
    assert (page.message, page.adjust_open) == ("-2 for Ada.", False)
    assert _score(makers, "Ada") == 3


async def test_a_viewer_cannot_adjust(people: People) -> None:
    makers, _, ada = _scores()
    tab, page = await _page(people, "viewer")
    await tab.run(ReputationState, "pick_community", str(makers))
    await tab.run(ReputationState, "open_adjust", 1)
    assert page.adjust_community == str(makers)
    await tab.run(ReputationState, "adjust", {"delta": "100", "reason": "me"})
    assert "editor role" in page.dialog_error and page.adjust_open
    await tab.run(ReputationState, "on_dialog_change", False)
    assert not page.adjust_open
    assert _score(makers, "Ada") == 5
