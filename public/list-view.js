// A filterable list of named things (topics, consumer groups): a heading
// with actions, a filter box kept in the URL, a switch for internal ones,
// and a table whose rows fill in their details as they come on screen.

import { get } from './api.js';
import { field, h, plural } from './dom.js';
import { problemBox } from './problems.js';
import { replaceQuery } from './router.js';
import { rowDetails } from './row-details.js';

/** Rows drawn at most; a longer list asks for a narrower filter rather than drawing thousands. */
const MAX_ROWS = 300;

/**
 * options:
 *   title, noun, tableId, internalLabel      (no internal switch without a label)
 *   columns: [{ title, numeric? }]           the first column is the row header
 *   listPath(internal): string                the listing's URL
 *   itemsOf(answer): [{ name, ... }]          items of the listing, each with a unique `name`
 *   cells(item): [th, td, ...]                one row's cells; detail cells carry data-col
 *   loadDetail(name), fillDetail(row, detailOrError)
 *   actions: [buttons]
 */
export function renderListView(container, options, { query, signIn }) {
  const { title, noun, tableId, columns, internalLabel, listPath, itemsOf, cells, loadDetail, fillDetail, actions = [] } = options;
  const filter = h('input', { type: 'search', name: 'filter', value: query.get('q') ?? '', autocomplete: 'off', spellcheck: false, placeholder: 'part of a name' });
  const internal = h('input', { type: 'checkbox', name: 'internal', checked: query.get('internal') === '1' });
  const refresh = h('button', { type: 'button' }, 'Refresh');
  const summary = h('p', { class: 'hint summary', role: 'status' });
  const problem = h('div');
  const rows = h('tbody');
  const table = h(
    'table',
    { class: 'list', id: tableId, 'aria-label': title },
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.numeric ? 'num' : '' }, c.title)))),
    rows,
  );
  const tableWrap = h('div', { class: 'table-wrap' }, table);
  container.append(
    h('div', { class: 'view-head' }, h('h1', {}, title), h('div', { class: 'actions' }, actions, refresh)),
    h('div', { class: 'toolbar' }, field('Filter', filter), internalLabel ? h('label', { class: 'check' }, internal, internalLabel) : null, summary),
    problem,
    tableWrap,
  );

  const details = rowDetails({ load: loadDetail, fill: fillDetail });
  let items = [];

  function draw() {
    details.reset();
    const needle = filter.value.trim().toLowerCase();
    const matching = items.filter((item) => item.name.toLowerCase().includes(needle));
    const shown = matching.slice(0, MAX_ROWS);
    rows.replaceChildren(
      ...shown.map((item) => {
        const row = h('tr', { dataset: { key: item.name } }, cells(item));
        // Phones show each row as a card: every cell names its column.
        [...row.cells].forEach((cell, i) => cell.setAttribute('data-label', columns[i].title));
        details.watch(row);
        return row;
      }),
    );
    if (items.length === 0) summary.textContent = `No ${noun}s.`;
    else if (matching.length === 0) summary.textContent = `No ${noun} name contains “${filter.value.trim()}” (${plural(items.length, noun)} in all).`;
    else if (matching.length > shown.length) summary.textContent = `${plural(matching.length, noun)} match; the first ${shown.length} are shown. Narrow the filter to see the others.`;
    else summary.textContent = needle ? `${plural(matching.length, noun)} of ${items.length}` : plural(items.length, noun);
  }

  async function load() {
    problem.replaceChildren();
    details.reset({ forget: true });
    try {
      items = itemsOf(await get(listPath(internal.checked)));
      tableWrap.hidden = false;
      draw();
      return true;
    } catch (error) {
      items = [];
      rows.replaceChildren();
      tableWrap.hidden = true;
      summary.textContent = '';
      problem.replaceChildren(problemBox(error, { onSignIn: signIn, label: `${title} could not be listed` }));
      return false;
    }
  }

  const remember = () => replaceQuery({ q: filter.value, internal: internal.checked ? '1' : '' });
  filter.addEventListener('input', () => {
    remember();
    draw();
  });
  internal.addEventListener('change', () => {
    remember();
    void load();
  });
  refresh.addEventListener('click', () => void load());

  return { loaded: load(), dispose: () => details.stop() };
}
