"""`flowbot run` builds the frontend again only when something it is built from changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.settings import Settings
from flowbot import frontend_build as fb


def project(tmp_path: Path) -> Path:
    (tmp_path / "flowbot_ui").mkdir()
    (tmp_path / "flowbot_ui" / "page.py").write_text("title = 'Flows'\n")
    (tmp_path / "engine").mkdir()
    (tmp_path / "engine" / "nodes.py").write_text("NODES = []\n")
    (tmp_path / "rxconfig.py").write_text("config = None\n")
    return tmp_path


def built(web: Path, sources: str) -> None:
    (web / "build" / "client").mkdir(parents=True)
    (web / "build" / "client" / "index.html").write_text("<html></html>")
    fb.remember(web, sources)


def test_a_build_stays_current_until_a_source_or_the_public_url_changes(tmp_path: Path) -> None:
    root, settings = project(tmp_path), Settings(port=8000)
    web = fb.web_dir(root, {})
    sources = fb.fingerprint(root, settings)
    built(web, sources)
    assert fb.is_current(web, fb.fingerprint(root, settings))

    (root / "engine" / "nodes.py").write_text("NODES = ['log']\n")
    assert not fb.is_current(web, fb.fingerprint(root, settings))
    (root / "engine" / "nodes.py").write_text("NODES = []\n")
    assert fb.is_current(web, fb.fingerprint(root, settings))

    assert not fb.is_current(web, fb.fingerprint(root, Settings(port=8001)))
    (root / "flowbot_ui" / "new_page.py").write_text("")
    assert not fb.is_current(web, fb.fingerprint(root, settings))


@pytest.mark.parametrize("broken", ["no stamp", "no pages"])
def test_an_interrupted_or_missing_build_is_not_current(tmp_path: Path, broken: str) -> None:
    root, settings = project(tmp_path), Settings()
    web = fb.web_dir(root, {"REFLEX_WEB_WORKDIR": ".web-elsewhere"})
    assert web == root / ".web-elsewhere"
    sources = fb.fingerprint(root, settings)
    built(web, sources)
    if broken == "no stamp":
        fb.forget(web)  # what a build does before it starts
    else:
        (web / "build" / "client" / "index.html").unlink()
    assert not fb.is_current(web, sources)
