"""Migrations run up and down on SQLite and PostgreSQL, and match the models exactly."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import engine.models  # noqa: F401
from engine.db import make_engine
from engine.migrations import downgrade, upgrade


def _tables(url: str) -> set[str]:
    eng = make_engine(url)
    try:
        return set(sa.inspect(eng).get_table_names()) - {"alembic_version"}
    finally:
        eng.dispose()


def _schema_diff(url: str) -> list:
    eng = make_engine(url)
    try:
        with eng.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            return compare_metadata(ctx, SQLModel.metadata)
    finally:
        eng.dispose()


def test_round_trip_and_no_drift(database_url: str) -> None:
    upgrade(database_url)
    assert _tables(database_url) == set(SQLModel.metadata.tables)
    assert _schema_diff(database_url) == []

    downgrade(database_url, "base")
    assert _tables(database_url) == set()

    upgrade(database_url)
    assert _schema_diff(database_url) == []
