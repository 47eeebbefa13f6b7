// What co-editors' edits put in the property form's fields, straight from the room's patch
// (flow_canvas.jsx reads the patch; param_form.py draws the fields through useFieldText).
//
// A field's text from a patch is shown only while the form still holds the value it was
// shown over: once the server sends the form again (with that text, or a newer one), the
// form's own value is the truth again. A change that names no field (an undo, a merge)
// forgets a node's texts, and the form is asked for again.
import { useMemo, useSyncExternalStore } from "react";

const shown = new Map(); // "node\0name" → { text, over }
const drawn = new Map(); // "node\0name" → the value the form last drew the field with
const listeners = new Set();
let version = 0;

const key = (node, name) => `${node}\u0000${name}`;

function changed() {
  version += 1;
  for (const listener of listeners) listener();
}

// A co-editor's (or one's own) edit of a field; ``over`` is the value the field was drawn
// with, when the caller knows it (a text field's DOM does), else the last one drawn here.
export function setFieldText(node, name, text, over) {
  const at = key(node, name);
  const base = over !== undefined ? over : drawn.get(at);
  if (base === undefined) return; // never drawn here: the form will come with it
  const entry = shown.get(at);
  if (entry && entry.text === text && entry.over === base) return;
  shown.set(at, { text, over: base });
  changed();
}

// The node changed in a way no field names: back to what the form says.
export function forgetFields(node) {
  const prefix = `${node}\u0000`;
  let forgot = false;
  for (const at of [...shown.keys()]) {
    if (at.startsWith(prefix)) forgot = shown.delete(at);
  }
  if (forgot) changed();
}

function subscribe(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function textOf(node, name, value) {
  const at = key(node, name);
  drawn.set(at, value);
  const entry = shown.get(at);
  if (!entry) return value;
  if (entry.over === value) return entry.text;
  shown.delete(at); // the form moved on: a later return to that value must not revive it
  return value;
}

// The text each field shows: fieldText(node, name, the form's value). A new function when a
// patch changed a text, so the fields drawn with it are drawn again (only they).
export function useFieldText() {
  const seen = useSyncExternalStore(subscribe, () => version, () => 0);
  return useMemo(() => (node, name, value) => textOf(node, name, value), [seen]);
}
