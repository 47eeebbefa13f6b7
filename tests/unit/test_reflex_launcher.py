"""The production start reuses a frontend build only while every build input is unchanged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from flowbot.reflex_launcher import STAMP, reusing_unchanged, sources_digest


@pytest.fixture
def web(tmp_path: Path) -> Path:
    (tmp_path / "app" / "routes").mkdir(parents=True)
    (tmp_path / "app" / "routes" / "index.jsx").write_text("export default () => 1")
    (tmp_path / "env.json").write_text('{"EVENT": "ws://127.0.0.1:3000/_event"}')
    return tmp_path


def _counting_build(web: Path, calls: list[int]) -> Callable[[], None]:
    def build() -> None:
        calls.append(1)
        (web / "build" / "client").mkdir(parents=True, exist_ok=True)
        (web / "build" / "client" / "index.html").write_text("<html>")

    return reusing_unchanged(build, lambda: web)


def test_an_unchanged_frontend_is_built_once(web: Path) -> None:
    calls: list[int] = []
    build = _counting_build(web, calls)
    build()
    (web / "reflex.json").write_text('{"last_run": "now"}')  # written by every start
    (web / "node_modules").mkdir()
    (web / "node_modules" / "x.js").write_text("installed")
    build()
    assert calls == [1]


@pytest.mark.parametrize(
    "change",
    [
        lambda web: (web / "app" / "routes" / "index.jsx").write_text("export default () => 2"),
        lambda web: (web / "env.json").write_text('{"EVENT": "ws://127.0.0.1:4000/_event"}'),
        lambda web: (web / "app" / "routes" / "new.jsx").write_text("new page"),
        lambda web: (web / "build" / "client" / "index.html").unlink(),
    ],
    ids=["page edited", "public URL changed", "page added", "bundle missing"],
)
def test_any_change_to_an_input_rebuilds(web: Path, change: Callable[[Path], object]) -> None:
    calls: list[int] = []
    build = _counting_build(web, calls)
    build()
    change(web)
    build()
    assert calls == [1, 1]


def test_a_failed_build_is_not_taken_for_current(web: Path) -> None:
    def failing() -> None:
        raise SystemExit(1)

    (web / "build" / "client").mkdir(parents=True)
    (web / "build" / "client" / "index.html").write_text("<html>old")
    (web / STAMP).write_text(sources_digest(web))
    (web / "env.json").write_text("{}")  # changed, so the build runs, and fails
    with pytest.raises(SystemExit):
        reusing_unchanged(failing, lambda: web)()
    assert not (web / STAMP).exists()


def test_the_digest_covers_paths_as_well_as_contents(web: Path) -> None:
    before = sources_digest(web)
    (web / "app" / "routes" / "index.jsx").rename(web / "app" / "routes" / "home.jsx")
    assert sources_digest(web) != before
