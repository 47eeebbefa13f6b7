"""Reflex's own command line, with one change: a production start reuses the last frontend
build when the compiled frontend sources are byte-for-byte the same.

Reflex rebuilds the whole bundle with Vite on every ``reflex run --env prod`` (a minute of
CPU on a small machine) even when nothing changed. A restart of Flowbot, and each browser
test module's fresh server, then costs that minute; with this it costs seconds. The
sources digest covers everything the build reads (pages, components, ``env.json`` with the
public URL), so any change still rebuilds.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from reflex.reflex import cli
from reflex.utils import build, prerequisites
from reflex_base.constants.base import Dirs, Javascript

log = logging.getLogger(__name__)

STAMP = ".flowbot-build-digest"
# Written by every start or produced by the build itself: not inputs of the bundle.
NOT_SOURCES = {Dirs.BUILD_DIR, Javascript.NODE_MODULES, STAMP, "reflex.json"}


def sources_digest(web_dir: Path) -> str:
    """SHA-256 over the relative path and content of every build input under ``web_dir``."""
    digest = hashlib.sha256()
    for path in _sources(web_dir):
        digest.update(path.relative_to(web_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _sources(web_dir: Path) -> Iterator[Path]:
    for path in sorted(web_dir.iterdir()):
        if path.name in NOT_SOURCES or (path.name.startswith(".") and path.is_dir()):
            continue
        if path.is_dir():
            yield from (p for p in sorted(path.rglob("*")) if p.is_file())
        elif path.is_file():
            yield path


def reusing_unchanged(
    original: Callable[[], None], web_dir: Callable[[], Path]
) -> Callable[[], None]:
    """``original`` (Reflex's build), skipped when the last build had the same sources."""

    def build_unless_unchanged() -> None:
        root = web_dir()
        stamp, index = root / STAMP, root / Dirs.STATIC / "index.html"
        digest = sources_digest(root)
        if index.exists() and stamp.exists() and stamp.read_text() == digest:
            print("Frontend unchanged since its last build: reusing it.", flush=True)
            return
        stamp.unlink(missing_ok=True)  # a failed build must not look current next time
        original()
        stamp.write_text(digest)

    return build_unless_unchanged


def main() -> None:
    # setup_frontend_prod calls the module's ``build`` by name, so this replaces it there.
    build.build = reusing_unchanged(build.build, prerequisites.get_web_dir)
    cli()


if __name__ == "__main__":
    main()
