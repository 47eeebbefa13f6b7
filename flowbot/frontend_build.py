"""Whether the compiled frontend in Reflex's web directory is still current, so `flowbot run`
builds it only when something it is built from has changed: the build takes a minute or
more, and every restart (and every browser-test module) paid it again for the same pages."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path

from engine.settings import Settings

# What the pages are compiled from: the UI, the engine it renders (node catalogue, forms),
# the static assets, Reflex's configuration and the pinned dependencies.
SOURCES = ("flowbot_ui", "engine", "assets")
FILES = ("rxconfig.py", "pyproject.toml")
STAMP = "flowbot-build.sha256"


def web_dir(root: Path, env: Mapping[str, str]) -> Path:
    """Reflex's web directory (REFLEX_WEB_WORKDIR, else `.web` in the project)."""
    return root / env.get("REFLEX_WEB_WORKDIR", ".web")


def fingerprint(root: Path, settings: Settings) -> str:
    """A hash of every source file, the Reflex version and the settings rxconfig.py reads
    (the public URL is written into the built pages)."""
    digest = hashlib.sha256()
    for part in (
        metadata.version("reflex"),
        settings.effective_public_url,
        settings.host,
        str(settings.port),
        settings.redis_url or "",
    ):
        digest.update(part.encode() + b"\0")
    for path in _source_files(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _source_files(root: Path) -> Iterable[Path]:
    for name in SOURCES:
        yield from sorted(
            p for p in (root / name).rglob("*") if p.is_file() and "__pycache__" not in p.parts
        )
    for name in FILES:
        if (root / name).is_file():
            yield root / name


def is_current(web: Path, expected: str) -> bool:
    """The build in ``web`` was made from these sources (and is still there)."""
    stamp = web / STAMP
    return (
        stamp.is_file()
        and stamp.read_text().strip() == expected
        and (web / "build" / "client" / "index.html").is_file()
    )


def forget(web: Path) -> None:
    """Before a build: an interrupted or failed one must not count as current."""
    (web / STAMP).unlink(missing_ok=True)


def remember(web: Path, built_from: str) -> None:
    (web / STAMP).write_text(built_from + "\n")
