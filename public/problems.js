// Shows what the gateway answered when it refused: status and title, its
// detail word for word, and each failed check with its JSON Pointer. 401 and
// 403 say plainly what they mean for the person at the page.

import { h } from './dom.js';

const MEANING = {
  0: 'The gateway did not answer.',
  401: 'The gateway needs a valid API key or token for this.',
  403: 'Your credential does not allow this.',
  429: 'Too many requests.',
  503: 'Kafka or the gateway is not available right now.',
};

/**
 * A box describing an ApiError (or any error). `onSignIn`, when given, adds
 * a button to enter a credential to a 401.
 */
export function problemBox(error, { onSignIn, label } = {}) {
  const status = typeof error?.status === 'number' ? error.status : null;
  const heading = status ? `${status} ${error.title}` : (error?.title ?? 'Error');
  const retry = error?.retryAfter ? ` Retry after ${error.retryAfter} s.` : '';
  const meaning = status !== null && MEANING[status] ? `${MEANING[status]}${retry}` : retry.trim();
  return h(
    'div',
    { class: 'problem', role: 'alert', dataset: { status: String(status ?? '') } },
    h('p', { class: 'problem-title' }, label ? `${label}: ` : '', h('strong', {}, heading)),
    meaning ? h('p', { class: 'problem-meaning' }, meaning) : null,
    error?.detail || (!status && error?.message) ? h('p', { class: 'problem-detail' }, error.detail || error.message) : null,
    errorList(error?.errors ?? []),
    status === 401 && onSignIn ? h('button', { type: 'button', class: 'primary', onclick: onSignIn }, 'Enter an API key or token') : null,
  );
}

/** The `errors` of a problem: JSON Pointer (and record index) beside each message. */
export function errorList(errors) {
  if (!errors.length) return null;
  return h(
    'ul',
    { class: 'problem-errors', 'aria-label': 'Failed checks' },
    errors.map((e) =>
      h(
        'li',
        {},
        typeof e.index === 'number' ? h('span', { class: 'index' }, `record ${e.index}`) : null,
        h('code', { class: 'pointer' }, e.pointer === '' ? '(the whole value)' : e.pointer),
        h('span', { class: 'message' }, e.message),
      ),
    ),
  );
}
