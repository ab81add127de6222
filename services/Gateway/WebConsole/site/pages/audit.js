import { api } from '../api.js';
import { h, fill, time, problemBox, table, section, shortId } from '../ui.js';

/** The tenant's hash-chained audit log (admins), by task or from a sequence number, with chain verification. */
export async function render(view, { query }) {
  const taskId = query.get('taskId') ?? '';
  const after = query.get('after') ?? '';
  const q = new URLSearchParams({ limit: 200 });
  if (taskId) q.set('taskId', taskId);
  if (after) q.set('after', after);
  const result = await api(`/api/governance/audit?${q}`);
  const verdict = h('div', { id: 'audit-verdict' });
  const verify = async () => {
    fill(verdict, h('p', { class: 'muted' }, 'Verifying…'));
    const r = await api('/api/governance/audit/verify');
    fill(verdict, !r.ok ? problemBox(r, 'Verifying') : r.data.ok
      ? h('p', { class: 'ok' }, `Audit chain intact: ${r.data.entries} entries verified.`)
      : h('div', { class: 'problem' }, `Audit chain broken at entry ${r.data.firstTamperedSequence}: ${r.data.problem}`));
  };
  const taskInput = h('input', { name: 'taskId', placeholder: 'task id', value: taskId, size: 38 });
  const afterInput = h('input', { name: 'after', placeholder: 'after #', value: after, size: 8 });
  const filters = h('form', { class: 'filters', onsubmit: e => {
    e.preventDefault();
    const next = new URLSearchParams();
    if (taskInput.value) next.set('taskId', taskInput.value.trim());
    if (afterInput.value) next.set('after', afterInput.value.trim());
    location.hash = `#/audit${next.size ? '?' + next : ''}`;
  } }, taskInput, afterInput, h('button', { type: 'submit' }, 'Filter'), ' ', h('button', { type: 'button', id: 'audit-verify', onclick: verify }, 'Verify the chain'));
  if (!result.ok) { fill(view, h('h1', {}, 'Audit'), filters, verdict, problemBox(result, 'Reading the audit log')); return; }
  const entries = result.data;
  const next = entries.length ? entries[entries.length - 1].sequence : null;
  fill(view, h('h1', {}, 'Audit'), filters, verdict,
    section(`${entries.length} entries${taskId ? ` of task ${shortId(taskId)}` : ''}`,
      table(['#', 'time', 'actor', 'action', 'subject', 'task', 'decision', 'reason', 'details', 'hash'], entries.map(e => h('tr', {},
        h('td', {}, e.sequence), h('td', {}, time(e.time)), h('td', {}, e.actor), h('td', {}, e.action), h('td', {}, h('code', {}, e.subject)),
        h('td', {}, e.taskId ? h('a', { href: `#/tasks/${e.taskId}` }, shortId(e.taskId)) : ''), h('td', {}, e.decision ?? ''), h('td', { class: 'reason' }, e.reason ?? ''),
        h('td', {}, h('code', { class: 'wrap' }, JSON.stringify(e.details))), h('td', { title: `previous ${e.prevHash}` }, h('code', {}, e.hash.slice(0, 10))))), { id: 'audit-entries' }),
      entries.length === 200 ? h('p', {}, h('a', { href: `#/audit?${new URLSearchParams({ ...(taskId ? { taskId } : {}), after: next })}` }, 'next page ›')) : null));
}
