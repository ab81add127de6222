#!/usr/bin/env bash
# Wires a tool service into everything that runs or deploys the platform, so that it starts with ./dev.sh,
# gets its database from infra/local.sh and passes the deployment-consistency tests:
#   Agents.sln, dev.sh (SERVICES), infra/local.sh (DATABASES), docker-compose.yml (image, migration, service,
#   database), compose's Prometheus targets, k8s/base (Deployment & co, copied from tool-crm), both overlays' images, the dev database list
#   the dev connection-string secret and the gateway's tool hosts (Gateway:ToolHosts: their dead letters).
# Idempotent: whatever is already there is left as it is.
#   infra/add-tool.sh <name> [port]      e.g. infra/add-tool.sh weather  (project services/Tools/Weather)
# The project must exist (infra/new-tool.sh creates one from the template and calls this).
set -euo pipefail
ROOT=${AGENTS_REPO_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$ROOT"

log() { printf '[add-tool] %s\n' "$*"; }
die() { printf '[add-tool] error: %s\n' "$*" >&2; exit 1; }

name=${1:-}
[[ "$name" =~ ^[a-z][a-z0-9]{0,29}$ ]] || die "usage: infra/add-tool.sh <name> [port]; the name is lower-case letters and digits (e.g. weather)"
Name="${name^}"
svc="tool-$name"
db="agents_tool_$name"
dir="services/Tools/$Name"
project="$dir/Agents.Tools.$Name.csproj"
[ -f "$project" ] || die "$project does not exist (create it with infra/new-tool.sh $name)"

port=${2:-$(grep -o '"Urls": "http://127.0.0.1:[0-9]*"' "$dir/appsettings.json" 2>/dev/null | grep -o '[0-9]*"$' | tr -d '"' || true)}
[[ "$port" =~ ^[0-9]+$ ]] || die "no port given and none found in $dir/appsettings.json (\"Urls\")"

# insert_before FILE PATTERN TEXT: TEXT goes above the first line matching PATTERN (an extended regex).
insert_before() {
  local file=$1 pattern=$2 text=$3 tmp
  grep -Eq "$pattern" "$file" || die "$file has no line matching '$pattern'"
  tmp=$(mktemp)
  awk -v pattern="$pattern" -v text="$text" 'BEGIN { done = 0 } !done && $0 ~ pattern { print text; done = 1 } { print }' "$file" >"$tmp"
  cat "$tmp" >"$file" && rm -f "$tmp"
}

# block FILE START: the lines from the one equal to START up to (not including) the next blank line.
block() { awk -v start="$1" '$0 == start { on = 1 } on && /^$/ { exit } on { print }' "$2"; }

# 1. solution
if ! grep -q "Agents.Tools.$Name.csproj\"" Agents.sln; then
  dotnet sln Agents.sln add "$project" --solution-folder services >/dev/null
  log "added $project to Agents.sln"
fi

# 2. dev.sh: started before the gateway
if ! grep -q "\"$svc:" dev.sh; then
  insert_before dev.sh '^  "gateway:services/Gateway:' "  \"$svc:$dir:$port\""
  log "added $svc to dev.sh (port $port)"
fi

# 2b. Prometheus of docker-compose: scrape its /metrics (./dev.sh prometheus reads dev.sh's list itself)
scrape=infra/observability/prometheus/prometheus.compose.yml
if [ -f "$scrape" ] && ! grep -q "^          - $svc:8080$" "$scrape"; then
  insert_before "$scrape" '^    relabel_configs:' "          - $svc:8080"
  log "added $svc to $scrape"
fi

# 3. infra/local.sh: its database
if ! grep -Eq "^DATABASES=\(.*\b$db\b" infra/local.sh; then
  sed -i -E "s/^(DATABASES=\(.*)\)$/\1 $db)/" infra/local.sh
  log "added $db to infra/local.sh"
fi

# 4. docker-compose.yml: build/env anchors, migration, service, database
if ! grep -q "^x-build-$svc:" docker-compose.yml; then
  anchors=$(block "x-build-tool-crm: &build-tool-crm" docker-compose.yml | sed -e "s/tool-crm/$svc/g" -e "s/agents_tool_crm/$db/g" -e "s#services/Tools/Crm/Agents.Tools.Crm.csproj#$project#")
  insert_before docker-compose.yml '^x-depends-bus:' "$anchors"$'\n'
  migration=$(awk '$0 == "  tool-crm-migrate:" { on = 1; print; next } on && /^  [^ ]/ { exit } on && /^$/ { exit } on { print }' docker-compose.yml | sed "s/tool-crm/$svc/g")
  insert_before docker-compose.yml '^  # -+ services -+$' "$migration"$'\n'
  service=$(block "  tool-crm:" docker-compose.yml | sed "s/tool-crm/$svc/g")
  insert_before docker-compose.yml '^  gateway:$' "$service"$'\n'
  log "added $svc to docker-compose.yml"
fi
sed -i -E "s/^(      AGENTS_DATABASES: [a-z_,]*)$/\1,$db/; s/,$db,$db$/,$db/" docker-compose.yml
grep -Eq "AGENTS_DATABASES: .*\b$db\b" docker-compose.yml || die "could not add $db to AGENTS_DATABASES in docker-compose.yml"

# 5. kubernetes base: Deployment, Service, PDB, HPA, migration Job, NetworkPolicy
if [ ! -f "k8s/base/services/$svc.yaml" ]; then
  sed "s/tool-crm/$svc/g" k8s/base/services/tool-crm.yaml >"k8s/base/services/$svc.yaml"
  log "wrote k8s/base/services/$svc.yaml (from tool-crm.yaml: add the settings your tool needs to its env)"
fi
if ! grep -q "^  - services/$svc.yaml$" k8s/base/kustomization.yaml; then
  last=$(grep -n '^  - services/' k8s/base/kustomization.yaml | tail -1 | cut -d: -f1)
  sed -i "${last}a\\  - services/$svc.yaml" k8s/base/kustomization.yaml
fi

# 6. overlays: the image of each, after the last tool image
for overlay in dev prod; do
  file="k8s/overlays/$overlay/kustomization.yaml"
  grep -q "^  - name: agents/$svc$" "$file" && continue
  entry=$(awk '$0 == "  - name: agents/tool-crm" { on = 1; print; next } on && /^    / { print; next } on { exit }' "$file" | sed "s/tool-crm/$svc/g")
  last=$(grep -n '^  - name: agents/tool-' "$file" | tail -1 | cut -d: -f1)
  end=$(awk -v from="$last" 'NR > from && !/^    / { print NR - 1; exit }' "$file")
  tmp=$(mktemp)
  awk -v at="$end" -v text="$entry" '{ print } NR == at { print text }' "$file" >"$tmp" && cat "$tmp" >"$file" && rm -f "$tmp"
done

# 7. dev cluster: the database and its connection string
sed -i -E "/name: AGENTS_DATABASES/{n;s/^( +value: [a-z_,]*)$/\1,$db/;s/,$db,$db$/,$db/}" k8s/overlays/dev/infra/postgres.yaml
grep -Eq "value: .*\b$db\b" k8s/overlays/dev/infra/postgres.yaml || die "could not add $db to k8s/overlays/dev/infra/postgres.yaml"
secret=k8s/overlays/dev/secrets/postgres.dev.env
grep -q "^$svc=" "$secret" || sed -n 's/^tool-crm=/'"$svc"'=/p' "$secret" | sed "s/agents_tool_crm/$db/" >>"$secret"

# 8. gateway: lists the host's dead letters (Gateway:ToolHosts) locally, in compose and in the cluster
if ! grep -q "\"$svc\": \"http" services/Gateway/appsettings.json; then
  insert_before services/Gateway/appsettings.json '^      "tool-crm": "http' "      \"$svc\": \"http://127.0.0.1:$port/\","
fi
if ! grep -q "Gateway__ToolHosts__$svc:" docker-compose.yml; then
  insert_before docker-compose.yml '^      Gateway__ToolHosts__tool-crm:' "      Gateway__ToolHosts__$svc: http://$svc:8080/"
fi
if ! grep -q "name: Gateway__ToolHosts__$svc$" k8s/base/services/gateway.yaml; then
  insert_before k8s/base/services/gateway.yaml '^            - name: Gateway__ToolHosts__tool-crm$' \
    "            - name: Gateway__ToolHosts__$svc"$'\n'"              value: \"http://$svc:8080/\""
fi

log "$svc is wired in: dev.sh, infra/local.sh, docker-compose.yml, k8s (base, dev, prod), dev secrets, the gateway's tool hosts, Agents.sln"
