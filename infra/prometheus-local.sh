#!/usr/bin/env bash
# Prometheus on this machine, without containers, for the services `./dev.sh up` starts: scrapes every service's
# /metrics (the SERVICES of dev.sh, 127.0.0.1:5000-5204) every 5 s and evaluates the platform's alert rules
# (infra/observability/prometheus/alerts.yml). Installs Debian's prometheus package when missing (as root) and keeps
# its system service stopped: this script runs its own server as the current user, with its data in .run/prometheus.
#   bash infra/prometheus-local.sh         start (or say where it already runs)
#   AGENTS_PROMETHEUS_PORT=9091 ...         another port (default 9090, bound to 127.0.0.1)
# `./dev.sh stop` stops it with the services (its pid file is in .run/pids).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUN="$ROOT/.run"
PORT=${AGENTS_PROMETHEUS_PORT:-9090}
say() { printf '\033[1m[prometheus]\033[0m %s\n' "$*"; }
die() { printf '[prometheus] error: %s\n' "$*" >&2; exit 1; }

bash infra/install-prometheus.sh || die "prometheus is not installed"

pidfile="$RUN/pids/prometheus.pid"
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  say "already running (pid $(cat "$pidfile")): http://127.0.0.1:$PORT"
  exit 0
fi
if ss -ltn "sport = :$PORT" 2>/dev/null | grep -q LISTEN; then
  die "port $PORT is in use by another process: set AGENTS_PROMETHEUS_PORT"
fi

mkdir -p "$RUN/prometheus/data" "$RUN/pids" "$RUN/logs"
target() { printf '      - targets: ["127.0.0.1:%s"]\n        labels: {job: %s}\n' "$2" "$1"; }
{
  cat <<YAML
# Written by infra/prometheus-local.sh for the services of ./dev.sh up.
global:
  scrape_interval: 5s
  evaluation_interval: 5s
rule_files:
  - $ROOT/infra/observability/prometheus/alerts.yml
scrape_configs:
  - job_name: agents
    static_configs:
YAML
  # The services dev.sh starts ("name:project-dir:port" lines of its SERVICES list).
  grep -Eo '^  "[a-z0-9-]+:[^:"]+:[0-9]+"' dev.sh | tr -d ' "' | while IFS=: read -r name _ port; do target "$name" "$port"; done
} >"$RUN/prometheus/prometheus.yml"
promtool check config "$RUN/prometheus/prometheus.yml" >/dev/null || die "promtool rejected $RUN/prometheus/prometheus.yml"

(exec nohup prometheus --config.file="$RUN/prometheus/prometheus.yml" --storage.tsdb.path="$RUN/prometheus/data" \
  --storage.tsdb.retention.time=2d --web.listen-address="127.0.0.1:$PORT" >"$RUN/logs/prometheus.log" 2>&1) &
echo $! >"$pidfile"
for _ in $(seq 1 60); do
  if curl -sf "http://127.0.0.1:$PORT/-/ready" >/dev/null; then
    say "Prometheus: http://127.0.0.1:$PORT (targets: /targets, alerts: /alerts; log: .run/logs/prometheus.log)"
    say "try: http://127.0.0.1:$PORT/graph?g0.expr=sum%20by%20(agents_task_status)%20(agents_task_finished_total)"
    exit 0
  fi
  sleep 0.5
done
die "Prometheus did not become ready: see .run/logs/prometheus.log"
