// Forwards every HTTP request it receives to one MCP endpoint, adding an X-Api-Key header: for MCP clients that
// cannot send headers (the conformance suite's server checks). Streams both ways, so SSE answers pass through; every
// other header, Host and Origin included, passes unchanged, so what the server makes of them is its own answer.
// Prints the address it listens on (http://127.0.0.1:<port>/mcp) as its first line.
//   node forward-with-key.cjs <url> <api key>
'use strict';
const http = require('node:http');

const [url, apiKey] = process.argv.slice(2);
const upstream = new URL(url);

const server = http.createServer((req, res) => {
  const headers = { ...req.headers, 'x-api-key': apiKey };
  const forwarded = http.request(
    { hostname: upstream.hostname, port: upstream.port, path: upstream.pathname, method: req.method, headers },
    answer => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
  forwarded.on('error', error => {
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'text/plain' });
    }
    res.end(String(error));
  });
  req.pipe(forwarded);
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`http://127.0.0.1:${server.address().port}/mcp\n`);
});
