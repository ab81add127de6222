import { api } from '../api.js';
import { h, fill, time, money, badge, problemBox, table, section, shortId } from '../ui.js';

/** Budgets and usage of one UTC day: the tenant's (admins), each user's (admins; others their own) and each task's. */
export async function render(view, { query }) {
  const day = query.get('day') ?? new Date().toISOString().slice(0, 10);
  const result = await api(`/api/governance/usage?day=${encodeURIComponent(day)}`);
  const picker = h('form', { class: 'filters', onsubmit: e => { e.preventDefault(); location.hash = `#/usage?day=${input.value}`; } });
  const input = h('input', { type: 'date', value: day, name: 'day' });
  picker.append(input, h('button', { type: 'submit' }, 'Show'));
  if (!result.ok) { fill(view, h('h1', {}, 'Budgets and usage'), picker, problemBox(result, 'Usage')); return; }
  const u = result.data;
  fill(view, h('h1', {}, `Budgets and usage — ${u.day} (UTC)`), picker,
    u.tenant ? section(`Tenant ${u.tenantId}`, meters(u.tenant, u.tenant.limits)) : h('p', { class: 'muted' }, 'Tenant totals are shown to the tenant\'s admins.'),
    section('Users', table(['user', 'tokens', 'cost', 'tool calls'], [...u.users].map(x => h('tr', {}, h('td', {}, x.userId), h('td', {}, meter(x.tokens, x.limits?.tokens)),
      h('td', {}, meter(x.cost, x.limits?.cost, money)), h('td', {}, meter(x.toolCalls, x.limits?.toolCalls)))), { id: 'usage-users' })),
    section('Tasks', table(['task', 'user', 'admitted', 'finished', 'steps', 'tool calls', 'tokens', 'cost', 'limits'],
      [...u.tasks].map(t => h('tr', {}, h('td', {}, h('a', { href: `#/tasks/${t.taskId}` }, shortId(t.taskId))), h('td', {}, t.userId),
        h('td', {}, t.admitted ? time(t.admittedAt) : h('span', { class: 'problem-inline' }, `refused: ${t.rejectionReason}`)),
        h('td', {}, t.finishedStatus ? badge(t.finishedStatus) : ''), h('td', {}, t.steps), h('td', {}, t.toolCalls), h('td', {}, t.tokens), h('td', {}, money(t.cost)),
        h('td', { class: 'muted' }, Object.entries(t.limits).filter(([, v]) => v !== null).map(([k, v]) => `${k} ${v}`).join(', ')))))));
}

function meters(used, limits) {
  return h('dl', { class: 'facts' },
    h('dt', {}, 'tokens'), h('dd', {}, meter(used.tokens, limits?.tokens)),
    h('dt', {}, 'cost'), h('dd', {}, meter(used.cost, limits?.cost, money)),
    h('dt', {}, 'tool calls'), h('dd', {}, meter(used.toolCalls, limits?.toolCalls)));
}

function meter(value, limit, format = String) {
  if (!limit) return h('span', {}, format(value), h('span', { class: 'muted' }, ' (no daily limit)'));
  const share = Math.min(value / limit, 1);
  const fillBar = h('span', { class: `meter-fill ${share >= 0.9 ? 'high' : ''}` });
  fillBar.style.width = `${share * 100}%`;
  return h('span', {}, h('span', { class: 'meter' }, fillBar), ` ${format(value)} of ${format(limit)} (${Math.round(share * 100)} %)`);
}
