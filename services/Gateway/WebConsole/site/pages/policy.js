import { api } from '../api.js';
import { h, fill, time, problemBox, jsonBlock, table, section } from '../ui.js';

/** The tenant's policy: the current document, its versions with a diff, kill switches; admins edit with If-Match. */
export async function render(view, { me }) {
  const [current, versions, switches] = await Promise.all([
    api('/api/governance/policy'), api('/api/governance/policy/versions'), api('/api/governance/kill-switch')]);
  if (!current.ok) { fill(view, h('h1', {}, 'Policy'), problemBox(current, 'Reading the policy')); return; }
  const policy = current.data;
  const etag = current.headers.get('ETag') ?? `"${policy.version}"`;
  const isAdmin = me.roles.includes(policy.document.adminRole ?? 'admin');
  const diffArea = h('div', { id: 'policy-diff' });
  const outcome = h('div', { id: 'policy-outcome' });
  const text = JSON.stringify(policy.document, null, 2);

  const showDiff = async version => {
    const [older, newer] = await Promise.all([
      version > 1 ? api(`/api/governance/policy/versions/${version - 1}`) : Promise.resolve({ ok: true, data: { document: {} } }),
      api(`/api/governance/policy/versions/${version}`)]);
    if (!older.ok || !newer.ok) { fill(diffArea, problemBox(older.ok ? newer : older, 'Reading a version')); return; }
    fill(diffArea, section(`Changes in version ${version} (against ${version - 1 || 'nothing'})`,
      diffView(JSON.stringify(older.data.document, null, 2), JSON.stringify(newer.data.document, null, 2))));
  };

  const schemaArea = h('div', { id: 'policy-schema' });
  const showSchema = async () => {
    const schema = await api('/api/governance/policy/schema');
    fill(schemaArea, schema.ok ? jsonBlock(schema.data) : problemBox(schema, 'Reading the schema'));
  };
  const editor = h('textarea', { id: 'policy-editor', rows: 24, cols: 100, spellcheck: 'false' }, text);
  const save = async () => {
    let body;
    try { body = JSON.parse(editor.value); } catch (e) { fill(outcome, problemBox({ problem: { title: 'Not JSON', detail: String(e.message) } })); return; }
    const result = await api('/api/governance/policy', { method: 'PUT', body, headers: { 'If-Match': etag } });
    if (!result.ok) { fill(outcome, problemBox(result, 'Saving the policy')); return; }
    fill(outcome, h('p', { class: 'ok' }, `Saved as version ${result.data.version}. `, h('a', { href: '#/policy', onclick: () => render(view, { me }) }, 'Reload')));
  };

  fill(view, h('h1', {}, `Policy of ${policy.tenantId} — version ${policy.version}${policy.isDefault ? ' (the default: never written)' : ''}`),
    outcome,
    isAdmin ? h('details', { class: 'panel', id: 'policy-edit' }, h('summary', {}, 'Edit'),
      h('p', { class: 'muted' }, `Saved with If-Match: ${etag}; if someone saved another version meanwhile, the save is refused (412) and nothing changes.`),
      h('p', { class: 'muted' }, 'A save is checked against the policy\'s JSON Schema, which describes every field; each problem is listed with its JSON pointer. ',
        h('button', { type: 'button', class: 'link', id: 'policy-schema-show', onclick: showSchema }, 'Show the schema')),
      schemaArea,
      editor, h('div', {}, h('button', { type: 'button', id: 'policy-save', onclick: save }, 'Save as a new version'))) : h('p', { class: 'muted' }, 'Only the tenant\'s admins may change the policy.'),
    section('Current document', jsonBlock(policy.document, { id: 'policy-document' })),
    versions.ok ? section('Versions', table(['version', 'written', 'by', ''], [...versions.data].reverse().map(v => h('tr', {},
      h('td', {}, v.version), h('td', {}, time(v.createdAt)), h('td', {}, v.createdBy),
      h('td', {}, h('button', { type: 'button', class: 'link', onclick: () => showDiff(v.version) }, 'What changed')))), { id: 'policy-versions' }), diffArea) : problemBox(versions, 'Versions'),
    switches.ok ? section('Kill switches', table(['tool', 'on', 'changed', 'by', 'reason'], switches.data.map(k => h('tr', {},
      h('td', {}, k.tool === '*' ? 'the whole tenant' : k.tool), h('td', {}, k.enabled ? 'ON' : 'off'), h('td', {}, time(k.changedAt)), h('td', {}, k.changedBy), h('td', {}, k.reason ?? ''))))) : null);
}

/** A line diff (longest common subsequence): removed lines red, added lines green, the rest for context. */
export function diffView(before, after) {
  const a = before.split('\n');
  const b = after.split('\n');
  const lcs = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const lines = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) { lines.push(h('div', { class: 'same' }, '  ' + a[i])); i++; j++; } else if (j < b.length && (i >= a.length || lcs[i][j + 1] >= lcs[i + 1][j])) { lines.push(h('div', { class: 'added' }, '+ ' + b[j])); j++; } else { lines.push(h('div', { class: 'removed' }, '- ' + a[i])); i++; }
  }
  return h('pre', { class: 'diff' }, lines);
}
