import { api, followTaskEvents } from '../api.js';
import { inputSources, outputSource } from '../taint.js';
import { h, fill, time, duration, money, badge, problemBox, jsonBlock, table, section, shortId } from '../ui.js';

const terminal = ['Completed', 'Failed', 'Cancelled', 'BudgetExceeded', 'Compensated', 'Rejected'];

/**
 * One task: what it did (timeline of every dispatch, wait and compensation), why (the plan, its rationale, its
 * revisions and the approvals), with what (every step's input and output, untrusted parts marked with their source),
 * at what cost, and where to look further (trace id, audit entries). Follows the task's event stream while it runs.
 */
export async function render(view, { params: [id], me, settings }) {
  const state = { task: null, events: [], audit: null, open: new Set(), traceUrl: settings?.traceUrl };
  const [task, log] = await Promise.all([api(`/api/tasks/${id}`), api(`/api/tasks/${id}/log`)]);
  if (!task.ok) { fill(view, h('h1', {}, `Task ${shortId(id)}`), problemBox(task, 'Reading the task')); return; }
  state.task = task.data;
  state.events = log.ok ? log.data.events : [];
  state.audit = await loadAudit(id);

  const draw = () => {
    // Keep what the reader opened across redraws.
    for (const d of view.querySelectorAll('details[data-key]')) if (d.open) state.open.add(d.dataset.key); else state.open.delete(d.dataset.key);
    fill(view, page(state, me));
    for (const d of view.querySelectorAll('details[data-key]')) d.open = state.open.has(d.dataset.key);
  };
  draw();

  if (terminal.includes(state.task.status)) return undefined;
  const stop = new AbortController();
  let pending = null;
  const refresh = () => {
    if (pending) return;
    pending = setTimeout(async () => {
      pending = null;
      const latest = await api(`/api/tasks/${id}`, { signal: stop.signal }).catch(() => null);
      if (latest?.ok) state.task = latest.data;
      if (latest?.ok && terminal.includes(latest.data.status)) state.audit = await loadAudit(id);
      if (!stop.signal.aborted) draw();
    }, 250);
  };
  const last = state.events.length ? state.events[state.events.length - 1].sequence : 0;
  followTaskEvents(id, last, event => {
    if (!state.events.some(e => e.sequence === event.sequence)) state.events.push(event);
    refresh();
  }, stop.signal).then(refresh);
  return () => { stop.abort(); clearTimeout(pending); };
}

async function loadAudit(id) {
  const result = await api(`/api/governance/audit?taskId=${id}&limit=500`);
  return result;
}

function page(state, me) {
  const t = state.task;
  const submitted = state.events.find(e => e.kind === 'submitted');
  const live = !terminal.includes(t.status);
  return [
    h('h1', {}, 'Task ', h('code', {}, t.id), ' ', badge(t.status), live ? h('span', { class: 'live' }, ' live') : null),
    summary(t, submitted, state),
    why(t, state),
    timeline(t, state.events),
    steps(t, state.events),
    section('Result', h('p', { class: 'muted' }, terminal.includes(t.status) ? (t.status === 'Completed' ? 'Final result.' : `Partial result (the task ended ${t.status}).`) : 'Partial result so far.'),
      jsonBlock(t.result ?? {}, { id: 'result' })),
    auditSection(t, state.audit, me),
    eventLog(state.events),
  ];
}

function summary(t, submitted, state) {
  const u = t.usage;
  const approvals = state.events.filter(e => e.kind === 'approval-decided');
  const rows = [
    ['goal / template', t.template ? h('span', {}, h('code', {}, t.template), ' ', jsonInline(t.parameters)) : (t.goal ?? '(explicit steps)')],
    ['user', submitted?.data?.user ?? ''],
    ['created', time(t.createdAt)],
    ['finished', t.finishedAt ? `${time(t.finishedAt)} (${duration(new Date(t.finishedAt) - new Date(t.createdAt))})` : 'not yet'],
    ['reason', t.reason ?? ''],
    ['usage', `${u.steps} steps, ${u.toolCalls} tool calls, ${u.inputTokens} + ${u.outputTokens} tokens, cost ${money(u.cost)}`],
    ['limits', t.limits ? Object.entries(t.limits).filter(([, v]) => v !== null).map(([k, v]) => `${k} ${v}`).join(', ') : ''],
    ['approvals', approvals.length ? approvals.map(a => `${a.data.approved ? 'approved' : a.data.expired ? 'expired' : 'rejected'} by ${a.data.decidedBy ?? '—'} for ${a.stepId}${a.data.comment ? ` (“${a.data.comment}”)` : ''}`).join('; ') : 'none'],
    ['trace id', h('code', { id: 'trace-id' }, t.traceId ?? '(none)'), traceLink(t.traceId, state.traceUrl)],
  ];
  return section('Summary', h('dl', { class: 'facts', id: 'summary' }, rows.map(([k, ...v]) => [h('dt', {}, k), h('dd', {}, v)])));
}

/** A link to the run's trace in the configured trace UI (Gateway:Console:TraceUrl), or where to look without one. */
function traceLink(traceId, template) {
  if (!traceId) return '';
  if (!template) return h('span', { class: 'muted' }, ' — look it up in the trace backend (OTLP)');
  return [' ', h('a', { id: 'trace-link', href: template.replaceAll('{traceId}', encodeURIComponent(traceId)), target: '_blank', rel: 'noopener noreferrer' }, 'open the trace')];
}

function jsonInline(value) {
  return value ? h('code', { class: 'muted' }, JSON.stringify(value)) : '';
}

/** The plan, its rationale and every revision with what made it necessary. */
function why(t, state) {
  const plans = state.events.filter(e => e.kind === 'plan-created' || e.kind === 'plan-revised');
  const revisionRequests = state.events.filter(e => e.kind === 'plan-revision-requested');
  const memories = state.events.find(e => e.kind === 'memories-recalled');
  const rejected = state.events.filter(e => e.kind === 'plan-rejected' || e.kind === 'plan-revision-rejected');
  const current = t.plan;
  return section('Plan and rationale',
    current ? h('div', { id: 'plan' },
      h('p', {}, `Version ${current.version}, from ${current.source}. `, h('strong', {}, 'Rationale: '), current.rationale ?? h('span', { class: 'muted' }, 'none given (templates and explicit steps are followed as written)')),
      table(['step', 'kind', 'tool / model', 'depends on', 'what it does', 'arguments / prompt (before inputs are filled in)'],
        current.steps.map(s => h('tr', {}, h('td', {}, h('code', {}, s.id)), h('td', {}, s.kind), h('td', {}, s.tool ?? 'model'),
          h('td', {}, (s.dependsOn ?? []).join(', ')), h('td', {}, s.description ?? ''), h('td', {}, h('code', { class: 'wrap' }, s.argumentsJson ?? s.prompt ?? '')))))) : h('p', { class: 'muted' }, 'No plan yet.'),
    memories ? h('p', {}, `The planner was given ${memories.data.count} recalled memories`, memories.data.memories?.some(m => m.trust === 'Untrusted') ? ' (some untrusted).' : '.') : null,
    plans.length > 1 || revisionRequests.length ? h('div', { id: 'revisions' }, h('h3', {}, 'Revisions'),
      h('ol', {}, plans.map(p => h('li', {}, `v${p.data.version} (${p.data.source}) at ${time(p.at)}`,
        revisionRequests.filter(r => r.sequence < p.sequence && (plans.find(x => x.sequence > r.sequence) === p)).map(r =>
          h('div', { class: 'muted' }, `after step ${r.stepId} failed: ${r.data.error}`)),
        p.data.rationale ? h('div', {}, 'Rationale: ', p.data.rationale) : null)))) : null,
    rejected.map(r => h('p', { class: 'problem' }, `${r.kind}: ${r.data.reason ?? ''}`)));
}

/** Bars on a time axis: each dispatch to its result, approval waits, compensations; plan events as markers. */
function timeline(t, events) {
  if (!events.length) return section('Timeline', h('p', { class: 'muted' }, 'No events yet.'));
  const start = new Date(events[0].at).getTime();
  const end = Math.max(new Date(events[events.length - 1].at).getTime(), terminal.includes(t.status) ? 0 : Date.now(), start + 1);
  const span = end - start;
  const pos = at => ((new Date(at).getTime() - start) / span) * 100;
  const rows = new Map();
  const row = id => { if (!rows.has(id)) rows.set(id, []); return rows.get(id); };
  const open = new Map();
  const bar = (lane, from, to, cls, label, title) => row(lane).push({ from, to, cls, label, title });

  row('(task)');
  for (const step of t.plan?.steps ?? []) row(step.id);
  const plannedAt = events.find(e => e.kind === 'plan-created');
  bar('(task)', events[0].at, plannedAt?.at ?? (terminal.includes(t.status) ? events[events.length - 1].at : new Date(end).toISOString()), 'b-plan', 'admission + plan', 'from submission until the first plan');
  for (const e of events) {
    const lane = e.stepId;
    switch (e.kind) {
      case 'step-dispatched': open.set(lane, e); break;
      case 'tool-call':
      case 'model-call':
      case 'step-timed-out': {
        const from = open.get(lane);
        open.delete(lane);
        const outcome = e.kind === 'tool-call' ? e.data.outcome : e.kind === 'model-call' ? (e.data.error ? 'Failed' : 'Succeeded') : 'TimedOut';
        const cls = outcome === 'Succeeded' ? 'b-ok' : outcome === 'ApprovalRequired' ? 'b-gate' : 'b-fail';
        const attempt = from?.data?.attempt ?? e.data.attempt;
        bar(lane, from?.at ?? e.at, e.at, cls, `#${attempt} ${outcome}`,
          `${e.kind === 'model-call' ? e.data.model : e.data.tool ?? ''} attempt ${attempt}: ${outcome}${e.data.durationMs ? `, ${e.data.durationMs} ms` : ''}${e.data.error ? ` — ${e.data.error}` : ''}`);
        break;
      }
      case 'approval-required': open.set(`${lane}:approval`, e); break;
      case 'approval-decided': {
        const from = open.get(`${lane}:approval`);
        open.delete(`${lane}:approval`);
        bar(lane, from?.at ?? e.at, e.at, 'b-wait', `approval ${e.data.approved ? 'granted' : 'refused'}`,
          `waited for a person: ${e.data.approved ? 'approved' : e.data.expired ? 'expired' : 'rejected'} by ${e.data.decidedBy ?? '—'}${e.data.comment ? ` (“${e.data.comment}”)` : ''}`);
        break;
      }
      case 'compensation-dispatched': open.set(`${lane}:comp`, e); break;
      case 'compensation-call': {
        const from = open.get(`${lane}:comp`);
        open.delete(`${lane}:comp`);
        bar(lane, from?.at ?? e.at, e.at, 'b-comp', `undo ${e.data.outcome}`, `compensation ${e.data.tool}: ${e.data.outcome}`);
        break;
      }
      case 'step-retry': row(lane).push({ marker: e.at, cls: 'm-retry', title: `retry after attempt ${e.data.attempts}/${e.data.maxAttempts}: ${e.data.error}` }); break;
      case 'plan-revised': row('(task)').push({ marker: e.at, cls: 'm-plan', title: `plan revised to v${e.data.version}` }); break;
      case 'finished': row('(task)').push({ marker: e.at, cls: 'm-end', title: `finished ${e.data.status}` }); break;
      default: break;
    }
  }
  // Still running or waiting: bars up to now.
  const now = new Date(end).toISOString();
  for (const [key, e] of open) {
    if (key.endsWith(':approval')) bar(e.stepId, e.at, now, 'b-wait open', 'waiting for approval', `approval ${e.data.approvalId} pending`);
    else if (key.endsWith(':comp')) bar(e.stepId, e.at, now, 'b-comp open', 'undoing', 'compensation in flight');
    else bar(e.stepId, e.at, now, 'b-run open', `#${e.data.attempt} running`, 'dispatched, no result yet');
  }

  const ticks = [0, 0.25, 0.5, 0.75, 1].map(f => h('span', { class: 'tick', dataset: { f } }, duration(span * f)));
  const lanes = [...rows.entries()].map(([lane, items]) => h('div', { class: 'lane', dataset: { step: lane } },
    h('div', { class: 'lane-name' }, lane),
    h('div', { class: 'lane-track' }, items.map(item => {
      if (item.marker) {
        const m = h('span', { class: `marker ${item.cls}`, title: item.title });
        m.style.left = `${pos(item.marker)}%`;
        return m;
      }
      const b = h('span', { class: `bar ${item.cls}`, title: item.title }, item.label);
      b.style.left = `${pos(item.from)}%`;
      b.style.width = `${Math.max(pos(item.to) - pos(item.from), 0.6)}%`;
      return b;
    }))));
  const axis = h('div', { class: 'lane axis' }, h('div', { class: 'lane-name' }, ''), h('div', { class: 'lane-track' }, ticks));
  for (const tick of ticks) tick.style.left = `${Number(tick.dataset.f) * 100}%`;
  return section('Timeline',
    h('div', { class: 'timeline', id: 'timeline' }, lanes, axis),
    h('p', { class: 'legend' }, h('span', { class: 'bar b-ok' }, 'succeeded'), h('span', { class: 'bar b-fail' }, 'failed / timed out'),
      h('span', { class: 'bar b-gate' }, 'needs approval'), h('span', { class: 'bar b-wait' }, 'waiting for a person'),
      h('span', { class: 'bar b-comp' }, 'compensation'), h('span', { class: 'bar b-run' }, 'running'),
      ' ◆ retry · ▲ plan revised · ■ end'));
}

function steps(t, events) {
  const perStep = new Map();
  for (const e of events.filter(x => x.stepId)) {
    const s = perStep.get(e.stepId) ?? { tokensIn: 0, tokensOut: 0, cost: 0, ms: 0, calls: 0, retries: 0 };
    if (e.kind === 'model-call' || e.kind === 'model-call-late') { s.tokensIn += e.data.inputTokens ?? 0; s.tokensOut += e.data.outputTokens ?? 0; s.cost += e.data.cost ?? 0; }
    if (e.kind === 'tool-call' || e.kind === 'model-call') { s.ms += e.data.durationMs ?? 0; s.calls++; }
    if (e.kind === 'step-retry') s.retries++;
    perStep.set(e.stepId, s);
  }
  const order = id => { const i = t.plan?.steps.findIndex(s => s.id === id) ?? -1; return i < 0 ? Number.MAX_SAFE_INTEGER : i; };
  const cards = [...t.steps].sort((a, b) => order(a.id) - order(b.id)).map(step => {
    const s = perStep.get(step.id) ?? { tokensIn: 0, tokensOut: 0, cost: 0, ms: 0, calls: 0, retries: 0 };
    const sources = step.inputTainted ? inputSources(t, step.id) : [];
    return h('details', { class: `step ${step.inputTainted || step.tainted ? 'has-taint' : ''}`, dataset: { key: `step:${step.id}`, step: step.id } },
      h('summary', {}, h('code', {}, step.id), ' ', step.kind === 'Tool' ? step.tool : 'model', ' ', badge(step.status),
        ` attempts ${step.attempts}`, s.retries ? `, ${s.retries} retries` : '',
        s.tokensIn + s.tokensOut ? `, ${s.tokensIn} + ${s.tokensOut} tokens, ${money(s.cost)}` : '',
        s.ms ? `, ${duration(s.ms)}` : '',
        step.inputTainted || step.tainted ? h('span', { class: 'taint-flag' }, ' untrusted') : null,
        step.approvalId ? h('span', { class: 'muted' }, ` · approval ${shortId(step.approvalId)}`) : null),
      h('div', { class: 'io' },
        h('div', {}, h('h4', {}, step.kind === 'Tool' ? 'Arguments' : 'Prompt'),
          step.inputTainted ? h('div', { class: 'taint' }, h('strong', {}, 'Untrusted input. '), 'Built from: ', h('ul', {}, sources.map(x => h('li', {}, x)))) : null,
          jsonBlock(step.input ?? '', { class: `json ${step.inputTainted ? 'tainted' : ''}` })),
        h('div', {}, h('h4', {}, 'Output'),
          step.tainted ? h('div', { class: 'taint' }, h('strong', {}, 'Untrusted output. '), 'Source: ', outputSource(t, step)) : null,
          jsonBlock(step.output ?? '', { class: `json ${step.tainted ? 'tainted' : ''}` }),
          step.error ? h('div', { class: 'problem' }, step.error) : null)));
  });
  return section('Steps: inputs, outputs and cost', cards.length ? cards : h('p', { class: 'muted' }, 'No steps yet.'));
}

function auditSection(t, audit, me) {
  if (!audit) return null;
  if (!audit.ok) {
    return section('Audit entries', h('p', { class: 'muted', id: 'audit-unavailable' }, audit.status === 403
      ? `Governance's audit entries of this task need the tenant's admin role (you: ${me.roles.join(', ') || 'none'}).`
      : 'The audit entries could not be read.'), audit.status === 403 ? null : problemBox(audit));
  }
  return section('Audit entries',
    h('p', {}, h('a', { href: `#/audit?taskId=${t.id}` }, 'Open in the audit log'), ' (with chain verification)'),
    table(['#', 'time', 'actor', 'action', 'subject', 'decision', 'reason'],
      audit.data.map(e => h('tr', {}, h('td', {}, e.sequence), h('td', {}, time(e.time)), h('td', {}, e.actor), h('td', {}, e.action),
        h('td', {}, h('code', {}, e.subject)), h('td', {}, e.decision ?? ''), h('td', {}, e.reason ?? ''))), { id: 'task-audit' }));
}

function eventLog(events) {
  return h('details', { class: 'panel', dataset: { key: 'event-log' } },
    h('summary', {}, `Event log (${events.length} events)`),
    table(['#', 'time', 'kind', 'step', 'data'], events.map(e => h('tr', {},
      h('td', {}, e.sequence), h('td', {}, time(e.at)), h('td', {}, e.kind), h('td', {}, e.stepId ?? ''),
      h('td', {}, h('code', { class: 'wrap' }, JSON.stringify(e.data)))))));
}
