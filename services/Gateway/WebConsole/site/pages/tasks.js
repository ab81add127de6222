import { api, delay } from '../api.js';
import { h, fill, time, badge, problemBox, table, section, shortId } from '../ui.js';

const statuses = ['Submitted', 'Planning', 'Running', 'AwaitingApproval', 'Completed', 'Failed', 'Cancelled', 'BudgetExceeded', 'Compensated', 'Rejected'];
// How long one list request waits at the executor for a change before it answers that nothing changed (304).
const waitForChangeSeconds = 25;

/** Tasks: the list (filters by state, user, template and time; follows changes while visible) and a submit form. */
export async function render(view, { query }) {
  const filters = {
    status: h('select', { name: 'status', id: 'filter-status' }, h('option', { value: '' }, 'any state'), statuses.map(s => h('option', { value: s, selected: query.get('status') === s }, s))),
    user: h('input', { name: 'user', id: 'filter-user', placeholder: 'user', value: query.get('user') ?? '', size: 10 }),
    template: h('input', { name: 'template', id: 'filter-template', placeholder: 'template', value: query.get('template') ?? '', size: 18 }),
    from: h('input', { name: 'from', id: 'filter-from', type: 'datetime-local', value: query.get('from') ?? '' }),
    to: h('input', { name: 'to', id: 'filter-to', type: 'datetime-local', value: query.get('to') ?? '' }),
  };
  const live = h('span', { class: 'live', id: 'live' });
  const list = h('div', { id: 'task-list' });
  let page = Number(query.get('page') ?? 1) || 1;
  const filterForm = h('form', { class: 'filters', onsubmit: e => { e.preventDefault(); page = 1; applyToHash(); } },
    filters.status, filters.user, filters.template, h('label', {}, 'from ', filters.from), h('label', {}, 'to ', filters.to),
    h('button', { type: 'submit' }, 'Filter'), live);

  function applyToHash() {
    const q = new URLSearchParams();
    for (const [name, input] of Object.entries(filters)) if (input.value) q.set(name, input.value);
    if (page > 1) q.set('page', page);
    location.hash = `#/tasks${q.size ? '?' + q : ''}`;
  }

  let shown = null; // the ETag of the list on screen

  /**
   * Reads the list. Following (`follow`), the request names the list on screen (If-None-Match) and the executor holds
   * it until the list differs or the wait is over: 304 means nothing changed. Returns false when the API refused.
   */
  async function load(follow = false, signal = undefined) {
    const q = new URLSearchParams({ page, pageSize: 25 });
    if (filters.status.value) q.set('status', filters.status.value);
    if (filters.user.value) q.set('user', filters.user.value.trim());
    if (filters.template.value) q.set('template', filters.template.value.trim());
    if (filters.from.value) q.set('from', new Date(filters.from.value).toISOString());
    if (filters.to.value) q.set('to', new Date(filters.to.value).toISOString());
    const headers = {};
    if (follow && shown) { q.set('wait', waitForChangeSeconds); headers['If-None-Match'] = shown; }
    const result = await api(`/api/tasks?${q}`, { headers, signal });
    if (result.status === 304) { fill(live, `live · up to date at ${now()}`); return true; }
    if (!result.ok) { fill(list, problemBox(result, 'Listing tasks')); return false; }
    shown = result.headers.get('ETag');
    const { items, total, pageSize } = result.data;
    const rows = items.map(t => h('tr', { dataset: { task: t.id } },
      h('td', {}, h('a', { href: `#/tasks/${t.id}` }, shortId(t.id))),
      h('td', {}, badge(t.status)),
      h('td', {}, t.userId ?? ''),
      h('td', {}, t.template ? h('code', {}, t.template) : (t.goal ?? '(steps)')),
      h('td', {}, time(t.createdAt)),
      h('td', {}, time(t.finishedAt ?? t.updatedAt)),
      h('td', { class: 'reason' }, t.reason ?? ''),
      h('td', {}, h('code', { class: 'trace' }, t.traceId ?? ''))));
    const pages = Math.max(1, Math.ceil(total / pageSize));
    fill(list,
      table(['task', 'state', 'user', 'template / goal', 'created', 'updated', 'reason', 'trace id'], rows, { class: 'tasks' }),
      h('div', { class: 'pager' },
        h('button', { type: 'button', disabled: page <= 1, onclick: () => { page--; applyToHash(); } }, '‹ newer'),
        ` page ${page} of ${pages} (${total} tasks) `,
        h('button', { type: 'button', disabled: page >= pages, onclick: () => { page++; applyToHash(); } }, 'older ›')));
    fill(live, `live · updated ${now()}`);
    return true;
  }

  fill(view, h('h1', {}, 'Tasks'), await submitForm(), section('Runs', filterForm, list));
  await load();
  // Follows the list while the tab is visible: one request waiting for a change at a time, instead of polling.
  const following = new AbortController();
  (async () => {
    for (let failures = 0; !following.signal.aborted;) {
      if (document.visibilityState !== 'visible') { await delay(1000, following.signal); continue; }
      let answered = false;
      try { answered = await load(true, following.signal); } catch { if (following.signal.aborted) return; }
      failures = answered ? 0 : failures + 1;
      if (failures) await delay(Math.min(2000 * failures, 30000), following.signal);
    }
  })();
  return () => following.abort();
}

function now() {
  return new Date().toLocaleTimeString(undefined, { hour12: false });
}

async function submitForm() {
  const templates = await api('/api/templates');
  const list = templates.ok ? templates.data : [];
  const template = h('select', { id: 'submit-template', name: 'template' },
    h('option', { value: '' }, '(a goal instead)'),
    list.map(t => h('option', { value: t.name }, t.name)));
  const goal = h('input', { id: 'submit-goal', name: 'goal', placeholder: 'goal, e.g. Summarise customer C-1001\'s open issues', size: 60 });
  const parameters = h('textarea', { id: 'submit-parameters', name: 'parameters', rows: 3, cols: 60, placeholder: 'parameters, one name=value a line' });
  const hint = h('div', { class: 'muted', id: 'template-hint' });
  const outcome = h('div', { id: 'submit-outcome' });
  template.addEventListener('change', () => {
    const chosen = list.find(t => t.name === template.value);
    goal.disabled = Boolean(chosen);
    fill(hint, chosen ? [chosen.description, ' Parameters: ', chosen.parameters.map(p => `${p.name}${p.required ? ' (required)' : ''}`).join(', ') || 'none'] : '');
    if (chosen && !parameters.value) parameters.value = chosen.parameters.map(p => `${p.name}=${p.default ?? ''}`).join('\n');
  });

  async function submit(e) {
    e.preventDefault();
    const body = {};
    if (template.value) {
      body.template = template.value;
      const pairs = parameters.value.split('\n').map(l => l.trim()).filter(Boolean);
      const bad = pairs.find(p => !p.includes('='));
      if (bad) { fill(outcome, problemBox({ problem: { title: 'Parameters not valid', detail: `'${bad}' is not name=value.` } })); return; }
      body.parameters = Object.fromEntries(pairs.map(p => [p.slice(0, p.indexOf('=')).trim(), p.slice(p.indexOf('=') + 1).trim()]));
    } else {
      body.goal = goal.value;
    }
    // A busy or restarting platform (429, 502–504, no answer) is waited out: the same submission is sent again with
    // the same Idempotency-Key, so it is never created twice.
    const key = crypto.randomUUID();
    // It gives up after about a minute of trying, showing the last answer.
    const giveUpAt = Date.now() + 60_000;
    let result;
    for (;;) {
      result = await api('/api/tasks', { method: 'POST', body, headers: { 'Idempotency-Key': key } });
      if (result.ok || ![0, 429, 502, 503, 504].includes(result.status) || Date.now() >= giveUpAt) break;
      const wait = Math.min(10, Math.max(1, Number(result.headers.get('Retry-After')) || 1));
      fill(outcome, h('p', { class: 'muted', id: 'submit-retrying' }, `The platform is busy (${result.status || 'no answer'}); sending again in ${wait} s…`));
      await new Promise(resolve => setTimeout(resolve, wait * 1000));
    }
    if (!result.ok) { fill(outcome, problemBox(result, 'Submitting')); return; }
    location.hash = `#/tasks/${result.data.id}`;
  }

  return h('details', { class: 'panel', id: 'submit-panel' },
    h('summary', {}, 'Submit a task'),
    h('form', { class: 'submit', onsubmit: submit },
      h('label', {}, 'Template ', template), hint,
      h('label', {}, 'Goal ', goal),
      h('label', {}, 'Parameters ', parameters),
      h('button', { type: 'submit', id: 'submit-task' }, 'Submit'), outcome));
}
