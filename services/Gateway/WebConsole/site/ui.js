// A few DOM helpers: the console builds its pages from these, never from HTML strings (no injection from data).

/** Creates an element: h('a', { href: '#/x', class: 'y', onclick: fn }, 'text', child, [children]). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the children of an element. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

export function time(value) {
  if (!value) return '';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : d.toLocaleString(undefined, { hour12: false });
}

export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  const minutes = Math.floor(ms / 60000);
  return `${minutes} min ${Math.round((ms % 60000) / 1000)} s`;
}

export function money(value) {
  return value === null || value === undefined ? '' : `$${Number(value).toFixed(6).replace(/0{1,4}$/, '')}`;
}

/** The distinguishing end of an id (version 7 ids share their leading, time-ordered part). */
export function shortId(id) {
  return id ? `…${String(id).slice(-12)}` : '';
}

/** A status as a coloured label. */
export function badge(status) {
  return h('span', { class: `badge s-${String(status).toLowerCase()}` }, status);
}

/** A problem (RFC 7807) as a box that says what went wrong and what to do. */
export function problemBox(result, what) {
  const p = result.problem ?? {};
  const errors = p.errors ? Object.entries(p.errors).map(([field, list]) => h('li', {}, `${field}: ${[].concat(list).join(' ')}`)) : [];
  return h('div', { class: 'problem', role: 'alert' },
    h('strong', {}, `${what ? what + ': ' : ''}${p.title ?? 'Request failed'}`, result.status ? ` (${result.status})` : ''),
    p.detail ? h('div', {}, p.detail) : null,
    errors.length ? h('ul', {}, errors) : null);
}

/** JSON (or text holding JSON) as an indented block. */
export function jsonBlock(value, attributes = {}) {
  let text = value;
  if (typeof value === 'string') {
    try { text = JSON.stringify(JSON.parse(value), null, 2); } catch { text = value; }
  } else {
    text = JSON.stringify(value, null, 2);
  }
  return h('pre', { class: 'json', ...attributes }, text ?? '');
}

export function table(headers, rows, attributes = {}) {
  return h('table', attributes,
    h('thead', {}, h('tr', {}, headers.map(x => h('th', {}, x)))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: headers.length, class: 'muted' }, 'Nothing here.'))));
}

export function section(title, ...children) {
  return h('section', { class: 'panel' }, h('h2', {}, title), children);
}

/** Parses the query part of the hash route (#/page?x=1). */
export function queryOf(hash) {
  const i = hash.indexOf('?');
  return new URLSearchParams(i >= 0 ? hash.slice(i + 1) : '');
}
