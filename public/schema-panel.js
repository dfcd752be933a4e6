// A topic's JSON Schema: shown as a foldable tree; for an admin, edited as
// text (checked as JSON while typing, then by the gateway, whose refusal is
// shown under the editor) and deleted after a confirmation.

import { ApiError, call, get, topicPath } from './api.js';
import { field, h, setChildren } from './dom.js';
import { checkJson, jsonTree } from './json-view.js';
import { problemBox } from './problems.js';

const TEMPLATE = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  properties: {},
  required: [],
};

export function renderSchemaPanel(topic, { admin, signIn, onChange }) {
  const body = h('div', {}, h('p', { class: 'loading' }, 'Loading…'));
  const panel = h('section', { class: 'panel', id: 'schema-panel', 'aria-labelledby': 'schema-title' }, h('h2', { id: 'schema-title' }, 'JSON Schema'), body);

  async function load() {
    let stored = null;
    try {
      stored = await get(topicPath(topic, '/schema'));
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404 && error.code === 'GW_ERR_SCHEMA_NOT_FOUND')) {
        body.replaceChildren(problemBox(error, { onSignIn: signIn }));
        return;
      }
    }
    show(stored);
    void loadSubjects();
  }

  // The topic's subjects in the schema registry (topic name strategy), below the JSON Schema; left out when the registry is elsewhere.
  const subjects = h('p', { class: 'hint', id: 'schema-subjects' });
  async function loadSubjects() {
    try {
      const all = await get('/schema-registry/subjects');
      const own = all.filter((s) => s === `${topic}-key` || s === `${topic}-value` || s.startsWith(`${topic}-`));
      const versions = await Promise.all(own.map(async (s) => [s, await get(`/schema-registry/subjects/${encodeURIComponent(s)}/versions`)]));
      subjects.textContent = own.length ? `Schema registry subjects: ${versions.map(([s, v]) => `${s} (versions ${v.join(', ')})`).join('; ')}.` : 'No schema registry subjects for this topic.';
      if (!subjects.isConnected) panel.append(subjects);
    } catch {
      subjects.remove();
    }
  }

  function show(stored) {
    if (!stored) {
      setChildren(
        body,
        h('p', {}, 'This topic has no JSON Schema: values are not validated.'),
        admin ? h('div', { class: 'buttons' }, h('button', { type: 'button', class: 'primary', onclick: () => edit(null) }, 'Add a schema')) : null,
      );
      return;
    }
    setChildren(
      body,
      h('p', { class: 'hint' }, `Version ${stored.version}. Every value produced to ${topic} is validated against it before anything is sent.`),
      admin
        ? h(
            'div',
            { class: 'buttons' },
            h('button', { type: 'button', class: 'primary', onclick: () => edit(stored) }, 'Edit schema'),
            h('button', { type: 'button', class: 'danger', onclick: () => confirmDelete(stored) }, 'Delete schema'),
          )
        : null,
      h('div', { class: 'json-box' }, jsonTree(stored.schema, { openDepth: 3 })),
    );
  }

  function edit(stored) {
    const editor = h('textarea', {
      id: 'schema-editor',
      class: 'code',
      rows: 18,
      spellcheck: false,
      'aria-describedby': 'schema-check',
      value: JSON.stringify(stored ? stored.schema : TEMPLATE, null, 2),
    });
    const check = h('p', { id: 'schema-check', class: 'hint', 'aria-live': 'polite' });
    const errors = h('div', { id: 'schema-errors' });
    const save = h('button', { type: 'submit', class: 'primary' }, stored ? `Save as version ${stored.version + 1}` : 'Save schema');
    const syntax = () => {
      const result = checkJson(editor.value);
      editor.setAttribute('aria-invalid', String(!result.ok));
      check.textContent = result.ok ? 'Valid JSON.' : `Not JSON: ${result.message}`;
      check.className = result.ok ? 'hint' : 'hint bad';
      return result;
    };
    let timer = null;
    editor.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(syntax, 250);
    });
    const form = h(
      'form',
      { class: 'schema-form' },
      field('Schema (JSON Schema 2020-12)', editor),
      check,
      errors,
      h('div', { class: 'buttons' }, save, h('button', { type: 'button', onclick: () => show(stored) }, 'Cancel')),
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      errors.replaceChildren();
      const parsed = syntax();
      if (!parsed.ok) {
        editor.focus();
        return;
      }
      save.disabled = true;
      try {
        await call('PUT', topicPath(topic, '/schema'), { body: parsed.value });
        onChange();
      } catch (error) {
        errors.replaceChildren(problemBox(error, { onSignIn: signIn, label: 'The gateway refused the schema' }));
      } finally {
        save.disabled = false;
      }
    });
    body.replaceChildren(form);
    syntax();
    editor.focus();
  }

  function confirmDelete(stored) {
    body.querySelector('.confirm')?.remove();
    const errors = h('div');
    const yes = h('button', { type: 'button', class: 'danger' }, `Delete version ${stored.version}`);
    yes.addEventListener('click', async () => {
      yes.disabled = true;
      try {
        await call('DELETE', topicPath(topic, '/schema'));
        onChange();
      } catch (error) {
        errors.replaceChildren(problemBox(error, { onSignIn: signIn }));
        yes.disabled = false;
      }
    });
    const box = h(
      'div',
      { class: 'confirm', role: 'group', 'aria-label': 'Confirm deleting the schema' },
      h('p', {}, `Delete the schema of ${topic}? Values will no longer be validated.`),
      h('div', { class: 'buttons' }, yes, h('button', { type: 'button', onclick: () => show(stored) }, 'Keep it')),
      errors,
    );
    body.prepend(box);
    yes.focus();
  }

  void load();
  return panel;
}
