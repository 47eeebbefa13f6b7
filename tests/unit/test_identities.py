"""Identities: linking accounts into one person, suggestions, totals counted together."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from engine.models import (
    AdminUser,
    AuditLog,
    Community,
    CommunityMember,
    LinkSuggestionDismissal,
    Platform,
    PlatformAccount,
    ReputationScore,
    Role,
    Warning,
    utcnow,
)
from engine.services import auth, identities
from engine.services.errors import Conflict, NotFound
from engine.services.identities import InvalidIdentity
from tests.flow_helpers import make_admin


def account(
    session: Session,
    platform: str,
    uid: str,
    username: str | None = None,
    name: str = "",
    **extra: object,
) -> int:
    row = PlatformAccount(
        platform=Platform(platform), platform_user_id=uid, username=username, display_name=name
    )
    for key, value in extra.items():
        setattr(row, key, value)
    session.add(row)
    session.flush()
    return row.id or 0


def user(session: Session, role: Role) -> AdminUser:
    return auth.create_user(session, f"u_{role.value}", "a-long-password", role, actor=make_admin())


def test_link_accounts_makes_one_person_and_joins_an_existing_one(session: Session) -> None:
    editor = user(session, Role.editor)
    tg = account(session, "telegram", "1", "alex", "Alex")
    dc = account(session, "discord", "2", "alex", "")
    wa = account(session, "whatsapp", "3@s.whatsapp.net", None, "A")
    person = identities.link_accounts(session, editor, [tg, dc])
    view = identities.get_identity(session, person)
    assert view.display_name == "Alex" and [a.account_id for a in view.accounts] == [tg, dc]

    # one of the picked accounts is that person's already: the other joins them
    assert identities.link_accounts(session, editor, [wa, tg], "Alex Kim") == person
    view = identities.get_identity(session, person)
    assert view.display_name == "Alex Kim" and view.platforms == ["discord", "telegram", "whatsapp"]
    assert identities.linked_account_ids(session, dc) == [tg, dc, wa]
    logged = session.exec(select(AuditLog.action).where(AuditLog.target_type == "identity")).all()
    assert logged.count("identity_account_linked") == 3


def test_an_account_belongs_to_at_most_one_person(session: Session) -> None:
    editor = user(session, Role.editor)
    a, b, c = (account(session, "telegram", str(n)) for n in range(3))
    first = identities.create_identity(session, editor, [a], "First")
    second = identities.create_identity(session, editor, [b], "Second")
    with pytest.raises(Conflict, match="unlink it there first"):
        identities.add_account(session, editor, second, a)
    with pytest.raises(Conflict, match="different people"):
        identities.link_accounts(session, editor, [a, b, c])
    with pytest.raises(Conflict):
        identities.create_identity(session, editor, [a, c])
    identities.add_account(session, editor, first, a)  # already theirs: nothing changes
    identities.remove_account(session, editor, first, a)
    identities.add_account(session, editor, second, a)
    assert identities.linked_account_ids(session, a) == [a, b]
    with pytest.raises(NotFound, match="not linked to person"):
        identities.remove_account(session, editor, first, a)


def test_rename_preferred_platform_and_delete(session: Session) -> None:
    editor = user(session, Role.editor)
    a = account(session, "telegram", "1", "x", "X")
    person = identities.create_identity(session, editor, [a])
    identities.update_identity(
        session, editor, person, display_name="  Sam   Lee ", notes="met at the meetup",
        preferred_platform="telegram",
    )  # fmt: skip
    view = identities.get_identity(session, person)
    assert (view.display_name, view.notes, view.preferred_platform) == (
        "Sam Lee",
        "met at the meetup",
        "telegram",
    )
    with pytest.raises(InvalidIdentity, match="not a platform"):
        identities.update_identity(session, editor, person, preferred_platform="icq")
    with pytest.raises(InvalidIdentity, match="name"):
        identities.update_identity(session, editor, person, display_name=" ")
    identities.delete_identity(session, editor, person)
    with pytest.raises(NotFound):
        identities.get_identity(session, person)
    assert identities.get_account(session, a).identity_id is None


def test_viewers_cannot_change_links(session: Session) -> None:
    viewer = user(session, Role.viewer)
    a, b = account(session, "telegram", "1"), account(session, "discord", "2")
    for change in (
        lambda: identities.link_accounts(session, viewer, [a, b]),
        lambda: identities.create_identity(session, viewer, [a]),
        lambda: identities.dismiss_suggestion(session, viewer, a, b),
    ):
        with pytest.raises(auth.PermissionDenied):
            change()
    assert identities.account_page(session, 10, linked=True) == []


def test_totals_count_linked_accounts_together(session: Session) -> None:
    editor = user(session, Role.editor)
    tg, dc = account(session, "telegram", "1", "a"), account(session, "discord", "2", "a")
    chess, go = Community(name="Chess"), Community(name="Go")
    session.add_all([chess, go])
    session.flush()
    session.add_all(
        [
            CommunityMember(community_id=chess.id, platform_account_id=tg, message_count=10),
            CommunityMember(community_id=go.id, platform_account_id=tg, message_count=1),
            CommunityMember(
                community_id=chess.id, platform_account_id=dc, message_count=4, is_banned=True
            ),
            Warning(community_id=chess.id, platform_account_id=tg),
            Warning(community_id=chess.id, platform_account_id=dc),
            Warning(community_id=go.id, platform_account_id=dc, revoked_at=utcnow()),
            Warning(community_id=go.id, platform_account_id=dc, expires_at=utcnow() - timedelta(1)),
            ReputationScore(community_id=chess.id, platform_account_id=tg, score=7),
            ReputationScore(community_id=go.id, platform_account_id=dc, score=-2),
        ]
    )
    session.flush()
    person = identities.link_accounts(session, editor, [tg, dc])
    telegram = identities.get_account(session, tg)
    assert (telegram.communities, telegram.messages, telegram.warnings) == (2, 11, 1)
    assert (telegram.reputation, telegram.banned) == (7, False)
    view = identities.get_identity(session, person)
    assert (view.messages, view.warnings, view.reputation, view.banned) == (15, 2, 5, True)


def test_account_search_filters_and_pages(session: Session) -> None:
    ids = [account(session, "telegram", str(n), f"user_{n}", f"User {n}") for n in range(5)]
    discord = account(session, "discord", "77", "100%real", "Real")
    first = identities.account_page(session, 3)
    assert [v.account_id for v in first] == [discord, ids[4], ids[3]]
    rest = identities.account_page(session, 10, before=first[-1].account_id)
    assert [v.account_id for v in rest] == [ids[2], ids[1], ids[0]]
    assert [v.account_id for v in identities.account_page(session, 10, search="USER_3")] == [ids[3]]
    # LIKE wildcards in the search are literal characters
    assert [v.account_id for v in identities.account_page(session, 10, search="0%")] == [discord]
    assert [v.account_id for v in identities.account_page(session, 10, search="@user_1")] == [
        ids[1]
    ]
    only = identities.account_page(session, 10, platform="discord")
    assert [v.account_id for v in only] == [discord]


def test_suggestions_find_likely_pairs_and_respect_dismissals(session: Session) -> None:
    editor = user(session, Role.editor)
    tg = account(session, "telegram", "1", "Sam", "Sam")
    dc = account(session, "discord", "2", "sam", "sam ")
    account(session, "telegram", "3", "sam_again", "Someone")  # same platform: no
    wa = account(session, "whatsapp", "4@s.whatsapp.net", None, "S", phone="+4912345")
    tg_phone = account(session, "telegram", "5", "other", "Other", phone="+4912345")
    account(session, "discord", "6", "Sam", "Sam", is_bot=True)  # a bot: never
    account(session, "discord", "7", None, "")  # empty names match nothing
    account(session, "whatsapp", "8", None, "")

    found = {
        (s.first.account_id, s.second.account_id): s.reasons
        for s in identities.suggestions(session)
    }
    assert found == {
        (tg, dc): ["same username", "same display name"],
        (wa, tg_phone): ["same phone"],
    }
    ranked = identities.suggestions(session)
    assert (ranked[0].first.account_id, ranked[0].second.account_id) == (tg, dc)

    identities.dismiss_suggestion(session, editor, tg_phone, wa)
    identities.dismiss_suggestion(session, editor, wa, tg_phone)  # twice is fine
    dismissed = session.exec(select(LinkSuggestionDismissal)).all()
    assert [(d.account_low_id, d.account_high_id, d.dismissed_by) for d in dismissed] == [
        (wa, tg_phone, "u_editor")
    ]
    assert identities.confirm_suggestion(session, editor, dc, tg)
    assert identities.suggestions(session) == []
    with pytest.raises(InvalidIdentity, match="two different accounts"):
        identities.dismiss_suggestion(session, editor, tg, tg)
