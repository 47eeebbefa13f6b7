"""The activity feed read back from seeded rows of each kind, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from engine.models import AdminUser, Role
from engine.services.activity import ActivityKind, recent_activity
from engine.services.auth import PermissionDenied
from tests.activity_world import at, seed_each_kind


def _user(session: Session, name: str, role: Role, *, active: bool = True) -> AdminUser:
    user = AdminUser(username=name, role=role, password_hash="x", is_active=active)
    session.add(user)
    session.flush()
    return user


def test_newest_first_with_each_kind_in_words(session: Session) -> None:
    ids = seed_each_kind(session)
    viewer = _user(session, "vic", Role.viewer)
    items = recent_activity(session, viewer, limit=50)
    assert [(i.kind, i.at) for i in items] == [
        (ActivityKind.member_left, at(5)),
        (ActivityKind.moderation, at(4)),
        (ActivityKind.member_joined, at(3)),
        (ActivityKind.execution, at(3)),
        (ActivityKind.execution, at(3)),
        (ActivityKind.connection, at(2)),
        (ActivityKind.execution, at(1)),
        (ActivityKind.member_joined, at(0)),
    ]
    left, ban, joined, tied, failed, down, ok, bob_joined = items
    assert (left.title, left.status, left.link) == (
        "@bob left Makers",
        "left",
        f"/members/{ids['left']}",
    )
    assert (joined.title, joined.status) == ("Ada joined Makers", "joined")
    assert bob_joined.row_id == left.row_id == ids["left"]
    assert (ban.title, ban.detail, ban.status) == ("Ban @bob in Makers", "by ada: spam", "failed")
    assert (tied.row_id, failed.row_id) == (ids["tied"], ids["failed"])  # same moment: by id
    assert (failed.title, failed.status) == ("Welcome", "failed")
    assert failed.detail == "message trigger: HTTP 500 from the API"
    assert failed.link == f"/executions/{ids['failed']}"
    assert (ok.status, ok.detail) == ("succeeded", "manual trigger")
    assert (down.title, down.detail, down.status) == (
        "Support bot: Failed",
        "Unauthorized",
        "error",
    )
    assert all(i.at.tzinfo is not None for i in items)


def test_pages_continue_without_gaps_or_repeats(session: Session) -> None:
    seed_each_kind(session)
    viewer = _user(session, "vic", Role.viewer)
    whole = recent_activity(session, viewer, limit=50)
    for size in (1, 2, 3):
        seen, before = [], None
        while page := recent_activity(session, viewer, limit=size, before=before):
            assert len(page) <= size
            seen += page
            before = page[-1].cursor
        assert seen == whole, size


def test_the_limit_is_bounded_and_only_signed_in_accounts_read(session: Session) -> None:
    seed_each_kind(session)
    viewer = _user(session, "vic", Role.viewer)
    assert len(recent_activity(session, viewer, limit=3)) == 3
    assert len(recent_activity(session, viewer, limit=0)) == 1
    gone = _user(session, "old", Role.admin, active=False)
    with pytest.raises(PermissionDenied):
        recent_activity(session, gone)
