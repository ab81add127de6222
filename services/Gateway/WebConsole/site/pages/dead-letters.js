import { api } from '../api.js';
import { h, fill, time, problemBox, jsonBlock, table, section } from '../ui.js';

/** Dead letters of every service (the gateway aggregates them; the API decides which messages a caller may see). */
export async function render(view, { params: [service, queue] }) {
  if (service) return queuePage(view, service, queue);
  const result = await api('/api/dead-letters');
  if (!result.ok) { fill(view, h('h1', {}, 'Dead letters'), h('div', { id: 'dead-letters-refused' }, problemBox(result, 'Dead letters'))); return; }
  const { queues, unavailable } = result.data;
  const withMessages = queues.filter(q => q.messages > 0);
  fill(view, h('h1', {}, 'Dead letters'),
    h('p', { class: 'muted' }, 'Messages that failed all their retries wait in their queue\'s _error queue. You see those of your tenant (or every tenant with the platform-operator role).'),
    unavailable.length ? h('div', { class: 'problem' }, `Not answering: ${unavailable.join(', ')}`) : null,
    section(`Queues with dead letters (${withMessages.length} of ${queues.length})`,
      table(['service', 'queue', 'dead letters'], queues.sort((a, b) => b.messages - a.messages).map(q => h('tr', { dataset: { queue: q.queue } },
        h('td', {}, q.service), h('td', {}, q.messages ? h('a', { href: `#/dead-letters/${encodeURIComponent(q.service)}/${encodeURIComponent(q.queue)}` }, q.queue) : q.queue),
        h('td', {}, q.messages))), { id: 'dead-letter-queues' })));
}

async function queuePage(view, service, queue) {
  const base = `/api/dead-letters/${encodeURIComponent(service)}/${encodeURIComponent(queue)}`;
  const outcome = h('div', { id: 'dead-letter-outcome' });
  const inspector = h('div', { id: 'dead-letter-body' });
  const list = h('div', {});
  const reload = async () => {
    const result = await api(`${base}?limit=200`);
    if (!result.ok) { fill(list, problemBox(result, 'Listing')); return; }
    fill(list, table(['message', 'type', 'tenant', 'reason', 'exception', 'first failure', 'last failure', 'redeliveries', ''],
      result.data.map(m => h('tr', { dataset: { message: m.messageId } },
        h('td', {}, h('code', {}, m.messageId)), h('td', {}, (m.messageType ?? '').replace(/^urn:message:/, '')), h('td', {}, m.tenantId ?? ''),
        h('td', {}, m.reason ?? ''), h('td', { class: 'reason' }, h('strong', {}, m.exceptionType ?? ''), h('div', {}, m.exceptionMessage ?? '')),
        h('td', {}, time(m.firstFaultedAt)), h('td', {}, time(m.faultedAt)), h('td', {}, m.redeliveries),
        h('td', { class: 'actions' },
          h('button', { type: 'button', class: 'inspect', onclick: () => inspect(m.messageId) }, 'Inspect'),
          h('button', { type: 'button', class: 'redeliver', onclick: () => act('POST', `/${encodeURIComponent(m.messageId)}/redeliver`, `Redeliver ${m.messageId}?`) }, 'Redeliver'),
          h('button', { type: 'button', class: 'delete danger', onclick: () => act('DELETE', `/${encodeURIComponent(m.messageId)}`, `Delete ${m.messageId} for good?`) }, 'Delete')))),
      { id: 'dead-letter-messages' }));
  };
  const inspect = async id => {
    const result = await api(`${base}/${encodeURIComponent(id)}`);
    fill(inspector, result.ok
      ? section(`Message ${id}`, h('h4', {}, 'Body'), jsonBlock(result.data.body), h('h4', {}, 'Stack trace'), h('pre', { class: 'json' }, result.data.stackTrace ?? '(none)'))
      : problemBox(result, 'Inspecting'));
  };
  const act = async (method, suffix, question) => {
    if (!window.confirm(question)) return;
    const result = await api(base + suffix, { method });
    fill(outcome, result.ok ? h('p', { class: 'ok' }, method === 'DELETE' ? 'Deleted.' : `Redelivered ${result.data.redelivered} message(s).`) : problemBox(result));
    await reload();
  };
  fill(view, h('h1', {}, 'Dead letters: ', h('code', {}, queue)),
    h('p', {}, h('a', { href: '#/dead-letters' }, '‹ all queues'), ` · service ${service} · `,
      h('button', { type: 'button', id: 'redeliver-all', onclick: () => act('POST', '/redeliver', `Redeliver every message of ${queue} that you may see?`) }, 'Redeliver all'),
      ' ', h('button', { type: 'button', onclick: reload }, 'Refresh')),
    outcome, list, inspector);
  await reload();
}
