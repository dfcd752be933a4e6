// The credential (API key or JWT) the console sends, kept only in this tab's
// sessionStorage: it survives a reload, is gone when the tab closes, and is
// never written to localStorage, a cookie or a URL (docs/security.md).

const STORAGE_KEY = 'kafka-gateway.credential';
const listeners = new Set();

export function credential() {
  try {
    return sessionStorage.getItem(STORAGE_KEY) ?? '';
  } catch {
    return ''; // storage disabled: the credential lives only as long as this page
  }
}

export function setCredential(value) {
  const trimmed = value.trim();
  try {
    if (trimmed) sessionStorage.setItem(STORAGE_KEY, trimmed);
    else sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // sessionStorage refused (private mode settings): nothing is kept.
  }
  for (const listener of listeners) listener(trimmed);
}

/** Calls `listener(credential)` whenever the credential changes; returns the unsubscribe function. */
export function onCredentialChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** HTTP: `Authorization: Bearer`, which the gateway reads in both api-key and jwt modes. */
export function authorizationHeaders() {
  const value = credential();
  return value ? { Authorization: `Bearer ${value}` } : {};
}

/**
 * WebSocket: browsers cannot set headers on the upgrade, so the credential
 * travels as the `base64url.<credential>` subprotocol beside `kafka-gateway`;
 * base64url because an API key may hold characters (/, +, =) a subprotocol
 * may not. The gateway answers `kafka-gateway` and never echoes it.
 */
export function websocketProtocols() {
  const value = credential();
  return ['kafka-gateway', ...(value ? [`base64url.${base64url(value)}`] : [])];
}

function base64url(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
