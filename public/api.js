// The console's only way to the gateway over HTTP: the public API of
// openapi.yaml, with the tab's credential. Every failure becomes an
// ApiError carrying the problem+json the gateway answered, so views can
// show its title, detail and JSON Pointers as they are.

import { authorizationHeaders } from './credentials.js';

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 when the gateway could not be reached
   * @param {object} problem the problem+json body (or what stands in for it)
   * @param {string|null} retryAfter the Retry-After header of a 429 or 503
   */
  constructor(status, problem, retryAfter = null) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.title = problem?.title ?? (status ? `HTTP ${status}` : 'Gateway unreachable');
    this.detail = problem?.detail ?? '';
    this.code = problem?.code ?? null;
    this.errors = Array.isArray(problem?.errors) ? problem.errors : [];
    this.retryAfter = retryAfter;
  }
}

const unauthorizedListeners = new Set();

/** Calls `listener(error)` on every 401, so the page can ask for a credential once, wherever it happened. */
export function onUnauthorized(listener) {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

/**
 * One call of the API. `body` is sent as JSON (with `contentType` when the
 * operation wants another JSON media type); answers are parsed as JSON,
 * 204 as null.
 */
export async function call(method, path, { body, contentType = 'application/json', signal } = {}) {
  const headers = { Accept: 'application/json, application/problem+json', ...authorizationHeaders() };
  if (body !== undefined) headers['Content-Type'] = contentType;
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal, credentials: 'omit' });
  } catch (error) {
    if (error?.name === 'AbortError') throw error;
    throw new ApiError(0, { title: 'Gateway unreachable', detail: `The request to ${path} did not reach the gateway (${error?.message ?? error}).` });
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text.slice(0, 300) };
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data, response.headers.get('Retry-After'));
    if (response.status === 401) for (const listener of unauthorizedListeners) listener(error);
    throw error;
  }
  return data;
}

export const get = (path, options) => call('GET', path, options);

export const topicPath = (topic, rest = '') => `/v1/topics/${encodeURIComponent(topic)}${rest}`;
export const groupPath = (group) => `/v1/consumer-groups/${encodeURIComponent(group)}`;

/**
 * Whether the principal may administer: the gateway has no "what may I do"
 * operation, so the console asks an admin operation with a body the
 * contract refuses. Authorization runs before the body is read, so the
 * answer is 401 or 403 for a principal without the permission and 400 for
 * one with it; either way nothing changes. With `topic`, the permission on
 * that topic (adding partitions, deleting, schemas); without it, whether
 * the principal may create topics.
 */
export async function mayAdminister(topic) {
  try {
    await call('POST', topic === undefined ? '/v1/topics' : topicPath(topic, '/partitions'), { body: {} });
    return true; // cannot happen: the empty body is refused, but an answer that is not a refusal allows
  } catch (error) {
    if (error instanceof ApiError && error.status === 400) return true;
    return false;
  }
}

/** Sums int64 offset strings exactly. */
export function sumOffsets(values) {
  let total = 0n;
  for (const value of values) {
    if (value !== null && value !== undefined) total += BigInt(value);
  }
  return total;
}
