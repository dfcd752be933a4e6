// One topic: its partitions, live messages (tail and produce), JSON Schema
// and configs, each a tab with its own URL, plus the admin actions the
// principal is allowed.

import { ApiError, get, mayAdminister, sumOffsets, topicPath } from './api.js';
import { openAddPartitionsDialog, openDeleteTopicDialog } from './admin.js';
import { count, dataTable, h, setChildren } from './dom.js';
import { problemBox } from './problems.js';
import { renderProduceForm } from './produce-form.js';
import { href, navigate } from './router.js';
import { renderSchemaPanel } from './schema-panel.js';
import { renderTail } from './tail.js';

/** Times a topic that answered 503 is asked again before the error stays. */
const MAX_RETRIES = 5;

const TABS = [
  ['partitions', 'Partitions'],
  ['messages', 'Messages'],
  ['schema', 'Schema'],
  ['configs', 'Configs'],
];

export function renderTopic(container, { name, tab = 'partitions', signIn, notify }) {
  if (!TABS.some(([id]) => id === tab)) tab = 'partitions';
  const badges = h('span', { class: 'badges' });
  const actions = h('div', { class: 'actions' });
  const body = h('div', { class: 'tab-body' });
  container.append(
    h('nav', { class: 'breadcrumb', 'aria-label': 'Breadcrumb' }, h('a', { href: href('topics') }, 'Topics'), h('span', { 'aria-hidden': 'true' }, ' / ')),
    h('div', { class: 'view-head' }, h('h1', {}, name), badges, actions),
    h(
      'nav',
      { class: 'tabs', 'aria-label': 'Topic views' },
      TABS.map(([id, label]) => h('a', { href: href('topics', name, id), 'aria-current': id === tab ? 'page' : false, dataset: { tab: id } }, label)),
    ),
    body,
  );

  let disposeTab = null;
  let disposed = false;
  let retry = null;
  let retries = 0;

  async function load() {
    let topic;
    try {
      topic = await get(topicPath(name));
    } catch (error) {
      if (disposed) return;
      body.replaceChildren(problemBox(error, { onSignIn: signIn, label: `Topic ${name} could not be read` }));
      // 503 passes (Kafka busy, or a topic just changed): ask again a few times rather than leave the error up.
      if (error instanceof ApiError && error.status === 503 && retries < MAX_RETRIES) {
        retries += 1;
        retry = setTimeout(load, Math.max(1, Number(error.retryAfter) || 1) * 1000);
      }
      return;
    }
    if (disposed) return;
    retries = 0;
    setChildren(
      badges,
      h('span', { class: 'badge' }, `${topic.partitionCount} ${topic.partitionCount === 1 ? 'partition' : 'partitions'}`),
      h('span', { class: 'badge' }, `replication ${topic.replicationFactor}`),
      topic.schema ? h('span', { class: 'badge ok' }, `schema v${topic.schema.version}`) : null,
      topic.internal ? h('span', { class: 'badge warn' }, 'internal') : null,
    );
    const admin = await mayAdminister(name);
    if (disposed) return;
    if (admin) {
      actions.replaceChildren(
        // Re-read however the dialog ended: a change answered 503 may still have been made (docs/metadata.md).
        h('button', { type: 'button', onclick: () => openAddPartitionsDialog(name, topic.partitionCount).then(rerender) }, 'Add partitions'),
        h(
          'button',
          {
            type: 'button',
            class: 'danger',
            onclick: () =>
              openDeleteTopicDialog(name, {
                onDeleted: () => {
                  notify(`Topic ${name} was deleted.`);
                  navigate(href('topics'));
                },
              }),
          },
          'Delete topic',
        ),
      );
    }
    disposeTab = renderTab(topic, admin);
  }

  function rerender() {
    disposeTab?.();
    disposeTab = null;
    body.replaceChildren(h('p', { class: 'loading' }, 'Loading…'));
    void load();
  }

  function renderTab(topic, admin) {
    body.replaceChildren();
    switch (tab) {
      case 'messages': {
        const produce = renderProduceForm(topic, { signIn });
        const tail = renderTail(topic, { signIn });
        body.append(h('div', { class: 'messages' }, produce.element, tail.element));
        return () => tail.dispose();
      }
      case 'schema':
        body.append(renderSchemaPanel(name, { admin, signIn, onChange: () => rerender() }));
        return null;
      case 'configs':
        body.append(configsPanel(name, topic, signIn));
        return null;
      default:
        body.append(partitionsPanel(topic));
        return null;
    }
  }

  body.append(h('p', { class: 'loading' }, 'Loading…'));
  void load();
  return () => {
    disposed = true;
    clearTimeout(retry);
    disposeTab?.();
  };
}

function partitionsPanel(topic) {
  const records = (p) => BigInt(p.latestOffset) - BigInt(p.earliestOffset);
  const underReplicated = topic.partitions.filter((p) => p.isr.length < p.replicas.length).length;
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'partitions-title' },
    h('h2', { id: 'partitions-title' }, 'Partitions'),
    h(
      'p',
      { class: 'hint' },
      `Latest offsets sum to ${count(sumOffsets(topic.partitions.map((p) => p.latestOffset)))}; ${count(topic.partitions.reduce((n, p) => n + records(p), 0n))} records are kept.`,
      underReplicated ? h('span', { class: 'badge bad' }, `${underReplicated} under-replicated`) : null,
    ),
    dataTable({
      id: 'partitions-table',
      labelledBy: 'partitions-title',
      columns: [
        { title: 'Partition', numeric: true },
        { title: 'Leader' },
        { title: 'Replicas' },
        { title: 'In-sync replicas' },
        { title: 'Earliest offset', numeric: true },
        { title: 'Latest offset', numeric: true },
        { title: 'Records', numeric: true },
      ],
      // Offsets are identifiers and are shown as the gateway wrote them; counts are grouped for reading.
      rows: topic.partitions.map((p) =>
        h(
          'tr',
          { dataset: { partition: String(p.partition) } },
          h('td', { class: 'num' }, String(p.partition)),
          h('td', {}, p.leader === null ? h('span', { class: 'badge bad' }, 'none') : String(p.leader)),
          h('td', {}, p.replicas.join(', ')),
          h('td', {}, p.isr.join(', '), p.isr.length < p.replicas.length ? h('span', { class: 'badge bad' }, 'under-replicated') : null),
          h('td', { class: 'num' }, p.earliestOffset),
          h('td', { class: 'num' }, p.latestOffset),
          h('td', { class: 'num' }, count(records(p))),
        ),
      ),
    }),
  );
}

function configsPanel(name, topic, signIn) {
  const all = h('input', { type: 'checkbox', name: 'all-configs' });
  const area = h('div');
  const panel = h(
    'section',
    { class: 'panel', 'aria-labelledby': 'configs-title' },
    h('div', { class: 'panel-head' }, h('h2', { id: 'configs-title' }, 'Configs'), h('label', { class: 'check' }, all, 'Show every config (with broker defaults)')),
    area,
  );
  const draw = (configs) => {
    const entries = Object.entries(configs).sort(([a], [b]) => a.localeCompare(b));
    area.replaceChildren(
      entries.length === 0
        ? h('p', { class: 'hint' }, 'No config is set on this topic: the broker defaults apply.')
        : dataTable({
            id: 'configs-table',
            labelledBy: 'configs-title',
            columns: [{ title: 'Name' }, { title: 'Value' }, { title: 'Source' }],
            rows: entries.map(([config, entry]) =>
              h(
                'tr',
                { dataset: { config } },
                h('th', { scope: 'row', class: 'mono' }, config),
                h('td', { class: 'mono' }, entry.sensitive ? h('span', { class: 'muted' }, '(hidden)') : (entry.value ?? '')),
                h('td', {}, entry.overridden ? h('span', { class: 'badge ok' }, 'set on topic') : h('span', { class: 'muted' }, 'default'), entry.readOnly ? h('span', { class: 'badge' }, 'read-only') : null),
              ),
            ),
          }),
    );
  };
  all.addEventListener('change', async () => {
    if (!all.checked) {
      draw(topic.configs);
      return;
    }
    area.replaceChildren(h('p', { class: 'loading' }, 'Loading…'));
    try {
      draw((await get(topicPath(name, '?configs=all'))).configs);
    } catch (error) {
      area.replaceChildren(problemBox(error, { onSignIn: signIn }));
    }
  });
  draw(topic.configs);
  return panel;
}
