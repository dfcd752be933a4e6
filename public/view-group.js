// One consumer group: state and members, per-partition committed offset and
// lag, and a chart of its total lag, sampled by this page from
// GET /v1/consumer-groups/{group} while the group is on screen. A group
// without members can be deleted from here; the gateway decides who may.

import { openDeleteGroupDialog } from './admin.js';
import { ApiError, get, groupPath } from './api.js';
import { count, dataTable, field, h, localTime, setChildren } from './dom.js';
import { WINDOW_MS, lagChart } from './lag-chart.js';
import { problemBox } from './problems.js';
import { href, navigate } from './router.js';
import { groupTopics, stateBadge } from './view-groups.js';

const INTERVALS = [
  [2_000, 'every 2 s'],
  [5_000, 'every 5 s'],
  [15_000, 'every 15 s'],
  [60_000, 'every minute'],
];
const DEFAULT_INTERVAL = 5_000;

/** Samples per group, for as long as the tab lives; the chart shows the last WINDOW_MS. */
const history = new Map();
let chosenInterval = DEFAULT_INTERVAL;

function remember(group, sample) {
  const samples = history.get(group) ?? [];
  samples.push(sample);
  while (samples.length && samples[0].t < sample.t - WINDOW_MS) samples.shift();
  history.set(group, samples);
  return samples;
}

export function renderGroup(container, { name, signIn, notify }) {
  const badges = h('span', { class: 'badges' });
  const actions = h('div', { class: 'actions' });
  const interval = h('select', { name: 'interval' }, INTERVALS.map(([ms, text]) => h('option', { value: String(ms), selected: ms === chosenInterval }, text)));
  const chartBox = h('div', { class: 'chart-box' });
  const caption = h('p', { class: 'hint', id: 'lag-caption', 'aria-live': 'off' });
  const sampleProblem = h('div');
  const offsets = h('div');
  const members = h('div');
  const problem = h('div');
  container.append(
    h('nav', { class: 'breadcrumb', 'aria-label': 'Breadcrumb' }, h('a', { href: href('groups') }, 'Consumer groups'), h('span', { 'aria-hidden': 'true' }, ' / ')),
    h('div', { class: 'view-head' }, h('h1', {}, name), badges, actions),
    problem,
    h(
      'section',
      { class: 'panel', id: 'lag-panel', 'aria-labelledby': 'lag-title' },
      h('div', { class: 'panel-head' }, h('h2', { id: 'lag-title' }, 'Total lag'), field('Sample', interval)),
      h('figure', { class: 'chart' }, chartBox, h('figcaption', {}, caption)),
      sampleProblem,
    ),
    h('section', { class: 'panel', 'aria-labelledby': 'offsets-title' }, h('h2', { id: 'offsets-title' }, 'Partitions'), offsets),
    h('section', { class: 'panel', 'aria-labelledby': 'members-title' }, h('h2', { id: 'members-title' }, 'Members'), members),
  );

  let timer = null;
  let disposed = false;
  let samples = history.get(name) ?? [];

  const drawChart = () => {
    chartBox.replaceChildren(lagChart(samples, { width: chartBox.clientWidth || 720, gapMs: Number(interval.value) * 3 }));
  };
  const resize = new ResizeObserver(() => drawChart());
  resize.observe(chartBox);

  function show(detail, sampledAt) {
    setChildren(
      badges,
      stateBadge(detail.state),
      h('span', { class: 'badge' }, `${detail.members.length} ${detail.members.length === 1 ? 'member' : 'members'}`),
      detail.protocol ? h('span', { class: 'badge' }, detail.protocol) : null,
      detail.internal ? h('span', { class: 'badge warn' }, 'internal') : null,
    );
    // Kafka deletes only a group without members; the button comes and goes with them.
    const deletable = detail.members.length === 0;
    if (deletable !== (actions.childElementCount > 0)) {
      actions.replaceChildren(
        ...(deletable
          ? [
              h(
                'button',
                {
                  type: 'button',
                  class: 'danger',
                  onclick: () =>
                    openDeleteGroupDialog(name, {
                      onDeleted: () => {
                        disposed = true;
                        clearTimeout(timer);
                        notify(`Group ${name} was deleted.`);
                        navigate(href('groups'));
                      },
                    }),
                },
                'Delete group',
              ),
            ]
          : []),
      );
    }
    caption.textContent = `Now ${count(detail.totalLag)} behind over ${groupTopics(detail).join(', ') || 'no topic'} (sampled ${localTime(sampledAt).slice(11)}; ${samples.length} ${samples.length === 1 ? 'sample' : 'samples'} kept).`;
    const clientOf = new Map(detail.members.map((m) => [m.memberId, m.clientId]));
    offsets.replaceChildren(
      detail.offsets.length === 0
        ? h('p', { class: 'hint' }, 'The group has no committed offsets and no assigned partitions.')
        : dataTable({
            id: 'group-offsets',
            labelledBy: 'offsets-title',
            columns: [{ title: 'Topic' }, { title: 'Partition', numeric: true }, { title: 'Committed offset', numeric: true }, { title: 'Latest offset', numeric: true }, { title: 'Lag', numeric: true }, { title: 'Member' }],
            rows: detail.offsets.map((o) =>
              h(
                'tr',
                { dataset: { topic: o.topic, partition: String(o.partition) } },
                h('td', {}, h('a', { href: href('topics', o.topic) }, o.topic)),
                h('td', { class: 'num' }, String(o.partition)),
                h('td', { class: 'num' }, o.committedOffset ?? h('span', { class: 'muted' }, 'none')),
                h('td', { class: 'num' }, o.latestOffset),
                h('td', { class: 'num' }, o.lag === null ? h('span', { class: 'muted' }, 'unknown') : count(o.lag)),
                h('td', {}, o.memberId ? (clientOf.get(o.memberId) ?? o.memberId) : h('span', { class: 'muted' }, 'unassigned')),
              ),
            ),
          }),
    );
    members.replaceChildren(
      detail.members.length === 0
        ? h('p', { class: 'hint' }, 'No member is connected.')
        : dataTable({
            id: 'group-members',
            labelledBy: 'members-title',
            columns: [{ title: 'Client id' }, { title: 'Host' }, { title: 'Assigned partitions' }, { title: 'Member id' }],
            rows: detail.members.map((m) =>
              h(
                'tr',
                {},
                h('td', {}, m.clientId),
                h('td', {}, m.host),
                h('td', {}, m.assignments.map((a) => `${a.topic}: ${a.partitions.join(', ')}`).join('; ') || h('span', { class: 'muted' }, 'none')),
                h('td', { class: 'mono small' }, m.memberId),
              ),
            ),
          }),
    );
  }

  let inFlight = false;
  async function sample() {
    timer = null;
    inFlight = true;
    try {
      const detail = await get(groupPath(name));
      if (disposed) return;
      const sampledAt = Date.now();
      samples = remember(name, { t: sampledAt, lag: Number(detail.totalLag) });
      sampleProblem.replaceChildren();
      problem.replaceChildren();
      show(detail, sampledAt);
      drawChart();
    } catch (error) {
      if (disposed) return;
      const fatal = error instanceof ApiError && [401, 403, 404].includes(error.status);
      // Missing credentials, no permission or no such group: asking again would answer the same.
      if (fatal) {
        problem.replaceChildren(problemBox(error, { onSignIn: signIn, label: `Group ${name} could not be read` }));
        for (const panel of container.querySelectorAll('section.panel')) panel.hidden = true;
        return;
      }
      sampleProblem.replaceChildren(problemBox(error, { onSignIn: signIn, label: 'Sampling failed; trying again' }));
    } finally {
      inFlight = false;
    }
    if (!disposed) timer = setTimeout(sample, Number(interval.value));
  }

  interval.addEventListener('change', () => {
    chosenInterval = Number(interval.value);
    // A sample under way schedules the next one at the new interval itself.
    if (inFlight) return;
    clearTimeout(timer);
    void sample();
  });
  drawChart();
  void sample();
  return () => {
    disposed = true;
    clearTimeout(timer);
    resize.disconnect();
  };
}
