// A FAKE MCP server for tests (stdio, newline-delimited JSON-RPC, no dependencies): just enough of the protocol
// for the MCP tool host's client, with behaviour a real server does not offer on demand.
//   node fake-mcp-server.mjs <state folder>
// - exits at once (code 3) when <state folder>/refuse-start exists: a server that crashes at start;
// - tools: echo (read-only), write (destructive); either exits mid-call when its arguments say {"crash": true};
// - add-tool: adds the read-only tool 'extra', answers, then sends notifications/tools/list_changed.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const state = process.argv[2] ?? '.';
if (existsSync(join(state, 'refuse-start'))) {
  process.stderr.write('fake MCP server: refusing to start\n');
  process.exit(3);
}

const schema = { type: 'object', properties: { text: { type: 'string' }, crash: { type: 'boolean' } } };
const tools = [
  { name: 'echo', description: 'Echoes the text.', inputSchema: schema, annotations: { readOnlyHint: true } },
  { name: 'write', description: 'Pretends to write the text.', inputSchema: schema, annotations: { readOnlyHint: false, destructiveHint: true } },
  { name: 'add-tool', description: 'Adds the tool extra.', inputSchema: { type: 'object', properties: {} }, annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true } },
];

const send = (message) => process.stdout.write(JSON.stringify({ jsonrpc: '2.0', ...message }) + '\n');
const text = (value) => ({ content: [{ type: 'text', text: value }] });

function call(name, args) {
  if (args?.crash === true) {
    process.exit(1);
  }

  switch (name) {
    case 'echo':
    case 'extra':
      return text(`${name}: ${args?.text ?? ''}`);
    case 'write':
      return text(`written: ${args?.text ?? ''}`);
    case 'add-tool':
      if (!tools.some((t) => t.name === 'extra')) {
        tools.push({ name: 'extra', description: 'Added at run time.', inputSchema: schema, annotations: { readOnlyHint: true } });
      }
      setTimeout(() => send({ method: 'notifications/tools/list_changed' }), 10);
      return text('added extra');
    default:
      return null;
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  if (!line.trim()) return;
  const message = JSON.parse(line);
  if (message.id === undefined) return; // notifications (initialized, cancelled)
  switch (message.method) {
    case 'initialize':
      send({ id: message.id, result: {
        protocolVersion: message.params?.protocolVersion ?? '2025-06-18',
        capabilities: { tools: { listChanged: true } },
        serverInfo: { name: 'fake-mcp-server', version: '0.0.1' },
      } });
      break;
    case 'ping':
      send({ id: message.id, result: {} });
      break;
    case 'tools/list':
      send({ id: message.id, result: { tools } });
      break;
    case 'tools/call': {
      const result = call(message.params?.name, message.params?.arguments);
      send(result === null
        ? { id: message.id, error: { code: -32602, message: `Unknown tool: ${message.params?.name}` } }
        : { id: message.id, result });
      break;
    }
    default:
      send({ id: message.id, error: { code: -32601, message: `Method not found: ${message.method}` } });
  }
});
