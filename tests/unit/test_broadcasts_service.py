"""Broadcasts: who gets one (communities, chosen chats, platforms), what a draft and a sent
broadcast must satisfy, the state changes (send, schedule, cancel, retry, edit, delete),
the history's totals, and that delivery starts only once the sending transaction commits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlmodel import Session, col, select

from engine import events
from engine.models import (
    AdminUser,
    AuditLog,
    BotInstance,
    BroadcastMessage,
    BroadcastStatus,
    BroadcastTarget,
    Chat,
    Community,
    ConnectorKind,
    Platform,
    Role,
    TargetStatus,
    utcnow,
)
from engine.services import auth, broadcasts
from engine.services.broadcasts import BroadcastConflict, BroadcastDraft, InvalidBroadcast
from tests.flow_helpers import make_admin


class World:
    """A community with a Telegram group, a Discord guild with two text channels (one gone)
    and a voice channel, and a WhatsApp group whose connection was removed; a Telegram
    channel outside it."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.editor = self._user(Role.editor)
        self.viewer = self._user(Role.viewer)
        tg, dc = (
            self._instance(ConnectorKind.telegram_bot),
            self._instance(ConnectorKind.discord_bot),
        )
        community = Community(name="Club")
        session.add(community)
        session.flush()
        self.community_id = community.id or 0
        here = {"community_id": self.community_id}
        self.group = self._chat("telegram", "-100", "Club group", tg, **here)
        self.guild = self._chat("discord", "900", "Club server", dc, type="guild", **here)
        self.general = self._chat("discord", "901", "general", dc, parent_chat_id="900", **here)
        self._chat("discord", "902", "old", dc, parent_chat_id="900", gone_at=utcnow(), **here)
        voice = {"type": "guild_voice", "parent_chat_id": "900", **here}
        self._chat("discord", "903", "Hangout", dc, **voice)
        self._chat("whatsapp", "1@g.us", "Club WhatsApp", None, **here)
        self.news = self._chat("telegram", "-200", "News channel", tg)
        session.commit()

    def _user(self, role: Role) -> AdminUser:
        return auth.create_user(
            self.session, f"u_{role.value}", "a-long-password", role, actor=make_admin()
        )

    def _instance(self, kind: ConnectorKind) -> int:
        instance = BotInstance(name=str(kind), kind=kind)
        self.session.add(instance)
        self.session.flush()
        return instance.id or 0

    def _chat(
        self, platform: str, chat_id: str, title: str, instance: int | None, **fields: Any
    ) -> int:
        row = Chat(
            platform=Platform(platform),
            platform_chat_id=chat_id,
            title=title,
            bot_instance_id=instance,
            **fields,
        )
        self.session.add(row)
        self.session.flush()
        return row.id or 0

    def draft(self, **fields: Any) -> BroadcastDraft:
        return BroadcastDraft(**{"text": "**Meetup** on Friday", **fields})


@pytest.fixture
def world(sqlite_session: Session) -> World:
    return World(sqlite_session)


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    seen: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(events, "publish", lambda topic, payload: seen.append((topic, payload)))
    return seen


def target_rows(session: Session, broadcast_id: int) -> list[BroadcastTarget]:
    session.expire_all()
    query = select(BroadcastTarget).where(BroadcastTarget.broadcast_id == broadcast_id)
    return list(session.exec(query.order_by(col(BroadcastTarget.id))))


def set_target_status(session: Session, broadcast_id: int, *statuses: TargetStatus) -> None:
    for row, status in zip(target_rows(session, broadcast_id), statuses, strict=True):
        row.status = status
        session.add(row)
    session.commit()


# --- who gets it ---------------------------------------------------------------------------------


def test_targets_are_the_communitys_postable_chats_reachable_by_a_connection(world: World) -> None:
    found = broadcasts.resolve_targets(
        world.session, world.draft(community_ids=[world.community_id])
    )
    # The guild row and the voice channel take no messages, the gone channel is skipped, the
    # WhatsApp group has no connection that could post there any more.
    assert [(t.platform, t.platform_chat_id, t.connector_kind) for t in found] == [
        ("discord", "901", "discord_bot"),
        ("telegram", "-100", "telegram_bot"),
    ]
    assert all(t.community_id == world.community_id for t in found)


def test_chosen_chats_add_to_communities_once_each_and_platforms_narrow(world: World) -> None:
    draft = world.draft(
        community_ids=[world.community_id],
        chat_ids=[world.news, world.group],
        platforms=["telegram"],
    )
    found = broadcasts.resolve_targets(world.session, draft)
    assert [t.platform_chat_id for t in found] == ["-100", "-200"]


def test_a_chosen_discord_guild_means_its_text_channels_not_its_voice_ones(world: World) -> None:
    found = broadcasts.resolve_targets(world.session, world.draft(chat_ids=[world.guild]))
    assert [t.platform_chat_id for t in found] == ["901"]


def test_unknown_communities_and_chats_are_named(world: World) -> None:
    with pytest.raises(InvalidBroadcast, match="Community 77 does not exist"):
        broadcasts.resolve_targets(world.session, world.draft(community_ids=[77]))
    with pytest.raises(InvalidBroadcast, match="Chat 88, 99 does not exist"):
        broadcasts.resolve_targets(world.session, world.draft(chat_ids=[99, 88, world.news]))


# --- what a draft says ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"buttons": [[{"text": "Go", "url": "javascript:alert(1)"}]]}, "http\\(s\\) link"),
        ({"buttons": [[{"text": "Go", "url": "https://a.org"}] * 6]}, "1 to 5"),
        ({"buttons": [[]]}, "1 to 5"),
        ({"media_url": "file:///etc/passwd"}, "media must be an http\\(s\\) link"),
        ({"platforms": ["email"]}, "platforms"),
    ],
)
def test_draft_shape_is_checked(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        BroadcastDraft(text="hi", **fields)


def test_preview_per_platform_with_overrides() -> None:
    draft = BroadcastDraft(text="**Hi** <all>", overrides={"discord": "_Hey_"}, platforms=[])
    assert broadcasts.preview(draft) == {
        "telegram": "<b>Hi</b> &lt;all&gt;",
        "discord": "_Hey_",
        "whatsapp": "*Hi* <all>",
    }
    assert list(broadcasts.preview(BroadcastDraft(text="x", platforms=["whatsapp"]))) == [
        "whatsapp"
    ]


def test_only_editors_compose_and_every_change_is_audited(world: World) -> None:
    with pytest.raises(auth.PermissionDenied):
        broadcasts.create_draft(world.session, world.viewer, world.draft())
    made = broadcasts.create_draft(world.session, world.editor, world.draft(title=" Friday "))
    broadcasts.update_draft(world.session, world.editor, made.id, world.draft(text="changed"))
    broadcasts.delete_draft(world.session, world.editor, made.id)
    world.session.commit()
    actions = world.session.exec(
        select(AuditLog.action).where(AuditLog.target_type == "broadcast")
    ).all()
    assert actions == ["broadcast_created", "broadcast_updated", "broadcast_deleted"]
    assert made.title == "Friday" and made.status == BroadcastStatus.draft
    assert made.created_by_name == "u_editor"


def test_a_draft_may_be_incomplete_but_not_wrong(world: World) -> None:
    assert broadcasts.create_draft(world.session, world.editor, BroadcastDraft()).text == ""
    with pytest.raises(InvalidBroadcast, match="in the past"):
        broadcasts.create_draft(
            world.session, world.editor, world.draft(scheduled_at=utcnow() - timedelta(minutes=1))
        )


def test_text_too_long_for_a_target_platform_names_it(world: World) -> None:
    long_text = "a" * 2500
    draft = world.draft(text=long_text, community_ids=[world.community_id])
    with pytest.raises(InvalidBroadcast, match="Discord version is 2500 characters"):
        broadcasts.create_draft(world.session, world.editor, draft)
    # a shorter Discord version, or no Discord chat, is fine
    ok = world.draft(text=long_text, community_ids=[world.community_id], overrides={"discord": "x"})
    broadcasts.create_draft(world.session, world.editor, ok)
    broadcasts.create_draft(
        world.session, world.editor, world.draft(text=long_text, chat_ids=[world.news])
    )


# --- sending -------------------------------------------------------------------------------------


def test_send_fixes_targets_and_starts_delivery_after_commit(
    world: World, delivery_started: list[int], published: list[tuple[str, dict[str, Any]]]
) -> None:
    made = broadcasts.create_draft(
        world.session, world.editor, world.draft(community_ids=[world.community_id])
    )
    world.session.commit()
    view = broadcasts.send(world.session, world.editor, made.id)
    assert view.status == BroadcastStatus.sending and view.started_at is not None
    assert view.progress == broadcasts.Progress(total=2, pending=2)
    assert delivery_started == []  # the job must find the targets: not before the commit
    world.session.commit()
    assert delivery_started == [made.id]
    assert published[-1] == (
        f"broadcast.{made.id}",
        {
            "broadcast_id": made.id,
            "status": "sending",
            "total": 2,
            "sent": 0,
            "failed": 0,
            "pending": 2,
            "cancelled": 0,
        },
    )
    rows = target_rows(world.session, made.id)
    assert [(r.title, r.connector_kind, r.status) for r in rows] == [
        ("general", "discord_bot", TargetStatus.pending),
        ("Club group", "telegram_bot", TargetStatus.pending),
    ]
    with pytest.raises(BroadcastConflict, match="sent already"):
        broadcasts.send(world.session, world.editor, made.id)
    with pytest.raises(BroadcastConflict, match="only drafts and scheduled"):
        broadcasts.update_draft(world.session, world.editor, made.id, world.draft())
    with pytest.raises(BroadcastConflict, match="cancel it first"):
        broadcasts.delete_draft(world.session, world.editor, made.id)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"community_ids": []}, "No chat to send to"),
        ({"text": ""}, "Write the text first"),
        ({"text": "", "overrides": {"telegram": "tg only"}}, "nothing to send on discord"),
    ],
)
def test_send_refuses_an_incomplete_broadcast(
    world: World, delivery_started: list[int], fields: dict[str, Any], problem: str
) -> None:
    draft = world.draft(**{"community_ids": [world.community_id], **fields})
    made = broadcasts.create_draft(world.session, world.editor, draft)
    with pytest.raises(InvalidBroadcast, match=problem):
        broadcasts.send(world.session, world.editor, made.id)
    world.session.commit()
    assert delivery_started == [] and target_rows(world.session, made.id) == []


def test_scheduled_waits_and_goes_back_to_draft_when_edited(
    world: World, delivery_started: list[int]
) -> None:
    made = broadcasts.create_draft(world.session, world.editor, world.draft(chat_ids=[world.news]))
    with pytest.raises(InvalidBroadcast, match="in the past"):
        broadcasts.send(world.session, world.editor, made.id, at=utcnow() - timedelta(seconds=1))
    at = utcnow() + timedelta(hours=2)
    view = broadcasts.send(world.session, world.editor, made.id, at=at)
    world.session.commit()
    assert view.status == BroadcastStatus.scheduled and view.started_at is None
    assert (
        view.progress.total == 1 and delivery_started == []
    )  # resume_broadcasts starts it on time
    edited = broadcasts.update_draft(world.session, world.editor, made.id, world.draft(text="new"))
    world.session.commit()
    assert edited.status == BroadcastStatus.draft and edited.progress.total == 0


def test_cancel_stops_what_is_not_sent_yet(world: World, delivery_started: list[int]) -> None:
    made = broadcasts.create_draft(
        world.session, world.editor, world.draft(community_ids=[world.community_id])
    )
    broadcasts.send(world.session, world.editor, made.id)
    world.session.commit()
    set_target_status(world.session, made.id, TargetStatus.sent, TargetStatus.pending)
    view = broadcasts.cancel(world.session, world.editor, made.id)
    assert view.status == BroadcastStatus.cancelled and view.finished_at is not None
    assert view.progress == broadcasts.Progress(total=2, sent=1, cancelled=1)
    with pytest.raises(BroadcastConflict, match="nothing to cancel"):
        broadcasts.cancel(world.session, world.editor, made.id)


def test_retry_sends_again_to_the_failed_chats_only(
    world: World, delivery_started: list[int]
) -> None:
    made = broadcasts.create_draft(
        world.session, world.editor, world.draft(community_ids=[world.community_id])
    )
    broadcasts.send(world.session, world.editor, made.id)
    world.session.commit()
    with pytest.raises(BroadcastConflict, match="wait until it ends"):
        broadcasts.retry_failed(world.session, world.editor, made.id)
    set_target_status(world.session, made.id, TargetStatus.sent, TargetStatus.failed)
    row = world.session.get(BroadcastMessage, made.id)
    assert row is not None
    row.status = BroadcastStatus.partial
    world.session.add(row)
    world.session.commit()
    view = broadcasts.retry_failed(world.session, world.editor, made.id)
    world.session.commit()
    assert view.status == BroadcastStatus.sending
    assert view.progress == broadcasts.Progress(total=2, sent=1, pending=1)
    assert delivery_started == [made.id, made.id]
    set_target_status(world.session, made.id, TargetStatus.sent, TargetStatus.sent)
    row.status = BroadcastStatus.sent
    world.session.add(row)
    world.session.commit()
    with pytest.raises(BroadcastConflict, match="no failed chats"):
        broadcasts.retry_failed(world.session, world.editor, made.id)


def test_a_flow_sends_in_its_own_name(world: World, delivery_started: list[int]) -> None:
    view = broadcasts.send_as(world.session, "flow:7", world.draft(chat_ids=[world.news]))
    world.session.commit()
    assert view.status == BroadcastStatus.sending and view.created_by_name == ""
    assert delivery_started == [view.id]
    actor = world.session.exec(
        select(AuditLog.actor).where(AuditLog.action == "broadcast_sent")
    ).one()
    assert actor == "flow:7"


# --- the history ---------------------------------------------------------------------------------


def test_history_newest_first_with_totals_and_filters(
    world: World, delivery_started: list[int]
) -> None:
    first = broadcasts.create_draft(world.session, world.editor, world.draft(chat_ids=[world.news]))
    second = broadcasts.create_draft(
        world.session, world.editor, world.draft(community_ids=[world.community_id])
    )
    broadcasts.send(world.session, world.editor, second.id)
    world.session.commit()
    history = broadcasts.list_broadcasts(world.session)
    assert [(v.id, v.progress.total) for v in history] == [(second.id, 2), (first.id, 0)]
    assert [v.id for v in broadcasts.list_broadcasts(world.session, status="draft")] == [first.id]
    assert [v.id for v in broadcasts.list_broadcasts(world.session, before=second.id)] == [first.id]
    rows = broadcasts.targets(world.session, second.id, status=TargetStatus.pending, limit=1)
    assert len(rows) == 1 and rows[0].status == TargetStatus.pending
    with pytest.raises(broadcasts.BroadcastNotFound):
        broadcasts.targets(world.session, 999)
