"""/api/v1/moderation: the overview, the filtered log and its CSV export, for viewers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from engine.db import session_scope
from engine.models import ModerationAction
from engine.services import moderation_log
from tests.api.conftest import Tokens
from tests.moderation_world import World, ok, refused

EXPECTED_ROLES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/moderation/overview"): "viewer",
    ("GET", "/api/v1/moderation/log"): "viewer",
    ("GET", "/api/v1/moderation/log.csv"): "viewer",
}
NOW = datetime.now(UTC).replace(microsecond=0)


def _seed() -> World:
    """Five actions a minute apart, the newest a minute ago; Ann's two accounts are linked."""
    with session_scope() as session:
        world = World(session)
        at = [NOW - timedelta(minutes=5 - n) for n in range(5)]
        world.warn(world.cats, world.ann_tg, at[0])
        world.log(world.cats, ModerationAction.warn, world.ann_tg, at[0], actor="rules:antilink")
        mixed = [ok("telegram", "-1001"), refused("discord", "42", "Missing Permissions")]
        world.log(world.cats, ModerationAction.ban, world.ann_dc, at[1], results=mixed)
        world.log(world.dogs, ModerationAction.mute, world.bob, at[2], reason="-1 flood")
        world.log(world.cats, ModerationAction.kick, world.eve, at[3], reason="=1+2")
        world.log(world.cats, ModerationAction.note, None, at[4], actor="eddie")
        return world


async def _log(api: httpx.AsyncClient, tokens: Tokens, **params: object) -> list[str]:
    answer = await api.get("/api/v1/moderation/log", params=params, headers=tokens.read_only)
    assert answer.status_code == 200, answer.text
    return [e["action"] for e in answer.json()["items"]]


async def test_the_log_filters_and_pages(api: httpx.AsyncClient, tokens: Tokens) -> None:
    world = _seed()
    assert await _log(api, tokens) == ["note", "kick", "mute", "ban", "warn"]
    assert await _log(api, tokens, community_id=world.cats.id, platform="telegram") == ["warn"]
    assert await _log(api, tokens, actor="rules:antilink") == ["warn"]
    assert await _log(api, tokens, member="ann") == ["ban", "warn"]
    assert await _log(api, tokens, account_id=world.bob.id) == ["mute"]
    assert await _log(api, tokens, action="kick") == ["kick"]
    since = (NOW - timedelta(minutes=3, seconds=30)).replace(tzinfo=None).isoformat()
    assert await _log(api, tokens, since=since) == ["note", "kick", "mute"]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await api.get("/api/v1/moderation/log", params=params, headers=tokens.viewer)
        seen += [e["action"] for e in page.json()["items"]]
        if (cursor := page.json()["next_cursor"]) is None:
            break
    assert seen == ["note", "kick", "mute", "ban", "warn"]
    [ban] = (await api.get("/api/v1/moderation/log?action=ban", headers=tokens.viewer)).json()[
        "items"
    ]
    assert ban["community"] == "Cats" and ban["target"] == "Ann D" and ban["actor"] == "ada"
    assert ban["platform"] == "discord" and ban["result"] == "partial"
    assert ban["targets"][1] == {
        "platform": "discord",
        "chat_id": "42",
        "ok": False,
        "error": "Missing Permissions",
        "skipped": False,
    }


async def test_overview(api: httpx.AsyncClient, tokens: Tokens) -> None:
    world = _seed()
    answer = await api.get(
        "/api/v1/moderation/overview", params={"community_id": world.cats.id}, headers=tokens.viewer
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["warnings"], body["bans"], body["actions"]) == (1, 1, 4)
    assert len(body["days"]) == moderation_log.WINDOW_DAYS
    assert body["by_action"] == {"ban": 1, "kick": 1, "note": 1, "warn": 1}
    [ann, eve] = body["offenders"]
    assert (ann["name"], ann["accounts"], ann["active_warnings"], ann["sanctions"]) == (
        "Ann",
        2,
        1,
        1,
    )
    assert ann["platforms"] == ["discord", "telegram"] and eve["sanctions"] == 1
    assert [e["action"] for e in body["recent"]] == ["note", "kick", "ban", "warn"]
    everything = await api.get("/api/v1/moderation/overview", headers=tokens.read_only)
    assert everything.json()["community_id"] is None and everything.json()["actions"] == 5


async def test_csv_streams_the_filtered_log_without_formulas(
    api: httpx.AsyncClient, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(moderation_log, "CSV_BATCH", 2)  # three chunks for five rows
    world = _seed()
    answer = await api.get("/api/v1/moderation/log.csv", headers=tokens.read_only)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert "moderation-log.csv" in answer.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == list(moderation_log.CSV_HEADER)
    column = moderation_log.CSV_HEADER.index
    assert [r[column("action")] for r in rows[1:]] == ["note", "kick", "mute", "ban", "warn"]
    assert rows[2][column("reason")] == "'=1+2" and rows[2][column("target")].startswith("'=")
    assert rows[3][column("reason")] == "'-1 flood"
    filtered = await api.get(
        "/api/v1/moderation/log.csv",
        params={"community_id": world.dogs.id},
        headers=tokens.viewer,
    )
    assert [r[column("action")] for r in csv.reader(io.StringIO(filtered.text))][1:] == ["mute"]


async def test_refusals(api: httpx.AsyncClient, tokens: Tokens) -> None:
    for path in ("/overview", "/log", "/log.csv"):
        assert (await api.get(f"/api/v1/moderation{path}")).status_code == 401
        gone = await api.get(
            f"/api/v1/moderation{path}", params={"community_id": 999}, headers=tokens.viewer
        )
        assert gone.status_code == 404, path
        assert "Community 999 does not exist" in gone.json()["error"]["message"]
    for params in ({"platform": "icq"}, {"action": "smite"}, {"since": "yesterday"}):
        bad = await api.get("/api/v1/moderation/log", params=params, headers=tokens.viewer)
        assert bad.status_code == 422, params
    backwards = {"since": "2030-01-02T00:00:00", "until": "2030-01-01T00:00:00"}
    bad = await api.get("/api/v1/moderation/log.csv", params=backwards, headers=tokens.viewer)
    assert bad.status_code == 422 and "ends before it starts" in bad.json()["error"]["message"]
    bad_cursor = await api.get(
        "/api/v1/moderation/log", params={"cursor": "x"}, headers=tokens.viewer
    )
    assert bad_cursor.status_code == 400
