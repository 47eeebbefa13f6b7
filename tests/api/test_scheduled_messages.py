"""/api/v1/scheduled-messages: the Scheduled page's actions over HTTP, and the cron preview."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from engine.db import session_scope
from engine.models import ScheduledDelivery
from tests.api.conftest import Tokens
from tests.api.test_communities import discovered, telegram_bot

EXPECTED_ROLES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/scheduled-messages"): "viewer",
    ("POST", "/api/v1/scheduled-messages"): "editor",
    ("GET", "/api/v1/scheduled-messages/cron-preview"): "viewer",
    ("GET", "/api/v1/scheduled-messages/{scheduled_id}"): "viewer",
    ("PATCH", "/api/v1/scheduled-messages/{scheduled_id}"): "editor",
    ("POST", "/api/v1/scheduled-messages/{scheduled_id}/pause"): "editor",
    ("POST", "/api/v1/scheduled-messages/{scheduled_id}/resume"): "editor",
    ("POST", "/api/v1/scheduled-messages/{scheduled_id}/cancel"): "editor",
    ("GET", "/api/v1/scheduled-messages/{scheduled_id}/deliveries"): "viewer",
}
BASE = "/api/v1/scheduled-messages"


async def _schedule(api: httpx.AsyncClient, tokens: Tokens, **fields: Any) -> dict[str, Any]:
    answer = await api.post(BASE, json=fields, headers=tokens.editor)
    assert answer.status_code == 201, answer.text
    return answer.json()


async def test_schedule_edit_pause_resume_cancel(api: httpx.AsyncClient, tokens: Tokens) -> None:
    chat = discovered("telegram", "-100", "Club chat", bot_instance_id=telegram_bot())
    weekly = await _schedule(
        api, tokens, chat_id=chat, text="**Call**", repeat_cron="0 9 * * MON",
        timezone="Europe/Berlin",
    )  # fmt: skip
    assert weekly["repeats"] == "At 09:00 AM, only on Monday"
    assert (weekly["status"], weekly["chat_title"], weekly["platform"]) == (
        "pending", "Club chat", "telegram",
    )  # fmt: skip
    once = await _schedule(api, tokens, chat_id=chat, text="hi", send_at="2030-01-07T09:00:00")
    assert once["next_at"].startswith("2030-01-07T09:00:00") and once["repeats"] == ""
    refused = await api.post(BASE, json={"chat_id": chat, "text": "x"}, headers=tokens.viewer)
    assert refused.status_code == 403

    path = f"{BASE}/{weekly['id']}"
    edited = await api.patch(path, json={"text": "Call at 18:00"}, headers=tokens.editor)
    assert edited.status_code == 200 and edited.json()["text"] == "Call at 18:00"
    assert edited.json()["next_at"] == weekly["next_at"]
    paused = await api.post(f"{path}/pause", headers=tokens.editor)
    assert paused.json()["status"] == "paused"
    again = await api.post(f"{path}/pause", headers=tokens.editor)
    assert again.status_code == 409 and "paused, not pending" in again.json()["error"]["message"]
    resumed = await api.post(f"{path}/resume", headers=tokens.editor)
    assert resumed.json()["status"] == "pending"
    cancelled = await api.post(f"{path}/cancel", headers=tokens.editor)
    assert cancelled.json()["status"] == "cancelled"
    late_edit = await api.patch(path, json={"text": "x"}, headers=tokens.editor)
    assert late_edit.status_code == 409

    listed = await api.get(f"{BASE}?status=cancelled", headers=tokens.viewer)
    assert [m["id"] for m in listed.json()["items"]] == [weekly["id"]]
    first = await api.get(f"{BASE}?limit=1", headers=tokens.viewer)
    assert [m["id"] for m in first.json()["items"]] == [once["id"]]
    rest = await api.get(f"{BASE}?limit=1&cursor={first.json()['next_cursor']}",
                         headers=tokens.viewer)  # fmt: skip
    assert [m["id"] for m in rest.json()["items"]] == [weekly["id"]]
    assert (await api.get(f"{BASE}/999", headers=tokens.viewer)).status_code == 404


async def test_refusals_are_in_words(api: httpx.AsyncClient, tokens: Tokens) -> None:
    chat = discovered("telegram", "-100", "Club chat")
    bad = {
        "is not a cron schedule": {"chat_id": chat, "text": "x", "repeat_cron": "daily"},
        "Unknown time zone": {"chat_id": chat, "text": "x", "send_at": "2030-01-01T09:00:00",
                              "timezone": "Nowhere/Land"},
        "That time has passed": {"chat_id": chat, "text": "x", "send_at": "2020-01-01T09:00:00"},
        "never discovered": {"chat_id": 999, "text": "x", "send_at": "2030-01-01T09:00:00"},
    }  # fmt: skip
    for problem, body in bad.items():
        answer = await api.post(BASE, json=body, headers=tokens.editor)
        assert answer.status_code == 422, answer.text
        assert problem in answer.text


async def test_cron_preview(api: httpx.AsyncClient, tokens: Tokens) -> None:
    answer = await api.get(
        f"{BASE}/cron-preview", params={"cron": "30 18 * * FRI", "timezone": "Asia/Tokyo"},
        headers=tokens.viewer,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    preview = answer.json()
    assert preview["description"] == "At 06:30 PM, only on Friday"
    runs = [datetime.fromisoformat(r) for r in preview["next_runs"]]
    assert len(runs) == 5 and runs == sorted(runs) and runs[0] > datetime.now(UTC)
    assert {(r.strftime("%a %H:%M"), r.utcoffset().total_seconds()) for r in runs} == {
        ("Fri 18:30", 9 * 3600)
    }
    wrong = await api.get(f"{BASE}/cron-preview", params={"cron": "9am"}, headers=tokens.viewer)
    assert wrong.status_code == 422 and "is not a cron schedule" in wrong.json()["error"]["message"]


async def test_deliveries(api: httpx.AsyncClient, tokens: Tokens) -> None:
    chat = discovered("telegram", "-100", "Club chat")
    made = await _schedule(api, tokens, chat_id=chat, text="x", repeat_cron="0 * * * *")
    due, kicked = datetime(2030, 1, 1, 9, tzinfo=UTC), "Forbidden: bot was kicked from the group"
    with session_scope() as session:
        session.add(
            ScheduledDelivery(scheduled_message_id=made["id"], due_at=due, ok=False, error=kicked)
        )
    answer = await api.get(f"{BASE}/{made['id']}/deliveries", headers=tokens.viewer)
    [row] = answer.json()["items"]
    assert (row["ok"], row["error"]) == (False, kicked)
    assert datetime.fromisoformat(row["due_at"]) == due
