// Where untrusted content in a step came from, read from the task's plan and steps (GET /api/tasks/{id}).

const reference = /\{\{\s*steps\.([^.}\s]+)\.output/g;

function referencedSteps(task, stepId) {
  const planStep = task.plan?.steps.find(s => s.id === stepId);
  const template = `${planStep?.argumentsJson ?? ''} ${planStep?.prompt ?? ''}`;
  return [...new Set([...template.matchAll(reference)].map(m => m[1]))];
}

function planWrittenByModel(task) {
  return task.plan && (task.plan.source === 'goal' || task.plan.source === 'revision')
    ? [`the plan v${task.plan.version}, written by the planner model (it may have copied untrusted content it read)`]
    : [];
}

/** The untrusted sources an input was built from: tool outputs of earlier steps (followed through model steps), or the plan. */
export function inputSources(task, stepId) {
  return [...upstreamOf(task, stepId, new Set()), ...planWrittenByModel(task)];
}

function upstreamOf(task, stepId, seen) {
  const sources = [];
  for (const id of referencedSteps(task, stepId)) {
    const step = task.steps.find(s => s.id === id);
    if (step?.tainted && !seen.has(id)) {
      seen.add(id);
      sources.push(describe(task, step, seen));
    }
  }
  return sources;
}

/** Why a step's output is untrusted: a tool's outside content (with what it was asked for), or a model reading tainted input. */
export function outputSource(task, step) {
  return describe(task, step, new Set([step.id]));
}

function describe(task, step, seen) {
  if (step.kind === 'Tool') {
    let where = '';
    try {
      const args = JSON.parse(step.input ?? '{}');
      const first = args.url ?? args.uri ?? args.path ?? args.query ?? args.customerId;
      if (first) where = ` for ${first}`;
    } catch { /* arguments not JSON: no detail */ }
    return `step ${step.id}: output of tool ${step.tool}${where} (outside content)`;
  }
  const upstream = upstreamOf(task, step.id, seen);
  return `step ${step.id}: model output built from ${upstream.length ? upstream.join('; ') : 'untrusted input'}`;
}
