#!/usr/bin/env bash
# Offline validation of the deployment files (no container engine needed, none is used):
#   - docker-compose.yml is accepted by `docker-compose config` with no options (the development values of .env)
#     and with the ollama profile, and is refused with an env file that leaves the secrets out;
#   - every kustomization under k8s/ (and infra/observability, infra/postgres) renders with `kubectl kustomize`;
#   - the Prometheus alert rules pass `promtool check rules` (promtool from Debian's prometheus package).
# Installs Debian's docker-compose when missing (as root). Idempotent; exits non-zero on the first failure.
# The consistency rules (every service has an image, compose service, Deployment...) are checked by
# tests/Agents.Deployment.Tests, which `dev.sh test` runs afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[validate-deploy]\033[0m %s\n' "$*"; }
fail() { printf '[validate-deploy] FAILED: %s\n' "$*" >&2; exit 1; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

if ! command -v docker-compose >/dev/null 2>&1; then
  say "installing docker-compose (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y -qq docker-compose >/dev/null 2>&1 \
    || { as_root apt-get update -qq >/dev/null && as_root apt-get install -y -qq docker-compose >/dev/null; } \
    || fail "could not install docker-compose: run 'apt-get update && apt-get install -y docker-compose' as root"
fi
command -v kubectl >/dev/null 2>&1 || fail "kubectl is not installed (it renders the kustomizations: kubectl kustomize)"
# promtool (checks the alert rules) comes with Debian's prometheus package, whose server must not keep running here.
bash infra/install-prometheus.sh || fail "promtool is not installed"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# No --env-file: what `docker compose up` sees out of the box (the repository's .env).
docker-compose config >"$out/compose.yml" 2>"$out/compose.err" \
  || { cat "$out/compose.err" >&2; fail "docker-compose config rejected docker-compose.yml"; }
docker-compose config --services >"$out/services" 2>>"$out/compose.err" \
  || { cat "$out/compose.err" >&2; fail "docker-compose config --services failed"; }
say "docker-compose.yml: valid with .env ($(wc -l <"$out/services") services, docker-compose $(docker-compose version --short))"
COMPOSE_PROFILES=ollama MODELS_ENV_FILE=infra/compose/models.ollama.env \
  docker-compose config >/dev/null 2>"$out/compose.err" \
  || { cat "$out/compose.err" >&2; fail "docker-compose config rejected the ollama profile"; }
say "docker-compose.yml with profile ollama and models.ollama.env: valid"
# An env file of one's own replaces .env: one without the secrets must be refused, not filled with development values.
: >"$out/empty.env"
if docker-compose --env-file "$out/empty.env" config >/dev/null 2>"$out/compose.err"; then
  fail "docker-compose config accepted an env file without secrets (a development default would reach production)"
fi
say "docker-compose.yml with an env file of one's own: every secret must be in it"

count=0
while IFS= read -r kustomization; do
  dir=$(dirname "$kustomization")
  kubectl kustomize "$dir" >"$out/render.yaml" 2>"$out/kustomize.err" \
    || { cat "$out/kustomize.err" >&2; fail "kubectl kustomize $dir failed"; }
  say "$dir: renders ($(grep -c '^kind:' "$out/render.yaml") objects)"
  count=$((count + 1))
done < <(find k8s -name kustomization.yaml | sort)
[ "$count" -gt 0 ] || fail "no kustomization.yaml under k8s/"
for dir in infra/observability infra/postgres; do
  kubectl kustomize "$dir" >/dev/null 2>"$out/kustomize.err" \
    || { cat "$out/kustomize.err" >&2; fail "kubectl kustomize $dir failed"; }
done
promtool check rules infra/observability/prometheus/alerts.yml >"$out/promtool.out" 2>&1 \
  || { cat "$out/promtool.out" >&2; fail "promtool check rules rejected infra/observability/prometheus/alerts.yml"; }
say "alert rules: $(grep -o '[0-9]* rules found' "$out/promtool.out") (promtool check rules)"
say "ok (offline: nothing was built or run in a container)"
