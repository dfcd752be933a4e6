// The live tail of one topic: records as they arrive, newest first, from
// latest, earliest or a time; pause, a key filter, JSON pretty-printed and
// foldable, binary as base64 with its length.
//
// A busy topic must not freeze the tab, so records are drawn once per
// animation frame, never more than the kept-rows cap at a time, and the
// list never holds more rows than the cap: at 2,000 records a second most
// records of a frame replace each other before anyone could read them.

import { byteSize, count, field, h, localTime, plural } from './dom.js';
import { jsonTree, preview } from './json-view.js';
import { problemBox } from './problems.js';
import { TRANSPORTS } from './tail-transport.js';

const KEEP_CHOICES = [100, 500, 1000, 5000];
const DEFAULT_KEEP = 1000;
/** How often the counters under the controls are rewritten: text churn costs layout too. */
const STATS_EVERY_MS = 250;

/** A key as people type it, to compare with the filter: text as is, JSON as its text, base64 as its base64. */
function keyText(record) {
  if (record.key === null || record.key === undefined) return '';
  if (record.keyEncoding === 'json') return typeof record.key === 'string' ? record.key : JSON.stringify(record.key);
  return String(record.key);
}

function base64Length(text) {
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return Math.floor((text.length * 3) / 4) - padding;
}

/** The small label beside a key or value saying how to read it. */
function encodingTag(data, encoding) {
  if (encoding === 'base64') return h('span', { class: 'enc' }, `base64 · ${byteSize(base64Length(String(data)))}`);
  return null;
}

function cellText(data, encoding) {
  if (data === null || data === undefined || encoding === null) return h('span', { class: 'muted' }, 'null');
  return preview(encoding === 'json' ? JSON.stringify(data) : String(data));
}

function datetimeLocal(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 19);
}

export function renderTail(topic, { signIn }) {
  const from = h(
    'select',
    { name: 'from' },
    h('option', { value: 'latest' }, 'latest (new records)'),
    h('option', { value: 'earliest' }, 'earliest (the whole topic)'),
    h('option', { value: 'time' }, 'a time…'),
  );
  const fromTime = h('input', { type: 'datetime-local', name: 'fromTime', step: 1, value: datetimeLocal(Date.now() - 15 * 60_000) });
  const fromTimeField = field('Time (your time zone)', fromTime);
  fromTimeField.hidden = true;
  const format = h('select', { name: 'format' }, h('option', { value: 'text' }, 'text where UTF-8'), h('option', { value: 'base64' }, 'always base64'));
  const transport = h('select', { name: 'transport' }, TRANSPORTS.map((t) => h('option', { value: t.id }, t.label)));
  const transportField = field('Via', transport);
  transportField.hidden = TRANSPORTS.length < 2;
  const start = h('button', { type: 'submit', class: 'primary' }, 'Start');
  const stop = h('button', { type: 'button', disabled: true }, 'Stop');
  const pause = h('button', { type: 'button', id: 'tail-pause', 'aria-pressed': 'false', disabled: true }, 'Pause');
  const clear = h('button', { type: 'button' }, 'Clear');
  const keyFilter = h('input', { type: 'search', name: 'key', autocomplete: 'off', spellcheck: false, placeholder: 'any key' });
  const keep = h('select', { name: 'keep' }, KEEP_CHOICES.map((n) => h('option', { value: String(n), selected: n === DEFAULT_KEEP }, count(n))));
  const status = h('p', { class: 'tail-status', id: 'tail-status', role: 'status', dataset: { state: 'idle' } }, 'Not started.');
  const stats = h('p', { class: 'hint tail-stats', id: 'tail-stats' });
  const problems = h('div', { class: 'tail-problems' });
  // Rows are grid lines with table roles rather than a <table>: a table lays
  // out every row again when one is added on top, and at 2,000 records a
  // second that alone filled whole frames. Each record is its own box that the
  // browser skips while it is scrolled out of sight (content-visibility).
  const cell = (role, className, ...content) => h('span', { role, class: className }, ...content);
  const body = h('div', { role: 'rowgroup', class: 'records-body' });
  const table = h(
    'div',
    { role: 'table', class: 'records', id: 'tail-table', 'aria-label': `Records of ${topic.name}, newest first` },
    h(
      'div',
      { role: 'rowgroup', class: 'records-head' },
      h(
        'div',
        { role: 'row', class: 'rec-row' },
        cell('columnheader', 'fold-col', h('span', { class: 'visually-hidden' }, 'Details')),
        cell('columnheader', 'num', h('span', { class: 'long' }, 'Partition'), h('span', { class: 'short', 'aria-hidden': 'true' }, 'P')),
        cell('columnheader', 'num', 'Offset'),
        cell('columnheader', 'time', 'Timestamp'),
        cell('columnheader', '', 'Key'),
        cell('columnheader', '', 'Value'),
      ),
    ),
    body,
  );
  const form = h(
    'form',
    { class: 'tail-controls', 'aria-label': 'Live tail settings' },
    field('From', from),
    fromTimeField,
    field('Bytes', format),
    transportField,
    h('div', { class: 'buttons' }, start, stop, pause),
  );
  const element = h(
    'section',
    { class: 'panel tail', 'aria-labelledby': 'tail-title' },
    h('h2', { id: 'tail-title' }, 'Live tail'),
    h(
      'div',
      { class: 'tail-bar' },
      form,
      h('div', { class: 'tail-view-controls', role: 'group', 'aria-label': 'What the tail shows' }, field('Key (exact)', keyFilter), field('Keep the newest', keep), h('div', { class: 'buttons' }, clear)),
    ),
    status,
    stats,
    problems,
    h('div', { class: 'table-wrap tail-wrap' }, table),
  );

  // ---- state -------------------------------------------------------------
  let connection = null;
  let transportInUse = TRANSPORTS[0];
  let paused = false;
  let kept = []; // newest last; at most `cap` records, for redrawing when the filter changes
  let queue = []; // arrived, not yet drawn
  let held = []; // arrived while paused
  let received = 0;
  let frame = 0;
  let statsAt = 0;
  let startedFrom = '';
  /** The key a transport that filters on the gateway was opened with. */
  let startedKey = '';
  const cap = () => Number(keep.value);
  const filterKey = () => keyFilter.value;
  const matches = (record) => transportInUse.filtersKeys || filterKey() === '' || keyText(record) === filterKey();

  function setStatus(text, state) {
    status.textContent = text;
    status.dataset.state = state;
  }

  let statsTimer = null;
  function updateStats(force = false) {
    const now = performance.now();
    if (!force && now - statsAt < STATS_EVERY_MS) {
      // Written at the end of this period instead, so the last records of a burst are counted.
      statsTimer ??= setTimeout(() => {
        statsTimer = null;
        updateStats(true);
      }, STATS_EVERY_MS);
      return;
    }
    statsAt = now;
    const shown = body.childElementCount;
    let filtered = filterKey() && !transportInUse.filtersKeys ? ` with key “${filterKey()}”` : '';
    if (connection && transportInUse.filtersKeys) {
      if (startedKey) filtered = ` with key “${startedKey}”, filtered by the gateway`;
      if (filterKey() !== startedKey) filtered += ' (Restart to filter on the key now typed)';
    }
    stats.textContent = `${plural(received, 'record')} received · ${plural(shown, 'row')} shown${filtered} (newest ${count(cap())} kept)`;
  }

  function scheduleDraw() {
    if (!frame) frame = requestAnimationFrame(draw);
  }

  /** Draws what arrived since the last frame: only the newest `cap` of them can be on screen after it. */
  function draw() {
    frame = 0;
    const limit = cap();
    const batch = queue.length > limit ? queue.slice(queue.length - limit) : queue;
    queue = [];
    const fragment = document.createDocumentFragment();
    for (let i = batch.length - 1; i >= 0; i -= 1) {
      if (matches(batch[i])) fragment.append(recordRow(batch[i]));
    }
    body.prepend(fragment);
    trim(limit);
    updateStats();
  }

  function trim(limit) {
    while (body.childElementCount > limit) body.lastElementChild.remove();
  }

  function keepRecord(record) {
    kept.push(record);
    // Trim in chunks: splicing one off the front per record would be quadratic at a high rate.
    if (kept.length > cap() * 1.25) kept = kept.slice(kept.length - cap());
  }

  /** Every record already kept, drawn again (a new filter or cap). */
  function redraw() {
    queue = [];
    const limit = cap();
    if (kept.length > limit) kept = kept.slice(kept.length - limit);
    body.replaceChildren();
    const fragment = document.createDocumentFragment();
    let n = 0;
    for (let i = kept.length - 1; i >= 0 && n < limit; i -= 1) {
      if (matches(kept[i])) {
        fragment.append(recordRow(kept[i]));
        n += 1;
      }
    }
    body.append(fragment);
    updateStats(true);
  }

  function recordRow(record) {
    const toggle = h('button', { type: 'button', class: 'fold', 'aria-expanded': 'false', 'aria-label': `Details of offset ${record.offset} in partition ${record.partition}` }, '▸');
    const row = h(
      'div',
      { role: 'row', class: 'rec-row' },
      cell('cell', 'fold-col', toggle),
      cell('cell', 'num', String(record.partition)),
      cell('cell', 'num', String(record.offset)),
      h('span', { role: 'cell', class: 'time', title: typeof record.timestamp === 'number' ? new Date(record.timestamp).toISOString() : '' }, localTime(record.timestamp)),
      cell('cell', 'mono key', cellText(record.key, record.keyEncoding), encodingTag(record.key, record.keyEncoding)),
      cell('cell', 'mono value', cellText(record.value, record.valueEncoding), encodingTag(record.value, record.valueEncoding)),
    );
    const box = h('div', { class: 'rec', role: 'none', dataset: { partition: String(record.partition), offset: String(record.offset) } }, row);
    toggle.addEventListener('click', () => {
      const open = toggle.getAttribute('aria-expanded') === 'true';
      toggle.setAttribute('aria-expanded', String(!open));
      toggle.textContent = open ? '▸' : '▾';
      if (open) box.querySelector('.rec-detail')?.remove();
      else box.append(h('div', { role: 'row', class: 'rec-detail' }, h('div', { role: 'cell', 'aria-colspan': 6 }, recordDetail(record))));
    });
    return box;
  }

  function recordDetail(record) {
    const headers = Object.entries(record.headers ?? {});
    return h(
      'div',
      { class: 'record-detail' },
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Timestamp'),
        h('dd', {}, typeof record.timestamp === 'number' ? `${localTime(record.timestamp)} (${new Date(record.timestamp).toISOString()})` : '—'),
        h('dt', {}, 'Key'),
        h('dd', { class: 'mono' }, record.key === null || record.key === undefined ? 'null' : keyText(record), encodingTag(record.key, record.keyEncoding)),
        h('dt', {}, 'Headers'),
        h('dd', {}, headers.length ? h('ul', { class: 'header-list' }, headers.map(([name, value]) => h('li', {}, h('code', {}, name), ': ', h('span', { class: 'mono' }, String(value))))) : h('span', { class: 'muted' }, 'none')),
        record.keySchema ? [h('dt', {}, 'Key schema'), h('dd', {}, schemaText(record.keySchema))] : null,
        record.valueSchema ? [h('dt', {}, 'Value schema'), h('dd', {}, schemaText(record.valueSchema))] : null,
        record.note ? [h('dt', {}, 'Note'), h('dd', {}, record.note)] : null,
      ),
      h('p', { class: 'detail-label' }, 'Value', encodingTag(record.value, record.valueEncoding)),
      valueDetail(record),
    );
  }

  function valueDetail(record) {
    if (record.value === null || record.value === undefined || record.valueEncoding === null) return h('p', { class: 'muted' }, 'null (a tombstone)');
    if (record.valueEncoding === 'json') return h('div', { class: 'json-box' }, jsonTree(record.value, { openDepth: 3 }));
    return h('pre', { class: record.valueEncoding === 'base64' ? 'wrap base64' : 'wrap' }, String(record.value));
  }

  // ---- flow -----------------------------------------------------------------

  function onRecord(record) {
    received += 1;
    if (paused) {
      held.push(record);
      setStatus(`Paused · ${plural(held.length, 'record')} waiting here; the gateway holds the rest.`, 'paused');
      return;
    }
    keepRecord(record);
    queue.push(record);
    scheduleDraw();
  }

  function startingPoint() {
    if (from.value !== 'time') return { from: from.value, text: from.value };
    const ms = new Date(fromTime.value).getTime();
    return Number.isFinite(ms) ? { from: ms, text: localTime(ms) } : null;
  }

  function begin() {
    end();
    problems.replaceChildren();
    const point = startingPoint();
    if (!point) {
      problems.replaceChildren(h('p', { class: 'problem', role: 'alert' }, 'Choose a time to start from.'));
      return;
    }
    transportInUse = TRANSPORTS.find((t) => t.id === transport.value) ?? TRANSPORTS[0];
    startedFrom = point.text;
    startedKey = keyFilter.value;
    setPaused(false);
    setStatus(`Connecting over ${transportInUse.label}…`, 'connecting');
    stop.disabled = false;
    const mine = transportInUse.open(
      { topic: topic.name, from: point.from, format: format.value, key: keyFilter.value },
      {
        onOpen: ({ via }) => {
          if (connection !== mine) return;
          pause.disabled = false;
          start.textContent = 'Restart';
          setStatus(`Live from ${startedFrom} via ${via}.`, 'live');
        },
        onRecord: (record) => {
          if (connection === mine) onRecord(record);
        },
        onProblem: (problem) => {
          if (connection === mine) problems.replaceChildren(problemBox(problem, { onSignIn: signIn, label: 'Live tail' }));
        },
        onClose: () => {
          if (connection !== mine) return;
          connection = null;
          pause.disabled = true;
          stop.disabled = true;
          start.textContent = 'Start';
          setStatus('Stopped.', 'idle');
        },
      },
    );
    connection = mine;
  }

  function end() {
    if (!connection) return;
    const closing = connection;
    connection = null;
    closing.close();
    pause.disabled = true;
    stop.disabled = true;
    start.textContent = 'Start';
    held = [];
    setStatus('Stopped.', 'idle');
  }

  function setPaused(value) {
    paused = value;
    pause.setAttribute('aria-pressed', String(value));
    pause.textContent = value ? 'Resume' : 'Pause';
    if (value) {
      connection?.pause();
      setStatus(`Paused · ${plural(held.length, 'record')} waiting here; the gateway holds the rest.`, 'paused');
      return;
    }
    const waiting = held;
    held = [];
    for (const record of waiting) {
      keepRecord(record);
      queue.push(record);
    }
    if (waiting.length) scheduleDraw();
    connection?.resume();
    if (connection) setStatus(`Live from ${startedFrom} via ${transportInUse.label}.`, 'live');
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    begin();
  });
  stop.addEventListener('click', end);
  pause.addEventListener('click', () => setPaused(!paused));
  clear.addEventListener('click', () => {
    kept = [];
    queue = [];
    received = 0;
    redraw();
  });
  from.addEventListener('change', () => {
    fromTimeField.hidden = from.value !== 'time';
  });
  let filterTimer = null;
  keyFilter.addEventListener('input', () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(redraw, 150);
  });
  keep.addEventListener('change', redraw);
  updateStats(true);

  return {
    element,
    dispose() {
      end();
      if (frame) cancelAnimationFrame(frame);
      clearTimeout(statsTimer);
    },
  };
}

/** A registry schema a record names: its subject and version when a subject uses it, its id and type. */
function schemaText(schema) {
  const where = schema.subject ? `${schema.subject} v${schema.version} · ` : '';
  return `${where}id ${schema.id}${schema.type ? ` · ${schema.type}` : ''}`;
}
