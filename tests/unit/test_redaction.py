"""The one redaction rule (engine/redaction.py) and what the executor stores with it."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlmodel import Session

from engine.models import ExecutionStatus, FlowExecution
from engine.redaction import REDACTED, SEALED_KEY, Redactor, public, unseal
from engine.runtime import run_execution, run_flow_now
from engine.settings import get_settings
from tests.fakes.pool import FakePool
from tests.unit import test_runtime
from tests.unit.test_runtime import chain, make_flow, node, send, steps, texts, trigger

TOKEN = "tok-0123456789abcdef"
pool = test_runtime.pool  # the recording fake pool fixture


def test_secret_named_values_are_masked_at_any_depth() -> None:
    record = {
        "query": {"api_key": "k-123456789"},
        "headers": {"X-Gitlab-Token": "gl-abcdefgh", "Authorization": "Bearer x", "Accept": "*"},
        "body": [{"password": "pw-123456", "user": "ada", "author": "ada"}],
        "reply_markup": {"inline_keyboard": [[{"text": "ok"}]]},
        "signature": None,
    }
    masked = Redactor().redact(record)
    assert masked == {
        "query": {"api_key": REDACTED},
        "headers": {"X-Gitlab-Token": REDACTED, "Authorization": REDACTED, "Accept": "*"},
        "body": [{"password": REDACTED, "user": "ada", "author": "ada"}],
        "reply_markup": {"inline_keyboard": [[{"text": "ok"}]]},
        "signature": None,
    }


def test_known_secrets_are_scrubbed_from_other_texts() -> None:
    redactor = Redactor()
    masked = redactor.redact({"token": TOKEN, "url": f"https://x/?t={TOKEN}", "pin": "1234"})
    assert masked["url"] == f"https://x/?t={REDACTED}"
    assert redactor.scrub(f"401 for token {TOKEN}") == f"401 for token {REDACTED}"
    assert redactor.scrub("a pin of 1234") == "a pin of 1234"  # too short to search for


def test_sealed_records_restore_the_real_values_and_viewers_never_see_them() -> None:
    record = {"headers": {"x-auth-token": TOKEN}, "note": f"with {TOKEN}", "n": [1, {"key": 2}]}
    sealed = Redactor().seal(record)
    assert TOKEN not in json.dumps(sealed)
    assert public(sealed) == {
        "headers": {"x-auth-token": REDACTED}, "note": f"with {REDACTED}",
        "n": [1, {"key": REDACTED}],
    }  # fmt: skip
    assert unseal(sealed) == record
    assert unseal(Redactor().seal(sealed)) == record  # sealing twice keeps the originals
    assert SEALED_KEY not in Redactor().seal({"plain": "text"})


def test_the_rule_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWBOT_REDACT_KEYS", '["^pin$"]')
    get_settings.cache_clear()
    assert Redactor().redact({"pin": "1234", "token": "t"}) == {"pin": REDACTED, "token": "t"}


async def test_a_secret_variable_survives_a_durable_delay_unredacted(
    sqlite_session: Session, pool: FakePool
) -> None:
    """The replay after the delay re-applies the variable from its (redacted) record: the
    real value comes back from the seal, and only the trace shows the marker."""
    flow_id = make_flow(
        sqlite_session,
        *chain(
            node("v", "set_variable", name="api_token", value="{{trigger.data.token}}"),
            node("d", "delay", seconds=0.2),
            send("s", "token is {{context.api_token}}"),
            node("bad", "message_length", min="{{context.api_token}}"),
        ),
    )
    outcome = await run_flow_now(flow_id, trigger(data={"token": TOKEN}))
    assert outcome.status is ExecutionStatus.waiting, outcome.error
    await asyncio.sleep(0.25)
    resumed = await run_execution(outcome.execution_id)
    assert resumed.status is ExecutionStatus.failed
    assert texts(pool) == [f"token is {TOKEN}"]

    recorded = steps(sqlite_session, outcome.execution_id)
    assert public(recorded[1].output) == {
        "name": "api_token", "value": REDACTED, "_variables": {"api_token": REDACTED}
    }  # fmt: skip
    execution = sqlite_session.get(FlowExecution, outcome.execution_id)
    assert execution is not None
    columns = [execution.trigger_data, execution.context, execution.error]
    columns += [[s.input, public(s.output), s.error] for s in recorded]
    assert TOKEN not in json.dumps(columns, default=str)
    assert REDACTED in (execution.error or "") and TOKEN not in (resumed.error or "")


def test_a_secret_met_late_in_a_value_is_scrubbed_from_texts_before_it() -> None:
    """One walk learns and masks: a text met before the key that holds its secret is
    scrubbed all the same, and sealed so the engine gets it back."""
    record = {"note": f"sent {TOKEN}", "items": [f"a {TOKEN}"], "auth": {"token": TOKEN}}
    redactor = Redactor()
    sealed = redactor.seal(record)
    assert public(sealed) == {
        "note": f"sent {REDACTED}", "items": [f"a {REDACTED}"], "auth": REDACTED
    }  # fmt: skip
    assert unseal(sealed) == record
    assert redactor.known == {TOKEN}


def test_a_secret_learned_mid_run_scrubs_later_texts() -> None:
    redactor = Redactor()
    plain = {"text": f"nothing secret yet: {TOKEN}", "n": 1, "none": None}
    assert redactor.redact(plain) == plain  # nothing learned: texts pass as they are
    redactor.learn({"step": [{"params": {"api_key": TOKEN}}]})
    assert redactor.redact(plain)["text"] == f"nothing secret yet: {REDACTED}"
    assert redactor.scrub(f"failed with {TOKEN}") == f"failed with {REDACTED}"
    longer = TOKEN + "-and-more"
    redactor.learn({"password": longer})
    assert redactor.scrub(f"{longer} {TOKEN}") == f"{REDACTED} {REDACTED}"  # longest first


def test_nested_keys_of_every_shape_are_masked_in_a_copy() -> None:
    class Status(str):
        """A str subclass (as StrEnum members are)."""

    redactor = Redactor()
    redactor.learn({"secret": TOKEN})
    record = {
        1: ({"Password": "hunter22"}, [{"deep": {"X-Signature": None, "signature": 7}}]),
        "status": Status(f"about {TOKEN}"),
        "flags": [True, 2.5, None],
    }
    masked = redactor.redact(record)
    assert masked == {
        "1": [{"Password": REDACTED}, [{"deep": {"X-Signature": None, "signature": REDACTED}}]],
        "status": f"about {REDACTED}",
        "flags": [True, 2.5, None],
    }
    masked["flags"].append("changed")
    assert record["flags"] == [True, 2.5, None]  # a copy, even where nothing was masked


def test_the_rule_remembers_a_bounded_number_of_names() -> None:
    from engine import redaction

    redactor = Redactor()
    names = [f"x-header-{i}" for i in range(redaction.MAX_NAMES + 10)]
    assert redactor.redact({name: "v" for name in names}) == {name: "v" for name in names}
    assert len(redaction._current_rule()) <= redaction.MAX_NAMES
    assert redactor.redact({"x-api-token": "value1"}) == {"x-api-token": REDACTED}
