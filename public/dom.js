// Small DOM helpers shared by the console's views. No framework: every view
// builds its elements with h() and sets text through textContent, so nothing
// the gateway or a record carries is ever parsed as HTML.

/**
 * Creates an element. `props`: `class`, `dataset`, `on<event>` handlers,
 * a few properties (`value`, `checked`, `disabled`, `hidden`, `selected`),
 * everything else as an attribute (true: present, false/null: absent).
 * Children: nodes, strings, numbers, arrays of them; null and false are skipped.
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  applyProps(element, props);
  append(element, children);
  return element;
}

/** Replaces an element's children, skipping null and false as h() does. */
export function setChildren(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** h() for SVG elements; every prop is an attribute. */
export function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined && value !== false) element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

const PROPERTIES = new Set(['value', 'checked', 'disabled', 'hidden', 'selected', 'open']);

function applyProps(element, props) {
  for (const [name, value] of Object.entries(props ?? {})) {
    if (name === 'class') {
      if (value) element.className = value;
    } else if (name === 'dataset') {
      Object.assign(element.dataset, value);
    } else if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else if (PROPERTIES.has(name)) {
      element[name] = value;
    } else if (value === true) {
      element.setAttribute(name, '');
    } else if (value !== false && value !== null && value !== undefined) {
      element.setAttribute(name, String(value));
    }
  }
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
}

/** Numbers as this browser writes them (1,234,567); offsets are int64 strings and stay exact. */
const grouping = new Intl.NumberFormat();
export function count(value) {
  if (value === null || value === undefined || value === '') return '';
  try {
    return grouping.format(typeof value === 'bigint' ? value : BigInt(value));
  } catch {
    return String(value);
  }
}

/** "1 record", "2 records". */
export function plural(n, word, many = `${word}s`) {
  return `${count(n)} ${Number(n) === 1 ? word : many}`;
}

const pad = (n, width = 2) => String(n).padStart(width, '0');

/** A record timestamp in the browser's time zone, to the millisecond; the title of its cell carries UTC. */
export function localTime(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** Bytes as people read them. */
export function byteSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** Runs `task` over `items`, at most `limit` at a time. */
export async function eachLimited(items, limit, task) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++];
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

let fields = 0;

/**
 * A labelled form control. The label points at the control (for=id) rather
 * than wrapping it, so the control's accessible name is exactly `text`
 * (a wrapped <select> would add its chosen option to it). A hint goes
 * under the control as its description.
 */
export function field(text, control, hint) {
  fields += 1;
  if (!control.id) control.id = `field-${fields}`;
  const hintId = `${control.id}-hint`;
  if (hint) control.setAttribute('aria-describedby', [control.getAttribute('aria-describedby'), hintId].filter(Boolean).join(' '));
  return h('div', { class: 'field' }, h('label', { class: 'field-label', for: control.id }, text), control, hint ? h('span', { class: 'hint', id: hintId }, hint) : null);
}

/**
 * A table in its scrolling box. `columns`: [{ title, numeric? }]; `rows`:
 * the body's <tr> elements. Named by the heading `labelledBy` points at.
 */
export function dataTable({ id, labelledBy, columns, rows }) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { id, 'aria-labelledby': labelledBy },
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.numeric ? 'num' : '' }, c.title)))),
      h('tbody', {}, rows),
    ),
  );
}

/** Moves keyboard focus to a view's heading after navigation, so screen readers announce the new view. */
export function focusHeading(container) {
  const heading = container.querySelector('h1');
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
}
