"""/api/v1/cross-post: templates checked by a sample (per-format errors), rules with loops
refused, activate/pause, history paged; viewers read, editors write."""

from __future__ import annotations

import httpx

from engine.db import session_scope
from engine.models import CrossPostDelivery
from tests.api.conftest import Tokens
from tests.api.test_communities import discovered

EXPECTED_ROLES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/cross-post/templates"): "viewer",
    ("POST", "/api/v1/cross-post/templates"): "editor",
    ("POST", "/api/v1/cross-post/templates/preview"): "viewer",
    ("GET", "/api/v1/cross-post/templates/{template_id}"): "viewer",
    ("PATCH", "/api/v1/cross-post/templates/{template_id}"): "editor",
    ("DELETE", "/api/v1/cross-post/templates/{template_id}"): "editor",
    ("GET", "/api/v1/cross-post/rules"): "viewer",
    ("POST", "/api/v1/cross-post/rules"): "editor",
    ("GET", "/api/v1/cross-post/rules/{rule_id}"): "viewer",
    ("PATCH", "/api/v1/cross-post/rules/{rule_id}"): "editor",
    ("DELETE", "/api/v1/cross-post/rules/{rule_id}"): "editor",
    ("POST", "/api/v1/cross-post/rules/{rule_id}/activate"): "editor",
    ("POST", "/api/v1/cross-post/rules/{rule_id}/pause"): "editor",
    ("GET", "/api/v1/cross-post/rules/{rule_id}/history"): "viewer",
}
TEMPLATES = "/api/v1/cross-post/templates"
RULES = "/api/v1/cross-post/rules"


async def test_templates(api: httpx.AsyncClient, tokens: Tokens) -> None:
    body = {"name": "Quote", "formats": {"default": "> {{ text }}", "discord": "**{{ author }}**"}}
    made = await api.post(TEMPLATES, json=body, headers=tokens.editor)
    assert made.status_code == 201, made.text
    template = made.json()
    assert template["formats"] == body["formats"] and template["rules"] == []
    assert (await api.post(TEMPLATES, json=body, headers=tokens.viewer)).status_code == 403
    taken = await api.post(TEMPLATES, json=body, headers=tokens.editor)
    assert taken.status_code == 409

    broken = await api.post(
        TEMPLATES,
        json={"name": "Broken", "formats": {"telegram": "{{ txet }}", "x": "y"}},
        headers=tokens.editor,
    )
    assert broken.status_code == 422
    problems = {d["field"]: d["problem"] for d in broken.json()["error"]["details"]}
    assert set(problems) == {"telegram", "x"} and "unknown variable 'txet'" in problems["telegram"]

    path = f"{TEMPLATES}/{template['id']}"
    changed = await api.patch(path, json={"name": "Quoted"}, headers=tokens.editor)
    assert changed.status_code == 200 and changed.json()["name"] == "Quoted"
    assert changed.json()["formats"] == body["formats"]
    assert (await api.get(path, headers=tokens.viewer)).json() == changed.json()
    listed = await api.get(TEMPLATES, headers=tokens.viewer)
    assert [t["id"] for t in listed.json()["items"]] == [template["id"]]

    preview = await api.post(
        f"{TEMPLATES}/preview",
        json={"formats": {"default": "{{ author }}: _{{ text }}_"}, "sample": {"text": "{{ 1 }}"}},
        headers=tokens.viewer,
    )
    assert preview.status_code == 200, preview.text
    assert preview.json() == {
        "telegram": "Ada: <i>{{ 1 }}</i>",
        "discord": "Ada: _{{ 1 }}_",
        "whatsapp": "Ada: _{{ 1 }}_",
    }

    assert (await api.delete(path, headers=tokens.editor)).status_code == 204
    assert (await api.get(path, headers=tokens.viewer)).status_code == 404


async def test_rules_loops_switches_and_history(api: httpx.AsyncClient, tokens: Tokens) -> None:
    news = discovered("telegram", "-1001", "News", type="channel")
    general = discovered("discord", "C1", "general", type="text", parent_chat_id="G1")
    template = await api.post(
        TEMPLATES, json={"name": "Plain", "formats": {"default": "{{ text }}"}},
        headers=tokens.editor,
    )  # fmt: skip
    rule = {
        "name": "News to Discord",
        "source_chat_id": news,
        "target_chat_ids": [general],
        "template_id": template.json()["id"],
        "filter": {"contains": ["#news"]},
        "mirror_edits": True,
    }
    made = await api.post(RULES, json=rule, headers=tokens.editor)
    assert made.status_code == 201, made.text
    out = made.json()
    assert out["source"] == {"id": news, "platform": "telegram", "title": "News"}
    assert [t["title"] for t in out["targets"]] == ["general"] and out["active"]
    assert out["filter"]["contains"] == ["#news"] and out["filter"]["skip_bots"]
    assert (await api.post(RULES, json=rule, headers=tokens.viewer)).status_code == 403

    back = {"name": "Back", "source_chat_id": general, "target_chat_ids": [news]}
    loop = await api.post(RULES, json=back, headers=tokens.editor)
    assert loop.status_code == 409
    assert "would loop: general → News → general" in loop.json()["error"]["message"]
    paused = await api.post(RULES, json={**back, "active": False}, headers=tokens.editor)
    assert paused.status_code == 201 and not paused.json()["active"]
    refused = await api.post(f"{RULES}/{paused.json()['id']}/activate", headers=tokens.editor)
    assert refused.status_code == 409

    path = f"{RULES}/{out['id']}"
    off = await api.post(f"{path}/pause", headers=tokens.editor)
    assert off.status_code == 200 and not off.json()["active"]
    on = await api.post(f"{RULES}/{paused.json()['id']}/activate", headers=tokens.editor)
    assert on.status_code == 200 and on.json()["active"]
    again = await api.post(f"{path}/activate", headers=tokens.editor)
    assert again.status_code == 409
    changed = await api.patch(path, json={"mirror_deletes": True}, headers=tokens.editor)
    assert changed.status_code == 200 and changed.json()["mirror_deletes"]
    bad = await api.patch(path, json={"target_chat_ids": [news]}, headers=tokens.editor)
    assert bad.status_code == 422 and "is the source" in bad.json()["error"]["message"]
    in_use = await api.delete(f"{TEMPLATES}/{template.json()['id']}", headers=tokens.editor)
    assert in_use.status_code == 409 and "News to Discord" in in_use.json()["error"]["message"]

    with session_scope() as session:
        for n in (1, 2, 3):
            session.add(
                CrossPostDelivery(
                    rule_id=out["id"], source_platform="telegram", source_chat_id="-1001",
                    source_message_id=str(n), target_chat_id=general, target_platform="discord",
                    target_platform_chat_id="C1", target_message_id=f"m{n}", ok=n != 3,
                    error="Missing Access" if n == 3 else None,
                )
            )  # fmt: skip
    first = await api.get(f"{path}/history?limit=2", headers=tokens.viewer)
    assert first.status_code == 200
    items = first.json()["items"]
    assert [(d["source_message_id"], d["ok"], d["error"]) for d in items] == [
        ("3", False, "Missing Access"),
        ("2", True, None),
    ]
    assert items[0]["target"] == {"id": general, "platform": "discord", "title": "general"}
    rest = await api.get(
        f"{path}/history?limit=2&cursor={first.json()['next_cursor']}", headers=tokens.viewer
    )
    assert [d["source_message_id"] for d in rest.json()["items"]] == ["1"]
    assert (await api.get(path, headers=tokens.viewer)).json()["failures"] == 1

    assert (await api.delete(path, headers=tokens.editor)).status_code == 204
    assert (await api.get(f"{path}/history", headers=tokens.viewer)).status_code == 404
