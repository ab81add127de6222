#!/usr/bin/env bash
# The platform on one machine.
#   ./dev.sh up      infrastructure, build, migrations, every service, then a demo task end to end
#   ./dev.sh test    infrastructure, build, every test and the code's layout check (what CI runs)
#   ./dev.sh format  fix the code's layout (whitespace and indentation, .editorconfig)
#   ./dev.sh demo    submit the demo task through the gateway and stream its progress
#   ./dev.sh status  which services run and whether they are ready
#   ./dev.sh stop    stop the services (infrastructure keeps running)
#   ./dev.sh down    stop the services and the infrastructure
#   ./dev.sh prometheus  Prometheus (Debian package, no container) scraping the services' /metrics, with the alert rules
#                        (also at the end of `up` when AGENTS_PROMETHEUS=1)
#   ./dev.sh dashboard   the Aspire dashboard (NuGet, no container): traces, logs and metrics in a browser; services
#                        send to it when started by `AGENTS_DASHBOARD=1 ./dev.sh up`
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
RUN="$ROOT/.run"
CONFIG=${CONFIG:-Release}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# Local runs use each service's appsettings.Development.json (development signing key, demo API keys).
export ASPNETCORE_ENVIRONMENT=${ASPNETCORE_ENVIRONMENT:-Development} DOTNET_ENVIRONMENT=${DOTNET_ENVIRONMENT:-Development}

# name:project-dir:port (the order is the start order; the gateway last)
SERVICES=(
  "governance:services/Governance:5105"
  "memory:services/Memory:5104"
  "planner:services/Planner:5102"
  "toolgateway:services/ToolGateway:5103"
  "executor:services/Executor:5101"
  "tool-crm:services/Tools/Crm:5201"
  "tool-tickets:services/Tools/Tickets:5202"
  "tool-web:services/Tools/Web:5203"
  "tool-mcp:services/Tools/Mcp:5204"
  "gateway:services/Gateway:5000"
)

log() { printf '\033[1m[dev]\033[0m %s\n' "$*"; }
die() { printf '[dev] error: %s\n' "$*" >&2; exit 1; }

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

infra_up() { sudo_if_needed bash "$ROOT/infra/local.sh" up; }

# The MCP servers tool-mcp offers in Development (appsettings.Development.json): on PATH, with the filesystem
# server's folder under .run/.
mcp_servers() {
  log "installing the MCP servers (infra/mcp-servers.sh)"
  PATH="$(bash "$ROOT/infra/mcp-servers.sh"):$PATH"
  export PATH Mcp__Servers__filesystem__Arguments__0="$RUN/mcp-files"
  mkdir -p "$RUN/mcp-files"
}

build() {
  log "building ($CONFIG)"
  dotnet build Agents.sln -c "$CONFIG" -nologo -clp:ErrorsOnly -v:q
}

project_of() { # dir -> csproj path
  local dir=$1; ls "$dir"/*.csproj 2>/dev/null | head -1
}

dll_of() { # dir -> built dll path
  local proj; proj=$(project_of "$1"); local name; name=$(basename "$proj" .csproj)
  echo "$1/bin/$CONFIG/net10.0/$name.dll"
}

existing_services() {
  local entry name dir port
  for entry in "${SERVICES[@]}"; do
    IFS=: read -r name dir port <<<"$entry"
    [ -n "$(project_of "$dir")" ] && echo "$name:$dir:$port"
  done
  return 0
}

migrate() {
  local entry name dir port dll
  for entry in $(existing_services); do
    IFS=: read -r name dir port <<<"$entry"
    [ "$name" = gateway ] && continue
    dll=$(dll_of "$dir")
    log "migrating $name"
    (cd "$(dirname "$dll")" && dotnet "$(basename "$dll")" migrate) >"$RUN/logs/$name.migrate.log" 2>&1 \
      || die "migration of $name failed: see $RUN/logs/$name.migrate.log"
  done
}

start_services() {
  mkdir -p "$RUN/logs" "$RUN/pids"
  local entry name dir port dll pidfile
  for entry in $(existing_services); do
    IFS=: read -r name dir port <<<"$entry"
    pidfile="$RUN/pids/$name.pid"
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      log "$name already running (pid $(cat "$pidfile"))"; continue
    fi
    dll=$(dll_of "$dir")
    [ -f "$dll" ] || die "$dll is missing: build first"
    if port_in_use "$port"; then
      die "port $port (for $name) is already in use by another process: stop it first (./dev.sh stop, or see 'ss -ltnp')"
    fi
    (cd "$(dirname "$dll")" && exec nohup dotnet "$(basename "$dll")" --urls "http://127.0.0.1:$port" >"$RUN/logs/$name.log" 2>&1) &
    echo $! >"$pidfile"
    log "started $name on http://127.0.0.1:$port (log: .run/logs/$name.log)"
  done
}

port_in_use() { ss -ltn "sport = :$1" 2>/dev/null | grep -q LISTEN; }

wait_ready() {
  local entry name dir port i code
  for entry in $(existing_services); do
    IFS=: read -r name dir port <<<"$entry"
    for i in $(seq 1 120); do
      code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health/ready" || true)
      [ "$code" = 200 ] && break
      sleep 0.5
    done
    [ "$code" = 200 ] || die "$name is not ready (last answer $code): see .run/logs/$name.log"
    log "$name ready"
  done
}

stop_services() {
  local f pid
  for f in "$RUN"/pids/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null && log "stopped $(basename "$f" .pid)" || true
    rm -f "$f"
  done
}

# The Aspire dashboard (infra/dashboard-local.sh), and every service started after this sends it its traces, logs and
# metrics over OTLP/HTTP; the console links a task's trace id to the dashboard's trace page. Services that already run
# keep the settings they were started with.
dashboard_for_services() {
  local port=${AGENTS_DASHBOARD_PORT:-18888}
  bash "$ROOT/infra/dashboard-local.sh"
  export OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$((port + 2))" OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf
  export Gateway__Console__TraceUrl="http://127.0.0.1:$port/traces/detail/{traceId}"
  if ls "$RUN"/pids/*.pid >/dev/null 2>&1 && [ "$(ls "$RUN"/pids/*.pid | grep -cv -e dashboard.pid -e prometheus.pid)" -gt 0 ]; then
    log "services that already run keep their settings and send the dashboard nothing: ./dev.sh stop, then up again"
  fi
}

wait_for_tools() {
  local i listed
  for i in $(seq 1 120); do
    listed=$(curl -s -H 'X-Api-Key: demo-alice-agent-user-key' http://127.0.0.1:5000/api/tools || true)
    if echo "$listed" | grep -q '"crm.lookup-customer"' && echo "$listed" | grep -q '"tickets.create"' && echo "$listed" | grep -q '"web.fetch"'; then
      log "tool registry lists the sample tools"; return 0
    fi
    sleep 0.5
  done
  die "the tool registry does not list the sample tools: see .run/logs/tool-*.log and toolgateway.log"
}

status() {
  local entry name dir port code
  for entry in $(existing_services); do
    IFS=: read -r name dir port <<<"$entry"
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health/ready" || true)
    printf '  %-14s http://127.0.0.1:%-5s ready=%s\n' "$name" "$port" "$code"
  done
}

# The console's tests drive Debian's Chromium (Playwright's own browser download cannot work offline).
browser_for_tests() {
  if [ -n "${AGENTS_CHROMIUM:-}" ] || command -v chromium >/dev/null; then return 0; fi
  log "installing chromium (Debian) for the console's browser tests"
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
}

run_tests() {
  # Tests choose their own settings; none may depend on the development configuration.
  unset ASPNETCORE_ENVIRONMENT DOTNET_ENVIRONMENT
  # One run at a time on a machine: a run removes the test leftovers of the one before. (A pid file, not an
  # inherited lock descriptor: build servers outlive the run and would keep such a lock.)
  local lock=/tmp/agents-dev-test.pid holder
  holder=$(cat "$lock" 2>/dev/null || true)
  if [ -n "$holder" ] && [ "$holder" != $$ ] && grep -qa 'dev.sh' "/proc/$holder/cmdline" 2>/dev/null; then
    die "another ./dev.sh test (pid $holder) is running on this machine; wait for it to finish"
  fi
  echo $$ >"$lock"
  trap 'rm -f /tmp/agents-dev-test.pid' EXIT
  infra_up
  # The run gets a RabbitMQ virtual host of its own (removed afterwards, with whatever a killed run left),
  # unless AGENTS_TEST_RABBITMQ already points the tests at another broker.
  local sweep=0
  if [ -z "${AGENTS_TEST_RABBITMQ:-}" ]; then
    sudo_if_needed bash "$ROOT/infra/local.sh" test-vhost
    export AGENTS_TEST_RABBITMQ="amqp://agents:agents@127.0.0.1:5672/agents-test-run"
    sweep=1
  fi
  log "installing the MCP servers the tests run (infra/mcp-servers.sh)"
  bash "$ROOT/infra/mcp-servers.sh" >/dev/null
  browser_for_tests
  log "building (Debug)"
  dotnet build Agents.sln -c Debug -nologo -clp:ErrorsOnly -v:q
  if [ -f "$ROOT/infra/validate-deploy.sh" ]; then bash "$ROOT/infra/validate-deploy.sh"; fi
  local out rc=0 layout=0
  # The code's layout (.editorconfig): a change that leaves it off fails the run (`./dev.sh format` fixes it).
  log "checking the code's layout (dotnet format whitespace --verify-no-changes)"
  dotnet format whitespace Agents.sln --verify-no-changes -v q || layout=1
  log "running tests"
  out=$(mktemp)
  # Every test project in parallel (categories Unit and Infrastructure), then the end-to-end tests on their own:
  # they start the whole suite twice as real processes and are the most sensitive to a saturated 2-core machine.
  # A test that runs past 10 minutes (the longest takes a few) has hung: its test host is stopped, the test is named
  # in the output and the run fails, rather than waiting for the CI's own time limit.
  local hang=(--blame-hang-timeout 10m --blame-hang-dump-type none)
  dotnet test Agents.sln -c Debug --no-build -nologo -v:q --logger "console;verbosity=minimal" "${hang[@]}" --filter "Category!=EndToEnd" 2>&1 | tee "$out" || rc=$?
  dotnet test tests/Agents.EndToEnd.Tests -c Debug --no-build -nologo -v:q --logger "console;verbosity=minimal" "${hang[@]}" 2>&1 | tee -a "$out" || rc=$?
  # One closing line for every runner: "N passed, N failed".
  awk '/(Passed|Failed)!  -/ { for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) } }
       END { gsub(",", "", p); printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$out"
  grep -q "Failed!  -" "$out" && rc=1
  if grep -q "Test Run Aborted" "$out"; then
    log "a test host stopped before its tests ended (a hung or crashed test, named above after 'The test running when')"
    rc=1
  fi
  if [ "$layout" = 1 ]; then
    log "the code's layout differs from .editorconfig (listed above): run ./dev.sh format"
    rc=1
  fi
  rm -f "$out"
  if [ "$sweep" = 1 ]; then
    sudo_if_needed bash "$ROOT/infra/local.sh" sweep-tests || log "could not remove the test virtual hosts and databases (infra/local.sh sweep-tests)"
  fi
  return $rc
}

case "${1:-}" in
  up)
    infra_up
    mcp_servers
    build
    mkdir -p "$RUN/logs"
    migrate
    if [ "${AGENTS_DASHBOARD:-0}" = 1 ]; then dashboard_for_services; fi
    start_services
    wait_ready
    wait_for_tools
    status
    if [ "${AGENTS_PROMETHEUS:-0}" = 1 ]; then bash "$ROOT/infra/prometheus-local.sh"; fi
    if [ "${AGENTS_DASHBOARD:-0}" = 1 ]; then
      log "traces, logs and metrics of every service: http://127.0.0.1:${AGENTS_DASHBOARD_PORT:-18888} (the console's trace ids link there)"
    else
      log "a trace view: AGENTS_DASHBOARD=1 ./dev.sh up (after ./dev.sh stop); metrics: ./dev.sh prometheus"
    fi
    if [ -f "$ROOT/infra/demo.sh" ]; then bash "$ROOT/infra/demo.sh"; fi
    ;;
  test) run_tests ;;
  format) dotnet format whitespace Agents.sln -v q ;;
  demo) bash "$ROOT/infra/demo.sh" ;;
  prometheus) bash "$ROOT/infra/prometheus-local.sh" ;;
  dashboard) bash "$ROOT/infra/dashboard-local.sh" ;;
  status) status ;;
  stop) stop_services ;;
  down) stop_services; sudo_if_needed bash "$ROOT/infra/local.sh" down ;;
  *) sed -n '2,13p' "$0"; exit 2 ;;
esac
