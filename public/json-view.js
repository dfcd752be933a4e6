// JSON shown for people: a one-line preview for table cells, and a foldable
// tree built from <details> elements, which the keyboard (Enter, Space) and
// screen readers already know how to open and close.

import { h } from './dom.js';

/** Items of one object or array drawn before "… n more": a huge value must not freeze the tab. */
const MAX_ITEMS = 200;
const MAX_DEPTH = 64;

/** A single line of at most `max` characters. */
export function preview(value, max = 160) {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A foldable tree of `value`; objects and arrays nearer the top than `openDepth` start open. */
export function jsonTree(value, { openDepth = 2 } = {}) {
  return h('div', { class: 'json-tree' }, node(value, 0, openDepth));
}

function node(value, depth, openDepth) {
  if (value === null) return h('span', { class: 'j-null' }, 'null');
  if (Array.isArray(value)) return container(value.map((v, i) => [i, v]), '[', ']', `${value.length} ${value.length === 1 ? 'item' : 'items'}`, depth, openDepth, false);
  if (typeof value === 'object') {
    const entries = Object.entries(value);
    return container(entries, '{', '}', `${entries.length} ${entries.length === 1 ? 'key' : 'keys'}`, depth, openDepth, true);
  }
  if (typeof value === 'string') return h('span', { class: 'j-string' }, JSON.stringify(value));
  if (typeof value === 'number') return h('span', { class: 'j-number' }, String(value));
  return h('span', { class: 'j-bool' }, String(value));
}

function container(entries, open, close, size, depth, openDepth, named) {
  if (entries.length === 0) return h('span', { class: 'j-punct' }, `${open}${close}`);
  if (depth >= MAX_DEPTH) return h('span', { class: 'j-punct' }, `${open} … ${close}`);
  const items = entries.slice(0, MAX_ITEMS).map(([key, v]) =>
    h('li', {}, named ? [h('span', { class: 'j-key' }, JSON.stringify(key)), h('span', { class: 'j-punct' }, ': ')] : null, node(v, depth + 1, openDepth)),
  );
  if (entries.length > MAX_ITEMS) items.push(h('li', { class: 'muted' }, `… ${entries.length - MAX_ITEMS} more`));
  // Closed: `{ 3 keys }` on one line. Open: `{`, the items, `}` on a line of its own.
  return h(
    'details',
    { open: depth < openDepth },
    h('summary', {}, h('span', { class: 'j-punct' }, open), h('span', { class: 'j-size' }, size), h('span', { class: 'j-punct j-folded' }, close)),
    h('ul', {}, items),
    h('span', { class: 'j-punct' }, close),
  );
}

/**
 * Parses `text` as JSON; a failure says where, as line and column, so the
 * person typing can find it.
 */
export function checkJson(text) {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    const message = String(error.message ?? error);
    const position = /position (\d+)/.exec(message);
    if (position && !/line \d+/.test(message)) {
      const before = text.slice(0, Number(position[1]));
      const line = before.split('\n').length;
      const column = before.length - before.lastIndexOf('\n');
      return { ok: false, message: `${message} (line ${line}, column ${column})` };
    }
    return { ok: false, message };
  }
}
