#!/usr/bin/env bash
# Installs the MCP servers that the MCP tool host (services/Tools/Mcp) and its tests run, and the MCP client side the
# end-to-end tests point at the gateway's /mcp (the official TypeScript SDK and the conformance suite), at pinned
# versions, into one folder: $AGENTS_MCP_DIR, default <repo>/.run/mcp. Idempotent: a second run with the same versions
# installs nothing. Prints the folder holding the servers' executables (node_modules/.bin).
#   infra/mcp-servers.sh            install (or check) and print the bin folder
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${AGENTS_MCP_DIR:-$ROOT/.run/mcp}

# Pinned: bump deliberately, then run the MCP tests.
PACKAGES=(
  "@modelcontextprotocol/server-everything@2026.8.31"
  "@modelcontextprotocol/server-filesystem@2026.8.31"
  "@modelcontextprotocol/sdk@1.32.2"
  # 0.1.13 is the newest that runs on Node.js 20: from 0.1.14 on it imports fs.globSync (Node.js 22).
  "@modelcontextprotocol/conformance@0.1.13"
)

command -v npm >/dev/null || { echo "[mcp-servers] error: npm is needed (Node.js 20 or newer): apt-get install nodejs npm" >&2; exit 1; }
mkdir -p "$DIR"
STAMP="$DIR/.installed"
WANT=$(printf '%s\n' "${PACKAGES[@]}")
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] \
   && [ -x "$DIR/node_modules/.bin/mcp-server-everything" ] && [ -x "$DIR/node_modules/.bin/mcp-server-filesystem" ] \
   && [ -x "$DIR/node_modules/.bin/conformance" ] && [ -f "$DIR/node_modules/@modelcontextprotocol/sdk/package.json" ]; then
  echo "$DIR/node_modules/.bin"
  exit 0
fi

[ -f "$DIR/package.json" ] || echo '{ "name": "agents-mcp-servers", "private": true }' >"$DIR/package.json"
echo "[mcp-servers] installing ${PACKAGES[*]} into $DIR" >&2
npm install --prefix "$DIR" --no-audit --no-fund --save-exact --loglevel=error "${PACKAGES[@]}" >&2
printf '%s\n' "$WANT" >"$STAMP"
echo "$DIR/node_modules/.bin"
