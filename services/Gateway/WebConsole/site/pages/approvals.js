import { api } from '../api.js';
import { inputSources } from '../taint.js';
import { h, fill, time, duration, badge, problemBox, jsonBlock, section, shortId } from '../ui.js';

const statuses = ['Pending', 'Approved', 'Rejected', 'Expired'];

/**
 * The approvals inbox: for approvers (the API decides who is one). Each request shows the tool, the exact arguments the
 * approval is bound to, whether and from where they are tainted, the requester and the expiry.
 */
export async function render(view, { query }) {
  const status = query.get('status') ?? 'Pending';
  const result = await api(`/api/governance/approvals?status=${encodeURIComponent(status)}`);
  const picker = h('p', {}, statuses.map(s => [s === status ? h('strong', {}, s) : h('a', { href: `#/approvals?status=${s}` }, s), ' ']));
  if (!result.ok) {
    fill(view, h('h1', {}, 'Approvals'), h('div', { id: 'approvals-refused' }, problemBox(result, 'Approvals')),
      result.status === 403 ? h('p', { class: 'muted' }, 'Only the approver roles of your tenant\'s policy see and decide approvals.') : null);
    return;
  }
  const items = result.data;
  const cards = await Promise.all(items.map(a => card(a)));
  fill(view, h('h1', {}, 'Approvals'), picker,
    section(`${status} (${items.length})`, cards.length ? h('div', { id: 'approvals' }, cards) : h('p', { class: 'muted', id: 'no-approvals' }, `No ${status.toLowerCase()} approvals.`)));
}

async function card(a) {
  // Approvers may read the task: where the tainted arguments came from is in its plan and steps.
  const task = a.argumentsTainted ? await api(`/api/tasks/${a.taskId}`) : null;
  const sources = task?.ok ? inputSources(task.data, a.stepId) : [];
  const comment = h('textarea', { name: 'comment', rows: 2, cols: 50, placeholder: 'comment (kept in the audit log)', class: 'comment' });
  const outcome = h('div', { class: 'outcome' });
  const decide = async approve => {
    const r = await api(`/api/governance/approvals/${a.id}/${approve ? 'approve' : 'reject'}`, { method: 'POST', body: { comment: comment.value || null } });
    if (!r.ok) { fill(outcome, problemBox(r, approve ? 'Approving' : 'Rejecting')); return; }
    fill(outcome, h('p', { class: 'ok' }, `${r.data.status} by ${r.data.decidedBy}.`));
    for (const b of buttons.querySelectorAll('button')) b.disabled = true;
  };
  const buttons = a.status === 'Pending' ? h('div', { class: 'actions' }, comment,
    h('button', { type: 'button', class: 'approve', onclick: () => decide(true) }, 'Approve'),
    h('button', { type: 'button', class: 'reject', onclick: () => decide(false) }, 'Reject')) : h('div', {});
  const left = new Date(a.expiresAt) - Date.now();
  return h('article', { class: 'panel approval', dataset: { approval: a.id, task: a.taskId } },
    h('h3', {}, h('code', {}, a.tool), ' ', badge(a.status), a.escalated ? ' escalated' : ''),
    h('dl', { class: 'facts' },
      h('dt', {}, 'task / step'), h('dd', {}, h('a', { href: `#/tasks/${a.taskId}` }, shortId(a.taskId)), ' / ', h('code', {}, a.stepId)),
      h('dt', {}, 'requested by'), h('dd', {}, a.requestedBy, ' at ', time(a.createdAt)),
      h('dt', {}, 'why a person'), h('dd', {}, a.reason),
      h('dt', {}, 'expires'), h('dd', {}, time(a.expiresAt), left > 0 && a.status === 'Pending' ? ` (in ${duration(left)})` : ''),
      h('dt', {}, 'decided'), h('dd', {}, a.decidedAt ? `${a.decidedBy} at ${time(a.decidedAt)}${a.comment ? `: “${a.comment}”` : ''}` : '—'),
      h('dt', {}, 'approver roles'), h('dd', {}, a.approverRoles.join(', '))),
    h('h4', {}, 'Exact arguments (the approval is bound to their hash ', h('code', {}, a.argumentsHash.slice(0, 12)), ')'),
    a.argumentsTainted ? h('div', { class: 'taint' }, h('strong', {}, 'Tainted: '), 'built from untrusted content: ',
      sources.length ? h('ul', {}, sources.map(s => h('li', {}, s))) : '(source not readable)') : h('p', { class: 'muted' }, 'Not tainted.'),
    jsonBlock(a.argumentsJson, { class: `json ${a.argumentsTainted ? 'tainted' : ''}` }),
    buttons, outcome);
}
