"""The React Flow canvas as a Reflex component.

The React side lives in ``flow_canvas.jsx`` next to this file, shared into the app's
assets with ``rx.asset(shared=True)`` and imported lazily (React Flow needs a browser).
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex_base.event import no_args_event_spec, passthrough_event_spec

XYFLOW = "@xyflow/react@12.10.0"

_SCRIPT = rx.asset("flow_canvas.jsx", shared=True)
# Next to flow_canvas.jsx, which imports it; the param form draws its fields through it.
FIELD_VALUES = rx.asset("field_values.jsx", shared=True)
# A page's "still here" to its flow's room. The room forgets a page silent for
# FlowRoom's PRESENCE_TIMEOUT, checked at the others' heartbeats: a tab that died without
# a word is gone within PRESENCE_TIMEOUT + HEARTBEAT_SECONDS (issue 17: at most 5 s).
HEARTBEAT_SECONDS = 1.0


class FlowCanvas(rx.NoSSRComponent):
    """Pan, zoom, minimap, custom nodes with labelled handles, palette drops."""

    library = _SCRIPT.importable_path
    tag = "FlowCanvas"
    lib_dependencies: list[str] = [XYFLOW]

    graph: rx.Var[dict]  # a snapshot {"key", "seq", "nodes", "edges", "issues"?}, taken
    # when its key changes; the changes after ``seq`` come as patches
    patch: rx.Var[dict]  # the last change {"seq", "ops": [{"op": "add" | "move" | ...}]}
    issues: rx.Var[dict]  # node id → first error message, where no patches update them
    statuses: rx.Var[dict]  # node id → step status of the run being watched
    highlight: rx.Var[str]  # node id the debugger points at
    people: rx.Var[dict]  # node id → names of the people on it (but ``me``)
    me: rx.Var[str]
    read_only: rx.Var[bool]
    dirty: rx.Var[bool]  # unsaved edits: autosaved after a pause, and leaving asks first
    hold_autosave: rx.Var[bool]  # the page asks whether to keep edits it found on load
    heartbeat_ms: rx.Var[int]  # HEARTBEAT_SECONDS, unless a page says otherwise

    on_node_move: rx.EventHandler[passthrough_event_spec(list)]
    on_connect_edge: rx.EventHandler[passthrough_event_spec(dict)]
    on_delete_items: rx.EventHandler[passthrough_event_spec(dict)]
    on_drop_node: rx.EventHandler[passthrough_event_spec(dict)]
    on_select_node: rx.EventHandler[passthrough_event_spec(str)]
    on_shortcut: rx.EventHandler[passthrough_event_spec(str)]
    on_heartbeat: rx.EventHandler[no_args_event_spec]
    on_leave: rx.EventHandler[no_args_event_spec]  # the page is going away
    on_autosave: rx.EventHandler[no_args_event_spec]
    on_clean: rx.EventHandler[no_args_event_spec]  # unsaved edits saved or discarded, by anyone
    on_graph_change: rx.EventHandler[no_args_event_spec]  # a structural edit, by anyone
    on_resync: rx.EventHandler[no_args_event_spec]  # a patch went missing: a new snapshot

    @classmethod
    def create(cls, *children: Any, **props: Any) -> FlowCanvas:
        props.setdefault("heartbeat_ms", round(HEARTBEAT_SECONDS * 1000))
        return super().create(*children, **props)


flow_canvas = FlowCanvas.create
