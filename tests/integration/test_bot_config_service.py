"""The bot configuration service on SQLite and PostgreSQL: draft made on first read, roles,
stale saves refused, publish validated and announced only once committed, versions, diff
and rollback, the finer edits the REST resources use, and the audit trail."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlmodel import Session, select

from engine import db, events
from engine.bot_config.document import BotConfigDocument
from engine.models import AuditLog, BotConfigVersion, BotInstance, ConnectorKind, Role
from engine.services import auth, flows
from engine.services import bot_config as service
from engine.services.errors import Conflict, NotFound
from tests.flow_helpers import five_node_graph
from tests.unit.test_community_service import user


def _bot(session: Session, kind: ConnectorKind = ConnectorKind.telegram_bot, **fields: Any) -> int:
    bot = BotInstance(name=f"{kind.value} bot", kind=kind, **fields)
    session.add(bot)
    session.commit()
    return bot.id or 0


HELP: dict[str, Any] = {
    "name": "help",
    "description": {"en": "Help", "de": "Hilfe"},
    "action": {"kind": "response", "target": "help"},
}
HELP_RESPONSE: dict[str, Any] = {
    "key": "help",
    "triggers": [{"kind": "keyword", "value": "help me"}],
    "text": {"en": "Hello {{ member.name }}", "de": "Hallo {{ member.name }}"},
}


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any], int | None]]:
    """Bus events, each with the live version a fresh session saw when it was announced
    (so a test sees the version was committed before connectors were told)."""
    seen: list[tuple[str, dict[str, Any], int | None]] = []

    def record(topic: str, payload: dict[str, Any]) -> None:
        with Session(db.get_engine()) as fresh:
            live = service.live_document(fresh, payload["instance_id"])
        seen.append((topic, payload, live[0] if live else None))

    monkeypatch.setattr(events, "publish", record)
    return seen


def test_draft_is_made_on_first_read_in_the_bots_language(session: Session) -> None:
    bot_id = _bot(session, default_language="de")
    viewer = user(session, Role.viewer)
    draft = service.get_draft(session, viewer, bot_id)
    assert draft.document.default_language == "de"
    assert draft.document.languages == ["de"]
    assert (draft.revision, draft.live_version, draft.has_changes) == (0, None, False)
    assert draft.platform == "telegram"
    assert service.get_draft(session, viewer, bot_id).revision == 0  # read again: same row


def test_only_bots_have_a_configuration(session: Session) -> None:
    viewer = user(session, Role.viewer)
    account = _bot(session, ConnectorKind.telegram_user)
    with pytest.raises(NotFound, match="not a Telegram or Discord bot"):
        service.get_draft(session, viewer, account)
    with pytest.raises(NotFound, match="does not exist"):
        service.get_draft(session, viewer, 999)
    discord = _bot(session, ConnectorKind.discord_bot)
    telegram = _bot(session)
    listed = {bot.instance_id: bot.platform for bot in service.list_bots(session, viewer)}
    assert listed == {discord: "discord", telegram: "telegram"}


def test_viewers_read_editors_change(session: Session) -> None:
    bot_id = _bot(session)
    viewer = user(session, Role.viewer)
    with pytest.raises(auth.PermissionDenied):
        service.save_draft(session, viewer, bot_id, BotConfigDocument(), base_revision=0)
    with pytest.raises(auth.PermissionDenied):
        service.upsert_command(session, viewer, bot_id, HELP)
    with pytest.raises(auth.PermissionDenied):
        service.publish(session, viewer, bot_id)
    with pytest.raises(auth.PermissionDenied):
        service.rollback(session, viewer, bot_id, 1)


def test_a_stale_save_is_refused_and_loses_nothing(session: Session) -> None:
    bot_id = _bot(session)
    editor = user(session, Role.editor)
    first = service.save_draft(
        session, editor, bot_id, {"commands": [HELP], "languages": ["en", "de"]}, base_revision=0
    )
    assert first.revision == 1 and first.updated_by == editor.username and first.has_changes
    with pytest.raises(
        Conflict, match="Someone else saved the bot configuration meanwhile; reload"
    ):
        service.save_draft(session, editor, bot_id, BotConfigDocument(), base_revision=0)
    assert service.get_draft(session, editor, bot_id).document.commands[0].name == "help"
    with pytest.raises(ValueError, match="commands.0.name: Field required"):
        service.save_draft(session, editor, bot_id, {"commands": [{}]}, base_revision=1)
    session.commit()
    saved = select(AuditLog.action).where(AuditLog.target_type == "bot_instance")
    assert session.exec(saved).all() == ["bot_config_draft_saved"]


def test_publish_validates_commits_then_announces(
    session: Session, published: list[tuple[str, dict[str, Any], int | None]]
) -> None:
    bot_id = _bot(session)
    editor = user(session, Role.editor)
    service.upsert_command(session, editor, bot_id, HELP)
    problems = service.problems(session, editor, bot_id)
    assert [p.message for p in problems] == [
        "Command /help sends the response 'help', which does not exist."
    ]
    with pytest.raises(service.InvalidBotConfig) as refused:
        service.publish(session, editor, bot_id)
    assert refused.value.problems == problems and published == []

    service.upsert_response(session, editor, bot_id, HELP_RESPONSE)
    version = service.publish(session, editor, bot_id, note="First")
    assert (version.version, version.note, version.published_by) == (1, "First", "u_editor")
    assert published == [("bot_config.published", {"instance_id": bot_id, "version": 1}, 1)]
    draft = service.get_draft(session, editor, bot_id)
    assert (draft.live_version, draft.has_changes) == (1, False)
    live = service.live_document(session, bot_id)
    assert live is not None and live[1].response("help") is not None


def test_versions_diff_and_rollback(
    session: Session, published: list[tuple[str, dict[str, Any], int | None]]
) -> None:
    bot_id = _bot(session)
    editor = user(session, Role.editor)
    service.set_languages(session, editor, bot_id, "en", ["en", "de"])
    service.upsert_response(session, editor, bot_id, HELP_RESPONSE)
    service.upsert_command(session, editor, bot_id, HELP)
    service.publish(session, editor, bot_id)
    changed = {**HELP, "description": {"en": "Help", "de": "Hilfe!"}}
    service.upsert_command(session, editor, bot_id, changed)
    assert [
        (c.where, c.what, c.before, c.after) for c in service.diff(session, editor, bot_id, 1, None)
    ] == [("Command /help", "description (de)", "Hilfe", "Hilfe!")]
    service.publish(session, editor, bot_id)

    rolled = service.rollback(session, editor, bot_id, 1)
    assert (rolled.version, rolled.note) == (3, "Rollback to v1")
    versions = service.list_versions(session, editor, bot_id)
    assert [v.version for v in versions] == [3, 2, 1]
    assert service.diff(session, editor, bot_id, 1, 3) == []
    draft = service.get_draft(session, editor, bot_id)
    assert draft.document.command("help").description["de"] == "Hilfe"  # type: ignore[union-attr]
    assert not draft.has_changes
    assert [(e[1]["version"], e[2]) for e in published] == [(1, 1), (2, 2), (3, 3)]
    with pytest.raises(NotFound, match="Version 7"):
        service.get_version(session, editor, bot_id, 7)
    session.commit()
    actions = session.exec(
        select(AuditLog.action).where(AuditLog.action != "bot_config_draft_saved")
    ).all()
    assert [a for a in actions if a.startswith("bot_config")] == [
        "bot_config_published",
        "bot_config_published",
        "bot_config_rolled_back",
    ]
    assert session.exec(select(BotConfigVersion)).all()[2].published_by == "u_editor"


def test_finer_edits_replace_rename_and_delete_in_place(session: Session) -> None:
    bot_id = _bot(session)
    editor = user(session, Role.editor)
    service.upsert_command(session, editor, bot_id, HELP)
    service.upsert_command(session, editor, bot_id, {**HELP, "name": "rules"})
    renamed = service.upsert_command(
        session, editor, bot_id, {**HELP, "name": "aide"}, replaces="help"
    )
    assert [c.name for c in renamed.document.commands] == ["aide", "rules"]
    with pytest.raises(ValueError, match="already a command /rules"):
        service.upsert_command(session, editor, bot_id, {**HELP, "name": "rules"}, replaces="aide")
    with pytest.raises(Conflict, match="reload"):
        service.delete_command(session, editor, bot_id, "rules", base_revision=1)
    after = service.delete_command(session, editor, bot_id, "/Rules", base_revision=3)
    assert [c.name for c in after.document.commands] == ["aide"]
    with pytest.raises(NotFound, match="no menu main"):
        service.delete_menu(session, editor, bot_id, "main")
    menu = {"key": "main", "title": {"en": "Menu"}, "rows": []}
    assert service.upsert_menu(session, editor, bot_id, menu).document.menus[0].key == "main"
    strings = service.set_strings(session, editor, bot_id, {"site": {"en": "example.org"}})
    assert strings.document.strings == {"site": {"en": "example.org"}}
    with pytest.raises(ValueError, match="languages.1: 'English' is not a language code like"):
        service.set_languages(session, editor, bot_id, "en", ["English"])
    with pytest.raises(ValueError, match="key: 'Main Menu' is not a key: use 1–32 characters"):
        service.upsert_menu(session, editor, bot_id, {**menu, "key": "Main Menu"})
    viewer = user(session, Role.viewer)
    with pytest.raises(auth.PermissionDenied):  # before the input is even read
        service.upsert_menu(session, viewer, bot_id, {"key": "Main Menu"})
    langs = service.set_languages(session, editor, bot_id, "de", ["en"])
    assert (langs.document.default_language, langs.document.languages) == ("de", ["de", "en"])
    scope = service.set_scope(session, editor, bot_id, {"everywhere": False, "chat_ids": ["-1"]})
    assert scope.document.scope.chat_ids == ["-1"] and scope.revision == 8


def test_a_command_may_start_only_a_published_flow(session: Session) -> None:
    bot_id = _bot(session)
    editor = user(session, Role.editor)
    flow = flows.create_flow(session, editor, "Welcome", graph=five_node_graph())
    start = {**HELP, "action": {"kind": "flow", "target": str(flow.id)}}
    service.upsert_command(session, editor, bot_id, start)
    assert [p.message for p in service.problems(session, editor, bot_id)] == [
        f"Command /help starts flow '{flow.id}', which does not exist or is not published."
    ]
    flows.publish(session, editor, flow.id or 0)
    assert service.problems(session, editor, bot_id) == []


def test_two_editors_saving_at_once_cannot_both_win(session: Session) -> None:
    """The save is one conditional UPDATE: the second waits for the first and then finds
    the revision it started from gone."""
    bot_id = _bot(session)
    editor = user(session, Role.editor)
    service.get_draft(session, editor, bot_id)
    session.commit()
    outcome: list[str] = []

    def second_editor() -> None:
        with Session(db.get_engine()) as other:
            try:
                service.save_draft(other, editor, bot_id, {"languages": ["en", "fr"]},
                                   base_revision=0)  # fmt: skip
                other.commit()
                outcome.append("saved")
            except service.StaleDraft:
                outcome.append("stale")

    with Session(db.get_engine()) as first:
        service.save_draft(first, editor, bot_id, {"languages": ["en", "de"]}, base_revision=0)
        racer = threading.Thread(target=second_editor)
        racer.start()
        racer.join(0.5)  # it is waiting for the first save's lock
        first.commit()
    racer.join(30)
    assert outcome == ["stale"]
    assert service.get_draft(session, editor, bot_id).document.languages == ["en", "de"]
