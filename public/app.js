// The gateway's browser console: topics, consumer groups with their lag, queues,
// live tails and produce, all through the public HTTP and WebSocket API.
// Plain ES modules served by the gateway: no build step, nothing fetched
// from elsewhere, and no inline script, so it runs offline and under the
// gateway's Content-Security-Policy.

import { onUnauthorized } from './api.js';
import { credential, onCredentialChange, setCredential } from './credentials.js';
import { focusHeading } from './dom.js';
import { currentRoute } from './router.js';
import { renderGroup } from './view-group.js';
import { renderGroups } from './view-groups.js';
import { renderQueues } from './view-queues.js';
import { renderTopic } from './view-topic.js';
import { renderTopics } from './view-topics.js';

const $ = (id) => document.getElementById(id);
const view = $('view');
const notice = $('notice');
const dialog = $('signin-dialog');
const input = $('credential-input');
const reason = $('signin-reason');

let dispose = null;
let pendingNotice = '';
let firstRoute = true;

/** A message for the next view (e.g. "Topic deleted") once navigation has happened. */
function notify(message) {
  pendingNotice = message;
}

function signIn(why = '') {
  reason.textContent = why;
  input.value = credential();
  $('signout-button').hidden = !credential();
  dialog.returnValue = ''; // Escape closes without setting it: an earlier "Use it" must not count again
  if (!dialog.open) dialog.showModal();
  input.focus();
}

function showCredentialState() {
  const set = Boolean(credential());
  $('credential-state').textContent = set ? 'Credential set for this tab' : 'No credential';
  $('signin-button').textContent = set ? 'Change credential' : 'Sign in';
}

function route() {
  dispose?.();
  dispose = null;
  const { segments, query } = currentRoute();
  const [section, name, tab] = segments;
  const context = { query, signIn: () => signIn(), notify };
  view.replaceChildren();
  notice.textContent = pendingNotice;
  pendingNotice = '';
  for (const link of document.querySelectorAll('[data-nav]')) {
    if (link.dataset.nav === section) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (section === 'groups' && name !== undefined) {
    document.title = `${name} · Consumer groups · Kafka Gateway`;
    dispose = renderGroup(view, { ...context, name });
  } else if (section === 'groups') {
    document.title = 'Consumer groups · Kafka Gateway';
    dispose = renderGroups(view, context);
  } else if (section === 'queues') {
    document.title = 'Queues · Kafka Gateway';
    dispose = renderQueues(view, context);
  } else if (section === 'topics' && name !== undefined) {
    document.title = `${name} · Topics · Kafka Gateway`;
    dispose = renderTopic(view, { ...context, name, tab });
  } else {
    document.title = 'Topics · Kafka Gateway';
    dispose = renderTopics(view, context);
  }
  // On the first load focus stays at the top of the page; after a navigation it moves to the new view's heading.
  if (!firstRoute) focusHeading(view);
  firstRoute = false;
}

let askedSinceChange = false;
onUnauthorized((error) => {
  // Ask once per credential: the view shows the 401 itself, and reopening the dialog on every request would trap the user.
  if (askedSinceChange) return;
  askedSinceChange = true;
  signIn(credential() ? `The gateway refused this credential: ${error.detail}` : 'The gateway has authentication on.');
});

onCredentialChange(() => {
  askedSinceChange = false;
  showCredentialState();
  route();
});

dialog.addEventListener('close', () => {
  if (dialog.returnValue === 'save') setCredential(input.value);
  else if (dialog.returnValue === 'clear') setCredential('');
  input.value = '';
});
$('signin-button').addEventListener('click', () => signIn());

window.addEventListener('hashchange', route);
showCredentialState();
route();
