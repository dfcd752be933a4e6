// The consumer group list: state, members, topics and total lag, with a
// filter box. GET /v1/consumer-groups gives ids and states; members and
// lag come from each group's GET /v1/consumer-groups/{group}, asked only
// for rows on screen.

import { get, groupPath } from './api.js';
import { count, h } from './dom.js';
import { renderListView } from './list-view.js';
import { href } from './router.js';

/** A state as a badge: Stable is fine, rebalancing is in between, Dead is gone. */
export function stateBadge(state) {
  const kind = state === 'Stable' ? 'ok' : state === 'Empty' ? '' : state === 'Dead' ? 'bad' : 'warn';
  return h('span', { class: `badge state ${kind}`.trim() }, state);
}

export function groupTopics(detail) {
  return [...new Set(detail.offsets.map((o) => o.topic))].sort();
}

export function renderGroups(container, context) {
  return renderListView(
    container,
    {
      title: 'Consumer groups',
      noun: 'group',
      tableId: 'groups-table',
      internalLabel: 'Show internal groups',
      columns: [{ title: 'Group' }, { title: 'State' }, { title: 'Members', numeric: true }, { title: 'Topics' }, { title: 'Total lag', numeric: true }],
      listPath: (internal) => `/v1/consumer-groups${internal ? '?internal=true' : ''}`,
      itemsOf: (answer) => answer.groups.map((g) => ({ ...g, name: g.groupId })),
      cells: (g) => [
        h('th', { scope: 'row' }, h('a', { href: href('groups', g.groupId) }, g.groupId), g.internal ? h('span', { class: 'badge' }, 'internal') : null),
        h('td', {}, stateBadge(g.state)),
        h('td', { class: 'num', 'data-col': 'members' }, h('span', { class: 'muted' }, '…')),
        h('td', { 'data-col': 'topics' }, h('span', { class: 'muted' }, '…')),
        h('td', { class: 'num', 'data-col': 'lag' }, h('span', { class: 'muted' }, '…')),
      ],
      loadDetail: (id) => get(groupPath(id)),
      fillDetail(row, detail) {
        const [members, topics, lag] = ['members', 'topics', 'lag'].map((col) => row.querySelector(`[data-col="${col}"]`));
        if (detail instanceof Error) {
          for (const cell of [members, topics, lag]) cell.textContent = '?';
          row.title = `${detail.status} ${detail.title}: ${detail.detail}`;
          return;
        }
        members.textContent = String(detail.members.length);
        topics.textContent = groupTopics(detail).join(', ');
        lag.textContent = count(detail.totalLag);
      },
    },
    context,
  ).dispose;
}
