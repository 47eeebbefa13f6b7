"""Flow editor benchmark, in Chromium: a 300-node flow.

    python -m bench.editor             # starts its own server (builds the UI once)
    python -m bench.editor --url http://127.0.0.1:3100 --data-dir /tmp/editor-data

Prints: the time to open the flow until its nodes are drawn; frame rates while panning
and dragging; and the websocket traffic one node move and one save cause (what the
browser sends, and what the server answers to this client).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

NODES = 300
ROWS = 30  # parallel chains, so the whole flow fits on screen at the minimum zoom
USER, PASSWORD = "bench", "bench password 1"
FRAME_PROBE = """() => {
    const run = (window.__probe || 0) + 1;
    window.__probe = run;
    window.__frames = [];
    const tick = (t) => {
        if (window.__probe !== run) return;
        window.__frames.push(t);
        requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
}"""


def big_graph(count: int = NODES) -> dict[str, Any]:
    """A manual trigger fanning out to 30 chains of utility nodes, laid out in layers."""
    from flowbot_ui.state.flow_graph import auto_layout

    kinds = ("template", "set_variable", "log")
    nodes: list[dict[str, Any]] = [{"id": "manual1", "type": "manual", "params": {}}]
    edges = []
    for index in range(1, count):
        kind = kinds[index % 3]
        params = {
            "template": {"text": f"step {index} for {{{{ trigger.data.name }}}}"},
            "set_variable": {"name": f"v{index}", "value": index},
            "log": {"message": f"reached {index}"},
        }[kind]
        nodes.append({"id": f"n{index}", "type": kind, "params": params})
        parent = "manual1" if index <= ROWS else f"n{index - ROWS}"
        edges.append({"source": parent, "target": f"n{index}", "sourceHandle": "next"})
    graph = {"nodes": nodes, "edges": edges}
    positions = auto_layout(graph)
    for node in nodes:
        node["position"] = positions[node["id"]]
    return graph


def seed(data_dir: Path) -> int:
    """Migrate the data folder's database and add the bench account and flow."""
    os.environ["FLOWBOT_DATA_DIR"] = str(data_dir)
    from sqlmodel import select

    from engine.db import session_scope
    from engine.migrations import upgrade
    from engine.models import AdminUser, Role
    from engine.services import auth, flows
    from engine.settings import get_settings

    get_settings.cache_clear()
    upgrade(get_settings().effective_database_url)
    with session_scope() as session:
        user = session.exec(select(AdminUser).where(AdminUser.username == USER)).first()
        if user is None:
            admin = session.exec(select(AdminUser).where(AdminUser.role == Role.admin)).first()
            user = auth.create_user(session, USER, PASSWORD, Role.admin, actor=admin)
        flow = flows.create_flow(session, user, f"Bench {NODES} nodes", graph=big_graph())
        assert flow.id is not None
        return flow.id


@contextmanager
def server(url: str | None, data_dir: Path | None) -> Iterator[tuple[str, int]]:
    if url:
        assert data_dir, "--data-dir must be the running server's FLOWBOT_DATA_DIR"
        yield url, seed(data_dir)
        return
    from tests.e2e.server import flowbot_server, free_port

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        flow_id = seed(folder)
        with flowbot_server(folder, free_port(), folder / "server.log") as started:
            yield started, flow_id


def frame_stats(page) -> str:  # type: ignore[no-untyped-def]
    frames = page.evaluate("() => window.__frames")
    gaps = [b - a for a, b in zip(frames, frames[1:], strict=False)]
    if not gaps:
        return "no frames"
    fps = 1000 / statistics.mean(gaps)
    p95 = sorted(gaps)[int(len(gaps) * 0.95)]
    return f"{fps:5.1f} fps, worst frame {max(gaps):6.1f} ms, p95 {p95:5.1f} ms"


def drag(page, x: float, y: float, dx: float, dy: float, steps: int = 30) -> None:  # type: ignore[no-untyped-def]
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, steps + 1):
        page.mouse.move(x + dx * step / steps, y + dy * step / steps)
        page.wait_for_timeout(16)
    page.mouse.up()


def measure(url: str, flow_id: int) -> None:
    from playwright.sync_api import sync_playwright

    from tests.e2e.server import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(60_000)
        sent: list[str] = []
        received: list[str] = []

        def on_socket(ws) -> None:  # type: ignore[no-untyped-def]
            ws.on("framesent", lambda payload: sent.append(str(payload)))
            ws.on("framereceived", lambda payload: received.append(str(payload)))

        page.on("websocket", on_socket)
        page.goto(f"{url}/login")
        page.fill("#username", USER)
        page.fill("#password", PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_test_id("sidebar").wait_for()

        started = time.perf_counter()
        page.goto(f"{url}/flows/{flow_id}")
        page.wait_for_selector('.react-flow__node[data-id="manual1"]', state="attached")
        opened = time.perf_counter() - started
        page.wait_for_timeout(1500)
        drawn = page.locator(".react-flow__node").count()
        print(
            f"open a {NODES}-node flow: {opened * 1000:7.0f} ms until drawn ({drawn} nodes in view)"
        )

        pane = page.locator(".react-flow__pane").bounding_box()
        assert pane
        page.evaluate(FRAME_PROBE)
        drag(page, pane["x"] + 30, pane["y"] + pane["height"] - 30, 250, -150)
        print(f"pan:  {frame_stats(page)}")

        target = page.locator('.react-flow__node[data-id="manual1"]')
        target.scroll_into_view_if_needed()
        box = target.bounding_box()
        assert box
        sent.clear()
        received.clear()
        page.evaluate(FRAME_PROBE)
        drag(page, box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, 120, 80)
        page.wait_for_timeout(1000)
        print(f"drag: {frame_stats(page)}")
        moves = [frame for frame in sent if "move_nodes" in frame]
        print(
            f"node move: {len(sent)} frame(s) sent, the move event {len(moves[0]) if moves else 0}"
            f" bytes; {len(received)} frame(s) back, {sum(map(len, received))} bytes"
        )
        sent.clear()
        received.clear()
        started = time.perf_counter()
        page.get_by_test_id("save").click()
        page.get_by_test_id("clean").wait_for()
        saved = time.perf_counter() - started
        print(
            f"save: {saved * 1000:7.0f} ms; {len(sent)} frame(s) sent, "
            f"{sum(map(len, sent))} bytes; {sum(map(len, received))} bytes back"
        )
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running Flowbot (else one is started)")
    parser.add_argument("--data-dir", type=Path, help="that server's FLOWBOT_DATA_DIR")
    args = parser.parse_args()
    if importlib.util.find_spec("playwright") is None:
        raise SystemExit(
            "bench.editor drives Chromium through Playwright, which the default install "
            "leaves out: pip install playwright"
        )
    with server(args.url, args.data_dir) as (url, flow_id):
        measure(url, flow_id)


if __name__ == "__main__":
    main()
