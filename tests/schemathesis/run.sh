#!/usr/bin/env bash
# schemathesis against the OpenAPI document every ironbark service serves at
# /openapi.json: generated requests (schema examples, coverage, fuzzing and
# stateful sequences through the links it infers), each answer checked for
# server errors (5xx), undocumented status codes, content types and headers,
# and bodies that break the documented schema.
#
#   tests/schemathesis/run.sh [service ...]   (default: every service)
#   services: baremetal compute image network contrail identity
#
# Env: MAX_EXAMPLES (25) examples per operation and phase; SEED (fixed, for
# a repeatable CI run; SEED=random for a new one); PHASES (all);
# IRONBARK_DATABASE_URL (SQLite in a temp dir when unset); BIN (built
# target/debug/ironbark); ST_VENV (/tmp/ironbark-st-venv); REPORT_DIR.
# Exit status 0 only when every service had 0 failures and the server
# logged no panic.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${ST_VENV:-/tmp/ironbark-st-venv}"
MAX_EXAMPLES="${MAX_EXAMPLES:-25}"
SEED="${SEED:-20261207}"
SERVICES=("$@")
[ ${#SERVICES[@]} -gt 0 ] || SERVICES=(baremetal compute image network contrail identity)
WORK="$(mktemp -d /tmp/ironbark-st.XXXXXX)"
REPORT_DIR="${REPORT_DIR:-$WORK/reports}"
export SCHEMATHESIS_HOOKS="$HERE/hooks.py"
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance

if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$(sed -n 's/^schemathesis==//p' "$HERE/requirements.txt")"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r "$HERE/requirements.txt"
fi

BIN="${BIN:-$ROOT/target/debug/ironbark}"
if [ -z "${BIN_BUILT:-}" ]; then (cd "$ROOT" && cargo build --quiet); fi
# shellcheck source=../../bench/lib.sh
source "$ROOT/bench/lib.sh"
trap 'stop_ironbark; rm -rf "$WORK/data"' EXIT
export IRONBARK_ADMIN_PASSWORD=secretadmin
start_ironbark "$WORK/data" IRONBARK_LOG="${IRONBARK_LOG:-info}"

token() {  # token <scope JSON>: an admin token with that scope
  curl -sf -D - -o /dev/null -H 'Content-Type: application/json' "$ID_URL/v3/auth/tokens" -d '{"auth": {
    "identity": {"methods": ["password"], "password": {"user": {"name": "admin",
      "domain": {"id": "default"}, "password": "secretadmin"}}}, "scope": '"$1"'}}' |
    tr -d '\r' | sed -n 's/^[Xx]-[Ss]ubject-[Tt]oken: //p'
}

url_of() {
  case "$1" in
    identity) echo "$ID_URL" ;; baremetal) echo "$BM_URL" ;; compute) echo "$CMP_URL" ;;
    image) echo "$IMG_URL" ;; network) echo "$NET_URL" ;; contrail) echo "$CTR_URL" ;;
    *) echo "unknown service $1" >&2; return 1 ;;
  esac
}

seed_args=()
[ "$SEED" = random ] || seed_args=(--seed "$SEED")
failed=()
for svc in "${SERVICES[@]}"; do
  url="$(url_of "$svc")"
  # Ironic speaks to system-scoped admins; the other services to a project's.
  if [ "$svc" = baremetal ]; then scope='{"system": {"all": true}}'
  else scope='{"project": {"name": "admin", "domain": {"id": "default"}}}'; fi
  tok="$(token "$scope")"
  [ -n "$tok" ] || { echo "no token for $svc" >&2; exit 1; }
  echo "==== schemathesis: $svc ($url/openapi.json, $MAX_EXAMPLES examples)"
  t0=$SECONDS
  # (schemathesis keeps a cache in its working directory)
  if (cd "$WORK" && "$VENV/bin/schemathesis" run "$url/openapi.json" -H "X-Auth-Token: $tok" \
      --checks "$CHECKS" -n "$MAX_EXAMPLES" "${seed_args[@]}" --request-timeout 30 \
      ${PHASES:+--phases "$PHASES"} --no-color \
      --report junit --report-junit-path "$REPORT_DIR/$svc.xml" > "$WORK/$svc.txt" 2>&1); then
    echo "$svc: passed in $((SECONDS - t0)) s ($(grep -E '^ *[0-9]+ generated' "$WORK/$svc.txt" | tr -s ' '))"
  else
    cat "$WORK/$svc.txt"
    echo "$svc: FAILED in $((SECONDS - t0)) s"
    failed+=("$svc")
  fi
done
if grep -n "panicked" "$WORK/data.log"; then
  echo "the server panicked (log: $WORK/data.log)"
  failed+=(panic)
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "schemathesis failed: ${failed[*]} (outputs and server log in $WORK)"
  trap - EXIT; stop_ironbark
  exit 1
fi
echo "schemathesis: every service passed (${SERVICES[*]})"
