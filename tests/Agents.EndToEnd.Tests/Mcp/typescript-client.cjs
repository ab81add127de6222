// An MCP client built on the official TypeScript SDK (@modelcontextprotocol/sdk, installed pinned by
// infra/mcp-servers.sh): connects to a Streamable HTTP endpoint sending the API key as a header, lists the tools and,
// when a tool is named, calls it. Prints one JSON object on stdout.
//   node typescript-client.cjs <sdk install folder> <url> <api key> [tool] [arguments as JSON]
'use strict';
const path = require('node:path');
const { createRequire } = require('node:module');

const [installDir, url, apiKey, tool, args] = process.argv.slice(2);
const fromInstall = createRequire(path.join(installDir, 'package.json'));
const { Client } = fromInstall('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = fromInstall('@modelcontextprotocol/sdk/client/streamableHttp.js');

async function main() {
  const client = new Client({ name: 'agents-typescript-client', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { 'X-Api-Key': apiKey } },
  });
  await client.connect(transport);
  const listed = await client.listTools();
  const output = {
    server: client.getServerVersion(),
    tools: listed.tools.map(t => ({ name: t.name, readOnlyHint: t.annotations?.readOnlyHint ?? null })),
  };
  if (tool) {
    const progress = [];
    output.call = await client.callTool(
      { name: tool, arguments: JSON.parse(args ?? '{}') },
      undefined,
      { onprogress: p => progress.push(p), timeout: 180000, resetTimeoutOnProgress: true });
    output.progress = progress;
  }
  await client.close();
  process.stdout.write(JSON.stringify(output));
}

main().catch(error => {
  process.stderr.write(String(error?.stack ?? error));
  process.exit(1);
});
