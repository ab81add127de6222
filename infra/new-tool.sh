#!/usr/bin/env bash
# Creates a tool service from the template (templates/agents-tool) and wires it into the platform:
#   services/Tools/<Name>/   the host and one tool class (sample.count-words renamed to <name>.count-words: replace it)
#   tests/Agents.Tools.<Name>.Tests/   its test (the real RabbitMQ and PostgreSQL)
#   then infra/add-tool.sh: Agents.sln, dev.sh, infra/local.sh, docker-compose.yml, k8s base and overlays, dev secrets
# and prints the policy snippet that lets a role call the tool.
#   infra/new-tool.sh <name> [port]      e.g. infra/new-tool.sh weather     (default port: the next after dev.sh's tools)
set -euo pipefail
ROOT=${AGENTS_REPO_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$ROOT"

die() { printf '[new-tool] error: %s\n' "$*" >&2; exit 1; }

name=${1:-}
[[ "$name" =~ ^[a-z][a-z0-9]{0,29}$ ]] || die "usage: infra/new-tool.sh <name> [port]; the name is lower-case letters and digits (e.g. weather)"
Name="${name^}"
[ ! -e "services/Tools/$Name" ] || die "services/Tools/$Name already exists (infra/add-tool.sh $name wires an existing one)"
last=$(grep -o '"tool-[a-z0-9]*:services/Tools/[A-Za-z0-9]*:[0-9]*"' dev.sh | grep -o ':[0-9]*"$' | tr -d ':"' | sort -n | tail -1)
port=${2:-$(( ${last:-5200} + 1 ))}
[[ "$port" =~ ^[0-9]+$ ]] || die "the port must be a number"

# The template engine keeps its own list of installed templates: install this one (again) from the repository.
dotnet new install "$ROOT/templates/agents-tool" --force >/dev/null
dotnet new agents-tool --name "$Name" --port "$port" --output "$ROOT" >/dev/null
dotnet sln Agents.sln add "tests/Agents.Tools.$Name.Tests/Agents.Tools.$Name.Tests.csproj" --solution-folder tests >/dev/null
bash "$ROOT/infra/add-tool.sh" "$name" "$port"

cat <<POLICY

Created services/Tools/$Name (tool $name.count-words, scope $name.read, port $port) and tests/Agents.Tools.$Name.Tests.
Next: replace the tool class, then dotnet build Agents.sln and dotnet test tests/Agents.Tools.$Name.Tests.

No one can call the tool until the tenant's policy grants it: deny by default. As the tenant's admin, add to the
role that should call it (GET /api/governance/policy, edit, PUT /api/governance/policy):

  "roles": {
    "agent-user": {
      "tools":  [ ..., "$name.count-words" ],
      "scopes": [ ..., "$name.read" ]
    }
  }
POLICY
