// Produce one record with POST /v1/topics/{topic}/records: key, value (JSON
// checked before sending, text or base64), headers and partition. The
// gateway's answer (partition and offset, or its problem with the JSON
// Pointer of each failure) is shown beside the form.

import { call, topicPath } from './api.js';
import { count, field, h, localTime } from './dom.js';
import { checkJson } from './json-view.js';
import { problemBox } from './problems.js';

const FORMATS = [
  ['json', 'JSON'],
  ['text', 'text'],
  ['binary', 'base64'],
];
// The schema registry formats: the value is JSON, written with the subject's schema (docs/schemas.md).
const REGISTRY_FORMATS = [
  ['avro', 'Avro'],
  ['protobuf', 'Protobuf'],
  ['jsonschema', 'JSON Schema'],
];

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Checks one field as its format wants; returns { ok, value } or { ok: false, message }. */
function parseAs(format, text, what) {
  if (format === 'json' || REGISTRY_FORMATS.some(([name]) => name === format)) {
    const result = checkJson(text);
    return result.ok ? result : { ok: false, message: `The ${what} is not JSON: ${result.message}` };
  }
  if (format === 'binary') {
    const compact = text.replace(/\s+/g, '');
    return BASE64.test(compact) ? { ok: true, value: compact } : { ok: false, message: `The ${what} is not base64 (A-Z, a-z, 0-9, + and /, padded with =).` };
  }
  return { ok: true, value: text };
}

function formatSelect(name, selected, formats = FORMATS) {
  return h('select', { name }, formats.map(([value, label]) => h('option', { value, selected: value === selected }, label)));
}

export function renderProduceForm(topic, { signIn, open = false }) {
  const key = h('input', { name: 'key', autocomplete: 'off', spellcheck: false, placeholder: '(no key)' });
  const keyFormat = formatSelect('keyFormat', 'text');
  const partition = h(
    'select',
    { name: 'partition' },
    h('option', { value: '' }, 'chosen by key'),
    topic.partitions.map((p) => h('option', { value: String(p.partition) }, String(p.partition))),
  );
  const value = h('textarea', { name: 'value', class: 'code', rows: 5, spellcheck: false, placeholder: '{"hello": "world"}', 'aria-describedby': 'value-check' });
  const valueFormat = formatSelect('valueFormat', 'json', [...FORMATS, ...REGISTRY_FORMATS]);
  const valueSubject = h('input', { name: 'valueSubject', autocomplete: 'off', spellcheck: false, placeholder: `${topic.name}-value` });
  const subjectField = field('Schema subject (latest version)', valueSubject);
  subjectField.hidden = true;
  const valueCheck = h('p', { id: 'value-check', class: 'hint span-all', 'aria-live': 'polite' });
  const headerRows = h('div', { class: 'header-rows' });
  const send = h('button', { type: 'submit', class: 'primary' }, 'Send');
  const answer = h('div', { class: 'produce-answer', id: 'produce-answer', 'aria-live': 'polite' }, h('p', { class: 'hint' }, 'The gateway’s answer appears here.'));

  const addHeader = (name = '', text = '') => {
    const row = h(
      'div',
      { class: 'header-row' },
      h('input', { 'aria-label': 'Header name', class: 'header-name', value: name, autocomplete: 'off', spellcheck: false, placeholder: 'name' }),
      h('input', { 'aria-label': 'Header value', class: 'header-value', value: text, autocomplete: 'off', spellcheck: false, placeholder: 'value' }),
      h('button', { type: 'button', class: 'ghost', 'aria-label': 'Remove this header', onclick: () => row.remove() }, '×'),
    );
    headerRows.append(row);
    return row;
  };

  const checkValue = () => {
    if (value.value === '') {
      valueCheck.textContent = '';
      value.removeAttribute('aria-invalid');
      return;
    }
    const result = parseAs(valueFormat.value, value.value, 'value');
    value.setAttribute('aria-invalid', String(!result.ok));
    valueCheck.textContent = result.ok ? (valueFormat.value === 'json' ? 'Valid JSON.' : '') : result.message;
    valueCheck.className = result.ok ? 'hint span-all' : 'hint span-all bad';
  };
  let timer = null;
  value.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(checkValue, 250);
  });
  valueFormat.addEventListener('change', checkValue);
  valueFormat.addEventListener('change', () => {
    subjectField.hidden = !REGISTRY_FORMATS.some(([name]) => name === valueFormat.value);
  });

  const form = h(
    'form',
    { class: 'produce-form', 'aria-label': 'Produce a record' },
    h(
      'div',
      { class: 'form-grid' },
      field('Key', key),
      field('Key as', keyFormat),
      field('Partition', partition),
      h('div', { class: 'span-all value-field' }, field('Value', value), field('Value as', valueFormat), subjectField),
      valueCheck,
      h(
        'fieldset',
        { class: 'span-all headers' },
        h('legend', {}, 'Headers'),
        headerRows,
        h('button', { type: 'button', class: 'ghost', onclick: () => addHeader().querySelector('input').focus() }, '+ Add header'),
      ),
    ),
    h('div', { class: 'buttons' }, send),
  );

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearTimeout(timer);
    checkValue();
    const record = {};
    const problems = [];
    if (key.value !== '') {
      const parsed = parseAs(keyFormat.value, key.value, 'key');
      if (parsed.ok) record.key = parsed.value;
      else problems.push(parsed.message);
    }
    const parsedValue = parseAs(valueFormat.value, value.value, 'value');
    if (parsedValue.ok) record.value = parsedValue.value;
    else problems.push(parsedValue.message);
    const headers = {};
    for (const row of headerRows.querySelectorAll('.header-row')) {
      const name = row.querySelector('.header-name').value.trim();
      if (name) headers[name] = row.querySelector('.header-value').value;
    }
    if (Object.keys(headers).length) record.headers = headers;
    if (partition.value !== '') record.partition = Number(partition.value);
    if (problems.length) {
      answer.replaceChildren(h('div', { class: 'problem', role: 'alert' }, h('p', { class: 'problem-title' }, h('strong', {}, 'Not sent')), problems.map((p) => h('p', {}, p))));
      answer.scrollIntoView({ block: 'nearest' });
      return;
    }
    send.disabled = true;
    answer.replaceChildren(h('p', { class: 'hint' }, 'Sending…'));
    try {
      const subject = !subjectField.hidden && valueSubject.value.trim() ? `?valueSubject=${encodeURIComponent(valueSubject.value.trim())}` : '';
      const result = await call('POST', topicPath(topic.name, `/records${subject}`), { body: { keyFormat: keyFormat.value, valueFormat: valueFormat.value, records: [record] } });
      const [first] = result.offsets;
      answer.replaceChildren(
        h(
          'div',
          { class: 'produced', role: 'status' },
          h('p', {}, h('strong', {}, 'Sent'), ` to ${topic.name}`),
          h(
            'dl',
            { class: 'facts' },
            h('dt', {}, 'Partition'),
            h('dd', { 'data-fact': 'partition' }, String(first.partition)),
            h('dt', {}, 'Offset'),
            h('dd', { 'data-fact': 'offset' }, count(first.offset)),
            h('dt', {}, 'Timestamp'),
            h('dd', {}, localTime(first.timestamp)),
          ),
        ),
      );
    } catch (error) {
      answer.replaceChildren(problemBox(error, { onSignIn: signIn, label: 'Not produced' }));
    } finally {
      send.disabled = false;
      // On a phone the answer is under the form: bring it into sight.
      answer.scrollIntoView({ block: 'nearest' });
    }
  });

  // Folded until wanted, so the tail below it is what the Messages tab shows first.
  const element = h(
    'details',
    { class: 'panel produce', id: 'produce-panel', open },
    h('summary', {}, h('h2', { id: 'produce-title' }, 'Produce a record')),
    h('div', { class: 'produce-layout' }, form, answer),
  );
  return { element };
}
