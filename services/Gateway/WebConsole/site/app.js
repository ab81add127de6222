import { api, credential, signIn, signOut } from './api.js';
import { h, fill, problemBox, queryOf } from './ui.js';

// Each page: render(view, { params, query, me, settings }) -> optional cleanup function. Loaded when first opened.
const routes = [
  [/^\/tasks\/?$/, 'tasks', () => import('./pages/tasks.js')],
  [/^\/tasks\/([0-9a-f-]{36})$/, 'tasks', () => import('./pages/task.js')],
  [/^\/approvals\/?$/, 'approvals', () => import('./pages/approvals.js')],
  [/^\/dead-letters\/?$/, 'dead-letters', () => import('./pages/dead-letters.js')],
  [/^\/dead-letters\/([^/]+)\/([^/]+)$/, 'dead-letters', () => import('./pages/dead-letters.js')],
  [/^\/tools\/?$/, 'tools', () => import('./pages/tools.js')],
  [/^\/usage\/?$/, 'usage', () => import('./pages/usage.js')],
  [/^\/policy\/?$/, 'policy', () => import('./pages/policy.js')],
  [/^\/audit\/?$/, 'audit', () => import('./pages/audit.js')],
];

const view = document.getElementById('view');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
let me = null;
let settings = {};
let cleanup = null;

// Navigations can overlap (a slow page is still loading when the reader moves on): only the latest one shows.
let navigation = 0;

async function route() {
  const mine = ++navigation;
  if (cleanup) { try { cleanup(); } catch { /* the page is gone anyway */ } cleanup = null; }
  if (!credential()) { showSignIn(); return; }
  if (!me) {
    const result = await api('/api/me');
    if (mine !== navigation) return;
    if (!result.ok) { showSignIn(result); return; }
    me = result.data;
    const configured = await api('/api/console/settings');
    if (mine !== navigation) return;
    settings = configured.ok ? configured.data : {};
    fill(who, h('span', { id: 'whoami' }, `${me.userId} @ ${me.tenantId}`), h('span', { class: 'muted' }, ` (${me.roles.join(', ') || 'no roles'}) `),
      h('button', { type: 'button', class: 'link', onclick: () => { signOut(); me = null; location.hash = '#/tasks'; route(); } }, 'Sign out'));
    nav.hidden = false;
  }
  const hash = location.hash.replace(/^#/, '') || '/tasks';
  const path = hash.split('?')[0];
  const match = routes.map(([pattern, page, load]) => ({ m: path.match(pattern), page, load })).find(r => r.m);
  for (const link of nav.querySelectorAll('a')) link.classList.toggle('active', match?.page === link.dataset.page);
  if (!match) { fill(view, h('p', {}, 'No such page. '), h('a', { href: '#/tasks' }, 'Tasks')); return; }
  fill(view, h('p', { class: 'muted' }, 'Loading…'));
  const page = await match.load();
  const container = h('div', { class: 'page' });
  const result = await page.render(container, { params: match.m.slice(1).map(decodeURIComponent), query: queryOf(hash), me, settings });
  const stop = typeof result === 'function' ? result : null;
  if (mine !== navigation) { stop?.(); return; }
  view.replaceChildren(container);
  cleanup = stop;
}

function showSignIn(failed) {
  nav.hidden = true;
  fill(who);
  const kind = h('select', { id: 'credential-kind', name: 'kind' }, h('option', { value: 'key' }, 'API key'), h('option', { value: 'bearer' }, 'Bearer token (JWT)'));
  const value = h('input', { id: 'credential', name: 'credential', type: 'password', autocomplete: 'off', required: true, size: 48 });
  const form = h('form', { class: 'signin panel', onsubmit: e => { e.preventDefault(); signIn(kind.value, value.value); route(); } },
    h('h1', {}, 'Sign in'),
    h('p', {}, 'Use the API key or bearer token you use with the API. It is kept in this browser tab only (session storage) and sent only to this gateway; you see exactly what the API lets it see.'),
    failed ? problemBox(failed, 'Signing in failed') : null,
    h('label', {}, 'Credential ', kind), h('label', {}, 'Value ', value),
    h('button', { type: 'submit', id: 'sign-in' }, 'Sign in'));
  if (failed) signOut();
  fill(view, form);
  value.focus();
}

window.addEventListener('hashchange', route);
route();
