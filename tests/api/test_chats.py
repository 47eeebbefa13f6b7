"""/api/v1/chats: the chat picker over HTTP, and asking a connection for its chats."""

from __future__ import annotations

import httpx

from engine.db import session_scope
from engine.models import BotInstance, Chat, ConnectorKind, PlatformConnection, utcnow
from tests.api.conftest import Tokens
from tests.fakes.pool import FakePool

EXPECTED_ROLES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/chats"): "viewer",
    ("GET", "/api/v1/chats/{chat_id}"): "viewer",
    ("POST", "/api/v1/chats/refresh"): "editor",
}


def connection(kind: ConnectorKind, name: str) -> tuple[int, int]:
    """(connection id, instance id)."""
    with session_scope() as session:
        instance = BotInstance(name=name, kind=kind)
        session.add(instance)
        session.flush()
        link = PlatformConnection(bot_instance_id=instance.id or 0)
        session.add(link)
        session.flush()
        return link.id or 0, instance.id or 0


def chats(*rows: Chat) -> list[int]:
    with session_scope() as session:
        session.add_all(rows)
        session.flush()
        return [row.id or 0 for row in rows]


async def test_the_picker_filters(api: httpx.AsyncClient, tokens: Tokens) -> None:
    tg_conn, tg = connection(ConnectorKind.telegram_bot, "Helper bot")
    _, dc = connection(ConnectorKind.discord_bot, "Discord bot")
    cats, dogs, server, _ = chats(
        Chat(platform="telegram", platform_chat_id="-1", title="Cats", bot_instance_id=tg),
        Chat(platform="telegram", platform_chat_id="-2", title="Dogs", bot_instance_id=tg,
             username="dogs_club"),
        Chat(platform="discord", platform_chat_id="g", title="Server", type="guild",
             bot_instance_id=dc, bot_is_admin=True),
        Chat(platform="whatsapp", platform_chat_id="w@g.us", title="Left", gone_at=utcnow()),
    )  # fmt: skip

    async def ids(**params: object) -> list[int]:
        answer = await api.get("/api/v1/chats", params=params, headers=tokens.viewer)
        assert answer.status_code == 200, answer.text
        return [chat["id"] for chat in answer.json()["items"]]

    assert await ids() == [server, dogs, cats]
    assert await ids(platform="telegram") == [dogs, cats]
    assert await ids(connection_id=tg_conn) == [dogs, cats]
    assert await ids(search="CLUB") == [dogs]
    assert len(await ids(include_gone="true")) == 4
    assert await ids(attached="true") == []
    first = (await api.get("/api/v1/chats?limit=2", headers=tokens.viewer)).json()
    after = await ids(limit=2, cursor=first["next_cursor"])
    assert [c["id"] for c in first["items"]] + after == [server, dogs, cats]
    bad = await api.get("/api/v1/chats", params={"platform": "irc"}, headers=tokens.viewer)
    assert bad.status_code == 422

    shown = (await api.get(f"/api/v1/chats/{server}", headers=tokens.viewer)).json()
    assert shown["title"] == "Server" and shown["bot_is_admin"]
    assert shown["connection_name"] == "Discord bot" and shown["community_id"] is None
    assert (await api.get("/api/v1/chats/9999", headers=tokens.viewer)).status_code == 404


async def test_refresh_asks_the_connection(
    api: httpx.AsyncClient, tokens: Tokens, fake_pool: FakePool
) -> None:
    conn, instance = connection(ConnectorKind.telegram_user, "My account")
    fake_pool.results["list_chats"] = {
        "chats": [{"id": "-100", "type": "supergroup", "title": "Photo club", "username": None,
                   "member_count": 120, "bot_is_admin": False, "guild_id": None}]
    }  # fmt: skip
    answer = await api.post(
        "/api/v1/chats/refresh", json={"connection_id": conn}, headers=tokens.editor
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["seen"] == 1 and body["error"] is None
    [chat] = body["chats"]
    assert (chat["title"], chat["type"], chat["member_count"]) == ("Photo club", "supergroup", 120)
    assert chat["connection_id"] == conn
    [asked] = fake_pool.executions.calls
    assert (asked.kind, asked.action, asked.instance_id) == (
        "telegram_user",
        "list_chats",
        instance,
    )

    fake_pool.fail("list_chats", "platform", "not logged in")
    refused = await api.post(
        "/api/v1/chats/refresh", json={"connection_id": conn}, headers=tokens.editor
    )
    assert refused.json() == {"connection_id": conn, "seen": 0, "error": "not logged in",
                              "chats": []}  # fmt: skip
    missing = await api.post(
        "/api/v1/chats/refresh", json={"connection_id": 999}, headers=tokens.editor
    )
    assert missing.status_code == 404
    viewer = await api.post(
        "/api/v1/chats/refresh", json={"connection_id": conn}, headers=tokens.viewer
    )
    assert viewer.status_code == 403
