#!/usr/bin/env bash
# A trace, log and metrics view on this machine, without containers: the standalone Aspire dashboard (an OTLP receiver
# with a browser UI) from its NuGet package, Aspire.Dashboard.Sdk.linux-x64. Restores the package into the NuGet cache
# when missing (no project of the repository references it), then runs it as the current user, keeping its telemetry in
# memory. Services send to it when started with OTEL_EXPORTER_OTLP_ENDPOINT set to its OTLP/HTTP address, which
# `AGENTS_DASHBOARD=1 ./dev.sh up` does for every service (and links the console's trace ids to it).
#   bash infra/dashboard-local.sh          start (or say where it already runs); prints the URLs
#   AGENTS_DASHBOARD_PORT=18888            the browser UI (OTLP/gRPC on the next port, OTLP/HTTP on the one after)
#   AGENTS_DASHBOARD_RUN=.run              where its pid file and log go (`./dev.sh stop` stops it with the services)
# Bound to 127.0.0.1 and unsecured (anonymous UI and OTLP): for a developer's machine only.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUN=${AGENTS_DASHBOARD_RUN:-$ROOT/.run}
PORT=${AGENTS_DASHBOARD_PORT:-18888}
GRPC=$((PORT + 1))
HTTP=$((PORT + 2))
VERSION=13.6.5
PACKAGE=aspire.dashboard.sdk.linux-x64
say() { printf '\033[1m[dashboard]\033[0m %s\n' "$*"; }
die() { printf '[dashboard] error: %s\n' "$*" >&2; exit 1; }

packages=${NUGET_PACKAGES:-$HOME/.nuget/packages}
tools="$packages/$PACKAGE/$VERSION/tools"
if [ ! -f "$tools/Aspire.Dashboard" ]; then
  say "restoring Aspire.Dashboard.Sdk.linux-x64 $VERSION (NuGet)"
  # A throw-away project outside the repository (whose central package management would refuse a PackageDownload).
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  cat >"$scratch/dashboard.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net10.0</TargetFramework></PropertyGroup>
  <ItemGroup><PackageDownload Include="Aspire.Dashboard.Sdk.linux-x64" Version="[$VERSION]" /></ItemGroup>
</Project>
XML
  dotnet restore "$scratch/dashboard.csproj" -v:q >"$scratch/restore.log" 2>&1 || { cat "$scratch/restore.log" >&2; die "restoring the package failed"; }
  [ -f "$tools/Aspire.Dashboard" ] || die "the package has no tools/Aspire.Dashboard under $tools"
fi
[ -x "$tools/Aspire.Dashboard" ] || chmod u+x "$tools/Aspire.Dashboard"

mkdir -p "$RUN/pids" "$RUN/logs"
pidfile="$RUN/pids/dashboard.pid"
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  say "already running (pid $(cat "$pidfile")): http://127.0.0.1:$PORT"
  exit 0
fi
for port in "$PORT" "$GRPC" "$HTTP"; do
  if ss -ltn "sport = :$port" 2>/dev/null | grep -q LISTEN; then
    die "port $port is in use by another process: set AGENTS_DASHBOARD_PORT (the UI; OTLP takes the next two)"
  fi
done

(cd "$tools" && exec env ASPNETCORE_URLS="http://127.0.0.1:$PORT" \
  ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL="http://127.0.0.1:$GRPC" \
  ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL="http://127.0.0.1:$HTTP" \
  ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS=true \
  DOTNET_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS=true \
  nohup ./Aspire.Dashboard >"$RUN/logs/dashboard.log" 2>&1) &
echo $! >"$pidfile"
for _ in $(seq 1 120); do
  if curl -sf -o /dev/null "http://127.0.0.1:$PORT/api/telemetry/resources"; then
    say "traces, logs and metrics: http://127.0.0.1:$PORT (OTLP/HTTP http://127.0.0.1:$HTTP, OTLP/gRPC http://127.0.0.1:$GRPC; log: $RUN/logs/dashboard.log)"
    exit 0
  fi
  kill -0 "$(cat "$pidfile")" 2>/dev/null || break
  sleep 0.5
done
die "the dashboard did not become ready: see $RUN/logs/dashboard.log"
