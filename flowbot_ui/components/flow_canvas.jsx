// The flow canvas: React Flow (@xyflow/react) wrapped for Reflex (see flow_canvas.py).
//
// React Flow keeps its node state here, in the browser, so dragging stays smooth; Python
// only hears small events (a move on drag stop, a connection, a deletion, a drop) and
// answers with a numbered `patch` of small operations, whoever made the edit. A `graph`
// snapshot is taken when its key changes: when the page opens, or when a patch went missing
// (the page then asks for one with onResync).
import React, { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import {
  Background,
  ControlButton,
  Controls,
  Handle,
  MiniMap,
  Position,
  ReactFlow,
  ReactFlowProvider,
  applyEdgeChanges,
  applyNodeChanges,
  getViewportForBounds,
  useReactFlow,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { forgetFields, setFieldText } from "./field_values.jsx";

const DRAG_TYPE = "application/flowbot-node";
const AUTOSAVE_MS = 1500; // unsaved edits are saved after this long without another edit
const READABLE_ZOOM = 0.85; // node labels (14px) stay about 12px on screen
const FRAME_MARGIN = 40; // px around a flow framed at READABLE_ZOOM
const FIT_ICON =
  "M3.692 4.63c0-.53.4-.938.939-.938h5.215V0H4.708C2.13 0 0 2.054 0 4.63v5.216h3.692V4.631z" +
  "M27.354 0h-5.2v3.692h5.17c.53 0 .984.4.984.939v5.215H32V4.631A4.624 4.624 0 0027.354 0z" +
  "m.954 24.83c0 .532-.4.94-.939.94h-5.215v3.768h5.215c2.577 0 4.631-2.13 4.631-4.707v-5.139" +
  "h-3.692v5.139zm-23.677.94c-.531 0-.939-.4-.939-.94v-5.138H0v5.139c0 2.577 2.13 4.707 " +
  "4.708 4.707h5.138V25.77H4.631z";
const COLOURS = {
  trigger: "#7c3aed",
  condition: "#d97706",
  action: "#2563eb",
  advanced: "#475569",
};
const GLYPHS = { trigger: "⚡", condition: "◆", action: "➤", advanced: "⚙" };
// React Flow's options, the same objects on every render: new ones would make it redraw
// every node in view whenever the page's state changes (each patch, each presence change).
const EDGE_OPTIONS = { type: "smoothstep" };
const FIT_OPTIONS = { minZoom: READABLE_ZOOM, maxZoom: 1.1, padding: 0.2 };
const PRO_OPTIONS = { hideAttribution: true };
const MINIMAP_STYLE = { width: 150, height: 100 };
const minimapColour = (node) => COLOURS[node.data && node.data.category] || "#94a3b8";
const STATUS_RING = {
  running: "0 0 0 3px rgba(37, 99, 235, 0.55)",
  succeeded: "0 0 0 3px rgba(22, 163, 74, 0.6)",
  failed: "0 0 0 3px rgba(220, 38, 38, 0.7)",
  skipped: "0 0 0 3px rgba(100, 116, 139, 0.4)",
};

// Palette items (any element with data-node-type) become drag sources for the canvas.
if (typeof document !== "undefined" && !window.__flowbotPaletteDrag) {
  window.__flowbotPaletteDrag = true;
  document.addEventListener("dragstart", (event) => {
    const item = event.target.closest && event.target.closest("[data-node-type]");
    if (item) {
      event.dataTransfer.setData(DRAG_TYPE, item.dataset.nodeType);
      event.dataTransfer.effectAllowed = "move";
    }
  });
}

// Memoised: a patch or a selection redraws only the nodes whose data or selection changed.
const FlowNode = React.memo(function FlowNode({ data, selected }) {
  const colour = COLOURS[data.category] || COLOURS.advanced;
  const handles = data.handles || [];
  const labelled = handles.length > 1 || (handles.length === 1 && handles[0] !== "next");
  const ring = data.highlight
    ? "0 0 0 4px rgba(124, 58, 237, 0.75)"
    : STATUS_RING[data.status] || (selected ? `0 0 0 2px ${colour}` : "none");
  return (
    <div
      data-testid={`node-${data.nodeId}`}
      data-status={data.status || ""}
      data-highlight={data.highlight ? "true" : "false"}
      data-error={data.error ? "true" : "false"}
      style={{
        minWidth: 190,
        background: "var(--color-panel-solid, #fff)",
        border: `1px solid ${data.error ? "#dc2626" : "var(--gray-6, #d4d4d8)"}`,
        borderLeft: `4px solid ${colour}`,
        borderRadius: 10,
        boxShadow: `${ring === "none" ? "" : ring + ", "}0 1px 3px rgba(0,0,0,0.08)`,
        fontFamily: "var(--default-font-family, system-ui)",
        position: "relative",
      }}
    >
      {data.category !== "trigger" && (
        <Handle type="target" position={Position.Left} style={{ width: 10, height: 10 }} />
      )}
      <div style={{ display: "flex", gap: 8, alignItems: "center", padding: "8px 10px" }}>
        <div
          style={{
            width: 26,
            height: 26,
            borderRadius: 7,
            background: colour,
            color: "white",
            display: "grid",
            placeItems: "center",
            fontSize: 13,
            flexShrink: 0,
          }}
        >
          {GLYPHS[data.category] || "•"}
        </div>
        <div style={{ minWidth: 0 }}>
          <div style={{ fontSize: 14, fontWeight: 600, color: "var(--gray-12, #111)" }}>
            {data.label}
          </div>
          <div style={{ fontSize: 12, color: "var(--gray-10, #71717a)" }}>
            {data.nodeId} · {data.platform}
          </div>
        </div>
      </div>
      {labelled && (
        <div style={{ borderTop: "1px solid var(--gray-4, #eee)", padding: "4px 0" }}>
          {handles.map((handle) => (
            <div
              key={handle}
              style={{
                position: "relative",
                textAlign: "right",
                fontSize: 11,
                padding: "2px 14px",
                color: handle === "error" || handle === "false" ? "#b91c1c" : "var(--gray-11)",
              }}
            >
              {handle}
              <Handle
                type="source"
                id={handle}
                position={Position.Right}
                style={{ width: 10, height: 10, background: colour }}
              />
            </div>
          ))}
        </div>
      )}
      {!labelled && handles.length === 1 && (
        <Handle
          type="source"
          id={handles[0]}
          position={Position.Right}
          style={{ width: 10, height: 10, background: colour }}
        />
      )}
      {data.here && (
        <div
          title={`${data.here} on this node`}
          data-testid={`node-people-${data.nodeId}`}
          style={{
            position: "absolute",
            top: -11,
            left: 8,
            padding: "1px 6px",
            borderRadius: 8,
            background: "#0d9488",
            color: "white",
            fontSize: 11,
            fontWeight: 600,
            maxWidth: 170,
            overflow: "hidden",
            textOverflow: "ellipsis",
            whiteSpace: "nowrap",
          }}
        >
          {data.here}
        </div>
      )}
      {data.error && (
        <div
          title={data.error}
          data-testid={`node-error-${data.nodeId}`}
          style={{
            position: "absolute",
            top: -9,
            right: -9,
            width: 20,
            height: 20,
            borderRadius: 10,
            background: "#dc2626",
            color: "white",
            fontSize: 12,
            fontWeight: 700,
            display: "grid",
            placeItems: "center",
          }}
        >
          !
        </div>
      )}
    </div>
  );
});

const NODE_TYPES = { flowNode: FlowNode };

// A snapshot of another flow than this page's: the page's state outlives a visit, so a
// page opening hydrates with its last snapshot first; drawing it (1,000 nodes, maybe) only
// to replace it when this flow's arrives would delay the open.
function otherFlow(graph) {
  if (graph.flow === undefined) return false;
  const open = window.location.pathname.match(/\/flows\/(\d+)\/?$/);
  return Boolean(open) && open[1] !== String(graph.flow);
}

// A property-form field has the focus: its form is not rebuilt under the person's typing
// (leaving the field compares what it showed with the draft, and refreshes the form).
function editingField() {
  const active = document.activeElement;
  return Boolean(active && (active.id || "").startsWith("param-"));
}

// The property form's fields take a co-editor's edit straight from the patch (its "field"
// operation), without asking the server again. Never a field this person is in: leaving a
// text field offers their edit against the newer value instead, and a list open for a
// choice takes the value once it closes. A text field's text becomes its default value too,
// which is what leaving it compares with (what it showed), so a value shown this way is
// never written back untouched; the other fields (checkboxes, selects, pickers) draw it
// from field_values.jsx. A later change of the node that names no field (an undo, a merge)
// or a new snapshot puts back what the form was drawn with, until the rebuilt form says
// what the node holds now.
function showFields(ops, snapshot) {
  const form = document.querySelector("[data-testid=param-form]");
  const node = form ? form.dataset.node : null;
  const texts = new Map();
  let unnamed = snapshot;
  for (const op of ops) {
    if (op.id !== node) {
      forgetFields(op.id);  // the form of that node comes anew when it is selected again
      continue;
    }
    if (op.op === "field") texts.set(op.name, op.text);
    else if (op.op === "params" || op.op === "data" || op.op === "remove") unnamed = true;
  }
  if (!form) return;
  if (unnamed && texts.size) unnamed = false;  // a field edit: the other fields stand
  if (unnamed) forgetFields(node);
  const typed = new Set();
  for (const input of form.querySelectorAll("input[id^=param-], textarea[id^=param-]")) {
    const name = input.id.slice("param-".length);
    typed.add(name);
    if (input === document.activeElement) continue;
    const named = texts.get(name);
    const over = "drawn" in input.dataset ? input.dataset.drawn : input.defaultValue;
    let text = named;
    if (text === undefined && unnamed && "drawn" in input.dataset) text = input.dataset.drawn;
    if (text !== undefined && text !== input.defaultValue) {
      if (!("drawn" in input.dataset)) input.dataset.drawn = input.defaultValue;
      input.defaultValue = text;
      input.value = text;
    }
    if (named !== undefined) setFieldText(node, name, named, over);  // after: it redraws
  }
  for (const [name, text] of texts) {
    if (typed.has(name)) continue;  // its text field, above, told the store too
    const open = form.querySelector(
      `[data-testid="param-${name}"][data-state=open], [data-testid="pick-${name}"][data-state=open]`,
    );
    if (open) afterClosing(open, () => setFieldText(node, name, text));
    else setFieldText(node, name, text);
  }
}

// Once a select's list closes (the person chose, or gave up choosing).
function afterClosing(trigger, then) {
  const watch = new MutationObserver(() => {
    if (trigger.dataset.state === "open") return;
    watch.disconnect();
    then();
  });
  watch.observe(trigger, { attributes: true, attributeFilter: ["data-state"] });
}

// A patch's operations applied to the canvas's nodes, edges and error badges: each kind
// gathered first, so a patch of many operations (an auto-layout) is one pass.
function applyOps(ops, setNodes, setEdges, setErrors) {
  const added = [];
  const removed = new Set();
  const moved = new Map();
  const redrawn = new Map();
  const connected = [];
  const cut = new Set();
  const errors = {};
  for (const op of ops) {
    if (op.op === "add") added.push(op.node);
    else if (op.op === "remove") removed.add(op.id);
    else if (op.op === "move") moved.set(op.id, { x: op.x, y: op.y });
    else if (op.op === "data") redrawn.set(op.id, op.data);
    else if (op.op === "connect") connected.push(op.edge);
    else if (op.op === "disconnect") cut.add(op.id);
    else if (op.op === "issue") errors[op.id] = op.error;
  }
  const fresh = new Set(added.map((node) => node.id));
  if (added.length || removed.size || moved.size || redrawn.size) {
    setNodes((previous) => [
      ...previous
        .filter((node) => !removed.has(node.id) && !fresh.has(node.id))
        .map((node) => {
          const at = moved.get(node.id);
          const data = redrawn.get(node.id);
          if (!at && !data) return node;
          return {
            ...node,
            position: at && !node.dragging ? at : node.position,
            data: data ? { ...node.data, ...data } : node.data,
          };
        }),
      ...added,
    ]);
  }
  if (connected.length || cut.size || removed.size) {
    const joined = new Set(connected.map((edge) => edge.id));
    setEdges((previous) => [
      ...previous.filter(
        (edge) => !cut.has(edge.id) && !joined.has(edge.id)
          && !removed.has(edge.source) && !removed.has(edge.target),
      ),
      ...connected,
    ]);
  }
  if (Object.keys(errors).length) {
    setErrors((previous) => {
      const next = { ...previous };
      for (const [id, error] of Object.entries(errors)) {
        if (error) next[id] = error;
        else delete next[id];
      }
      return next;
    });
  }
}

function isTyping(target) {
  const tag = (target && target.tagName) || "";
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
}

function Canvas(props) {
  const {
    graph,
    patch,
    issues,
    statuses,
    highlight,
    people,
    me,
    readOnly,
    dirty,
    holdAutosave,
    onAutosave,
    onClean,
    onNodeMove,
    onConnectEdge,
    onDeleteItems,
    onDropNode,
    onSelectNode,
    onShortcut,
    onHeartbeat,
    onLeave,
    onGraphChange,
    onResync,
    heartbeatMs,
  } = props;
  const { screenToFlowPosition, getNodes, getNodesBounds, setViewport } = useReactFlow();
  const fitted = useRef(false);
  const [nodes, setNodes] = useState([]);
  const [edges, setEdges] = useState([]);
  const [errors, setErrors] = useState({});
  const lastSeq = useRef(0); // the number of the last change shown
  const resyncing = useRef(false);
  const shownKey = useRef(null);
  const wrapper = useRef(null);

  // A new snapshot: take it, but keep what the user is doing right now (drag, selection).
  // Layout effects, this and the patches': what a patch shows is in the page drawn with it,
  // not one frame later.
  useLayoutEffect(() => {
    if (!graph || otherFlow(graph)) return;
    setNodes((previous) => {
      const before = new Map(previous.map((node) => [node.id, node]));
      return (graph.nodes || []).map((node) => {
        const old = before.get(node.id);
        if (!old) return node;
        return old.dragging
          ? { ...node, position: old.position, selected: old.selected, dragging: true }
          : { ...node, selected: old.selected };
      });
    });
    setEdges(graph.edges || []);
    setErrors(graph.issues || {});
    showFields([], true);
    lastSeq.current = graph.seq || 0;
    resyncing.current = false;
    if (shownKey.current !== null && onGraphChange && !editingField()) onGraphChange();
    shownKey.current = graph.key;
    if (!fitted.current && (graph.nodes || []).length) {
      fitted.current = true;  // frame the flow once its nodes have been measured
      setTimeout(frame, 60);
    }
  }, [graph && graph.key]);

  // Frame the flow, but never smaller than readable: a long flow starts at its left (the
  // trigger) at READABLE_ZOOM, and the rest is a pan away.
  const frame = useCallback(() => {
    const all = getNodes();
    const box = wrapper.current && wrapper.current.getBoundingClientRect();
    if (!all.length || !box) return;
    const bounds = getNodesBounds(all);
    const fit = getViewportForBounds(bounds, box.width, box.height, READABLE_ZOOM, 1.1, 0.2);
    const { zoom } = fit;
    const wide = bounds.width * zoom > box.width - 2 * FRAME_MARGIN;
    const high = bounds.height * zoom > box.height - 2 * FRAME_MARGIN;
    setViewport({
      zoom,
      x: wide ? FRAME_MARGIN - bounds.x * zoom : fit.x,
      y: high ? FRAME_MARGIN - bounds.y * zoom : fit.y,
    });
  }, [getNodes, getNodesBounds, setViewport]);

  // Changes made by anyone since the snapshot, in order; a gap (or a reset of the draft)
  // asks for a new snapshot instead.
  useLayoutEffect(() => {
    if (!patch || !graph || !graph.key || otherFlow(graph)) return;
    if (!patch.seq || patch.seq <= lastSeq.current) return;
    const reset = (patch.ops || []).some((op) => op.op === "reset");
    if (patch.seq !== lastSeq.current + 1 || reset) {
      if (!resyncing.current && onResync) {
        resyncing.current = true;
        onResync();
      }
      return;
    }
    lastSeq.current = patch.seq;
    showFields(patch.ops || [], false);
    applyOps(patch.ops || [], setNodes, setEdges, setErrors);
    const structural = (patch.ops || []).some((op) => op.op !== "move");
    // the form is still asked for: the server's copy of it must follow (a field left
    // untouched asks it again, and only a change is sent)
    if (structural && onGraphChange && !editingField()) onGraphChange();
  }, [patch && patch.seq]);

  // Unsaved edits reach the database after a pause in editing (each editor's page asks;
  // the room saves once); until then, leaving the page asks first.
  // Not while this page asks whether to keep edits it found on load: saving them by
  // itself would take the choice away.
  useEffect(() => {
    if (!dirty || readOnly || holdAutosave || !onAutosave) return undefined;
    const timer = setTimeout(() => onAutosave(), AUTOSAVE_MS);
    return () => clearTimeout(timer);
  }, [dirty, readOnly, holdAutosave, graph && graph.key, patch && patch.seq]);

  // The room's edits were saved or discarded (here or by a co-editor): the page says so.
  const wasDirty = useRef(dirty);
  useEffect(() => {
    if (wasDirty.current && !dirty && onClean) onClean();
    wasDirty.current = dirty;
  }, [dirty]);

  useEffect(() => {
    if (!dirty) return undefined;
    const ask = (event) => {
      event.preventDefault();
      event.returnValue = "";
    };
    window.addEventListener("beforeunload", ask);
    return () => window.removeEventListener("beforeunload", ask);
  }, [dirty]);

  useEffect(() => {
    if (!onHeartbeat) return undefined;
    onHeartbeat();
    const timer = setInterval(() => onHeartbeat(), heartbeatMs);
    const leave = () => onLeave && onLeave();
    window.addEventListener("pagehide", leave);
    return () => {
      clearInterval(timer);
      window.removeEventListener("pagehide", leave);
      leave();
    };
  }, []);

  useEffect(() => {
    if (!onShortcut || readOnly) return undefined;
    const onKey = (event) => {
      if (!(event.ctrlKey || event.metaKey) || isTyping(event.target)) return;
      if (!wrapper.current || !wrapper.current.matches(":hover, :focus-within")) return;
      const key = event.key.toLowerCase();
      const name =
        key === "c" ? "copy" : key === "v" ? "paste" : key === "y" ? "redo"
          : key === "z" ? (event.shiftKey ? "redo" : "undo") : null;
      if (name) {
        event.preventDefault();
        onShortcut(name);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [readOnly]);

  const shown = useMemo(
    () =>
      nodes.map((node) => {
        const error = errors[node.id] || (issues && issues[node.id]) || "";
        const status = (statuses && statuses[node.id]) || "";
        const lit = highlight === node.id;
        // "bob" or "bob › Text" (the field they are in); oneself is not shown
        const here = ((people && people[node.id]) || [])
          .filter((name) => name !== me && !name.startsWith(`${me} › `))
          .join(", ");
        if (
          node.data.error === error && node.data.status === status
          && node.data.highlight === lit && (node.data.here || "") === here
        ) return node;
        return { ...node, data: { ...node.data, error, status, highlight: lit, here } };
      }),
    [nodes, errors, issues, statuses, highlight, people, me],
  );

  const onNodesChange = useCallback(
    (changes) => setNodes((previous) => applyNodeChanges(
      changes.filter((change) => change.type !== "remove"), previous)),
    [],
  );
  const onEdgesChange = useCallback(
    (changes) => setEdges((previous) => applyEdgeChanges(
      changes.filter((change) => change.type !== "remove"), previous)),
    [],
  );
  const onNodeDragStop = useCallback(
    (_event, _node, dragged) => {
      if (!onNodeMove) return;
      onNodeMove(dragged.map((node) => ({
        id: node.id,
        x: Math.round(node.position.x),
        y: Math.round(node.position.y),
      })));
    },
    [onNodeMove],
  );
  const onConnect = useCallback(
    (connection) => onConnectEdge && onConnectEdge({
      source: connection.source,
      sourceHandle: connection.sourceHandle,
      target: connection.target,
    }),
    [onConnectEdge],
  );
  const onNodeClick = useCallback(
    (_event, node) => onSelectNode && onSelectNode(node.id),
    [onSelectNode],
  );
  const onPaneClick = useCallback(() => onSelectNode && onSelectNode(""), [onSelectNode]);
  const onDelete = useCallback(
    ({ nodes: gone, edges: cut }) => onDeleteItems && onDeleteItems({
      nodes: gone.map((node) => node.id),
      edges: cut.map((edge) => edge.id),
    }),
    [onDeleteItems],
  );
  const onDragOver = useCallback((event) => {
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
  }, []);
  const onDrop = useCallback(
    (event) => {
      event.preventDefault();
      const type = event.dataTransfer.getData(DRAG_TYPE);
      if (!type || !onDropNode) return;
      const at = screenToFlowPosition({ x: event.clientX, y: event.clientY });
      onDropNode({ type, x: Math.round(at.x), y: Math.round(at.y) });
    },
    [screenToFlowPosition, onDropNode],
  );

  return (
    <div ref={wrapper} style={{ width: "100%", height: "100%" }} data-testid="flow-canvas">
      <ReactFlow
        nodes={shown}
        edges={edges}
        nodeTypes={NODE_TYPES}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onNodeDragStop={onNodeDragStop}
        onConnect={onConnect}
        onDelete={onDelete}
        onDrop={onDrop}
        onDragOver={onDragOver}
        onNodeClick={onNodeClick}
        onPaneClick={onPaneClick}
        nodesDraggable={!readOnly}
        nodesConnectable={!readOnly}
        deleteKeyCode={readOnly ? null : ["Delete", "Backspace"]}
        defaultEdgeOptions={EDGE_OPTIONS}
        onlyRenderVisibleElements={nodes.length > 80}
        minZoom={0.1}
        fitView
        fitViewOptions={FIT_OPTIONS}
        proOptions={PRO_OPTIONS}
      >
        <Background gap={18} size={1} />
        <MiniMap
          pannable
          zoomable
          style={MINIMAP_STYLE}
          maskColor="rgba(124, 58, 237, 0.06)"
          nodeColor={minimapColour}
        />
        <Controls showInteractive={false} showFitView={false}>
          {/* React Flow's own button fits without the readable floor: frame() instead */}
          <ControlButton onClick={frame} title="Fit View" aria-label="Fit View">
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 30">
              <path d={FIT_ICON} />
            </svg>
          </ControlButton>
        </Controls>
      </ReactFlow>
    </div>
  );
}

export function FlowCanvas(props) {
  return (
    <ReactFlowProvider>
      <Canvas {...props} />
    </ReactFlowProvider>
  );
}
