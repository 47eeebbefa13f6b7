"""/api/v1/broadcasts: compose, preview, send or schedule, cancel, retry, per-chat results."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select

from engine.db import session_scope
from engine.models import BotInstance, BroadcastTarget, Chat, ConnectorKind, TargetStatus, utcnow
from tests.api.conftest import Tokens

EXPECTED_ROLES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/broadcasts"): "viewer",
    ("POST", "/api/v1/broadcasts"): "editor",
    ("POST", "/api/v1/broadcasts/preview"): "viewer",
    ("GET", "/api/v1/broadcasts/{broadcast_id}"): "viewer",
    ("PATCH", "/api/v1/broadcasts/{broadcast_id}"): "editor",
    ("DELETE", "/api/v1/broadcasts/{broadcast_id}"): "editor",
    ("POST", "/api/v1/broadcasts/{broadcast_id}/send"): "editor",
    ("POST", "/api/v1/broadcasts/{broadcast_id}/cancel"): "editor",
    ("POST", "/api/v1/broadcasts/{broadcast_id}/retry-failed"): "editor",
    ("GET", "/api/v1/broadcasts/{broadcast_id}/targets"): "viewer",
}
ROOT = "/api/v1/broadcasts"


@pytest.fixture
def chats(tokens: Tokens) -> dict[str, int]:
    """A Telegram group and a Discord channel, each seen by a connection."""
    with session_scope() as session:
        ids = {}
        for name, platform, kind, chat_id in (
            ("group", "telegram", ConnectorKind.telegram_bot, "-100"),
            ("channel", "discord", ConnectorKind.discord_bot, "901"),
        ):
            instance = BotInstance(name=name, kind=kind)
            session.add(instance)
            session.flush()
            chat = Chat(
                platform=platform,
                platform_chat_id=chat_id,
                title=name.title(),
                bot_instance_id=instance.id,
                parent_chat_id="900" if platform == "discord" else None,
            )
            session.add(chat)
            session.flush()
            ids[name] = chat.id or 0
        return ids


async def _draft(api: httpx.AsyncClient, tokens: Tokens, **body: Any) -> dict[str, Any]:
    answer = await api.post(ROOT, json={"text": "**Meetup** Friday", **body}, headers=tokens.editor)
    assert answer.status_code == 201, answer.text
    return answer.json()


async def test_compose_preview_edit_send_and_read_results(
    api: httpx.AsyncClient, tokens: Tokens, chats: dict[str, int], delivery_started: list[int]
) -> None:
    body = {
        "text": "**Meetup** <Friday>",
        "overrides": {"discord": "**Meetup** Friday @here"},
        "buttons": [[{"text": "Details", "url": "https://example.org/m"}]],
        "chat_ids": [chats["group"], chats["channel"]],
    }
    preview = await api.post(f"{ROOT}/preview", json=body, headers=tokens.viewer)
    assert preview.status_code == 200, preview.text
    assert preview.json()["texts"]["telegram"] == "<b>Meetup</b> &lt;Friday&gt;"
    assert preview.json()["texts"]["discord"] == "**Meetup** Friday @here"
    assert preview.json()["targets"] == {"telegram": 1, "discord": 1}

    made = await _draft(api, tokens, **body)
    assert made["status"] == "draft" and made["created_by"] == "eddie"
    assert made["progress"]["total"] == 0 and made["buttons"] == body["buttons"]
    path = f"{ROOT}/{made['id']}"
    edited = await api.patch(path, json={"title": "Friday"}, headers=tokens.editor)
    assert edited.status_code == 200, edited.text
    assert edited.json()["title"] == "Friday" and edited.json()["text"] == body["text"]

    sent = await api.post(f"{path}/send", headers=tokens.editor)
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] == "sending" and sent.json()["progress"]["pending"] == 2
    assert delivery_started == [made["id"]]
    again = await api.post(f"{path}/send", headers=tokens.editor)
    assert again.status_code == 409 and "sent already" in again.json()["error"]["message"]
    changed = await api.patch(path, json={"text": "late"}, headers=tokens.editor)
    assert changed.status_code == 409

    with session_scope() as session:  # the delivery job's results
        rows = session.exec(select(BroadcastTarget).order_by(BroadcastTarget.id)).all()
        rows[0].status, rows[0].platform_message_id = TargetStatus.sent, "55"
        rows[1].status, rows[1].error = TargetStatus.failed, "Forbidden: bot was kicked"
        session.add_all(rows)
    failed = await api.get(f"{path}/targets?status=failed", headers=tokens.viewer)
    assert [(t["title"], t["error"]) for t in failed.json()["items"]] == [
        ("Group", "Forbidden: bot was kicked")
    ]
    page = await api.get(f"{path}/targets?limit=1", headers=tokens.viewer)
    rest = await api.get(
        f"{path}/targets?limit=1&cursor={page.json()['next_cursor']}", headers=tokens.viewer
    )
    assert len(page.json()["items"]) == len(rest.json()["items"]) == 1
    assert rest.json()["next_cursor"] is None


async def test_schedule_cancel_retry_and_delete(
    api: httpx.AsyncClient, tokens: Tokens, chats: dict[str, int], delivery_started: list[int]
) -> None:
    made = await _draft(api, tokens, chat_ids=[chats["group"]])
    path = f"{ROOT}/{made['id']}"
    past = (utcnow() - timedelta(hours=1)).isoformat()
    refused = await api.post(f"{path}/send", json={"at": past}, headers=tokens.editor)
    assert refused.status_code == 422 and "in the past" in refused.json()["error"]["message"]
    at = (utcnow() + timedelta(days=1)).isoformat()
    scheduled = await api.post(f"{path}/send", json={"at": at}, headers=tokens.editor)
    assert scheduled.json()["status"] == "scheduled" and delivery_started == []
    busy = await api.delete(path, headers=tokens.editor)
    assert busy.status_code == 409 and "cancel it first" in busy.json()["error"]["message"]
    cancelled = await api.post(f"{path}/cancel", headers=tokens.editor)
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["progress"]["cancelled"] == 1
    nothing = await api.post(f"{path}/retry-failed", headers=tokens.editor)
    assert nothing.status_code == 409 and "no failed chats" in nothing.json()["error"]["message"]
    assert (await api.delete(path, headers=tokens.editor)).status_code == 204
    assert (await api.get(path, headers=tokens.viewer)).status_code == 404


async def test_refusals_say_what_is_wrong(
    api: httpx.AsyncClient, tokens: Tokens, chats: dict[str, int], delivery_started: list[int]
) -> None:
    bad_button = await api.post(
        ROOT,
        json={"text": "x", "buttons": [[{"text": "Go", "url": "javascript:alert(1)"}]]},
        headers=tokens.editor,
    )
    assert bad_button.status_code == 422 and "http(s) link" in bad_button.text
    unknown = await api.post(ROOT, json={"text": "x", "chat_ids": [999]}, headers=tokens.editor)
    assert unknown.status_code == 422
    assert unknown.json()["error"]["message"] == "Chat 999 does not exist."
    too_long = await api.post(
        ROOT, json={"text": "a" * 2001, "chat_ids": [chats["channel"]]}, headers=tokens.editor
    )
    assert too_long.status_code == 422 and "Discord version" in too_long.json()["error"]["message"]
    empty = await _draft(api, tokens)
    no_chats = await api.post(f"{ROOT}/{empty['id']}/send", headers=tokens.editor)
    assert no_chats.status_code == 422 and "No chat to send to" in no_chats.text
    viewer = await api.post(ROOT, json={"text": "x"}, headers=tokens.viewer)
    assert viewer.status_code == 403
    assert delivery_started == []


async def test_history_pages_and_filters(
    api: httpx.AsyncClient, tokens: Tokens, chats: dict[str, int], delivery_started: list[int]
) -> None:
    first = await _draft(api, tokens, chat_ids=[chats["group"]])
    second = await _draft(api, tokens, chat_ids=[chats["group"], chats["channel"]])
    await api.post(f"{ROOT}/{second['id']}/send", headers=tokens.editor)
    page = await api.get(f"{ROOT}?limit=1", headers=tokens.viewer)
    assert [(b["id"], b["progress"]["total"]) for b in page.json()["items"]] == [(second["id"], 2)]
    rest = await api.get(
        f"{ROOT}?limit=1&cursor={page.json()['next_cursor']}", headers=tokens.viewer
    )
    assert [b["id"] for b in rest.json()["items"]] == [first["id"]]
    drafts = await api.get(f"{ROOT}?status=draft", headers=tokens.viewer)
    assert [b["id"] for b in drafts.json()["items"]] == [first["id"]]


async def test_create_is_idempotent(
    api: httpx.AsyncClient, tokens: Tokens, delivery_started: list[int]
) -> None:
    headers = {**tokens.editor, "Idempotency-Key": "compose-1"}
    one = await api.post(ROOT, json={"text": "once"}, headers=headers)
    two = await api.post(ROOT, json={"text": "once"}, headers=headers)
    assert one.status_code == two.status_code == 201 and one.json() == two.json()
    listed = await api.get(ROOT, headers=tokens.viewer)
    assert len(listed.json()["items"]) == 1
