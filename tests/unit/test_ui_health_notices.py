"""The health-notice card's state against a real database: an admin picks a chat of a
bot connection or a webhook (checked by the service), and nobody else sees or sets it."""

from __future__ import annotations

from engine.db import session_scope
from engine.models import Chat
from engine.services import connections, health_settings
from flowbot_ui.state.health_notices import HealthNoticeState
from tests.ui_harness import People, Tab, user

TOKEN = "123456:" + "A" * 35


def _bot_with_a_chat(people: People) -> int:
    with session_scope() as session:
        admin = session.merge(user(people.admin_id))
        connection = connections.add_connection(
            session, admin, "telegram_bot", "Helper", credential=TOKEN
        )
        session.add(Chat(platform="telegram", platform_chat_id="-100", title="Ops",
                         bot_instance_id=connection.bot_instance_id))  # fmt: skip
        session.flush()
        return connection.bot_instance_id


def _stored(people: People) -> health_settings.Channel | None:
    with session_scope() as session:
        return health_settings.get_channel(session, session.merge(user(people.admin_id)))


async def _card(people: People, role: str) -> tuple[Tab, HealthNoticeState]:
    tab = Tab(people.cookies[role], "/settings")
    await tab.run(HealthNoticeState, "load")
    return tab, await tab.state(HealthNoticeState)


async def test_an_admin_sends_notices_to_a_chat_or_a_webhook(people: People) -> None:
    bot = _bot_with_a_chat(people)
    tab, card = await _card(people, "admin")
    assert card.kind == "none" and [c.value for c in card.connections] == [str(bot)]
    assert card.chats == []  # none until a connection is picked
    await tab.run(HealthNoticeState, "choose_kind", "chat")
    await tab.run(HealthNoticeState, "pick_connection", str(bot))
    assert [c.label for c in card.chats] == ["Ops · -100 · group · via Helper"]
    await tab.run(HealthNoticeState, "pick_chat", "-100")
    await tab.run(HealthNoticeState, "save")
    assert card.message == "Saved: notices go here from the next check."
    stored = _stored(people)
    assert stored is not None and (stored.kind, stored.instance_id, stored.chat_id) == (
        "chat", bot, "-100",
    )  # fmt: skip

    await tab.run(HealthNoticeState, "choose_kind", "webhook")
    await tab.run(HealthNoticeState, "edit_url", "hooks dot example")
    await tab.run(HealthNoticeState, "save")
    assert card.error and _stored(people) == stored  # not a URL: refused, nothing changed
    await tab.run(HealthNoticeState, "edit_url", "https://hooks.example.com/notify")
    await tab.run(HealthNoticeState, "save")
    assert _stored(people) == health_settings.Channel(
        "webhook", url="https://hooks.example.com/notify"
    )

    await tab.run(HealthNoticeState, "choose_kind", "carrier pigeon")
    assert card.kind == "none"
    await tab.run(HealthNoticeState, "save")
    assert card.message == "Saved: no notices." and _stored(people) is None


async def test_editors_and_viewers_neither_see_nor_set_it(people: People) -> None:
    _bot_with_a_chat(people)
    for role in ("editor", "viewer"):
        tab, card = await _card(people, role)
        assert card.connections == [] and card.chats == [], role
        await tab.run(HealthNoticeState, "choose_kind", "webhook")
        await tab.run(HealthNoticeState, "edit_url", "https://hooks.example.com/mine")
        await tab.run(HealthNoticeState, "save")
        assert "admin role" in card.error, role
        await tab.run(HealthNoticeState, "send_test")
        assert card.error.startswith("Not sent:") and "admin role" in card.error, role
    assert _stored(people) is None
