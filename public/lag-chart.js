// A consumer group's total lag over the last minutes, as an SVG line. The
// samples are the page's own: it asks GET /v1/consumer-groups/{group} at a
// chosen interval while the group is on screen, and keeps what it saw for
// the rest of the tab's life (at most WINDOW_MS of it).

import { count, plural, svg } from './dom.js';

export const WINDOW_MS = 10 * 60_000;
const MIN_SPAN_MS = 30_000;
const HEIGHT = 200;
const PAD = { left: 64, right: 16, top: 14, bottom: 26 };

/** 1, 2 or 5 times a power of ten, at least `value`: a step people can read. */
function niceStep(value) {
  if (value <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function spanText(ms) {
  const seconds = Math.round(ms / 1000);
  return seconds < 120 ? `${seconds} s ago` : `${Math.round(seconds / 60)} min ago`;
}

/**
 * samples: [{ t: epoch ms, lag: number }], oldest first. `width`: pixels
 * available. `gapMs`: a longer pause between samples breaks the line (the
 * page was elsewhere).
 */
export function lagChart(samples, { width = 720, now = Date.now(), gapMs = 15_000 } = {}) {
  const chartWidth = Math.max(280, Math.round(width));
  const recent = samples.filter((s) => s.t >= now - WINDOW_MS);
  const first = recent[0]?.t ?? now;
  const span = Math.min(WINDOW_MS, Math.max(MIN_SPAN_MS, now - first));
  const highest = Math.max(0, ...recent.map((s) => s.lag));
  // At most four gridlines above zero, on whole numbers.
  const step = niceStep(highest / 4);
  const lines = Math.max(1, Math.ceil(highest / step));
  const top = step * lines;
  const plotW = chartWidth - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const x = (t) => PAD.left + ((t - (now - span)) / span) * plotW;
  const y = (lag) => PAD.top + plotH - (lag / top) * plotH;

  const last = recent.at(-1);
  const label = recent.length
    ? `Total lag over the last ${spanText(span).replace(' ago', '')}: ${plural(recent.length, 'sample')}, from ${count(recent[0].lag)} to ${count(last.lag)}, highest ${count(highest)}.`
    : 'No lag sampled yet.';
  // Drawn at the width it is shown at, so its text keeps its size on a phone.
  const chart = svg('svg', { class: 'lag-chart', width: chartWidth, height: HEIGHT, viewBox: `0 0 ${chartWidth} ${HEIGHT}`, role: 'img', 'aria-label': label });

  for (let i = 0; i <= lines; i += 1) {
    const value = step * i;
    const gy = y(value);
    chart.append(
      svg('line', { class: 'grid', x1: PAD.left, x2: chartWidth - PAD.right, y1: gy, y2: gy }),
      svg('text', { class: 'axis', x: PAD.left - 8, y: gy + 4, 'text-anchor': 'end' }, count(value)),
    );
  }
  chart.append(
    svg('text', { class: 'axis', x: PAD.left, y: HEIGHT - 6, 'text-anchor': 'start' }, spanText(span)),
    svg('text', { class: 'axis', x: chartWidth - PAD.right, y: HEIGHT - 6, 'text-anchor': 'end' }, 'now'),
  );

  // One polyline per stretch of samples without a gap.
  let run = [];
  const flush = () => {
    if (run.length > 1) {
      const points = run.map((s) => `${x(s.t).toFixed(1)},${y(s.lag).toFixed(1)}`).join(' ');
      const base = y(0).toFixed(1);
      chart.append(
        svg('polygon', { class: 'area', points: `${x(run[0].t).toFixed(1)},${base} ${points} ${x(run.at(-1).t).toFixed(1)},${base}` }),
        svg('polyline', { class: 'line', points }),
      );
    }
    run = [];
  };
  recent.forEach((s, i) => {
    if (i > 0 && s.t - recent[i - 1].t > gapMs) flush();
    run.push(s);
  });
  flush();
  for (const s of recent.length <= 60 ? recent : [last]) {
    chart.append(svg('circle', { class: 'point', cx: x(s.t).toFixed(1), cy: y(s.lag).toFixed(1), r: 3 }, svg('title', {}, `${new Date(s.t).toLocaleTimeString()}: lag ${count(s.lag)}`)));
  }
  return chart;
}
