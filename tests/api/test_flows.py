"""/api/v1/flows: the editor's and the flows page's operations over HTTP, each with its
refusals (roles, 404, If-Match 428/412, 422, 409)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlmodel import select

from engine import actors
from engine.db import session_scope
from engine.models import FlowExecution, FlowVersion, WebhookEndpoint
from tests.api.conftest import Tokens
from tests.flow_helpers import five_node_graph

# The least role each route needs (checked for every caller by test_route_authorization).
EXPECTED_ROLES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/flows"): "viewer",
    ("POST", "/api/v1/flows"): "editor",
    ("POST", "/api/v1/flows/validate"): "viewer",
    ("POST", "/api/v1/flows/import"): "editor",
    ("GET", "/api/v1/flows/{flow_id}"): "viewer",
    ("PATCH", "/api/v1/flows/{flow_id}"): "editor",
    ("DELETE", "/api/v1/flows/{flow_id}"): "editor",
    ("PUT", "/api/v1/flows/{flow_id}/graph"): "editor",
    ("POST", "/api/v1/flows/{flow_id}/duplicate"): "editor",
    ("POST", "/api/v1/flows/{flow_id}/publish"): "editor",
    ("POST", "/api/v1/flows/{flow_id}/activate"): "editor",
    ("POST", "/api/v1/flows/{flow_id}/pause"): "editor",
    ("GET", "/api/v1/flows/{flow_id}/export"): "viewer",
    ("GET", "/api/v1/flows/{flow_id}/versions"): "viewer",
    ("GET", "/api/v1/flows/{flow_id}/versions/{version}"): "viewer",
    ("GET", "/api/v1/flows/{flow_id}/versions/{version}/diff"): "viewer",
    ("POST", "/api/v1/flows/{flow_id}/versions/{version}/restore"): "editor",
    ("POST", "/api/v1/flows/{flow_id}/test-run"): "editor",
    ("POST", "/api/v1/flows/{flow_id}/run"): "editor",
}

BROKEN = {"nodes": [{"id": "a", "type": "no_such_type"}], "edges": []}


async def _create(
    api: httpx.AsyncClient, tokens: Tokens, name: str = "Greeter", **fields: Any
) -> dict[str, Any]:
    body = {"name": name, "graph": five_node_graph(), **fields}
    made = await api.post("/api/v1/flows", json=body, headers=tokens.editor)
    assert made.status_code == 201, made.text
    return made.json()


def _match(tag: str, headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "If-Match": tag}


async def test_create_get_and_search(api: httpx.AsyncClient, tokens: Tokens) -> None:
    folder = (await api.post("/api/v1/folders", json={"name": "Mod"}, headers=tokens.editor)).json()
    greeter = await _create(api, tokens, description="says hello")
    spam = await _create(api, tokens, "Spam filter", folder_id=folder["id"])
    empty = await api.post("/api/v1/flows", json={"name": "Empty"}, headers=tokens.editor)
    assert empty.json()["graph"] == {"nodes": [], "edges": []}

    got = await api.get(f"/api/v1/flows/{greeter['id']}", headers=tokens.read_only)
    assert got.status_code == 200 and got.headers["etag"] == '"0"'
    assert got.json()["graph"] == five_node_graph() and got.json()["status"] == "draft"
    assert got.json()["trigger_type"] == "tg_command"

    async def names(**params: Any) -> list[str]:
        page = await api.get("/api/v1/flows", params=params, headers=tokens.viewer)
        assert page.status_code == 200, page.text
        return [f["name"] for f in page.json()["items"]]

    assert await names() == ["Empty", "Spam filter", "Greeter"]  # newest first
    assert await names(q="HELLO") == ["Greeter"]
    assert await names(folder_id=folder["id"]) == ["Spam filter"]
    assert await names(folder_id="root") == ["Empty", "Greeter"]
    assert await names(status="active") == []
    first = (await api.get("/api/v1/flows", params={"limit": 2}, headers=tokens.viewer)).json()
    rest = await names(cursor=first["next_cursor"])
    assert [f["name"] for f in first["items"]] + rest == ["Empty", "Spam filter", "Greeter"]
    row = first["items"][1]
    assert row["id"] == spam["id"] and row["runs"] == 0 and row["success_rate"] is None
    bad = await api.get("/api/v1/flows", params={"folder_id": "attic"}, headers=tokens.viewer)
    assert bad.status_code == 422


async def test_create_and_read_refusals(api: httpx.AsyncClient, tokens: Tokens) -> None:
    assert (await api.get("/api/v1/flows")).status_code == 401
    for caller in (tokens.viewer, tokens.read_only):
        made = await api.post("/api/v1/flows", json={"name": "x"}, headers=caller)
        assert made.status_code == 403
    unnamed = await api.post("/api/v1/flows", json={"name": ""}, headers=tokens.editor)
    assert unnamed.status_code == 422 and unnamed.json()["error"]["code"] == "invalid"
    blank = await api.post("/api/v1/flows", json={"name": "  "}, headers=tokens.editor)
    assert blank.status_code == 422  # the service's rule
    homeless = await api.post(
        "/api/v1/flows", json={"name": "x", "folder_id": 999}, headers=tokens.editor
    )
    assert homeless.status_code == 404
    missing = await api.get("/api/v1/flows/999", headers=tokens.viewer)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


async def test_the_graph_is_saved_with_if_match(api: httpx.AsyncClient, tokens: Tokens) -> None:
    flow = await _create(api, tokens)
    url = f"/api/v1/flows/{flow['id']}/graph"
    changed = five_node_graph()
    changed["nodes"][3]["params"]["text"] = "Bye"

    unconditional = await api.put(url, json=changed, headers=tokens.editor)
    assert unconditional.status_code == 428
    assert unconditional.json()["error"]["code"] == "precondition_required"
    saved = await api.put(url, json=changed, headers=_match('"0"', tokens.editor))
    assert saved.status_code == 200 and saved.headers["etag"] == '"1"'
    assert saved.json()["graph"]["nodes"][3]["params"]["text"] == "Bye"
    stale = await api.put(url, json=five_node_graph(), headers=_match('"0"', tokens.editor))
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "precondition_failed"
    nonsense = await api.put(url, json=changed, headers=_match("yesterday", tokens.editor))
    assert nonsense.status_code == 412
    anything = await api.put(url, json=five_node_graph(), headers=_match("*", tokens.editor))
    assert anything.status_code == 200 and anything.headers["etag"] == '"2"'
    weak = await api.put(url, json=changed, headers=_match('W/"2"', tokens.editor))
    assert weak.status_code == 200

    viewer = await api.put(url, json=changed, headers=_match('"3"', tokens.viewer))
    assert viewer.status_code == 403
    missing = await api.put(
        "/api/v1/flows/999/graph", json=changed, headers=_match('"0"', tokens.editor)
    )
    assert missing.status_code == 404
    malformed = await api.put(url, json={"nodes": "x"}, headers=_match('"3"', tokens.editor))
    assert malformed.status_code == 422


async def test_patch_renames_describes_and_moves(api: httpx.AsyncClient, tokens: Tokens) -> None:
    folder = (await api.post("/api/v1/folders", json={"name": "Mod"}, headers=tokens.editor)).json()
    flow = await _create(api, tokens)
    url = f"/api/v1/flows/{flow['id']}"
    change = {"name": "Welcome", "description": "new members", "folder_id": folder["id"]}

    assert (await api.patch(url, json=change, headers=tokens.editor)).status_code == 428
    edited = await api.patch(url, json=change, headers=_match('"0"', tokens.editor))
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert (body["name"], body["description"], body["folder_id"]) == (
        "Welcome",
        "new members",
        folder["id"],
    )
    assert edited.headers["etag"] == '"0"'  # details do not bump the graph's revision
    out = await api.patch(url, json={"folder_id": None}, headers=_match('"0"', tokens.editor))
    assert out.json()["folder_id"] is None and out.json()["name"] == "Welcome"
    kept = await api.patch(url, json={"name": "Hi"}, headers=_match('"0"', tokens.editor))
    assert kept.json()["description"] == "new members"  # fields not sent stay

    await api.put(f"{url}/graph", json=five_node_graph(), headers=_match('"0"', tokens.editor))
    stale = await api.patch(url, json={"name": "x"}, headers=_match('"0"', tokens.editor))
    assert stale.status_code == 412
    blank = await api.patch(url, json={"name": " "}, headers=_match('"1"', tokens.editor))
    assert blank.status_code == 422
    nowhere = await api.patch(url, json={"folder_id": 999}, headers=_match('"1"', tokens.editor))
    assert nowhere.status_code == 404
    viewer = await api.patch(url, json={"name": "x"}, headers=_match('"1"', tokens.read_only))
    assert viewer.status_code == 403
    missing = await api.patch(
        "/api/v1/flows/999", json={"name": "x"}, headers=_match('"0"', tokens.editor)
    )
    assert missing.status_code == 404


async def test_duplicate_and_delete(api: httpx.AsyncClient, tokens: Tokens) -> None:
    flow = await _create(api, tokens)
    url = f"/api/v1/flows/{flow['id']}"
    copied = await api.post(f"{url}/duplicate", headers=tokens.editor)
    assert copied.status_code == 201 and copied.json()["name"] == "Copy of Greeter"
    assert copied.json()["graph"] == flow["graph"] and copied.json()["id"] != flow["id"]
    assert (await api.post(f"{url}/duplicate", headers=tokens.viewer)).status_code == 403
    assert (await api.post("/api/v1/flows/999/duplicate", headers=tokens.editor)).status_code == 404

    with session_scope() as session:
        session.add(WebhookEndpoint(name="orders", token="tok", flow_id=flow["id"]))
    started_by_a_hook = await api.delete(url, headers=tokens.editor)
    assert started_by_a_hook.status_code == 409
    with session_scope() as session:
        for hook in session.exec(select(WebhookEndpoint)).all():
            session.delete(hook)
    assert (await api.delete(url, headers=tokens.viewer)).status_code == 403
    assert (await api.delete(url, headers=tokens.editor)).status_code == 204
    assert (await api.get(url, headers=tokens.viewer)).status_code == 404
    assert (await api.delete(url, headers=tokens.editor)).status_code == 404


async def test_validate_lists_every_issue(api: httpx.AsyncClient, tokens: Tokens) -> None:
    good = await api.post("/api/v1/flows/validate", json=five_node_graph(), headers=tokens.viewer)
    assert good.status_code == 200 and good.json()["ok"] is True
    bad = await api.post("/api/v1/flows/validate", json=BROKEN, headers=tokens.read_only)
    assert bad.status_code == 200 and bad.json()["ok"] is False
    issue = bad.json()["issues"][0]
    assert issue["severity"] == "error" and issue["node_id"] == "a"
    assert (await api.post("/api/v1/flows/validate", json=BROKEN)).status_code == 401
    malformed = await api.post("/api/v1/flows/validate", json=[1], headers=tokens.viewer)
    assert malformed.status_code == 422


async def test_publish_activate_pause(api: httpx.AsyncClient, tokens: Tokens) -> None:
    flow = await _create(api, tokens)
    url = f"/api/v1/flows/{flow['id']}"
    early = await api.post(f"{url}/activate", headers=tokens.editor)
    assert early.status_code == 409 and early.json()["error"]["code"] == "conflict"

    stale = await api.post(f"{url}/publish", headers=_match('"7"', tokens.editor))
    assert stale.status_code == 412
    published = await api.post(
        f"{url}/publish", json={"note": "first"}, headers=_match('"0"', tokens.editor)
    )
    assert published.status_code == 201, published.text
    assert published.json()["version"] == 1 and published.json()["note"] == "first"
    now = (await api.get(url, headers=tokens.viewer)).json()
    assert now["status"] == "active" and now["published_version_id"] == published.json()["id"]

    paused = await api.post(f"{url}/pause", headers=tokens.editor)
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    active = await api.post(f"{url}/activate", headers=tokens.editor)
    assert active.status_code == 200 and active.json()["status"] == "active"
    assert (await api.post(f"{url}/pause", headers=tokens.viewer)).status_code == 403
    assert (await api.post("/api/v1/flows/999/pause", headers=tokens.editor)).status_code == 404

    await api.put(f"{url}/graph", json=BROKEN, headers=_match('"0"', tokens.editor))
    broken = await api.post(f"{url}/publish", headers=tokens.editor)
    assert broken.status_code == 409 and "no_such_type" in broken.json()["error"]["message"]
    assert (await api.post(f"{url}/publish", headers=tokens.viewer)).status_code == 403
    assert (await api.post("/api/v1/flows/999/publish", headers=tokens.editor)).status_code == 404


async def test_publish_only_and_the_status_label(api: httpx.AsyncClient, tokens: Tokens) -> None:
    flow = await _create(api, tokens, "Quiet")
    url = f"/api/v1/flows/{flow['id']}"
    only = await api.post(f"{url}/publish", json={"activate": False}, headers=tokens.editor)
    assert only.status_code == 201, only.text
    assert (await api.get(url, headers=tokens.viewer)).json()["status"] == "paused"
    live = await api.post(f"{url}/publish", json={"activate": True}, headers=tokens.editor)
    assert live.json()["version"] == 2
    listed = await api.get("/api/v1/flows", params={"q": "Quiet"}, headers=tokens.viewer)
    row = next(r for r in listed.json()["items"] if r["id"] == flow["id"])
    assert (row["status_label"], row["live_version"], row["unpublished_changes"]) == (
        "Live v2",
        2,
        False,
    )


async def test_versions_diff_and_restore(api: httpx.AsyncClient, tokens: Tokens) -> None:
    flow = await _create(api, tokens)
    url = f"/api/v1/flows/{flow['id']}"
    await api.post(f"{url}/publish", headers=tokens.editor)
    changed = copy.deepcopy(five_node_graph())
    changed["nodes"][3]["params"]["text"] = "Bye"
    changed["nodes"].append({"id": "x", "type": "template", "params": {"text": "more"}})
    changed["edges"].append({"source": "s", "target": "x"})
    changed["edges"] = [e for e in changed["edges"] if e["source"] != "v"]
    changed["edges"].append({"source": "v", "target": "s"})
    await api.put(f"{url}/graph", json=changed, headers=_match('"0"', tokens.editor))
    await api.post(f"{url}/publish", headers=tokens.editor)

    listed = (await api.get(f"{url}/versions", headers=tokens.viewer)).json()
    assert [v["version"] for v in listed["items"]] == [2, 1]
    first = await api.get(f"{url}/versions/1", headers=tokens.viewer)
    assert first.status_code == 200 and first.json()["graph"] == five_node_graph()

    diff = await api.get(f"{url}/versions/2/diff", headers=tokens.viewer)
    assert diff.status_code == 200, diff.text
    assert diff.json() == {
        "nodes_added": [{"id": "x", "type": "template"}],
        "nodes_removed": [],
        "nodes_changed": [
            {"id": "m", "type": "template", "params": ["text"], "type_changed": False,
             "moved": False},
        ],
        "edges_added": [
            {"source": "s", "handle": "next", "target": "x"},
            {"source": "v", "handle": "next", "target": "s"},
        ],
        "edges_removed": [{"source": "v", "handle": "next", "target": "m"}],
    }  # fmt: skip
    backwards = (await api.get(f"{url}/versions/1/diff?base=2", headers=tokens.viewer)).json()
    assert backwards["nodes_removed"] == [{"id": "x", "type": "template"}]
    from_nothing = (await api.get(f"{url}/versions/1/diff", headers=tokens.viewer)).json()
    assert len(from_nothing["nodes_added"]) == 5 and not from_nothing["nodes_changed"]
    same = (await api.get(f"{url}/versions/2/diff?base=draft", headers=tokens.viewer)).json()
    assert not any(same.values())

    restore = f"{url}/versions/1/restore"
    assert (await api.post(restore, headers=tokens.editor)).status_code == 428
    assert (await api.post(restore, headers=_match('"0"', tokens.editor))).status_code == 412
    assert (await api.post(restore, headers=_match('"1"', tokens.viewer))).status_code == 403
    restored = await api.post(restore, headers=_match('"1"', tokens.editor))
    assert restored.status_code == 200 and restored.headers["etag"] == '"2"'
    assert restored.json()["graph"] == five_node_graph()

    for missing in (
        f"{url}/versions/9",
        f"{url}/versions/9/diff",
        f"{url}/versions/1/diff?base=9",
        "/api/v1/flows/999/versions",
        "/api/v1/flows/999/versions/1",
    ):
        assert (await api.get(missing, headers=tokens.viewer)).status_code == 404, missing
    gone = await api.post(f"{url}/versions/9/restore", headers=_match('"2"', tokens.editor))
    assert gone.status_code == 404
    assert (await api.get(f"{url}/versions/0", headers=tokens.viewer)).status_code == 422
    bad_base = await api.get(f"{url}/versions/1/diff?base=latest", headers=tokens.viewer)
    assert bad_base.status_code == 422


async def test_export_and_import(api: httpx.AsyncClient, tokens: Tokens) -> None:
    flow = await _create(api, tokens, description="says hello")
    exported = await api.get(f"/api/v1/flows/{flow['id']}/export", headers=tokens.viewer)
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    document = exported.json()
    assert document["format"] == "flowbot.flow" and document["graph"] == five_node_graph()

    folder = (await api.post("/api/v1/folders", json={"name": "In"}, headers=tokens.editor)).json()
    imported = await api.post(
        "/api/v1/flows/import",
        json=document,
        params={"folder_id": folder["id"]},
        headers=tokens.editor,
    )
    assert imported.status_code == 201, imported.text
    body = imported.json()
    assert (body["name"], body["description"], body["folder_id"]) == (
        "Greeter",
        "says hello",
        folder["id"],
    )
    assert body["graph"] == five_node_graph() and body["id"] != flow["id"]

    refused = await api.post(
        "/api/v1/flows/import", json={"name": "x", "graph": BROKEN}, headers=tokens.editor
    )
    assert refused.status_code == 422
    assert any("no_such_type" in problem for problem in refused.json()["error"]["details"])
    other = await api.post(
        "/api/v1/flows/import", json={**document, "format": "n8n"}, headers=tokens.editor
    )
    assert other.status_code == 422
    assert (
        await api.post("/api/v1/flows/import", json=document, headers=tokens.viewer)
    ).status_code == 403
    assert (await api.get("/api/v1/flows/999/export", headers=tokens.viewer)).status_code == 404


@pytest.fixture
def no_queued_runs(tokens: Tokens) -> Iterator[None]:
    """Runs started here have no worker: drop their messages so no later test meets them."""
    actors.broker.flush_all()
    yield
    actors.broker.flush_all()


def _executions(flow_id: int) -> list[FlowExecution]:
    with session_scope() as session:
        return list(
            session.exec(select(FlowExecution).where(FlowExecution.flow_id == flow_id)).all()
        )


async def test_test_run_and_run(
    api: httpx.AsyncClient, tokens: Tokens, no_queued_runs: None
) -> None:
    flow = await _create(api, tokens)
    url = f"/api/v1/flows/{flow['id']}"
    unpublished = await api.post(f"{url}/run", json={"payload": {}}, headers=tokens.editor)
    assert unpublished.status_code == 409

    draft = await api.post(f"{url}/test-run", json={"payload": {"x": 1}}, headers=tokens.editor)
    assert draft.status_code == 202, draft.text
    started = {e.id: e for e in _executions(flow["id"])}
    execution = started[draft.json()["execution_id"]]
    assert execution.trigger_type == "manual" and execution.trigger_data["data"] == {"x": 1}
    with session_scope() as session:
        snapshot = session.get(FlowVersion, execution.version_id)
        assert snapshot is not None and snapshot.version <= 0  # a test-run snapshot

    await api.post(f"{url}/publish", headers=tokens.editor)
    headers = {**tokens.editor, "Idempotency-Key": "nightly-42"}
    live = await api.post(f"{url}/run", json={"payload": {"n": 42}}, headers=headers)
    again = await api.post(f"{url}/run", json={"payload": {"n": 42}}, headers=headers)
    assert live.status_code == again.status_code == 202 and live.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert len(_executions(flow["id"])) == 2

    await api.post(f"{url}/pause", headers=tokens.editor)
    assert (await api.post(f"{url}/run", headers=tokens.editor)).status_code == 409
    await api.put(f"{url}/graph", json=BROKEN, headers=_match('"0"', tokens.editor))
    assert (await api.post(f"{url}/test-run", headers=tokens.editor)).status_code == 409
    assert (await api.post(f"{url}/run", headers=tokens.viewer)).status_code == 403
    assert (await api.post(f"{url}/test-run", headers=tokens.read_only)).status_code == 403
    assert (await api.post("/api/v1/flows/999/run", headers=tokens.editor)).status_code == 404
    assert (await api.post("/api/v1/flows/999/test-run", headers=tokens.editor)).status_code == 404
    assert len(_executions(flow["id"])) == 2
