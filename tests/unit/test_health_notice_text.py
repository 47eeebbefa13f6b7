"""A health notice says what is down in the words System status uses, with a short detail."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.health_check import DETAIL_CHARS, notice_text
from engine.models.health import HealthIncident
from engine.services.outages import explain_outage

STARTED = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)


def test_a_database_outage_in_words_with_the_raw_text_cut_short() -> None:
    raw = "OperationalError: connection refused\n" + "at line " * 100
    incident = HealthIncident(component="database", label="Database", error=raw, started_at=STARTED)

    first, cause, detail = notice_text(incident, explain_outage("database", raw)).splitlines()

    assert first == "Flowbot: Database (database) is DOWN since 2026-12-02 09:30 UTC."
    assert cause == ("The database refuses connections: is it running, at the address in its URL?")
    assert detail.startswith("Detail: OperationalError: connection refused at line")
    assert len(detail) == len("Detail: ") + DETAIL_CHARS and detail.endswith("…")


def test_recovery_says_how_long_it_was_down() -> None:
    incident = HealthIncident(
        component="redis",
        label="Redis",
        error="ConnectionError",
        started_at=STARTED,
        resolved_at=datetime(2026, 12, 2, 9, 42, tzinfo=UTC),
    )

    assert notice_text(incident, "") == (
        "Flowbot: Redis (redis) is back up after 12 min (down since 2026-12-02 09:30 UTC)."
    )
