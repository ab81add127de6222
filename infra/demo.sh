#!/usr/bin/env bash
# Submits the demo task through the gateway and follows it to the end (./dev.sh up runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${CONFIG:-Release}
dll=samples/Agents.Demo/bin/$CONFIG/net10.0/Agents.Demo.dll
[ -f "$dll" ] || dotnet build samples/Agents.Demo -c "$CONFIG" -nologo -v:q
exec dotnet "$dll" "$@"
