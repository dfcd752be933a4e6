// Topic and consumer group administration dialogs: create a topic, add
// partitions, delete a topic or a group with a typed confirmation. They are opened only where the gateway said the
// principal may administer (api.mayAdminister); the gateway checks again on
// every call, and its refusal is shown in the dialog as it came.

import { call, groupPath, topicPath } from './api.js';
import { field, h, setChildren } from './dom.js';
import { problemBox } from './problems.js';

/** A modal dialog with a form; `onSubmit(form)` returns true to close it. Resolves when it closes. */
function formDialog({ title, description, fields, submitLabel, submitClass = 'primary', onSubmit, setup }) {
  const titleId = `dialog-${Math.random().toString(36).slice(2)}`;
  const errorArea = h('div', { class: 'dialog-error', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: submitClass }, submitLabel);
  const cancel = h('button', { type: 'button', onclick: () => dialog.close() }, 'Cancel');
  const form = h(
    'form',
    { novalidate: false },
    h('h2', { id: titleId }, title),
    description ? h('p', { class: 'hint' }, description) : null,
    fields,
    errorArea,
    h('div', { class: 'buttons' }, submit, cancel),
  );
  const dialog = h('dialog', { 'aria-labelledby': titleId, class: 'form-dialog' }, form);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    errorArea.replaceChildren();
    submit.disabled = true;
    try {
      if (await onSubmit(form, errorArea)) dialog.close();
    } catch (error) {
      setChildren(
        errorArea,
        problemBox(error),
        // The gateway's bound on an admin call does not cancel it (docs/metadata.md).
        error?.status === 503 ? h('p', { class: 'hint' }, 'The change may still be made once Kafka answers: close this and the page reads the topic again.') : null,
      );
    } finally {
      submit.disabled = false;
    }
  });
  setup?.({ dialog, submit });
  document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve();
    });
    dialog.showModal();
  });
}

/** `cleanup.policy=compact` lines to a configs object, or throws naming the bad line. */
function parseConfigs(text) {
  const configs = {};
  text.split('\n').forEach((line, i) => {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) return;
    const eq = trimmed.indexOf('=');
    if (eq <= 0) throw new Error(`Line ${i + 1} is not name=value: ${trimmed}`);
    configs[trimmed.slice(0, eq).trim()] = trimmed.slice(eq + 1).trim();
  });
  return configs;
}

export function openCreateTopicDialog({ onCreated }) {
  const name = h('input', { name: 'name', required: true, autocomplete: 'off', spellcheck: false, maxlength: 249, placeholder: 'orders' });
  const partitions = h('input', { name: 'partitions', type: 'number', min: 1, step: 1, placeholder: 'broker default', inputmode: 'numeric' });
  const replication = h('input', { name: 'replicationFactor', type: 'number', min: 1, step: 1, placeholder: 'broker default', inputmode: 'numeric' });
  const configs = h('textarea', { name: 'configs', rows: 3, spellcheck: false, placeholder: 'cleanup.policy=compact\nretention.ms=604800000' });
  return formDialog({
    title: 'Create a topic',
    fields: h(
      'div',
      { class: 'form-grid' },
      field('Name', name, 'Letters, digits, . _ and -'),
      field('Partitions', partitions),
      field('Replication factor', replication),
      h('div', { class: 'span-all' }, field('Configs', configs, 'One name=value per line (optional)')),
    ),
    submitLabel: 'Create topic',
    async onSubmit(_form, errorArea) {
      let parsed;
      try {
        parsed = parseConfigs(configs.value);
      } catch (error) {
        errorArea.replaceChildren(h('p', { class: 'problem', role: 'alert' }, error.message));
        return false;
      }
      const body = { name: name.value.trim() };
      if (partitions.value) body.partitions = Number(partitions.value);
      if (replication.value) body.replicationFactor = Number(replication.value);
      if (Object.keys(parsed).length) body.configs = parsed;
      const created = await call('POST', '/v1/topics', { body });
      onCreated(created);
      return true;
    },
  });
}

/** Resolves when the dialog closes, however it ended. */
export function openAddPartitionsDialog(topic, current) {
  const count = h('input', { name: 'partitions', type: 'number', min: current + 1, step: 1, required: true, value: String(current + 1), inputmode: 'numeric' });
  return formDialog({
    title: `Add partitions to ${topic}`,
    description: `It has ${current}. Kafka cannot remove partitions, and keys may map to other partitions afterwards.`,
    fields: field('New partition count', count),
    submitLabel: 'Add partitions',
    async onSubmit() {
      await call('POST', topicPath(topic, '/partitions'), { body: { partitions: Number(count.value) } });
      return true;
    },
  });
}

export function openDeleteTopicDialog(topic, { onDeleted }) {
  const confirm = h('input', { name: 'confirm', autocomplete: 'off', spellcheck: false, 'aria-describedby': 'delete-explain' });
  return formDialog({
    title: `Delete topic ${topic}`,
    description: h('span', { id: 'delete-explain' }, 'Every record in it is lost. Type the topic name to confirm.'),
    fields: field('Topic name', confirm),
    submitLabel: 'Delete topic',
    submitClass: 'danger',
    setup({ submit }) {
      submit.disabled = true;
      confirm.addEventListener('input', () => {
        submit.disabled = confirm.value !== topic;
      });
    },
    async onSubmit() {
      if (confirm.value !== topic) return false;
      await call('DELETE', topicPath(topic));
      onDeleted();
      return true;
    },
  });
}

/** Deleting a group takes its committed offsets with it; Kafka refuses while it has members (409, shown as it came). */
export function openDeleteGroupDialog(group, { onDeleted }) {
  const confirm = h('input', { name: 'confirm', autocomplete: 'off', spellcheck: false, 'aria-describedby': 'delete-group-explain' });
  return formDialog({
    title: `Delete group ${group}`,
    description: h('span', { id: 'delete-group-explain' }, 'Its committed offsets are lost: a consumer joining it later starts from its reset position. Type the group name to confirm.'),
    fields: field('Group name', confirm),
    submitLabel: 'Delete group',
    submitClass: 'danger',
    setup({ submit }) {
      submit.disabled = true;
      confirm.addEventListener('input', () => {
        submit.disabled = confirm.value !== group;
      });
    },
    async onSubmit() {
      if (confirm.value !== group) return false;
      await call('DELETE', groupPath(group));
      onDeleted();
      return true;
    },
  });
}
