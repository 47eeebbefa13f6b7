"""/api/v1/nodes: the node catalogue, enough for an outside tool to build a valid flow."""

from __future__ import annotations

import httpx

from engine.graph import build_graph
from engine.nodes import REGISTRY
from tests.api.conftest import Tokens

EXPECTED_ROLES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/nodes"): "viewer",
    ("GET", "/api/v1/nodes/{node_type}"): "viewer",
}


async def test_the_catalogue_lists_every_node_type(api: httpx.AsyncClient, tokens: Tokens) -> None:
    answer = await api.get("/api/v1/nodes", headers=tokens.read_only)
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert {item["id"] for item in items} == REGISTRY.ids()
    assert answer.json()["next_cursor"] is None  # one fixed list, not paged
    for item in items:
        assert item["params"] == REGISTRY.get(item["id"]).params.model_json_schema()
        assert item["params"]["type"] == "object", item["id"]
        assert item["handles"] == list(REGISTRY.get(item["id"]).handles)  # stop has none
        assert (item["example_payload"] is not None) == (item["category"] == "trigger")


async def test_filters_by_category_and_platform(api: httpx.AsyncClient, tokens: Tokens) -> None:
    async def ids(**params: str) -> set[str]:
        answer = await api.get("/api/v1/nodes", params=params, headers=tokens.viewer)
        assert answer.status_code == 200, answer.text
        return {item["id"] for item in answer.json()["items"]}

    triggers = await ids(category="trigger")
    assert "tg_command" in triggers and "tg_send_message" not in triggers
    telegram_actions = await ids(category="action", platform="telegram_bot")
    assert "tg_send_message" in telegram_actions
    assert all(REGISTRY.get(i).platform == "telegram_bot" for i in telegram_actions)
    bad = await api.get("/api/v1/nodes?category=magic", headers=tokens.viewer)
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "category"


async def test_one_node_type_is_enough_to_build_a_valid_flow(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    send = (await api.get("/api/v1/nodes/tg_send_message", headers=tokens.viewer)).json()
    assert send["category"] == "action" and send["platform"] == "telegram_bot"
    assert send["handles"] == ["next"] and not send["dynamic_handles"]
    properties = send["params"]["properties"]
    assert {"chat_id", "text"} <= properties.keys() and properties["text"]["description"]
    switch = (await api.get("/api/v1/nodes/switch", headers=tokens.viewer)).json()
    assert switch["dynamic_handles"]
    trigger = (await api.get("/api/v1/nodes/tg_command", headers=tokens.viewer)).json()
    assert trigger["example_payload"]["kind"] == "tg_command"

    params = {name: "x" for name in send["params"].get("required", [])}
    graph = {
        "nodes": [
            {"id": "t", "type": trigger["id"], "params": {"command": "start"}},
            {"id": "s", "type": send["id"], "params": params},
        ],
        "edges": [{"source": "t", "target": "s", "sourceHandle": trigger["handles"][0]}],
    }
    assert not build_graph(graph, REGISTRY).errors


async def test_one_node_type_refusals(api: httpx.AsyncClient, tokens: Tokens) -> None:
    assert (await api.get("/api/v1/nodes/tg_send_message")).status_code == 401
    assert (await api.get("/api/v1/nodes")).status_code == 401
    missing = await api.get("/api/v1/nodes/tg_teleport", headers=tokens.viewer)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
