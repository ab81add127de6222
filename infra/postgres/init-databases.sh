#!/bin/bash
# PostgreSQL image init script (/docker-entrypoint-initdb.d): one database per database-owning service,
# owned by the application user. Runs once, on an empty data directory.
# AGENTS_DATABASES: comma-separated database names.
set -euo pipefail
IFS=',' read -ra databases <<<"${AGENTS_DATABASES:?AGENTS_DATABASES is not set}"
for db in "${databases[@]}"; do
  db=$(echo "$db" | tr -d '[:space:]')
  [ -n "$db" ] || continue
  if psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
    echo "database $db exists"
  else
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -c "CREATE DATABASE \"$db\" OWNER \"$POSTGRES_USER\""
    echo "created database $db"
  fi
done
