"""A connection's API server URL: the client talks to the server it names, and a change made
through the service moves the running client to the new server at once (the bus signal, not
the supervisor's periodic re-read, which these supervisors would only do after a minute)."""

from __future__ import annotations

from sqlmodel import Session

from engine.models import AdminUser, Role
from engine.services import connections
from tests.fakes import FakeTelegramBotAPI
from tests.integration.test_supervisor import add_bot, make_supervisor, running


async def test_a_changed_api_server_url_moves_the_client_at_once(session: Session) -> None:
    editor = AdminUser(username="ed", role=Role.editor, password_hash="x")
    session.add(editor)
    session.commit()
    async with FakeTelegramBotAPI() as first, FakeTelegramBotAPI() as second:
        connection = add_bot(session, first)
        supervisor = make_supervisor(listen_bus=True, reconcile_seconds=60, lease_seconds=60)
        async with running(supervisor):
            await first.wait_for_call("getUpdates", timeout=10)
            assert not second.calls

            connections.update_connection(
                session, editor, connection.id or 0, settings={"api_base_url": second.base_url}
            )
            session.commit()

            await second.wait_for_call("getMe", timeout=10)
            await second.wait_for_call("getUpdates", timeout=10)
            assert supervisor.instances[connection.bot_instance_id].held.config.api_base_url == (
                second.base_url
            )
