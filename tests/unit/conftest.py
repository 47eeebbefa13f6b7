"""Unit-test fixtures: page states signed in against a real SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ui_harness import People, people_template, signed_in_database


@pytest.fixture(scope="session")
def ui_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, People]:
    return people_template(tmp_path_factory.mktemp("ui"))


@pytest.fixture
def people(
    ui_template: tuple[Path, People], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[People]:
    """An admin, an editor and a viewer, signed in, in this test's own database."""
    yield from signed_in_database(ui_template, tmp_path, monkeypatch)
