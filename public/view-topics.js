// The topic list: name, partitions, replication, latest offsets and schema,
// with a filter box. GET /v1/topics gives names, partitions and
// replication; latest offsets and the schema come from each topic's
// GET /v1/topics/{topic}, asked only for rows on screen.

import { get, mayAdminister, sumOffsets, topicPath } from './api.js';
import { openCreateTopicDialog } from './admin.js';
import { count, h } from './dom.js';
import { renderListView } from './list-view.js';
import { href, navigate } from './router.js';

export function renderTopics(container, context) {
  const create = h('button', { type: 'button', class: 'primary', hidden: true }, 'Create topic');
  create.addEventListener('click', () => openCreateTopicDialog({ onCreated: (topic) => navigate(href('topics', topic.name)) }));
  const list = renderListView(
    container,
    {
      title: 'Topics',
      noun: 'topic',
      tableId: 'topics-table',
      internalLabel: 'Show internal topics',
      columns: [{ title: 'Topic' }, { title: 'Partitions', numeric: true }, { title: 'Replication', numeric: true }, { title: 'Latest offsets', numeric: true }, { title: 'Schema' }],
      listPath: (internal) => `/v1/topics${internal ? '?internal=true' : ''}`,
      itemsOf: (answer) => answer.topics,
      cells: (t) => [
        h('th', { scope: 'row' }, h('a', { href: href('topics', t.name) }, t.name), t.internal ? h('span', { class: 'badge' }, 'internal') : null),
        h('td', { class: 'num' }, String(t.partitionCount)),
        h('td', { class: 'num' }, String(t.replicationFactor)),
        h('td', { class: 'num', 'data-col': 'latest' }, h('span', { class: 'muted' }, '…')),
        h('td', { 'data-col': 'schema' }, h('span', { class: 'muted' }, '…')),
      ],
      loadDetail: (name) => get(topicPath(name)),
      fillDetail(row, detail) {
        const latest = row.querySelector('[data-col="latest"]');
        const schema = row.querySelector('[data-col="schema"]');
        if (detail instanceof Error) {
          latest.textContent = '?';
          schema.textContent = '?';
          row.title = `${detail.status} ${detail.title}: ${detail.detail}`;
          return;
        }
        latest.textContent = count(sumOffsets(detail.partitions.map((p) => p.latestOffset)));
        latest.title = detail.partitions.map((p) => `partition ${p.partition}: ${p.latestOffset}`).join('\n');
        schema.replaceChildren(detail.schema ? h('span', { class: 'badge ok' }, `yes, v${detail.schema.version}`) : h('span', { class: 'muted' }, 'no'));
      },
      actions: [create],
    },
    context,
  );
  void list.loaded.then(async (ok) => {
    if (ok) create.hidden = !(await mayAdminister());
  });
  return list.dispose;
}
