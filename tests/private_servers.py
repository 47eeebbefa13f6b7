"""Private PostgreSQL and Redis servers: data in a temporary directory, free ports.

The fault tests stop and restart their own. ``python -m tests.private_servers COMMAND...``
(what scripts/test.sh runs the suite through) runs COMMAND with the servers the tests
need: the shared ones at FLOWBOT_TEST_PG_URL / FLOWBOT_TEST_REDIS_URL (bench/_services.py)
when they answer, otherwise private ones, whose URLs COMMAND gets in those same variables.
The private servers are stopped and their directories removed when COMMAND ends.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from glob import glob
from pathlib import Path
from types import FrameType

import sqlalchemy as sa

from tests.processes import free_port, listening, wait_until


def postgres_bin() -> Path | None:
    """The newest PostgreSQL server binaries installed (Debian's layout)."""
    found = sorted(glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def _server_user() -> str:
    """Who runs postgres when we are root (initdb refuses root): Debian's ``postgres``
    user, which the package creates, else ``nobody``."""
    try:
        return pwd.getpwnam("postgres").pw_name
    except KeyError:
        return "nobody"


class PrivatePostgres:
    """initdb/pg_ctl in a temporary directory, as a non-root user when run as root."""

    def __init__(self, bin_dir: Path, database: str = "flowbot") -> None:
        self.bin = bin_dir
        self.database = database
        self.root = Path(tempfile.mkdtemp(prefix="flowbot-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"
        self.user = _server_user() if os.geteuid() == 0 else None
        if self.user is not None:
            shutil.chown(self.root, self.user)

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def _ctl(self, action: str, *args: str) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            "-c fsync=off -c synchronous_commit=off -c max_connections=200"
        )
        log = str(self.root / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", *args, action)

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        self._ctl("start")
        server = self.url.rsplit("/", 1)[0]
        admin = sa.create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{self.database}"'))
        admin.dispose()

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")

    def stop(self) -> None:
        """Stop the server (if it still runs) and remove its directory."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._ctl("stop", "-m", "immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """A redis-server without persistence: stopping it loses every message it held."""

    def __init__(self, log: Path, database: int = 0) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/{database}"
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
                + ["--save", "", "--appendonly", "no"],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_until(lambda: listening(self.port), "the private Redis to listen", timeout=20)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None


def postgres_answers(url: str) -> bool:
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


def redis_answers(url: str) -> bool:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        return bool(client.ping())
    except redis.exceptions.ConnectionError:
        return False
    finally:
        client.close()


@contextmanager
def _private_postgres() -> Iterator[str]:
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise SystemExit("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin)")
    server = PrivatePostgres(bin_dir, database="test")
    try:
        server.start()
        yield server.url
    finally:
        server.stop()


@contextmanager
def _private_redis() -> Iterator[str]:
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server is not on PATH")
    log_dir = Path(tempfile.mkdtemp(prefix="flowbot-redis-"))
    server = PrivateRedis(log_dir / "redis.log", database=15)
    try:
        server.start()
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(log_dir, ignore_errors=True)


@contextmanager
def servers_for_tests() -> Iterator[dict[str, str]]:
    """The environment variables naming the servers the tests use: the shared ones when
    they answer, private ones (started here, stopped on exit) otherwise."""
    from bench._services import PG_ADMIN_URL, REDIS_TEST_URL

    with ExitStack() as stack:
        env = {"FLOWBOT_TEST_PG_URL": PG_ADMIN_URL, "FLOWBOT_TEST_REDIS_URL": REDIS_TEST_URL}
        if not postgres_answers(PG_ADMIN_URL):
            env["FLOWBOT_TEST_PG_URL"] = stack.enter_context(_private_postgres())
            print(f"PostgreSQL at {PG_ADMIN_URL} does not answer: started a private one")
        if not redis_answers(REDIS_TEST_URL):
            env["FLOWBOT_TEST_REDIS_URL"] = stack.enter_context(_private_redis())
            print(f"Redis at {REDIS_TEST_URL} does not answer: started a private one")
        yield env


def _stop_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(command: list[str]) -> int:
    """Run ``command`` with the test servers; stop private ones however it ends."""
    if not command:
        raise SystemExit("usage: python -m tests.private_servers COMMAND [ARGS...]")
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop_on_signal)
    with servers_for_tests() as env:
        sys.stdout.flush()
        child = subprocess.Popen(command, env={**os.environ, **env})
        try:
            return child.wait()
        finally:
            if child.poll() is None:
                child.terminate()
                child.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
