"""Flow editor benchmark, in Chromium: flows of 300 and 1,000 nodes.

    python -m bench.editor             # starts its own server (builds the UI once)
    python -m bench.editor --url http://127.0.0.1:3100 --data-dir /tmp/editor-data

Two people (two browser contexts) have each flow open. Prints, per flow: the time to open
it until every node the canvas renders is in the DOM and drawn (measured, not hidden; the
canvas renders the nodes in view); frame rates while panning (from a point of the empty
pane, and the viewport is checked to have moved) and while dragging a node (checked to
have moved); the websocket traffic, whole frames in bytes, of one node move, one node
added and one param edit, each with its autosave: what the editor's page sends and
receives, and what the co-editor's page receives; and the co-editor latency, from an edit
leaving one page until the other page shows it (many moves, many param edits: p50, p99).
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
USER, CO_EDITOR, PASSWORD = "bench", "bench2", "bench password 1"
LATENCY_EDITS = 40  # per kind of edit and flow size
# Each page: when each kind of edit event was handed to the websocket, and when each frame
# carrying a room patch of a move or a param edit arrived, before the page handles it (epoch ms).
SOCKET_CLOCK = """(() => {
    const Native = window.WebSocket;
    const send = Native.prototype.send;
    window.__sentAt = {};
    window.__patchAt = { move: [], params: [] };
    Native.prototype.send = function (data) {
        const found = typeof data === "string" && data.match(/(move_nodes|commit_field)/);
        if (found) window.__sentAt[found[1]] = performance.timeOrigin + performance.now();
        return send.call(this, data);
    };
    window.WebSocket = class extends Native {
        constructor(...args) {
            super(...args);
            this.addEventListener("message", (event) => {
                const data = typeof event.data === "string" ? event.data : "";
                if (!data.includes("patch_rx_state_")) return;
                const kind = data.includes("params") ? "params"
                    : data.includes("move") ? "move" : "";
                if (kind) window.__patchAt[kind].push(performance.timeOrigin + performance.now());
            });
        }
    };
})()"""
# Bob's page: the first animation frame at which an element's property differs from now.
WATCH = """([selector, property]) => {
    const read = () => {
        const el = document.querySelector(selector);
        return el && (property === "value" ? el.value : el.style[property]);
    };
    const was = read();
    window.__shown = new Promise((resolve) => {
        const tick = () => {
            if (read() !== was) resolve(performance.timeOrigin + performance.now());
            else requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
    });
}"""
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
# The id of a node among ``ids`` the mouse can reach (its centre is on the canvas, not
# under a panel).
REACHABLE_NODE = """(ids) => {
    for (const node of document.querySelectorAll(".react-flow__node")) {
        if (!ids.includes(node.dataset.id)) continue;
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
        for name in (CO_EDITOR, USER):  # the co-editor, then the one who makes the flows
            user = session.exec(select(AdminUser).where(AdminUser.username == name)).first()
            if user is None:
                admin = session.exec(select(AdminUser).where(AdminUser.role == Role.admin)).first()
                user = auth.create_user(session, name, PASSWORD, Role.admin, actor=admin)
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
        ada, bob = (Tab(browser, url, user) for user in (USER, CO_EDITOR))
        for size, flow_id in flow_ids.items():
            print(f"-- {size}-node flow")
            measure_flow(ada, bob, f"{url}/flows/{flow_id}", size)
        browser.close()


class Tab:
    """One person's page, signed in, with the websocket frames it sends and receives."""

    def __init__(self, browser, url: str, username: str) -> None:  # type: ignore[no-untyped-def]
        self.page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        self.page.set_default_timeout(60_000)
        self.page.on("dialog", lambda dialog: dialog.accept())  # leaving unsaved asks
        self.page.add_init_script(SOCKET_CLOCK)
        self.sent: list[str] = []
        self.received: list[str] = []
        self.page.on("websocket", self._on_socket)
        self.page.goto(f"{url}/login")
        self.page.fill("#username", username)
        self.page.fill("#password", PASSWORD)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.get_by_test_id("sidebar").wait_for()

    def _on_socket(self, ws) -> None:  # type: ignore[no-untyped-def]
        ws.on("framesent", lambda payload: self.sent.append(str(payload)))
        ws.on("framereceived", lambda payload: self.received.append(str(payload)))

    def clear(self) -> None:
        self.sent.clear()
        self.received.clear()

    def saved(self) -> None:
        """The last edit's answer came, and its autosave too."""
        self.page.get_by_test_id("dirty").wait_for(state="attached")
        self.page.get_by_test_id("dirty").wait_for(state="detached")


def measure_flow(ada: Tab, bob: Tab, editor: str, size: int) -> None:
    page = ada.page
    started = time.perf_counter()
    page.goto(editor)
    page.wait_for_function(DRAWN, polling="raf")
    opened = time.perf_counter() - started
    page.wait_for_timeout(1500)  # the first framing may bring more nodes into view
    drawn = page.evaluate(DRAWN)
    print(f"open: {opened * 1000:7.0f} ms until drawn ({drawn} nodes in the DOM after 1.5 s)")
    bob.page.goto(editor)
    bob.page.wait_for_function(DRAWN, polling="raf")
    bob.page.wait_for_timeout(1500)

    logs = [f"n{i}" for i in range(1, size) if i % 3 == 2]  # big_graph's log nodes
    node_id = page.evaluate(REACHABLE_NODE, logs)
    assert node_id, "no node in reach to drag"
    target = page.locator(f'.react-flow__node[data-id="{node_id}"]')
    box = target.bounding_box()
    assert box
    ada.clear()
    bob.clear()
    page.evaluate(FRAME_PROBE)
    drag(page, box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, 120, 80)
    moved = target.bounding_box()
    assert moved and (moved["x"], moved["y"]) != (box["x"], box["y"]), "the node did not move"
    print(f"drag: {frame_stats(page)}")
    started = time.perf_counter()
    ada.saved()
    saved = time.perf_counter() - started
    print(f"node move, autosaved {saved * 1000:.0f} ms after the drop (1,500 of them the pause):")
    print(traffic(ada, bob, "move_nodes"))

    ada.clear()
    bob.clear()
    page.get_by_test_id("palette-log").click()  # added after the last node (out of view)
    ada.saved()
    assert any('"log1"' in frame for frame in bob.received), "the add never reached bob"
    print("node added (palette click), its selection and its autosave:")
    print(traffic(ada, bob, "add_node"))

    target.click()
    bob.page.locator(f'.react-flow__node[data-id="{node_id}"]').click()
    field = page.get_by_test_id("param-message")
    field.wait_for()
    bob.page.get_by_test_id("param-message").wait_for()
    ada.clear()
    bob.clear()
    field.fill("changed by the bench")
    field.press("Tab")
    expect_value(bob, "changed by the bench")
    ada.saved()
    print("param edited (a field left), and its autosave:")
    print(traffic(ada, bob, "commit_field"))

    latency(ada, bob, node_id)

    point = page.evaluate(EMPTY_PANE_POINT)
    assert point, "no empty point of the pane to pan from"
    before = page.evaluate(VIEWPORT)
    page.evaluate(FRAME_PROBE)
    drag(page, point["x"], point["y"], 250, -150)
    after = page.evaluate(VIEWPORT)
    assert after != before, f"the pan did not move the view ({before})"
    print(f"pan:  {frame_stats(page)}  (view {before} → {after})")


def expect_value(tab: Tab, text: str) -> None:
    tab.page.wait_for_function(
        "(text) => document.querySelector('[data-testid=param-message]')?.value === text", arg=text
    )


def latency(ada: Tab, bob: Tab, node_id: str) -> None:
    """From an edit leaving Ada's page (its event handed to the websocket) until Bob's page
    shows it (checked every animation frame): node moves, and param edits shown in Bob's
    form for the same node. Both pages run in one browser, so their clocks agree. Each is
    split where the patch's frame reaches Bob's page: the server's part (with both ways
    over the socket) and Bob's page drawing it."""
    ada_node = ada.page.locator(f'.react-flow__node[data-id="{node_id}"]')
    gaps: dict[str, list[tuple[float, float]]] = {"move": [], "param": []}

    def seen(kind: str, event: str, op: str) -> None:
        shown = bob.page.evaluate("() => window.__shown")
        sent = ada.page.evaluate(f"() => window.__sentAt.{event}")
        came = bob.page.evaluate(
            "([op, t]) => window.__patchAt[op].find((at) => at >= t) || 0", [op, sent]
        )
        gaps[kind].append((shown - sent, (came or shown) - sent))

    for index in range(LATENCY_EDITS):
        box = ada_node.bounding_box()
        assert box
        bob.page.evaluate(WATCH, [f'.react-flow__node[data-id="{node_id}"]', "transform"])
        drag(ada.page, box["x"] + 40, box["y"] + 15, 30 if index % 2 else -30, 0, steps=4)
        seen("move", "move_nodes", "move")
    field = ada.page.get_by_test_id("param-message")
    for index in range(LATENCY_EDITS):
        bob.page.evaluate(WATCH, ["[data-testid=param-message]", "value"])
        field.fill(f"edit {index}")
        field.press("Tab")
        seen("param", "commit_field", "params")
    for kind, found in gaps.items():
        whole = sorted(total for total, _ in found)
        server = sorted(part for _, part in found)
        drawn = sorted(total - part for total, part in found)
        print(
            f"co-editor sees a {kind:5}: p50 {_p(whole, 50):5.0f} ms, p99 {_p(whole, 99):5.0f}"
            f" ms, worst {whole[-1]:5.0f} ms ({len(found)} edits); until its frame reaches"
            f" Bob p50 {_p(server, 50):.0f}, p99 {_p(server, 99):.0f} ms; drawn after it"
            f" p50 {_p(drawn, 50):.0f}, p99 {_p(drawn, 99):.0f} ms"
        )


def _p(ordered: list[float], percent: int) -> float:
    return ordered[min(len(ordered) - 1, len(ordered) * percent // 100)]


def traffic(ada: Tab, bob: Tab, event: str) -> str:
    """The edit's event frame, every frame Ada sent and received, and every frame Bob (the
    co-editor) received, in bytes; what the largest frame holds (its heaviest parts)."""
    mine = [len(frame) for frame in ada.sent if event in frame]
    largest = max(ada.received + bob.received, key=len, default="")
    return (
        f"  ada sent {[len(f) for f in ada.sent]} bytes (the {event} event"
        f" {mine[0] if mine else 0}); ada received {[len(f) for f in ada.received]}; bob"
        f" received {[len(f) for f in bob.received]}; largest frame"
        f" {len(largest)} bytes: {heaviest(largest)}"
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
