"""Flow editor benchmark, in Chromium: flows of 300 and 1,000 nodes.

    python -m bench.editor             # starts its own server (builds the UI once)
    python -m bench.editor --url http://127.0.0.1:3100 --data-dir /tmp/editor-data

Prints, per flow: the time to open it until every node the canvas renders is in the DOM
and drawn (measured, not hidden; the canvas renders the nodes in view); frame rates while
panning (from a point of the empty pane, and the viewport is checked to have moved) and
while dragging a node (checked to have moved); and the websocket traffic of one node move
and of one node added, each with its autosave: what the browser sends, and each frame the
server answers to this client (the edit's patch, the autosave's few flags).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SIZES = (300, 1000)
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
# How many nodes are in the DOM, once every one of them is drawn (else 0).
DRAWN = """() => {
    const all = [...document.querySelectorAll(".react-flow__node")];
    const drawn = all.every((n) => n.style.visibility !== "hidden" && n.offsetWidth > 0);
    return all.length > 0 && drawn ? all.length : 0;
}"""
# A point of the pane nothing covers (no node, minimap or control), to pan from.
EMPTY_PANE_POINT = """() => {
    const pane = document.querySelector(".react-flow__pane").getBoundingClientRect();
    for (let y = pane.bottom - 30; y > pane.top + 30; y -= 15)
        for (let x = pane.left + 60; x < pane.right - 200; x += 15) {
            const hit = document.elementFromPoint(x, y);
            if (hit && hit.classList.contains("react-flow__pane")) return { x, y };
        }
    return null;
}"""
# The id of a node the mouse can reach (its centre is on the canvas, not under a panel).
REACHABLE_NODE = """() => {
    for (const node of document.querySelectorAll(".react-flow__node")) {
        const r = node.getBoundingClientRect();
        const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
        if (hit && hit.closest(".react-flow__node") === node) return node.dataset.id;
    }
    return null;
}"""
VIEWPORT = '() => document.querySelector(".react-flow__viewport").style.transform'


def big_graph(count: int) -> dict[str, Any]:
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


def seed(data_dir: Path) -> dict[int, int]:
    """Migrate the data folder's database and add the bench account and one flow per size
    (size → flow id)."""
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
        made = {
            size: flows.create_flow(session, user, f"Bench {size} nodes", graph=big_graph(size))
            for size in SIZES
        }
        return {size: flow.id or 0 for size, flow in made.items()}


@contextmanager
def server(url: str | None, data_dir: Path | None) -> Iterator[tuple[str, dict[int, int]]]:
    if url:
        assert data_dir, "--data-dir must be the running server's FLOWBOT_DATA_DIR"
        yield url, seed(data_dir)
        return
    from tests.e2e.server import flowbot_server, free_port

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        flow_ids = seed(folder)
        with flowbot_server(folder, free_port(), folder / "server.log") as started:
            yield started, flow_ids


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


def measure(url: str, flow_ids: dict[int, int]) -> None:
    from playwright.sync_api import sync_playwright

    from tests.e2e.server import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(60_000)
        page.on("dialog", lambda dialog: dialog.accept())  # leaving an unsaved flow asks
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
        for size, flow_id in flow_ids.items():
            print(f"-- {size}-node flow")
            measure_flow(page, f"{url}/flows/{flow_id}", sent, received)
        browser.close()


def measure_flow(page, editor: str, sent: list[str], received: list[str]) -> None:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    page.goto(editor)
    page.wait_for_function(DRAWN, polling="raf")
    opened = time.perf_counter() - started
    page.wait_for_timeout(1500)  # the first framing may bring more nodes into view
    drawn = page.evaluate(DRAWN)
    print(f"open: {opened * 1000:7.0f} ms until drawn ({drawn} nodes in the DOM after 1.5 s)")

    node_id = page.evaluate(REACHABLE_NODE)
    assert node_id, "no node in reach to drag"
    target = page.locator(f'.react-flow__node[data-id="{node_id}"]')
    box = target.bounding_box()
    assert box
    sent.clear()
    received.clear()
    page.evaluate(FRAME_PROBE)
    drag(page, box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, 120, 80)
    moved = target.bounding_box()
    assert moved and (moved["x"], moved["y"]) != (box["x"], box["y"]), "the node did not move"
    print(f"drag: {frame_stats(page)}")
    started = time.perf_counter()
    page.get_by_test_id("dirty").wait_for(state="attached")  # the move's answer came
    page.get_by_test_id("dirty").wait_for(state="detached")  # autosaved
    saved = time.perf_counter() - started
    print(f"node move, autosaved {saved * 1000:.0f} ms after the drop (1,500 of them the pause):")
    print(traffic(sent, received, "move_nodes"))
    sent.clear()
    received.clear()
    page.get_by_test_id("palette-log").click()  # added after the last node (out of view)
    page.get_by_test_id("dirty").wait_for(state="attached")
    page.get_by_test_id("dirty").wait_for(state="detached")
    assert any('"log1"' in frame for frame in received), "the added node never arrived"
    print("node added (palette click), and its autosave:")
    print(traffic(sent, received, "add_node"))
    point = page.evaluate(EMPTY_PANE_POINT)
    assert point, "no empty point of the pane to pan from"
    before = page.evaluate(VIEWPORT)
    page.evaluate(FRAME_PROBE)
    drag(page, point["x"], point["y"], 250, -150)
    after = page.evaluate(VIEWPORT)
    assert after != before, f"the pan did not move the view ({before})"
    print(f"pan:  {frame_stats(page)}  (view {before} → {after})")


def traffic(sent: list[str], received: list[str], event: str) -> str:
    """The edit's event and every frame sent and received, in bytes, and what the largest
    frame received holds (its heaviest parts, in bytes)."""
    mine = [len(frame) for frame in sent if event in frame]
    largest = max(received, key=len, default="")
    return (
        f"  sent {len(sent)} frame(s) {[len(f) for f in sent]} bytes, the {event} event"
        f" {mine[0] if mine else 0}; received {len(received)} frame(s)"
        f" {[len(f) for f in received]} bytes; the largest holds {heaviest(largest)}"
    )


def heaviest(frame: str, shown: int = 6) -> dict[str, int]:
    """A Socket.IO frame's JSON parts by size: ``delta`` split into its state vars."""
    try:
        payload = json.loads(frame[frame.index("[") :])[-1]
        payload = json.loads(payload) if isinstance(payload, str) else payload
    except ValueError:
        return {"(not JSON)": len(frame)}
    if not isinstance(payload, dict):
        return {"(payload)": len(frame)}
    parts = {key: len(json.dumps(value)) for key, value in payload.items() if key != "delta"}
    for state, values in (payload.get("delta") or {}).items():
        for name, value in values.items():
            parts[f"{state.rsplit('.', 1)[-1]}.{name}"] = len(json.dumps(value))
    return dict(sorted(parts.items(), key=lambda item: -item[1])[:shown])


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
    with server(args.url, args.data_dir) as (url, flow_ids):
        measure(url, flow_ids)


if __name__ == "__main__":
    main()
