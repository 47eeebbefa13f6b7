"""The Accounts page's state against a real database: the account list and its filters,
linking chosen accounts into a person, a suggested pair confirmed or dismissed, the
person's drawer (rename, unlink, forget), and a viewer's refusals."""

from __future__ import annotations

from sqlmodel import select

from engine.db import session_scope
from engine.models import PlatformAccount, UserIdentity
from flowbot_ui.state.accounts import AccountsState
from tests.ui_harness import People, Tab


def _accounts() -> dict[str, int]:
    """Sam on Telegram and on Discord (same username: a likely pair), and Kim."""
    with session_scope() as session:
        rows = {
            "sam_tg": PlatformAccount(platform="telegram", platform_user_id="1", username="sam",
                                      display_name="Sam"),
            "sam_dc": PlatformAccount(platform="discord", platform_user_id="2", username="sam",
                                      display_name="Sam"),
            "kim": PlatformAccount(platform="telegram", platform_user_id="3", username="kim",
                                   display_name="Kim"),
        }  # fmt: skip
        session.add_all(rows.values())
        session.flush()
        return {key: row.id or 0 for key, row in rows.items()}


def _people() -> dict[str, list[int]]:
    with session_scope() as session:
        found: dict[str, list[int]] = {}
        for identity in session.exec(select(UserIdentity)):
            linked = session.exec(
                select(PlatformAccount.id).where(PlatformAccount.identity_id == identity.id)
            )
            found[identity.display_name] = sorted(i or 0 for i in linked)
        return found


async def _page(people: People, role: str) -> tuple[Tab, AccountsState]:
    tab = Tab(people.cookies[role], "/accounts")
    await tab.run(AccountsState, "load")
    return tab, await tab.state(AccountsState)


async def test_the_list_filters_and_suggests_a_likely_pair(people: People) -> None:
    ids = _accounts()
    tab, page = await _page(people, "viewer")
    assert sorted(r.name for r in page.rows) == ["Kim", "Sam", "Sam"] and not page.more
    [pair] = page.suggestions
    assert {pair.first.id, pair.second.id} == {ids["sam_tg"], ids["sam_dc"]} and pair.reasons
    await tab.run(AccountsState, "pick_platform", "discord")
    assert [r.id for r in page.rows] == [ids["sam_dc"]]
    await tab.run(AccountsState, "pick_platform", "fax")
    assert page.platform_filter == "any" and len(page.rows) == 3
    await tab.run(AccountsState, "search_accounts", {"search": "kim"})
    assert [r.id for r in page.rows] == [ids["kim"]]
    await tab.run(AccountsState, "load_more")  # no more: unchanged
    assert len(page.rows) == 1


async def test_an_editor_links_renames_unlinks_and_forgets_a_person(people: People) -> None:
    ids = _accounts()
    tab, page = await _page(people, "editor")
    await tab.run(AccountsState, "toggle", ids["sam_tg"], True)
    await tab.run(AccountsState, "toggle", ids["kim"], True)
    await tab.run(AccountsState, "toggle", ids["kim"], False)
    await tab.run(AccountsState, "toggle", ids["sam_dc"], True)
    await tab.run(AccountsState, "open_link")
    await tab.run(AccountsState, "link_selected", {"name": "Sam"})
    assert page.message == "Linked 2 accounts into one person." and page.selected == []
    assert _people() == {"Sam": sorted([ids["sam_tg"], ids["sam_dc"]])}
    assert page.person_name == "Sam" and len(page.person_accounts) == 2
    assert page.person_totals.startswith("0 active warnings")

    await tab.run(AccountsState, "rename_person", {"name": "Samuel", "notes": "mod"})
    assert page.message == "Saved." and page.person_name == "Samuel"
    assert page.person_notes == "mod"
    await tab.run(AccountsState, "unlink", ids["sam_dc"])
    assert _people() == {"Samuel": [ids["sam_tg"]]}
    await tab.run(AccountsState, "open_delete")
    await tab.run(AccountsState, "confirm_delete")
    assert page.message == "Forgot Samuel: the accounts stay, unlinked."
    assert (_people(), page.person_id) == ({}, 0)


async def test_a_suggestion_is_confirmed_or_dismissed(people: People) -> None:
    ids = _accounts()
    tab, page = await _page(people, "editor")
    await tab.run(AccountsState, "dismiss", ids["sam_tg"], ids["sam_dc"])
    assert page.message.startswith("Dismissed") and page.suggestions == []
    assert _people() == {}

    tab, page = await _page(people, "editor")
    assert page.suggestions == []  # dismissed for good
    await tab.run(AccountsState, "confirm", ids["sam_tg"], ids["kim"])
    assert page.message == "Linked: they are one person now."
    assert list(_people().values()) == [sorted([ids["sam_tg"], ids["kim"]])]


async def test_linking_needs_two_accounts_and_an_editor(people: People) -> None:
    ids = _accounts()
    tab, page = await _page(people, "editor")
    await tab.run(AccountsState, "toggle", ids["kim"], True)
    await tab.run(AccountsState, "link_selected", {"name": "Kim"})
    assert page.dialog_error and _people() == {}
    await tab.run(AccountsState, "clear_selection")
    assert page.selected == []

    tab, page = await _page(people, "viewer")
    await tab.run(AccountsState, "confirm", ids["sam_tg"], ids["sam_dc"])
    assert "editor role" in page.error and _people() == {}
    await tab.run(AccountsState, "open_person", 999)
    assert page.person_id == 0 and page.error
