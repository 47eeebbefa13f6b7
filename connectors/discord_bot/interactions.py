"""One decision per interaction: the first answer wins, or the connector acknowledges it.

Discord drops an interaction nobody answered within 3 s ("The application did not
respond"). A flow may take longer, so the connector acknowledges every slash command
(DEFERRED_MESSAGE_CREATE: "Bot is thinking…") and click (DEFERRED_MESSAGE_UPDATE) after a
short delay unless an answer came first. Answer and acknowledgement each claim the
interaction here, synchronously on the event loop, before any request: exactly one of them
sends the initial response, the others wait for its outcome. An answer after it is sent as
what Discord allows then (:func:`send_late`): it replaces the thinking message, edits the
original response (an update: for a click's deferral, the clicked message), or follows up.

A thinking message nobody answers is deleted after ``command_answer_timeout`` (14 minutes by
default), before the interaction's token expires at 15: otherwise Discord would leave it
turning into "The application did not respond".
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from time import monotonic
from typing import Any, NamedTuple

import hikari

TOKEN_SECONDS = 15 * 60  # an interaction token's life: nothing can be sent after it


@dataclass
class Interaction:
    """One interaction: whether its initial response is taken, and what a late answer
    needs (the application and token of the webhook behind it, the thinking message)."""

    application_id: hikari.Snowflake
    token: str
    opened: float  # monotonic seconds
    command: bool  # a slash command (its deferral is a thinking message)
    taken: bool = False  # an initial response is on its way or sent
    sent: asyncio.Future[bool] | None = None  # that response's outcome
    thinking: bool = False  # a "thinking…" message no answer has replaced yet
    ephemeral: bool = False  # that thinking message is only the member's


@dataclass(frozen=True)
class Claim:
    """How an answer goes out: late (after the initial response) or as the initial
    response; ``taken``: the interaction this answer claimed (it settles the outcome)."""

    late: Interaction | None = None
    taken: Interaction | None = None


class Interactions:
    """The interactions of the last 15 minutes and who answered them."""

    def __init__(self) -> None:
        self._open: dict[str, Interaction] = {}

    def expect(
        self, key: str, application_id: hikari.Snowflake, token: str, *, command: bool
    ) -> None:
        """An interaction arrived (a slash command, or a click when not ``command``): it
        needs an answer or an acknowledgement."""
        now = monotonic()
        while self._open:  # oldest first: expired tokens go, nothing can be sent with them
            oldest, found = next(iter(self._open.items()))
            if now - found.opened <= TOKEN_SECONDS:
                break
            del self._open[oldest]
        self._open[key] = Interaction(application_id, token, now, command=command)

    def claim_answer(self, key: str) -> Claim:
        """An answer is about to be sent: as the initial response (unknown interactions
        too: Discord decides), or late after the one already taken."""
        found = self._open.get(key)
        if found is None:
            return Claim()
        if found.taken:
            return Claim(late=found)
        self._take(found)
        return Claim(taken=found)

    def claim_ack(self, key: str) -> Interaction | None:
        """The delay is over: the interaction to acknowledge, or None when an answer
        took it meanwhile."""
        found = self._open.get(key)
        if found is None or found.taken:
            return None
        self._take(found)
        found.thinking = found.command
        return found

    @staticmethod
    def _take(found: Interaction) -> None:
        found.taken = True
        found.sent = asyncio.get_running_loop().create_future()

    @staticmethod
    def settle(interaction: Interaction, ok: bool) -> None:
        """The initial response's outcome (also when the connector stops mid-request):
        wakes the answers waiting for it; after a failure the interaction is open again
        (to the acknowledgement, or to a waiting answer)."""
        if not ok:
            interaction.taken, interaction.thinking = False, False
        if interaction.sent is not None and not interaction.sent.done():
            interaction.sent.set_result(ok)

    def take_thinking(self, key: str) -> Interaction | None:
        """The interaction if its thinking message is still unanswered, which it no longer
        is for anyone else (the caller removes it)."""
        found = self._open.get(key)
        if found is None or not found.thinking:
            return None
        found.thinking = False
        return found


async def initial_sent(interaction: Interaction) -> bool:
    """Whether the initial response reached Discord (waits for it while in flight)."""
    return interaction.sent is None or await asyncio.shield(interaction.sent)


class LateAnswer(NamedTuple):
    """What a late answer became: the message, and whether it is the original response
    (deleted as ``@original``) or a follow-up (deleted by its id)."""

    message: hikari.Message
    original: bool


async def send_late(
    rest: hikari.api.RESTClient,
    interaction: Interaction,
    body: dict[str, Any],
    *,
    update: bool,
    ephemeral: bool,
) -> LateAnswer:
    """An answer after the initial response: it replaces an unanswered thinking message;
    an update edits the original response (after a click's deferral, the clicked
    message); anything else follows up. A private answer to a public thinking message is
    a private follow-up, and the thinking message goes. Decided before any request, so
    two late answers never both take the thinking message."""
    application, token = interaction.application_id, interaction.token
    replaces = interaction.thinking
    interaction.thinking = False
    if update or (replaces and ephemeral == interaction.ephemeral):
        edited = await rest.edit_interaction_response(application, token, **body)
        return LateAnswer(edited, original=True)
    flags = hikari.MessageFlag.EPHEMERAL if ephemeral else hikari.UNDEFINED
    sent = await rest.execute_webhook(application, token, flags=flags, **body)
    if replaces:
        await rest.delete_interaction_response(application, token)
    return LateAnswer(sent, original=False)
