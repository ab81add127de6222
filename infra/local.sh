#!/usr/bin/env bash
# Local infrastructure for development, tests and the demo: RabbitMQ and PostgreSQL
# on 127.0.0.1 only. Idempotent: safe to run twice; installs what is missing (root, Debian).
#
#   infra/local.sh up       install if needed, start, create users/databases, wait until ready
#   infra/local.sh down     stop both (and epmd)
#   infra/local.sh status   print what is listening
#   infra/local.sh test-vhost   remove test leftovers, make the tests' virtual host (agents-test-run)
#   infra/local.sh sweep-tests  remove test leftovers (agents-test-* virtual hosts, t_* databases)
#   infra/local.sh reset-databases  drop and recreate the services' databases (all their data is lost)
set -euo pipefail

PG_VERSION="${PG_VERSION:-15}"
PG_USER="${AGENTS_DB_USER:-agents}"
PG_PASSWORD="${AGENTS_DB_PASSWORD:-agents}"
RABBIT_USER="${AGENTS_RABBIT_USER:-agents}"
RABBIT_PASSWORD="${AGENTS_RABBIT_PASSWORD:-agents}"
DATABASES=(agents_executor agents_planner agents_toolgateway agents_memory agents_governance agents_tool_crm agents_tool_tickets agents_tool_web agents_tool_mcp)

log() { printf '[infra] %s\n' "$*"; }
die() { printf '[infra] error: %s\n' "$*" >&2; exit 1; }

need_root() { [ "$(id -u)" -eq 0 ] || die "run as root (it installs and starts system services)"; }

apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ---------------------------------------------------------------- RabbitMQ
rabbit_configure() {
  mkdir -p /etc/rabbitmq
  cat > /etc/rabbitmq/rabbitmq-env.conf <<'CONF'
# Written by infra/local.sh: loopback only, fixed node name.
NODENAME=rabbit@localhost
NODE_IP_ADDRESS=127.0.0.1
NODE_PORT=5672
DIST_PORT=25672
# +sbwt none (and its dirty-scheduler twins): Erlang schedulers sleep instead of busy-waiting for work. The broker
# shares a few cores with every service here, and the spinning was CPU taken from them for nothing.
SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} +sbwt none +sbwtdcpu none +sbwtdio none"
CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export ERL_EPMD_ADDRESS=127.0.0.1
# The node is started through su, which resets the open-file soft limit to 1024; a broker that
# must recover many queues with fewer file handles than queues can stall during boot.
hard=$(ulimit -H -n); [ "$hard" = unlimited ] && hard=65536; [ "$hard" -gt 65536 ] && hard=65536
ulimit -S -n "$hard" 2>/dev/null || true
CONF
  cat > /etc/rabbitmq/rabbitmq.conf <<'CONF'
# Written by infra/local.sh: loopback only.
listeners.tcp.default = 127.0.0.1:5672
management.tcp.ip = 127.0.0.1
management.tcp.port = 15672
CONF
  echo '[rabbitmq_management].' > /etc/rabbitmq/enabled_plugins
}

rabbit_running() { rabbitmqctl -q status >/dev/null 2>&1; }

rabbit_up() {
  apt_install rabbitmq-server
  rabbit_configure
  export ERL_EPMD_ADDRESS=127.0.0.1
  if ! rabbit_running; then
    log "starting RabbitMQ"
    rabbitmq-server -detached >/dev/null 2>&1 || true
  fi
  local i
  for i in $(seq 1 90); do
    rabbitmqctl -q await_startup --timeout 2 >/dev/null 2>&1 && break
    sleep 1
  done
  if ! rabbit_running; then
    tail -n 20 /var/log/rabbitmq/rabbit@localhost.log >&2 2>/dev/null || true
    die "RabbitMQ did not start (the end of /var/log/rabbitmq/rabbit@localhost.log is above)"
  fi
  if ! rabbitmqctl -q list_users 2>/dev/null | grep -q "^${RABBIT_USER}\b"; then
    rabbitmqctl -q add_user "$RABBIT_USER" "$RABBIT_PASSWORD" >/dev/null
  fi
  rabbitmqctl -q set_user_tags "$RABBIT_USER" administrator >/dev/null
  rabbitmqctl -q set_permissions -p / "$RABBIT_USER" '.*' '.*' '.*' >/dev/null
  log "RabbitMQ ready on 127.0.0.1:5672 (management 127.0.0.1:15672, user ${RABBIT_USER})"
}

rabbit_down() {
  export ERL_EPMD_ADDRESS=127.0.0.1
  if command -v rabbitmqctl >/dev/null && rabbit_running; then
    log "stopping RabbitMQ"; rabbitmqctl -q stop >/dev/null 2>&1 || true
  fi
  command -v epmd >/dev/null && epmd -kill >/dev/null 2>&1 || true
}

# ---------------------------------------------------------------- PostgreSQL
pg_conf_dir() { echo "/etc/postgresql/${PG_VERSION}/main"; }

pg_up() {
  apt_install "postgresql-${PG_VERSION}" postgresql-contrib
  command -v pg_lsclusters >/dev/null || die "pg_lsclusters missing"
  if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^${PG_VERSION} main$"; then
    pg_createcluster "$PG_VERSION" main >/dev/null
  fi
  local conf; conf="$(pg_conf_dir)/conf.d"
  mkdir -p "$conf"
  cat > "$conf/agents.conf" <<'CONF'
# Written by infra/local.sh
listen_addresses = '127.0.0.1'
# A platform under saturation holds up to ~190 connections here (the services' pools grow with the messages they
# handle at once); the end-to-end tests start platforms of their own beside it, and 400 ran out with two of them.
max_connections = 1000
shared_buffers = 256MB
# Loopback only: TLS would encrypt every round trip between processes on this machine for nothing (Debian's
# cluster enables it with a self-signed certificate, and Npgsql prefers it). Deployed databases keep their own.
ssl = off
CONF
  if pg_lsclusters -h | awk -v v="$PG_VERSION" '$1==v && $2=="main" {print $4}' | grep -q online; then
    # Apply config changes that need a restart (max_connections) only when they differ; reload the others.
    local cur; cur=$(su postgres -c "psql -tAc 'show max_connections'" 2>/dev/null || echo 0)
    if [ "$cur" = "1000" ]; then pg_ctlcluster "$PG_VERSION" main reload; else log "restarting PostgreSQL to apply settings"; pg_ctlcluster "$PG_VERSION" main restart; fi
  else
    log "starting PostgreSQL ${PG_VERSION}"
    pg_ctlcluster "$PG_VERSION" main start
  fi
  local i
  for i in $(seq 1 60); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  pg_isready -q -h 127.0.0.1 -p 5432 || die "PostgreSQL did not accept connections"

  su postgres -c "psql -v ON_ERROR_STOP=1 -q" <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${PG_USER}') THEN
    CREATE ROLE ${PG_USER} LOGIN CREATEDB PASSWORD '${PG_PASSWORD}';
  ELSE
    ALTER ROLE ${PG_USER} LOGIN CREATEDB PASSWORD '${PG_PASSWORD}';
  END IF;
END \$\$;
SQL
  local db
  for db in "${DATABASES[@]}"; do
    if [ -z "$(su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='${db}'\"")" ]; then
      su postgres -c "createdb -O ${PG_USER} ${db}"
    fi
  done
  log "PostgreSQL ready on 127.0.0.1:5432 (user ${PG_USER}; databases ${DATABASES[*]})"
}

# Drops every service database and makes it again, empty: for a development database whose schema no longer matches
# the migrations (the services' migrate step says so), or to start the demo from nothing.
pg_reset() {
  local db
  for db in "${DATABASES[@]}"; do
    su postgres -c "psql -q -c 'DROP DATABASE IF EXISTS \"${db}\" WITH (FORCE)'" >/dev/null
  done
  log "dropped ${DATABASES[*]}"
  pg_up
}

pg_down() {
  if command -v pg_ctlcluster >/dev/null && pg_lsclusters -h 2>/dev/null | grep -q online; then
    log "stopping PostgreSQL"; pg_ctlcluster "$PG_VERSION" main stop || true
  fi
}

# ---------------------------------------------------------------- Test leftovers
# Tests make a database (t_*) and, where they play another service's part, a RabbitMQ virtual host
# (agents-test-*) each, and drop them when done. A run that is killed leaves them behind, and a broker
# that keeps thousands of queues recovers them all at every restart. ./dev.sh test sweeps before and
# after each run and gives the run one virtual host of its own, agents-test-run.
TEST_VHOST=agents-test-run

sweep_tests() {
  export ERL_EPMD_ADDRESS=127.0.0.1
  local v db n=0
  for v in $(rabbitmqctl -q list_vhosts name 2>/dev/null | grep '^agents-test-' || true); do
    rabbitmqctl -q delete_vhost "$v" >/dev/null 2>&1 && n=$((n + 1))
  done
  for db in $(su postgres -c "psql -tAc \"SELECT datname FROM pg_database WHERE datname LIKE 't\\_%'\"" 2>/dev/null || true); do
    su postgres -c "psql -q -c 'DROP DATABASE IF EXISTS \"${db}\" WITH (FORCE)'" >/dev/null 2>&1 && n=$((n + 1))
  done
  log "removed ${n} leftover test virtual host(s) and database(s)"
}

test_vhost() {
  sweep_tests
  rabbitmqctl -q add_vhost "$TEST_VHOST" >/dev/null
  rabbitmqctl -q set_permissions -p "$TEST_VHOST" "$RABBIT_USER" '.*' '.*' '.*' >/dev/null
  log "RabbitMQ virtual host ${TEST_VHOST} ready for the tests"
}

status() {
  ss -ltnp 2>/dev/null | grep -E ':(5432|5672|15672|25672|4369)\b' || echo "nothing listening"
}

case "${1:-up}" in
  up) need_root; pg_up; rabbit_up ;;
  down) need_root; rabbit_down; pg_down ;;
  status) status ;;
  test-vhost) need_root; test_vhost ;;
  sweep-tests) need_root; sweep_tests ;;
  reset-databases) need_root; pg_reset ;;
  *) die "usage: $0 up|down|status|test-vhost|sweep-tests|reset-databases" ;;
esac
