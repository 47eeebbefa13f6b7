"""/api/v1/bots: a bot's configuration over HTTP — the draft with its ETag, per-item edits,
problems and missing translations, publish (409 listing problems), versions, diff and
rollback; and the refusals (roles, 404 for non-bots, 428/412, 422)."""

from __future__ import annotations

import httpx

from engine.db import session_scope
from engine.models import BotInstance, ConnectorKind
from tests.api.conftest import Tokens
from tests.api.test_communities import telegram_bot

CONFIG = "/api/v1/bots/{instance_id}/config"
EXPECTED_ROLES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/bots"): "viewer",
    ("GET", CONFIG): "viewer",
    ("PUT", CONFIG): "editor",
    ("GET", f"{CONFIG}/problems"): "viewer",
    ("GET", f"{CONFIG}/missing-translations"): "viewer",
    ("PUT", f"{CONFIG}/commands/{{name}}"): "editor",
    ("DELETE", f"{CONFIG}/commands/{{name}}"): "editor",
    ("PUT", f"{CONFIG}/responses/{{key}}"): "editor",
    ("DELETE", f"{CONFIG}/responses/{{key}}"): "editor",
    ("PUT", f"{CONFIG}/menus/{{key}}"): "editor",
    ("DELETE", f"{CONFIG}/menus/{{key}}"): "editor",
    ("PUT", f"{CONFIG}/strings"): "editor",
    ("PUT", f"{CONFIG}/languages"): "editor",
    ("PUT", f"{CONFIG}/scope"): "editor",
    ("POST", f"{CONFIG}/publish"): "editor",
    ("GET", f"{CONFIG}/versions"): "viewer",
    ("GET", f"{CONFIG}/versions/{{version}}"): "viewer",
    ("GET", f"{CONFIG}/versions/{{version}}/diff"): "viewer",
    ("POST", f"{CONFIG}/versions/{{version}}/rollback"): "editor",
}

HELP = {
    "name": "help",
    "description": {"en": "Help", "de": "Hilfe"},
    "action": {"kind": "menu", "target": "main"},
}
MAIN = {
    "key": "main",
    "title": {"en": "How can I help?", "de": "Wie kann ich helfen?"},
    "rows": [[{"label": {"en": "Rules"}, "action": {"kind": "response", "target": "rules"}}]],
}
RULES = {"key": "rules", "text": {"en": "Be kind, {{ member.name }}."}}


def _match(revision: str, headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "If-Match": revision}


async def test_edit_publish_diff_and_roll_back(api: httpx.AsyncClient, tokens: Tokens) -> None:
    bot = telegram_bot()
    base = CONFIG.format(instance_id=bot)
    first = await api.get(base, headers=tokens.viewer)
    assert first.status_code == 200 and first.headers["ETag"] == '"0"'
    assert first.json()["document"]["commands"] == [] and first.json()["live_version"] is None

    put = await api.put(f"{base}/languages", json={"default_language": "en",
                        "languages": ["de"]}, headers=tokens.editor)  # fmt: skip
    assert put.json()["document"]["languages"] == ["en", "de"] and put.headers["ETag"] == '"1"'
    command = await api.put(f"{base}/commands/help", json=HELP, headers=tokens.editor)
    assert command.status_code == 200 and command.json()["revision"] == 2

    problems = (await api.get(f"{base}/problems", headers=tokens.viewer)).json()
    assert problems["ok"] is False
    assert problems["problems"] == [{"path": "commands[0].action.target",
        "message": "Command /help opens the menu 'main', which does not exist."}]  # fmt: skip
    refused = await api.post(f"{base}/publish", headers=tokens.editor)
    assert refused.status_code == 409
    assert refused.json()["error"]["details"] == [
        {"path": "commands[0].action.target", "problem": problems["problems"][0]["message"]}
    ]

    await api.put(f"{base}/menus/main", json=MAIN, headers=tokens.editor)
    rules = await api.put(f"{base}/responses/rules", json=RULES, headers=tokens.editor)
    assert rules.json()["revision"] == 4
    missing = (await api.get(f"{base}/missing-translations", headers=tokens.viewer)).json()
    assert {(m["where"], m["language"]) for m in missing["missing"]} == {
        ("Menu main, row 1 button 1 label", "de"),
        ("Response rules text", "de"),
    }
    stale = await api.post(f"{base}/publish", headers=_match('"3"', tokens.editor))
    assert stale.status_code == 412
    published = await api.post(f"{base}/publish", json={"note": "First"},
                               headers=_match('"4"', tokens.editor))  # fmt: skip
    assert published.status_code == 201
    assert published.json()["version"] == 1 and published.json()["note"] == "First"

    changed = {**HELP, "description": {"en": "Help", "de": "Hilfe!"}}
    await api.put(f"{base}/commands/help", json=changed, headers=tokens.editor)
    to_draft = await api.get(f"{base}/versions/1/diff?against=draft", headers=tokens.viewer)
    assert to_draft.json()["changes"] == [
        {"where": "Command /help", "what": "description (de)", "before": "Hilfe",
         "after": "Hilfe!"}
    ]  # fmt: skip
    await api.post(f"{base}/publish", headers=tokens.editor)
    first_version = await api.get(f"{base}/versions/1/diff", headers=tokens.viewer)
    assert {c["what"] for c in first_version.json()["changes"]} >= {"added", "languages"}

    rolled = await api.post(f"{base}/versions/1/rollback", headers=tokens.editor)
    assert rolled.status_code == 201 and rolled.json()["note"] == "Rollback to v1"
    versions = (await api.get(f"{base}/versions?limit=2", headers=tokens.viewer)).json()
    assert [v["version"] for v in versions["items"]] == [3, 2]
    rest = await api.get(f"{base}/versions?limit=2&cursor={versions['next_cursor']}",
                         headers=tokens.viewer)  # fmt: skip
    assert [v["version"] for v in rest.json()["items"]] == [1]
    detail = (await api.get(f"{base}/versions/3", headers=tokens.viewer)).json()
    assert detail["document"]["commands"][0]["description"]["de"] == "Hilfe"
    assert (await api.get(f"{base}/versions/3/diff?against=1", headers=tokens.viewer)).json() == {
        "changes": []
    }
    draft = (await api.get(base, headers=tokens.viewer)).json()
    assert (draft["live_version"], draft["has_changes"]) == (3, False)

    listed = (await api.get("/api/v1/bots", headers=tokens.viewer)).json()["items"]
    assert [(b["instance_id"], b["live_version"], b["commands"]) for b in listed] == [(bot, 3, 1)]


async def test_the_whole_draft_needs_if_match(api: httpx.AsyncClient, tokens: Tokens) -> None:
    base = CONFIG.format(instance_id=telegram_bot())
    document = {"commands": [HELP], "languages": ["en", "de"]}
    assert (await api.put(base, json=document, headers=tokens.editor)).status_code == 428
    saved = await api.put(base, json=document, headers=_match('"0"', tokens.editor))
    assert saved.status_code == 200 and saved.headers["ETag"] == '"1"'
    stale = await api.put(base, json=document, headers=_match('"0"', tokens.editor))
    assert stale.status_code == 412
    assert "Someone else saved the bot configuration meanwhile" in stale.json()["error"]["message"]
    anyway = await api.put(base, json={}, headers=_match("*", tokens.editor))
    assert anyway.json()["document"]["commands"] == []
    stale_item = await api.delete(f"{base}/commands/help", headers=_match('"1"', tokens.editor))
    assert stale_item.status_code == 412


async def test_refusals(api: httpx.AsyncClient, tokens: Tokens) -> None:
    bot = telegram_bot()
    base = CONFIG.format(instance_id=bot)
    assert (await api.put(f"{base}/commands/help", json=HELP)).status_code == 401
    viewer = await api.put(f"{base}/commands/help", json=HELP, headers=tokens.viewer)
    assert viewer.status_code == 403
    with session_scope() as session:
        account = BotInstance(name="Me", kind=ConnectorKind.whatsapp_user)
        session.add(account)
        session.flush()
        account_id = account.id
    not_a_bot = await api.get(CONFIG.format(instance_id=account_id), headers=tokens.viewer)
    assert not_a_bot.status_code == 404 and "not a Telegram or Discord bot" in not_a_bot.text
    bad_key = {**RULES, "key": "Not A Key"}
    invalid = await api.put(f"{base}/responses/rules", json=bad_key, headers=tokens.editor)
    assert invalid.status_code == 422
    missing = await api.delete(f"{base}/menus/nothing", headers=tokens.editor)
    assert missing.status_code == 404 and "There is no menu nothing" in missing.text
    await api.put(f"{base}/commands/help", json=HELP, headers=tokens.editor)
    await api.put(f"{base}/commands/rules", json={**HELP, "name": "rules"}, headers=tokens.editor)
    clash = await api.put(f"{base}/commands/rules", json=HELP, headers=tokens.editor)
    assert clash.status_code == 422 and "already a command /help" in clash.text
    deleted = await api.delete(f"{base}/commands/rules", headers=tokens.editor)
    assert deleted.status_code == 204 and deleted.headers["ETag"] == '"3"'
    assert (await api.get(f"{base}/versions/1", headers=tokens.viewer)).status_code == 404
    unknown = await api.get(f"{base}/versions/1/diff?against=x", headers=tokens.viewer)
    assert unknown.status_code == 422
