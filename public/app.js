// The gateway's browser page: subscribe to a topic over /v1/ws, watch records
// arrive, pause and resume, and produce over HTTP. Plain ES module, no build
// step and nothing fetched from elsewhere, so it works offline and under the
// gateway's Content-Security-Policy (no inline script).

const MAX_ROWS = 500;
// Records the server may send before the page grants more. Pausing stops the
// grants: the server then holds further records (and pauses its Kafka
// consumer), so at most WINDOW records wait in this page while paused.
const WINDOW = 200;

const $ = (id) => document.getElementById(id);
const el = {
  status: $('status'),
  subscribeForm: $('subscribe-form'),
  topicSelect: $('topic-select'),
  topic: $('topic'),
  from: $('from'),
  token: $('token'),
  subscribe: $('subscribe'),
  unsubscribe: $('unsubscribe'),
  produceForm: $('produce-form'),
  produceKey: $('produce-key'),
  produceValue: $('produce-value'),
  produceFormat: $('produce-format'),
  produceResult: $('produce-result'),
  pause: $('pause'),
  clear: $('clear'),
  counts: $('counts'),
  rows: document.querySelector('#records tbody'),
};

const state = {
  socket: null,
  sub: null, // { id, topic, subscribed }
  nextId: 1,
  paused: false,
  buffer: [], // records received while paused, oldest first
  ungranted: 0, // records rendered since credit was last granted
  received: 0,
};

function setStatus(text, kind = 'idle') {
  el.status.textContent = text;
  el.status.dataset.state = kind;
}

function token() {
  return el.token.value.trim();
}

function base64url(text) {
  const bytes = new TextEncoder().encode(text);
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function authHeaders() {
  const t = token();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

async function problemText(res) {
  try {
    const body = await res.json();
    return [body.title, body.detail].filter(Boolean).join(': ') || `HTTP ${res.status}`;
  } catch {
    return `HTTP ${res.status}`;
  }
}

async function loadTopics() {
  try {
    const res = await fetch('/v1/topics', { headers: authHeaders() });
    if (!res.ok) throw new Error(await problemText(res));
    const { topics } = await res.json();
    const names = topics.map((t) => t.name).sort();
    el.topicSelect.replaceChildren(new Option(names.length ? '(choose a topic)' : '(no topics)', ''), ...names.map((n) => new Option(n, n)));
  } catch (error) {
    el.topicSelect.replaceChildren(new Option('(topics unavailable)', ''));
    el.topicSelect.title = String(error.message ?? error);
  }
}

// ---- WebSocket ---------------------------------------------------------

function openSocket() {
  if (state.socket && state.socket.readyState <= WebSocket.OPEN) return Promise.resolve(state.socket);
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/ws`;
  // Browsers cannot set headers on a WebSocket: the credential travels as a
  // subprotocol, base64url-encoded because an API key may hold characters
  // (/, +, =) that a subprotocol may not.
  const protocols = ['kafka-gateway', ...(token() ? [`base64url.${base64url(token())}`] : [])];
  setStatus('Connecting…', 'idle');
  const socket = new WebSocket(url, protocols);
  state.socket = socket;
  socket.addEventListener('message', (event) => onFrame(JSON.parse(event.data)));
  socket.addEventListener('close', (event) => {
    if (state.socket !== socket) return;
    state.socket = null;
    state.sub = null;
    updateControls();
    const why = event.code === 1006 ? 'connection refused or lost (check the token and origin)' : `${event.code}${event.reason ? ` ${event.reason}` : ''}`;
    setStatus(`Disconnected: ${why}`, event.code === 1000 ? 'idle' : 'error');
  });
  return new Promise((resolve, reject) => {
    socket.addEventListener('open', () => resolve(socket), { once: true });
    socket.addEventListener('close', () => reject(new Error('closed')), { once: true });
  });
}

function send(frame) {
  state.socket?.send(JSON.stringify(frame));
}

function onFrame(frame) {
  const sub = state.sub;
  switch (frame.op) {
    case 'subscribed':
      if (!sub || frame.id !== sub.id) return;
      sub.subscribed = true;
      showSubscribed();
      return;
    case 'record':
      if (!sub || frame.sub !== sub.id) return; // a late record of an earlier subscription
      state.received += 1;
      if (state.paused) {
        state.buffer.push(frame);
        showSubscribed();
      } else {
        render([frame]);
        grant(1);
      }
      return;
    case 'unsubscribed':
      return;
    case 'error': {
      const text = [frame.title, frame.detail].filter(Boolean).join(': ');
      if (sub && frame.id === sub.id && !sub.subscribed) {
        state.sub = null;
        updateControls();
      }
      setStatus(`Error ${frame.status ?? ''} ${text}`.trim(), 'error');
      return;
    }
    default:
  }
}

/** Grants credit in batches so the server is never starved and the socket is not chatty. */
function grant(n) {
  state.ungranted += n;
  if (state.sub && state.ungranted >= WINDOW / 4) {
    send({ op: 'credit', sub: state.sub.id, n: state.ungranted });
    state.ungranted = 0;
  }
}

function showSubscribed() {
  const sub = state.sub;
  if (!sub) return;
  if (state.paused) setStatus(`Paused on ${sub.topic}: ${state.buffer.length} record(s) waiting, the gateway holds the rest`, 'paused');
  else setStatus(`Subscribed to ${sub.topic} (from ${sub.from})`, 'open');
}

async function subscribe(topic, from) {
  try {
    await openSocket();
  } catch {
    return;
  }
  if (state.sub) send({ op: 'unsubscribe', id: state.sub.id });
  const id = `s${state.nextId++}`;
  state.sub = { id, topic, from, subscribed: false };
  state.buffer = [];
  state.ungranted = 0;
  setPaused(false);
  setStatus(`Subscribing to ${topic}…`, 'idle');
  send({ op: 'subscribe', id, topics: [topic], from, credit: WINDOW });
  updateControls();
}

function unsubscribe() {
  if (!state.sub) return;
  send({ op: 'unsubscribe', id: state.sub.id });
  setStatus(`Unsubscribed from ${state.sub.topic}`, 'idle');
  state.sub = null;
  state.buffer = [];
  setPaused(false);
  updateControls();
}

function setPaused(paused) {
  state.paused = paused;
  el.pause.setAttribute('aria-pressed', String(paused));
  el.pause.textContent = paused ? 'Resume' : 'Pause';
  if (!paused && state.buffer.length > 0) {
    const waiting = state.buffer;
    state.buffer = [];
    render(waiting);
    grant(waiting.length);
  }
  showSubscribed();
}

function updateControls() {
  el.unsubscribe.disabled = !state.sub;
  el.pause.disabled = !state.sub;
}

// ---- Table -------------------------------------------------------------

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function shown(value, encoding) {
  if (value === null || value === undefined) return '(null)';
  return encoding === 'json' ? JSON.stringify(value) : String(value);
}

function dataCell(value, encoding) {
  const td = cell(shown(value, encoding), 'mono');
  if (encoding === 'base64') {
    const tag = document.createElement('span');
    tag.className = 'enc';
    tag.textContent = 'base64';
    td.append(tag);
  }
  return td;
}

/** Renders records newest first, keeping the table at MAX_ROWS. */
function render(records) {
  const fragment = document.createDocumentFragment();
  for (let i = records.length - 1; i >= 0; i -= 1) {
    const r = records[i];
    const tr = document.createElement('tr');
    tr.className = 'fresh';
    tr.dataset.partition = String(r.partition);
    tr.dataset.offset = String(r.offset);
    tr.append(
      cell(String(r.partition), 'num'),
      cell(String(r.offset), 'num'),
      dataCell(r.key, r.keyEncoding),
      dataCell(r.value, r.valueEncoding),
      cell(typeof r.timestamp === 'number' ? new Date(r.timestamp).toISOString().replace('T', ' ').replace('Z', '') : '', 'time'),
    );
    fragment.append(tr);
  }
  el.rows.prepend(fragment);
  while (el.rows.rows.length > MAX_ROWS) el.rows.lastElementChild.remove();
  updateCounts();
}

function updateCounts() {
  el.counts.textContent = `${el.rows.rows.length} shown, ${state.received} received`;
}

// ---- Produce -----------------------------------------------------------

async function produce() {
  const topic = el.topic.value.trim();
  const out = el.produceResult;
  out.className = 'result';
  if (!topic) {
    out.textContent = 'Choose a topic first.';
    out.classList.add('bad');
    return;
  }
  const format = el.produceFormat.value;
  const record = {};
  const key = el.produceKey.value;
  if (key !== '') record.key = key;
  if (format === 'json') {
    try {
      record.value = JSON.parse(el.produceValue.value);
    } catch (error) {
      out.textContent = `The value is not JSON: ${error.message}`;
      out.classList.add('bad');
      return;
    }
  } else {
    record.value = el.produceValue.value;
  }
  const body = { ...(format === 'text' ? { valueFormat: 'text' } : {}), records: [record] };
  out.textContent = 'Sending…';
  try {
    const res = await fetch(`/v1/topics/${encodeURIComponent(topic)}/records`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...authHeaders() },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(await problemText(res));
    const { offsets } = await res.json();
    const [first] = offsets;
    out.textContent = `Produced to ${topic}, partition ${first.partition} at offset ${first.offset}.`;
    out.classList.add('ok');
  } catch (error) {
    out.textContent = `Not produced: ${error.message}`;
    out.classList.add('bad');
  }
}

// ---- Wiring ------------------------------------------------------------

el.topicSelect.addEventListener('change', () => {
  if (el.topicSelect.value) el.topic.value = el.topicSelect.value;
});
el.subscribeForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const topic = el.topic.value.trim();
  if (topic) void subscribe(topic, el.from.value);
});
el.unsubscribe.addEventListener('click', unsubscribe);
el.pause.addEventListener('click', () => setPaused(!state.paused));
el.clear.addEventListener('click', () => {
  el.rows.replaceChildren();
  updateCounts();
});
el.produceForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void produce();
});
el.token.addEventListener('change', () => {
  // New credentials: reconnect on the next subscribe and re-read the topics they may see.
  state.socket?.close(1000, 'credentials changed');
  void loadTopics();
});

updateControls();
void loadTopics();
