"""/api/v1/folders: list, create, rename, delete (a non-empty one only with ``move_to``)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import Tokens

# The least role each route needs (checked for every caller by test_route_authorization).
EXPECTED_ROLES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/folders"): "viewer",
    ("POST", "/api/v1/folders"): "editor",
    ("PATCH", "/api/v1/folders/{folder_id}"): "editor",
    ("DELETE", "/api/v1/folders/{folder_id}"): "editor",
}


async def _folder(api: httpx.AsyncClient, tokens: Tokens, name: str) -> dict[str, Any]:
    made = await api.post("/api/v1/folders", json={"name": name}, headers=tokens.editor)
    assert made.status_code == 201, made.text
    return made.json()


async def _flow_in(api: httpx.AsyncClient, tokens: Tokens, folder_id: int) -> int:
    made = await api.post(
        "/api/v1/flows", json={"name": "Greeter", "folder_id": folder_id}, headers=tokens.editor
    )
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


async def _folder_of(api: httpx.AsyncClient, tokens: Tokens, flow_id: int) -> int | None:
    return (await api.get(f"/api/v1/flows/{flow_id}", headers=tokens.viewer)).json()["folder_id"]


async def test_create_list_rename_delete(api: httpx.AsyncClient, tokens: Tokens) -> None:
    moderation = await _folder(api, tokens, "Moderation")
    greetings = await _folder(api, tokens, "Greetings")
    await _flow_in(api, tokens, moderation["id"])
    listed = (await api.get("/api/v1/folders", headers=tokens.viewer)).json()
    assert [(f["name"], f["flows"]) for f in listed["items"]] == [
        ("Greetings", 0),
        ("Moderation", 1),
    ]  # newest first
    page = (await api.get("/api/v1/folders", params={"limit": 1}, headers=tokens.viewer)).json()
    assert len(page["items"]) == 1 and page["next_cursor"]

    renamed = await api.patch(
        f"/api/v1/folders/{greetings['id']}", json={"name": "Welcome"}, headers=tokens.editor
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "Welcome"
    gone = await api.delete(f"/api/v1/folders/{greetings['id']}", headers=tokens.editor)
    assert gone.status_code == 204
    names = [
        f["name"] for f in (await api.get("/api/v1/folders", headers=tokens.viewer)).json()["items"]
    ]
    assert names == ["Moderation"]


async def test_a_non_empty_folder_is_deleted_only_with_move_to(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    old = await _folder(api, tokens, "Old")
    new = await _folder(api, tokens, "New")
    flow_id = await _flow_in(api, tokens, old["id"])
    url = f"/api/v1/folders/{old['id']}"

    refused = await api.delete(url, headers=tokens.editor)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "conflict"
    into_itself = await api.delete(url, params={"move_to": old["id"]}, headers=tokens.editor)
    assert into_itself.status_code == 422
    nowhere = await api.delete(url, params={"move_to": 999}, headers=tokens.editor)
    assert nowhere.status_code == 404
    nonsense = await api.delete(url, params={"move_to": "attic"}, headers=tokens.editor)
    assert nonsense.status_code == 422
    assert await _folder_of(api, tokens, flow_id) == old["id"]  # nothing moved yet

    moved = await api.delete(url, params={"move_to": new["id"]}, headers=tokens.editor)
    assert moved.status_code == 204
    assert await _folder_of(api, tokens, flow_id) == new["id"]
    to_root = await api.delete(
        f"/api/v1/folders/{new['id']}", params={"move_to": "root"}, headers=tokens.editor
    )
    assert to_root.status_code == 204
    assert await _folder_of(api, tokens, flow_id) is None


async def test_refusals(api: httpx.AsyncClient, tokens: Tokens) -> None:
    assert (await api.get("/api/v1/folders")).status_code == 401
    for caller in (tokens.viewer, tokens.read_only):
        made = await api.post("/api/v1/folders", json={"name": "x"}, headers=caller)
        assert made.status_code == 403
    folder = await _folder(api, tokens, "Kept")
    url = f"/api/v1/folders/{folder['id']}"
    assert (await api.patch(url, json={"name": "y"}, headers=tokens.viewer)).status_code == 403
    assert (await api.delete(url, headers=tokens.read_only)).status_code == 403
    blank = await api.patch(url, json={"name": ""}, headers=tokens.editor)
    assert blank.status_code == 422 and blank.json()["error"]["details"][0]["field"] == "name"
    spaces = await api.patch(url, json={"name": "   "}, headers=tokens.editor)
    assert spaces.status_code == 422  # the service's rule: a folder needs a name
    missing = await api.patch("/api/v1/folders/999", json={"name": "y"}, headers=tokens.editor)
    assert missing.status_code == 404
    assert (await api.delete("/api/v1/folders/999", headers=tokens.editor)).status_code == 404


async def test_an_idempotency_key_creates_one_folder(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    headers = {**tokens.editor, "Idempotency-Key": "folder-1"}
    first = await api.post("/api/v1/folders", json={"name": "Once"}, headers=headers)
    again = await api.post("/api/v1/folders", json={"name": "Once"}, headers=headers)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    listed = (await api.get("/api/v1/folders", headers=tokens.viewer)).json()["items"]
    assert [f["name"] for f in listed] == ["Once"]
