"""The one place where Flowbot reads its configuration from the environment.

Every process (web, worker, connectors, CLI, tests) calls :func:`get_settings`;
nothing else reads ``os.environ`` for configuration.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import stat
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_KEY_FILE = "secret.key"
# Key names holding secrets: the value is masked in every stored or published trace
# (engine/redaction.py). "author" and "keyboard" are common non-secret names.
DEFAULT_REDACT_KEYS = (
    "token", "secret", "passw", "pwd", "auth(?!or(?!i[sz]))", "signature", "credential", "cookie",
    "session", "key(?!board)(?!word)",
)  # fmt: skip


class Settings(BaseSettings):
    """Flowbot configuration; defaults give the embedded single-process mode."""

    model_config = SettingsConfigDict(env_prefix="FLOWBOT_", extra="ignore")

    data_dir: Path = Field(
        default=Path("data"),
        description="Where the SQLite database, the generated secret key and sessions live.",
    )
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "FLOWBOT_DATABASE_URL"),
        description="SQLAlchemy URL; unset means a SQLite file under the data directory.",
    )
    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("REDIS_URL", "FLOWBOT_REDIS_URL"),
        description="Redis URL; unset means the in-process broker and event bus.",
    )
    secret_key: str | None = Field(
        default=None,
        description="Key for sessions and for secrets at rest; generated on first run if unset.",
    )
    host: str = Field(default="127.0.0.1", description="Address the web process binds to.")
    port: int = Field(default=3000, description="Port of the web UI, its backend and the REST API.")
    public_url: str | None = Field(
        default=None, description="URL users open (printed at start); default from host/port."
    )
    web_workers: int | None = Field(
        default=None,
        ge=1,
        description="Web backend processes in scaled mode (embedded mode always runs one); "
        "unset: the CPU count, at most 2 (flows run in the workers; each holds about 220 MiB). "
        "One serves inside the `flowbot` process itself; more are forked by a supervisor.",
    )
    pool_url: str = Field(
        default="http://127.0.0.1:3010", description="Where the engine reaches the pool API."
    )
    pool_port: int = Field(default=3010, description="Port the connector pool API listens on.")
    pool_host: str = Field(
        default="127.0.0.1", description="Address the connector pool API binds to."
    )
    pool_token: str | None = Field(
        default=None,
        description="Shared token of the pool API; derived from the secret key when unset.",
    )
    redis_namespace: str = Field(
        default="flowbot",
        description="Prefix of Flowbot's Redis keys (queues, locks), so installs can share one.",
    )
    worker_heartbeat_timeout_ms: int = Field(
        default=60_000,
        description="A worker silent this long counts as dead: its unfinished messages are "
        "delivered again (Redis broker; a worker's idle consumers wait on Redis at most a third "
        "of it).",
    )
    worker_maintenance_chance: int = Field(
        default=10_000,
        description="Per million Redis broker commands, how many also look for dead workers' "
        "messages (1000000: every command); one worker process also looks every 5 s.",
    )
    reconcile_seconds: float = Field(
        default=30.0, description="How often the connector supervisor re-reads the connections."
    )
    lease_seconds: float = Field(
        default=60.0,
        description="How long a supervisor's claim on a connection lasts unless renewed "
        "(renewed every third of it); a dead supervisor's connections move after this.",
    )
    health_check_minutes: float = Field(
        default=5.0,
        gt=0,
        description="How often the health check records every component's state and tells "
        "admins (Settings → Health notifications) what went down or came back.",
    )
    restart_backoff_max: float = Field(
        default=60.0, description="Longest wait, in seconds, before restarting a crashed client."
    )
    breaker_failures: int = Field(
        default=5, description="Consecutive failures after which an instance's breaker opens."
    )
    breaker_reset_seconds: float = Field(
        default=30.0, description="How long an open breaker waits before letting a probe through."
    )
    embedded_connectors: bool | None = Field(
        default=None,
        description="Run the connector supervisor inside the web process; "
        "unset: only in embedded mode (no Redis).",
    )
    http_allowlist: list[str] = Field(
        default_factory=list,
        description="Hosts, addresses or CIDR networks the http_request node may reach even "
        "when private or loopback (JSON list).",
    )
    webhook_read_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Time a webhook caller has to send its whole body; a slower one is cut "
        "off with 408 (so trickled bodies cannot hold connections open).",
    )
    max_steps: int = Field(
        default=1000,
        ge=1,
        description="Most steps one trigger's executions may run together: the execution and "
        "the flows it calls with run_flow, at any depth (their shared budget).",
    )
    max_seconds: float = Field(
        default=300.0,
        gt=0,
        description="Wall-clock budget of one run of an execution, shared by the flows it "
        "calls (a durable delay starts a new run).",
    )
    max_tree_executions: int = Field(
        default=50,
        ge=1,
        description="Most executions one trigger may start in all, itself included: run_flow "
        "calls (and theirs) beyond it fail instead of fanning out.",
    )
    redact_keys: list[str] = Field(
        default_factory=lambda: list(DEFAULT_REDACT_KEYS),
        description="Patterns (case-insensitive regular expressions, JSON list) of the key "
        "names whose values are shown as [redacted] in execution traces and live events.",
    )

    @field_validator("redact_keys")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        """A wrong pattern is refused at start, not when the first trace is written."""
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from None
        return patterns

    api_requests_per_minute: int = Field(
        default=600,
        ge=1,
        description="REST API requests one token may make per minute (429 after).",
    )
    session_ttl_hours: int = Field(default=12, description="How long a login session lasts.")
    login_free_failures: int = Field(
        default=3,
        ge=0,
        description="Failed sign-ins for one user name from one address before each further "
        "try must wait (1 s, doubling).",
    )
    login_max_delay_seconds: int = Field(
        default=300, ge=1, description="Longest wait imposed between failed sign-ins."
    )
    login_address_failures: int = Field(
        default=20,
        ge=1,
        description="Failed sign-ins from one address (any user name) before that address is "
        "slowed down too, except for accounts that signed in from it before.",
    )
    login_window_minutes: int = Field(
        default=15, description="Window over which failed sign-ins are counted."
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Reverse proxies (addresses or CIDR networks, JSON list) whose "
        "X-Forwarded-For names the client; from anyone else the header is ignored.",
    )

    @property
    def effective_database_url(self) -> str:
        """The configured database, or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'flowbot.db').resolve()}"

    @property
    def is_embedded_broker(self) -> bool:
        return not self.redis_url

    @property
    def effective_secret_key(self) -> str:
        """The configured key, else the one kept in the data directory (created once)."""
        if self.secret_key:
            return self.secret_key
        return _load_or_create_key(self.data_dir / SECRET_KEY_FILE)

    @property
    def effective_pool_token(self) -> str:
        if self.pool_token:
            return self.pool_token
        return derive_key(self.effective_secret_key, "pool-token").hex()

    @property
    def effective_web_workers(self) -> int:
        """One process in embedded mode (its broker, bus and sessions live in it)."""
        if self.is_embedded_broker:
            return 1
        return self.web_workers or min(os.cpu_count() or 1, 2)

    @property
    def effective_public_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"


def derive_key(secret_key: str, purpose: str) -> bytes:
    """A 32-byte key for one purpose, so one secret never serves two uses directly."""
    return hmac.new(secret_key.encode(), purpose.encode(), hashlib.sha256).digest()


def private_dir(path: Path) -> Path:
    """Create ``path`` readable by this account only (0700): it holds keys, data, sessions.

    An existing directory is tightened only when it is this account's own and not a shared
    one (sticky, like /tmp): a database URL pointing into /tmp must not lock everyone else
    out of it; the files Flowbot writes there are 0600 by themselves.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()
    shared = info.st_mode & stat.S_ISVTX or info.st_uid != os.getuid()
    if info.st_mode & 0o077 and not shared:
        path.chmod(0o700)
    return path


def _load_or_create_key(path: Path) -> str:
    """Read the key file, creating it atomically so concurrent first starts agree."""
    if not path.exists():
        private_dir(path.parent)
        tmp = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)  # fails if another process won the race
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
