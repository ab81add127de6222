#!/usr/bin/env bash
# Installs Debian's prometheus package (prometheus and promtool) when promtool is missing, and keeps the system
# service the package may start stopped and disabled: the platform's scripts run their own server when asked.
# Needs root (or sudo). Used by infra/validate-deploy.sh (promtool) and infra/prometheus-local.sh (the server).
set -euo pipefail
command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 && exit 0
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
printf '\033[1m[install-prometheus]\033[0m %s\n' "installing Debian's prometheus package (its system service is stopped and disabled)"
export DEBIAN_FRONTEND=noninteractive
as_root apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 \
  || { as_root apt-get update -qq >/dev/null && as_root apt-get install -y -qq --no-install-recommends prometheus >/dev/null; } \
  || { echo "[install-prometheus] could not install it: run 'apt-get update && apt-get install -y prometheus' as root" >&2; exit 1; }
if [ -d /run/systemd/system ]; then
  as_root systemctl disable --now prometheus >/dev/null 2>&1 || true
else
  as_root service prometheus stop >/dev/null 2>&1 || true
  as_root update-rc.d prometheus disable >/dev/null 2>&1 || true
fi
