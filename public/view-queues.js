// Queues (Kafka share groups): state, members, topics, total lag, lock
// duration, delivery limit and dead-letter topic, with a filter box.
// GET /v1/share-groups gives ids and states; the rest comes from each
// group's GET /v1/share-groups/{group}, asked only for rows on screen.

import { get } from './api.js';
import { count, h } from './dom.js';
import { renderListView } from './list-view.js';
import { stateBadge } from './view-groups.js';

export const shareGroupPath = (group) => `/v1/share-groups/${encodeURIComponent(group)}`;

function shareTopics(detail) {
  return [...new Set([...detail.members.flatMap((m) => m.topics), ...detail.partitions.map((p) => p.topic)])].sort();
}

export function renderQueues(container, context) {
  return renderListView(
    container,
    {
      title: 'Queues (share groups)',
      noun: 'queue',
      tableId: 'queues-table',
      columns: [
        { title: 'Share group' },
        { title: 'State' },
        { title: 'Members', numeric: true },
        { title: 'Topics' },
        { title: 'Total lag', numeric: true },
        { title: 'Lock', numeric: true },
        { title: 'Delivery limit', numeric: true },
        { title: 'Dead letters' },
      ],
      listPath: () => '/v1/share-groups',
      itemsOf: (answer) => answer.groups.map((g) => ({ ...g, name: g.groupId })),
      cells: (g) => [
        h('th', { scope: 'row' }, g.groupId),
        h('td', {}, stateBadge(g.state)),
        ...['members', 'topics', 'lag', 'lock', 'limit', 'dlq'].map((col) =>
          h('td', { class: ['members', 'lag', 'lock', 'limit'].includes(col) ? 'num' : '', 'data-col': col }, h('span', { class: 'muted' }, '…')),
        ),
      ],
      loadDetail: (id) => get(shareGroupPath(id)),
      fillDetail(row, detail) {
        const cells = Object.fromEntries(['members', 'topics', 'lag', 'lock', 'limit', 'dlq'].map((col) => [col, row.querySelector(`[data-col="${col}"]`)]));
        if (detail instanceof Error) {
          for (const cell of Object.values(cells)) cell.textContent = '?';
          row.title = `${detail.status} ${detail.title}: ${detail.detail}`;
          return;
        }
        cells.members.textContent = String(detail.members.length);
        cells.topics.textContent = shareTopics(detail).join(', ');
        cells.lag.textContent = count(detail.totalLag);
        cells.lock.textContent = detail.settings.lockDurationMs === null ? '—' : `${Number(detail.settings.lockDurationMs) / 1000} s`;
        cells.limit.textContent = detail.settings.deliveryLimit ?? '—';
        cells.dlq.textContent = detail.settings.deadLetterTopic ?? (detail.deadLetters === 'gateway' ? 'per taker' : 'none');
      },
    },
    context,
  ).dispose;
}
