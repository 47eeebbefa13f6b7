"""The System status page's outages in words, from the texts the real clients produce."""

from __future__ import annotations

import pytest
import redis
import sqlalchemy as sa

from engine.services.outages import explain_outage, raw_detail


def test_a_refused_postgresql_connection_in_words_with_the_traceback_as_detail() -> None:
    engine = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    with pytest.raises(sa.exc.OperationalError) as refused:
        engine.connect()
    detail = raw_detail(refused.value)
    assert detail.startswith("OperationalError: (psycopg.OperationalError)")
    assert explain_outage("database", detail) == (
        "The database refuses connections: is it running, at the address in its URL?"
    )


def test_a_refused_redis_connection_and_a_name_that_does_not_resolve() -> None:
    client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=2)
    with pytest.raises(redis.ConnectionError) as refused:
        client.ping()
    assert explain_outage("redis", raw_detail(refused.value)).startswith(
        "Redis refuses connections"
    )
    unknown = redis.Redis(host="no-such-host.invalid", socket_connect_timeout=2)
    with pytest.raises(redis.ConnectionError) as unresolved:
        unknown.ping()
    assert explain_outage("redis", raw_detail(unresolved.value)) == (
        "Redis has a host name that does not resolve: check its URL."
    )


@pytest.mark.parametrize(
    ("component", "raw", "sentence"),
    [
        (
            "database",
            "OperationalError: connection failed: FATAL:  password authentication failed for "
            'user "flowbot"',
            "The database refuses Flowbot's credentials: check the user and password in its URL.",
        ),
        (
            "database",
            'OperationalError: FATAL:  database "flowbot" does not exist',
            "The database has no database of the name in its URL.",
        ),
        ("redis", "TimeoutError: Timeout reading from socket", "Redis did not answer in time."),
        ("workers", "no worker process is beating", "The workers: no worker process is beating."),
        (
            "redis",
            "ResponseError: MOVED 3999 10.0.0.1:6381",
            "Redis failed (ResponseError); see Details.",
        ),
        ("database", "", "The database is down."),
    ],
)
def test_common_causes_first_match_and_the_rest_by_their_name(
    component: str, raw: str, sentence: str
) -> None:
    assert explain_outage(component, raw) == sentence
