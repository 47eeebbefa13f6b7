"""One decision per interaction: the first answer wins, or the connector acknowledges it.

Discord drops an interaction nobody answered within 3 s ("The application did not
respond"). A flow may take longer, so the connector acknowledges every slash command
(DEFERRED_MESSAGE_CREATE: "Bot is thinking…") and click (DEFERRED_MESSAGE_UPDATE) after a
short delay unless an answer came first. Answer and acknowledgement each claim the
interaction here, synchronously on the event loop, before any request: exactly one of them
sends the initial response. An answer that comes after the acknowledgement is sent as what
Discord allows then (:func:`send_late`): it edits the thinking message (or, for a click's
update, the clicked message), or is a follow-up message.

A thinking message nobody answers is deleted after ``command_answer_timeout`` (14 minutes by
default), before the interaction's token expires at 15: otherwise Discord would leave it
turning into "The application did not respond".
"""

from __future__ import annotations

import asyncio
import enum
import time
from dataclasses import dataclass, field
from typing import Any

import hikari

TOKEN_SECONDS = 15 * 60  # an interaction token's life: nothing can be sent after it


class State(enum.Enum):
    open = "open"  # nobody answered yet
    answered = "answered"  # an initial response is on its way or sent
    deferred = "deferred"  # acknowledged without content: later answers are late ones


@dataclass
class Interaction:
    """What a late answer needs: the application and token of the webhook behind it, and
    what the deferral showed."""

    application_id: hikari.Snowflake
    token: str
    command: bool  # a slash command (its deferral is a thinking message)
    opened: float = field(default_factory=time.monotonic)
    state: State = State.open
    thinking: bool = False  # deferred with a "thinking…" message (not a click's update)
    ephemeral: bool = False  # that thinking message is only the member's
    deferral: asyncio.Future[bool] | None = None  # the acknowledgement went through


class Interactions:
    """The interactions of the last 15 minutes and who answered them."""

    def __init__(self) -> None:
        self._open: dict[str, Interaction] = {}

    def expect(self, interaction: hikari.CommandInteraction | hikari.ComponentInteraction) -> None:
        """An interaction arrived: it needs an answer or an acknowledgement."""
        now = time.monotonic()
        for key in [k for k, v in self._open.items() if now - v.opened > TOKEN_SECONDS]:
            del self._open[key]
        self._open[str(interaction.id)] = Interaction(
            interaction.application_id,
            interaction.token,
            command=isinstance(interaction, hikari.CommandInteraction),
        )

    def claim_answer(self, key: str) -> Interaction | None:
        """An answer is about to be sent: None when it is the initial response (unknown
        interactions too: Discord decides), the interaction when it was deferred already."""
        found = self._open.get(key)
        if found is None or found.state is not State.deferred:
            if found is not None:
                found.state = State.answered
            return None
        return found

    def release(self, key: str) -> None:
        """The initial answer failed: the acknowledgement may still spare the member
        Discord's failure notice."""
        found = self._open.get(key)
        if found is not None and found.state is State.answered:
            found.state = State.open

    def claim_ack(self, key: str) -> Interaction | None:
        """The delay is over: the interaction to acknowledge, or None when it was answered
        (or acknowledged) meanwhile."""
        found = self._open.get(key)
        if found is None or found.state is not State.open:
            return None
        self.deferred(key, thinking=found.command, ephemeral=False)
        found.deferral = asyncio.get_running_loop().create_future()
        return found

    def release_deferral(self, key: str) -> None:
        """The acknowledgement failed: an answer waiting for it sends the initial response."""
        found = self._open.get(key)
        if found is not None and found.state is State.deferred:
            found.state, found.thinking = State.open, False

    def deferred(self, key: str, *, thinking: bool, ephemeral: bool) -> None:
        """The interaction was acknowledged without content (by the connector or a flow)."""
        found = self._open.get(key)
        if found is not None:
            found.state, found.thinking, found.ephemeral = State.deferred, thinking, ephemeral

    def unanswered(self, key: str) -> Interaction | None:
        """The interaction if it is still only deferred (nothing edited it since)."""
        found = self._open.get(key)
        return found if found is not None and found.state is State.deferred else None

    def answered_late(self, key: str) -> None:
        """A late answer went out: the thinking message is the answer now."""
        found = self._open.get(key)
        if found is not None:
            found.state = State.answered


async def acknowledged(interaction: Interaction) -> bool:
    """Whether the deferral reached Discord (waits for it while it is in flight)."""
    return interaction.deferral is None or await asyncio.shield(interaction.deferral)


async def send_late(
    rest: hikari.api.RESTClient,
    interaction: Interaction,
    body: dict[str, Any],
    *,
    update: bool,
    ephemeral: bool,
) -> hikari.Message:
    """An answer to a deferred interaction: it replaces the thinking message; after a
    click's deferred update, an update edits the clicked message and a new message is a
    follow-up. A private answer to a public thinking message is a private follow-up, and
    the thinking message goes."""
    application, token = interaction.application_id, interaction.token
    edit = update or (interaction.thinking and ephemeral == interaction.ephemeral)
    if edit:
        return await rest.edit_interaction_response(application, token, **body)
    flags = hikari.MessageFlag.EPHEMERAL if ephemeral else hikari.UNDEFINED
    sent = await rest.execute_webhook(application, token, flags=flags, **body)
    if interaction.thinking:
        await rest.delete_interaction_response(application, token)
    return sent
