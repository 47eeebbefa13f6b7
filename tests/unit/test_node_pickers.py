"""Picker choices for node params that name real things: real rows, filtered to the node."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from engine.models import AdminUser, BotInstance, Chat, FlowDefinition, Platform, Role
from engine.services import communities, connections, flows, node_pickers
from engine.services.auth import PermissionDenied
from engine.services.node_pickers import Choice, Scope
from flowbot_ui.state.node_form import FieldSpec, form_fields, toggled

BOT_TOKEN = "123456789:AAE" + "x" * 32
DISCORD_TOKEN = "MTA" + "a" * 21 + ".GbCdEf." + "z" * 27


@pytest.fixture
def world(sqlite_session: Session) -> dict[str, int]:
    """Two Telegram bots, a Telegram account, a Discord bot; chats each of them is in."""
    session = sqlite_session
    editor = AdminUser(username="eddie", role=Role.editor, password_hash="x")
    session.add(editor)
    session.flush()

    def instance(kind: str, name: str, credential: str = "", **settings: str) -> int:
        connection = connections.add_connection(
            session, editor, kind, name, credential=credential, settings=settings
        )
        return connection.bot_instance_id

    ids = {
        "support": instance("telegram_bot", "Support bot", BOT_TOKEN),
        "news": instance("telegram_bot", "News bot", "987654321:AAE" + "y" * 32),
        "account": instance("telegram_user", "Ann's account", api_id="12345", api_hash="0" * 32),
        "discord": instance("discord_bot", "Guild bot", DISCORD_TOKEN),
    }
    session.get(BotInstance, ids["support"]).platform_username = "support_bot"  # type: ignore[union-attr]

    def chat(platform: Platform, chat_id: str, owner: str, title: str, **extra: Any) -> None:
        session.add(
            Chat(
                platform=platform,
                platform_chat_id=chat_id,
                bot_instance_id=ids[owner],
                title=title,
                **extra,
            )
        )

    chat(Platform.telegram, "-1001", "support", "Flowbot Community", type="supergroup")
    chat(Platform.telegram, "-1002", "news", "Flowbot News", type="channel")
    chat(Platform.telegram, "-1003", "account", "Ann's friends", type="group")
    chat(Platform.discord, "900", "discord", "Flowbot server", type="guild")
    chat(Platform.discord, "901", "discord", "general", type="guild_text", parent_chat_id="900")
    chat(Platform.discord, "902", "discord", "Hangout", type="guild_voice", parent_chat_id="900")
    chat(Platform.discord, "903", "discord", "Town hall", type="guild_stage", parent_chat_id="900")
    communities.create_community(session, editor, "Makers")
    communities.create_community(session, editor, "Gamers")
    flows.create_flow(session, editor, "Warn spammers")
    session.add(FlowDefinition(name="Community rules", system_kind="community_rules"))
    session.commit()
    return ids


@pytest.fixture
def viewer(sqlite_session: Session) -> AdminUser:
    user = AdminUser(username="vic", role=Role.viewer, password_hash="x")
    sqlite_session.add(user)
    sqlite_session.flush()
    return user


def _pick(session: Session, user: AdminUser, what: str, **scope: object) -> list[Choice]:
    return node_pickers.choices(session, user, what, Scope(**scope))  # type: ignore[arg-type]


def test_connections_of_the_nodes_platform_by_name_with_the_id_as_detail(
    sqlite_session: Session, world: dict[str, int], viewer: AdminUser
) -> None:
    found = _pick(sqlite_session, viewer, "connection", kind="telegram_bot")

    assert [(c.label, c.value) for c in found] == [
        ("News bot", str(world["news"])),
        ("Support bot", str(world["support"])),
    ]
    assert found[1].detail == f"ID {world['support']} · Telegram bot · @support_bot"


def test_a_node_of_no_platform_is_offered_every_connection(
    sqlite_session: Session, world: dict[str, int], viewer: AdminUser
) -> None:
    labels = [c.label for c in _pick(sqlite_session, viewer, "connection")]

    assert labels == ["Ann's account", "Guild bot", "News bot", "Support bot"]


def test_chats_are_those_of_the_kind_and_of_the_connection_the_node_names(
    sqlite_session: Session, world: dict[str, int], viewer: AdminUser
) -> None:
    bots = _pick(sqlite_session, viewer, "chat", kind="telegram_bot")
    one_bot = _pick(sqlite_session, viewer, "chat", kind="telegram_bot", instance_id=world["news"])
    account = _pick(sqlite_session, viewer, "chat", kind="telegram_user")

    assert [(c.label, c.value) for c in bots] == [
        ("Flowbot Community", "-1001"),
        ("Flowbot News", "-1002"),
    ]
    assert bots[0].detail == "-1001 · supergroup · via Support bot"
    assert [c.value for c in one_bot] == ["-1002"]
    assert [c.value for c in account] == ["-1003"]


def test_discord_channels_servers_and_voice_channels_are_separate_pickers(
    sqlite_session: Session, world: dict[str, int], viewer: AdminUser
) -> None:
    channels = _pick(sqlite_session, viewer, "chat", kind="discord_bot")
    servers = _pick(sqlite_session, viewer, "server", kind="discord_bot")
    voice = _pick(sqlite_session, viewer, "voice_channel", kind="discord_bot")

    assert [c.value for c in channels] == ["901"]  # a message cannot go to a voice channel
    assert [c.value for c in servers] == ["900"]
    assert [(c.label, c.value) for c in voice] == [("Hangout", "902"), ("Town hall", "903")]
    assert voice[1].detail == "903 · guild_stage · via Guild bot"
    assert _pick(sqlite_session, viewer, "voice_channel", kind="telegram_bot") == []


def test_a_cross_post_names_discovered_chats_by_flowbots_own_id(
    sqlite_session: Session, world: dict[str, int], viewer: AdminUser
) -> None:
    rows = {c.platform_chat_id: c.id for c in sqlite_session.exec(select(Chat)).all()}

    found = _pick(sqlite_session, viewer, "discovered_chat")

    assert {c.label: c.value for c in found} == {
        "Ann's friends": str(rows["-1003"]),
        "Flowbot Community": str(rows["-1001"]),
        "Flowbot News": str(rows["-1002"]),
        "general": str(rows["901"]),
    }


def test_communities_and_flows_by_name_without_built_in_flows(
    sqlite_session: Session, world: dict[str, int], viewer: AdminUser
) -> None:
    assert [c.label for c in _pick(sqlite_session, viewer, "community")] == ["Gamers", "Makers"]
    (flow,) = _pick(sqlite_session, viewer, "flow")
    assert flow.label == "Warn spammers"
    assert flow.detail.startswith(f"ID {flow.value} · ")


def test_an_unknown_kind_of_thing_is_refused(sqlite_session: Session, viewer: AdminUser) -> None:
    with pytest.raises(ValueError, match="nothing to pick"):
        _pick(sqlite_session, viewer, "planet")


def test_an_account_without_a_role_sees_no_choices(
    sqlite_session: Session, world: dict[str, int]
) -> None:
    nobody = AdminUser(username="nobody", role=Role.viewer, password_hash="x", is_active=False)
    with pytest.raises(PermissionDenied):
        _pick(sqlite_session, nobody, "connection")


def test_node_platforms_map_to_connector_kinds() -> None:
    assert node_pickers.connector_kind("discord_bot") == "discord_bot"
    assert node_pickers.connector_kind("cross_platform") is None


def _form(
    session: Session, user: AdminUser, node_type: str, **params: object
) -> dict[str, FieldSpec]:
    node = {"id": "n1", "type": node_type, "params": params}
    return {f.name: f for f in form_fields(session, user, node, [])}


def test_a_nodes_form_offers_its_connections_and_the_chats_of_the_one_it_names(
    sqlite_session: Session, world: dict[str, int], viewer: AdminUser
) -> None:
    form = _form(sqlite_session, viewer, "tg_send_message", instance_id=world["news"])
    connection, chat = form["instance_id"], form["chat_id"]

    assert [c.label for c in connection.choices] == ["News bot", "Support bot"]
    assert connection.picked == str(world["news"]) and not connection.typed
    assert connection.unset == "The bot that triggered the flow"
    assert [c.value for c in chat.choices] == ["-1002"]
    assert chat.typed and chat.value == "{{trigger.chat.id}}" and chat.picked == ""


def test_moving_a_member_and_a_voice_event_pick_voice_channels_or_take_an_expression(
    sqlite_session: Session, world: dict[str, int], viewer: AdminUser
) -> None:
    move = _form(sqlite_session, viewer, "dc_move_member", voice_channel_id="902")
    event = _form(sqlite_session, viewer, "dc_create_event", channel_id="{{ context.stage }}")
    to, where = move["voice_channel_id"], event["channel_id"]

    assert to.label == "Voice channel" and to.typed
    assert [c.value for c in to.choices] == ["902", "903"] and to.picked == "902"
    assert [c.value for c in where.choices] == ["902", "903"]
    assert where.typed and where.value == "{{ context.stage }}" and where.picked == ""


def test_a_connection_that_is_gone_is_shown_not_dropped(
    sqlite_session: Session, world: dict[str, int], viewer: AdminUser
) -> None:
    connection = _form(sqlite_session, viewer, "tg_send_message", instance_id=999)["instance_id"]

    assert [(c.label, c.selected) for c in connection.choices][-1] == ("Not found (ID 999)", True)
    assert connection.picked == "999"


def test_ticking_communities_keeps_the_others(
    sqlite_session: Session, world: dict[str, int], viewer: AdminUser
) -> None:
    field = _form(sqlite_session, viewer, "broadcast", text="Hi", community_ids=[2])[
        "community_ids"
    ]

    assert [c.selected for c in field.choices] == [True, False]  # Gamers (2), Makers (1)
    assert toggled(field.value, "1", True) == "2\n1"
    assert toggled(field.value, "2", False) == ""


def test_a_connections_chats_are_offered_however_many_chats_other_connections_have(
    sqlite_session: Session, world: dict[str, int], viewer: AdminUser
) -> None:
    """The picker narrows to the node's connection before it takes its first 300 chats."""
    sqlite_session.add_all(
        Chat(
            platform=Platform.telegram,
            platform_chat_id=str(-2000 - n),
            bot_instance_id=world["support"],
            title=f"Busy group {n}",
            type="group",
        )
        for n in range(node_pickers.MAX_CHOICES + 5)
    )
    sqlite_session.commit()

    news = _pick(sqlite_session, viewer, "chat", kind="telegram_bot", instance_id=world["news"])
    servers = _pick(sqlite_session, viewer, "server", kind="discord_bot")

    assert [c.value for c in news] == ["-1002"]
    assert [c.value for c in servers] == ["900"]
