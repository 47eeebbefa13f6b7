"""Schemathesis runs the whole OpenAPI document against a live server on PostgreSQL.

What it holds the API to: no answer is a server error (5xx), and every answer whose status
the document lists matches the schema it gives. Generation is deterministic and capped per
operation, so a run is reproducible and takes about a minute; a failure here is a bug in a
route or in its documentation, never noise.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.db import get_engine, session_scope
from engine.models import AdminUser, Role
from engine.services import auth, flows
from tests.api.schemathesis_hooks import FUZZER_ID
from tests.flow_helpers import five_node_graph
from tests.live_api import served_in_process

pytestmark = pytest.mark.postgres

MAX_EXAMPLES = 15
CHECKS = "not_a_server_error,response_schema_conformance"
# An event stream never ends, so it cannot be a request/response case: tests/api covers it.
EXCLUDED_PATHS = ["/api/v1/events"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def database_url(postgresql_url: str) -> str:
    return postgresql_url


@pytest.fixture
def admin_token(migrated_db: str) -> str:
    """A bystander admin (row 1) owning a published flow, then the fuzzer's admin and its
    token at FUZZER_ID, far from the small ids generated (the hooks guard against the rest)."""
    with session_scope() as session:
        someone = auth.create_user(session, "someone", "a-long-password", Role.admin, actor=None)
        auth.create_api_token(session, someone, "theirs", Role.editor)
        flow = flows.create_flow(session, someone, "seeded", graph=five_node_graph())
        flows.publish(session, someone, flow.id)
        flows.create_folder(session, someone, "seeded")
    with get_engine().begin() as conn:
        for table in ("admin_user", "api_token"):
            conn.execute(
                sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), :n, false)"),
                {"n": FUZZER_ID},
            )
    with session_scope() as session:
        someone = session.get(AdminUser, 1)
        fuzzer = auth.create_user(session, "fuzzer", "a-long-password", Role.admin, actor=someone)
        return auth.create_api_token(session, fuzzer, "schemathesis", Role.admin).plaintext


@pytest.fixture
def live_api(admin_token: str, tmp_path: Path) -> Iterator[str]:
    """create_api() behind granian (what serves `flowbot web`), on the test's database."""
    with (
        (tmp_path / "granian.log").open("wb") as log,
        served_in_process({"FLOWBOT_API_REQUESTS_PER_MINUTE": "1000000"}, log) as base,
    ):
        yield base


def test_the_whole_api_holds_to_its_openapi(
    live_api: str, admin_token: str, tmp_path: Path
) -> None:
    command = [
        str(Path(sys.executable).with_name("st")),
        "run",
        f"{live_api}/api/openapi.json",
        "--url",
        live_api,
        "--header",
        f"Authorization: Bearer {admin_token}",
        "--checks",
        CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--generation-deterministic",
        "--phases",
        "examples,coverage,fuzzing",
        "--workers",
        "1",
        "--request-timeout",
        "15",
        "--include-path-regex",
        "^/api/v1/",
        *[arg for path in EXCLUDED_PATHS for arg in ("--exclude-path", path)],
        "--no-color",
        "--output-truncate",
        "false",
    ]
    env = os.environ | {
        "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks",
        "PYTHONPATH": str(ROOT),
    }
    run = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    print(run.stdout[-6000:])  # the summary and warnings, for the CI log (pytest -s)
    server_log = (tmp_path / "granian.log").read_text(errors="replace")[-6000:]
    assert run.returncode == 0, f"{run.stdout[-20000:]}\n{run.stderr[-4000:]}\n{server_log}"
