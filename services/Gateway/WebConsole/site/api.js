// The console's only way to the platform: the public API of this gateway, with the caller's own credentials.
const storageKey = 'agents.credential';

export function credential() {
  try { return JSON.parse(sessionStorage.getItem(storageKey)); } catch { return null; }
}

export function signIn(kind, value) {
  sessionStorage.setItem(storageKey, JSON.stringify({ kind, value: value.trim() }));
}

export function signOut() {
  sessionStorage.removeItem(storageKey);
}

function authHeaders() {
  const c = credential();
  if (!c) return {};
  return c.kind === 'bearer' ? { Authorization: `Bearer ${c.value}` } : { 'X-Api-Key': c.value };
}

/**
 * Calls the API. Never throws for an HTTP answer: returns { ok, status, data, problem, headers }, where problem is the
 * RFC 7807 body of a refusal (or one made up for a network failure).
 */
export async function api(path, { method = 'GET', body, headers = {}, signal } = {}) {
  const init = { method, headers: { Accept: 'application/json', ...authHeaders(), ...headers }, signal };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    return { ok: false, status: 0, data: null, headers: new Headers(), problem: { title: 'The gateway could not be reached', detail: String(error) } };
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  const problem = response.ok ? null : (data && typeof data === 'object' ? data : { title: `${response.status} ${response.statusText}`, detail: text });
  return { ok: response.ok, status: response.status, data, problem, headers: response.headers };
}

/**
 * Follows a task's Server-Sent Events (GET /api/tasks/{id}/events). EventSource cannot send the API key, so this reads
 * the stream with fetch. Resumes after the last event it saw when the connection drops; ends when the server ends the
 * stream (the task finished) or the signal aborts.
 */
export async function followTaskEvents(taskId, afterSequence, onEvent, signal) {
  let last = afterSequence;
  for (let failures = 0; !signal.aborted && failures < 20;) {
    let response;
    try {
      response = await fetch(`/api/tasks/${taskId}/events`, {
        headers: { Accept: 'text/event-stream', ...authHeaders(), ...(last > 0 ? { 'Last-Event-ID': String(last) } : {}) },
        signal,
      });
    } catch (error) {
      if (signal.aborted) return;
      failures++;
      await delay(Math.min(1000 * failures, 5000), signal);
      continue;
    }
    if (!response.ok || !response.body) return;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split('\n').filter(l => l.startsWith('data:')).map(l => l.slice(5).trimStart()).join('\n');
          if (!data) continue;
          const event = JSON.parse(data);
          last = event.sequence;
          onEvent(event);
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      failures++;
      await delay(1000, signal);
    }
  }
}

export function delay(ms, signal) {
  return new Promise(resolve => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}
