"""The Members pages' state against a real database: the community's member list with its
filters and sort, one member's page, a warning given and revoked from it, and a viewer's
refusals."""

from __future__ import annotations

from sqlmodel import select

from engine.db import session_scope
from engine.models import Community, CommunityMember, PlatformAccount, Warning
from flowbot_ui.state.members import MembersState, MemberState
from tests.ui_harness import People, Tab, names


def _community() -> tuple[int, int, int]:
    """Makers with Ada (Telegram, 12 messages) and Bob (Discord, banned); their ids."""
    with session_scope() as session:
        community = Community(name="Makers")
        ada = PlatformAccount(platform="telegram", platform_user_id="1", username="ada",
                              display_name="Ada")  # fmt: skip
        bob = PlatformAccount(platform="discord", platform_user_id="2", display_name="Bob")
        session.add_all([community, ada, bob])
        session.flush()
        ada_in = CommunityMember(community_id=community.id or 0, platform_account_id=ada.id or 0,
                                 message_count=12)  # fmt: skip
        bob_in = CommunityMember(community_id=community.id or 0, platform_account_id=bob.id or 0,
                                 is_banned=True)  # fmt: skip
        session.add_all([ada_in, bob_in])
        session.flush()
        return community.id or 0, ada_in.id or 0, bob_in.id or 0


def _warnings() -> list[tuple[str, bool]]:
    with session_scope() as session:
        return [(w.reason, w.revoked_at is not None) for w in session.exec(select(Warning))]


async def test_the_member_list_filters_and_sorts(people: People) -> None:
    community_id, _, _ = _community()
    tab = Tab(people.cookies["viewer"], f"/communities/{community_id}/members",
              community_ref=str(community_id))  # fmt: skip
    await tab.run(MembersState, "load")
    page = await tab.state(MembersState)
    assert (page.community_name, page.missing) == ("Makers", False)
    assert sorted(r.name for r in page.rows) == ["Ada", "Bob"]

    await tab.run(MembersState, "pick_status", "banned")
    assert [r.name for r in page.rows] == ["Bob"]
    await tab.run(MembersState, "pick_status", "anything")
    assert page.status_filter != "anything" and len(page.rows) == 2
    await tab.run(MembersState, "pick_platform", "telegram")
    assert [r.name for r in page.rows] == ["Ada"]
    await tab.run(MembersState, "pick_platform", "")
    await tab.run(MembersState, "search_members", {"search": "bo"})
    assert [r.name for r in page.rows] == ["Bob"]
    await tab.run(MembersState, "search_members", {"search": ""})
    await tab.run(MembersState, "pick_sort", "messages")
    assert [r.name for r in page.rows][0] == "Ada"
    await tab.run(MembersState, "pick_role", "admin")
    assert page.rows == []
    await tab.run(MembersState, "pick_role", "x")
    await tab.run(MembersState, "pick_joined", "7")
    assert len(page.rows) == 2 and page.next_cursor == ""
    await tab.run(MembersState, "load_more")  # nothing more: unchanged
    assert len(page.rows) == 2


async def test_a_missing_community_or_member(people: People) -> None:
    tab = Tab(people.cookies["viewer"], "/communities/404/members", community_ref="404",
              member_ref="404")  # fmt: skip
    await tab.run(MembersState, "load")
    assert (await tab.state(MembersState)).missing
    await tab.run(MemberState, "load")
    assert (await tab.state(MemberState)).missing


async def test_an_editor_warns_and_revokes_from_the_member_page(people: People) -> None:
    _, ada, _ = _community()
    tab = Tab(people.cookies["editor"], f"/members/{ada}", member_ref=str(ada))
    await tab.run(MemberState, "load")
    page = await tab.state(MemberState)
    assert (page.name, page.username, page.platform) == ("Ada", "@ada", "telegram")
    assert page.facts["Messages"] == "12" and not page.banned

    await tab.run(MemberState, "open_action", "explode")  # not an action
    assert page.action_open == "" and await tab.run(MemberState, "confirm_action", {}) == []
    await tab.run(MemberState, "open_action", "warn")
    assert page.action_title == "Warn · Ada" and page.action_help
    events = await tab.run(MemberState, "confirm_action", {"reason": "spam"})
    assert _warnings() == [("spam", False)]
    assert page.action_open == "" and page.result is not None
    assert names(events) == ["_call_function"]  # the toast, saying what was done
    assert page.result.summary in repr(events[0].args)
    [shown] = page.warnings
    assert (shown.reason, shown.issued_by) == ("spam", "eddie")

    await tab.run(MemberState, "open_revoke", shown.id)
    await tab.run(MemberState, "confirm_revoke", {"reason": "my mistake"})
    assert _warnings() == [("spam", True)]
    await tab.run(MemberState, "open_revoke", shown.id)
    assert await tab.run(MemberState, "confirm_revoke", {"reason": "again"}) == []
    assert page.dialog_error  # already revoked


async def test_a_viewer_cannot_act_on_a_member(people: People) -> None:
    _, ada, _ = _community()
    tab = Tab(people.cookies["viewer"], f"/members/{ada}", member_ref=str(ada))
    await tab.run(MemberState, "load")
    await tab.run(MemberState, "open_action", "mute")
    await tab.run(MemberState, "pick_mute_minutes", "99999")
    page = await tab.state(MemberState)
    assert page.mute_minutes == "60"
    await tab.run(MemberState, "confirm_action", {"reason": "quiet"})
    assert "editor role" in page.dialog_error and page.action_open == "mute"
    await tab.run(MemberState, "on_dialog_change", False)
    assert (page.action_open, page.dialog_error) == ("", "")
    assert _warnings() == []
