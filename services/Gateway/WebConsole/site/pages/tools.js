import { api } from '../api.js';
import { h, fill, time, badge, problemBox, jsonBlock, table, section } from '../ui.js';

/** The tool registry as the caller may see it: side effect, risk, scope, circuit, last seen; schemas on demand. */
export async function render(view, context, message) {
  const result = await api('/api/tools');
  if (!result.ok) { fill(view, h('h1', {}, 'Tools'), problemBox(result, 'Listing tools')); return; }
  const detail = h('div', { id: 'tool-detail' });
  const outcome = h('div', { id: 'tools-outcome' }, message);
  const show = async name => {
    const r = await api(`/api/tools/${encodeURIComponent(name)}`);
    fill(detail, r.ok ? section(`${name} v${r.data.version}`, h('p', {}, r.data.description),
      h('p', { class: 'muted' }, `first seen ${time(r.data.firstSeenAt)} · instance ${r.data.instance}${r.data.retiredAt ? ` · retired by ${r.data.retiredBy} at ${time(r.data.retiredAt)}` : ''}`),
      h('div', { class: 'io' }, h('div', {}, h('h4', {}, 'Input schema'), jsonBlock(r.data.inputSchema)), h('div', {}, h('h4', {}, 'Output schema'), jsonBlock(r.data.outputSchema))))
      : problemBox(r, 'Reading the tool'));
  };
  const reset = async name => {
    const r = await api(`/api/tools/${encodeURIComponent(name)}/circuit/reset`, { method: 'POST' });
    if (!r.ok) { fill(outcome, problemBox(r, 'Resetting the circuit')); return; }
    // Read the registry again so that the row shows the circuit as it is now.
    await render(view, context, h('p', { class: 'ok' }, r.data.changed ? `Circuit of ${name} reset (${r.data.circuit}).` : `The circuit of ${name} was already closed.`));
  };
  fill(view, h('h1', {}, 'Tools'), outcome,
    section(`Registry (${result.data.length})`, table(['tool', 'side effect', 'risk', 'scope', 'compensable', 'untrusted output', 'circuit', 'status', 'last seen', 'you may call', ''],
      result.data.map(t => h('tr', { dataset: { tool: t.name } },
        h('td', {}, h('button', { type: 'button', class: 'link', onclick: () => show(t.name) }, t.name), h('div', { class: 'muted' }, t.description)),
        h('td', {}, t.sideEffect), h('td', {}, t.risk), h('td', {}, h('code', {}, t.requiredScope)), h('td', {}, t.compensable ? 'yes' : 'no'),
        h('td', {}, t.returnsUntrustedContent ? 'yes' : 'no'),
        h('td', {}, badge(t.circuit.state), t.circuit.consecutiveFailures ? ` ${t.circuit.consecutiveFailures} failures` : '', t.circuit.openUntil ? ` until ${time(t.circuit.openUntil)}` : ''),
        h('td', {}, t.status), h('td', {}, time(t.lastSeenAt)), h('td', {}, t.allowed ? 'yes' : 'no'),
        h('td', {}, t.circuit.state !== 'Closed' ? h('button', { type: 'button', class: 'reset', onclick: () => reset(t.name) }, 'Reset circuit') : ''))),
      { id: 'tools' })),
    detail);
}
