#!/usr/bin/env bash
# Identity smoke test with the real `openstack` CLI (python-openstackclient
# 10.5.0 from tempest/requirements.txt) against a running Keystone-v3 identity
# service such as ironbark's.
#
# Usage: tests/cli/identity.sh [IDENTITY_URL]     (default http://127.0.0.1:5000)
#
# Cloud config: the clouds.yaml in $CLOUDS_YAML, else $OS_CLIENT_CONFIG_FILE,
# else $IRONBARK_DATA_DIR/clouds.yaml (IRONBARK_DATA_DIR default ./data), the
# file `ironbark serve` writes on start; cloud name $OS_CLOUD (default ironbark).
# When that file does not exist, one is generated in $WORK for IDENTITY_URL
# with admin / $ADMIN_PASSWORD (default secretadmin), project admin, domain
# Default, region RegionOne.  If the cloud entry has no password,
# $ADMIN_PASSWORD is supplied through OS_PASSWORD.
#
# Every step is checked; a transcript goes to stdout (and $WORK/transcript.txt);
# the exit status is the number of failed steps and the last line is
# "N passed, N failed".
# Env: IRONBARK_VENV=/tmp/ironbark-venv  WORK=/tmp/ironbark-cli-identity
#      ADMIN_PASSWORD=secretadmin  DEBUG=1 (add --debug to every openstack call;
#      full HTTP logs in $WORK/debug/NN-<step>.log)
set -uo pipefail
URL="${1:-${IDENTITY_URL:-http://127.0.0.1:5000}}"
URL="${URL%/}"; URL="${URL%/v3}"
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${IRONBARK_VENV:-/tmp/ironbark-venv}"
WORK="${WORK:-/tmp/ironbark-cli-identity}"
ADMIN_PASSWORD="${ADMIN_PASSWORD:-secretadmin}"
export OS_CLOUD="${OS_CLOUD:-ironbark}"
DEBUG="${DEBUG:-0}"

case "$URL" in
  http://127.*|http://localhost*|http://\[::1\]*) ;;
  *) echo "refusing non-loopback identity URL $URL" >&2; exit 2;;
esac
[ -x "$VENV/bin/openstack" ] || IRONBARK_VENV="$VENV" "$ROOT/tempest/setup-venv.sh" >/dev/null \
  || { echo "cannot create venv $VENV" >&2; exit 2; }
OSC="$VENV/bin/openstack"
PY="$VENV/bin/python"
mkdir -p "$WORK/debug"
rm -f "$WORK"/debug/*.log

# --- cloud config: tests/cli/lib.sh (its step machinery is redefined below) ----
source "$HERE/lib.sh"
cli_admin_clouds

# --- step machinery -------------------------------------------------------------
PASS=0; FAIL=0; N=0; OUT=""
exec > >(tee "$WORK/transcript.txt") 2>&1
say() { printf '%s\n' "$*"; }
# osc NAME ARGS...: run `openstack ARGS` (admin cloud unless ARGS override), output in $OUT
# With OSC_ENV set (array of VAR=value), the command runs without the cloud
# (OS_CLOUD unset) on exactly those OS_* variables instead.
OSC_ENV=()
osc() {
  local name="$1"; shift
  local dbg=() pre=()
  [ "$DEBUG" = 1 ] && dbg=(--debug --log-file "$WORK/debug/$(printf %02d "$N")-$name.log")
  [ ${#OSC_ENV[@]} -gt 0 ] && pre=(env -u OS_CLOUD -u OS_PASSWORD "${OSC_ENV[@]}")
  OUT=$("${pre[@]}" "$OSC" "${dbg[@]}" "$@" 2>"$WORK/stderr.txt"); local rc=$?
  [ -s "$WORK/stderr.txt" ] && [ "$DEBUG" != 1 ] && OUT="$OUT"$'\n'"$(cat "$WORK/stderr.txt")"
  return $rc
}
# step "title" CHECK-COMMAND...: CHECK runs after the command; both must succeed
begin() { N=$((N + 1)); OUT=""; T0=$(date +%s.%N); say ""; say "== [$N] $1"; }
finish() {  # finish RC [reason]
  local dt; dt=$(python3 -c "import time;print(f'{time.time()-$T0:.2f}')")
  [ -n "$OUT" ] && printf '%s\n' "$OUT" | sed 's/^/   | /' | head -40
  if [ "$1" -eq 0 ]; then PASS=$((PASS + 1)); say "   -> ok (${dt}s)";
  else FAIL=$((FAIL + 1)); say "   -> FAILED (${dt}s) ${2:-}"; fi
}
jget() {  # jget KEY  -> value of KEY in the JSON object in $OUT
  printf '%s' "$OUT" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1" 2>/dev/null
}
hasrow() {  # hasrow PY-EXPR: any row r of the JSON list in $OUT satisfies EXPR
  printf '%s' "$OUT" | "$PY" -c '
import json, sys
rows = json.load(sys.stdin)
sys.exit(0 if any(eval(sys.argv[1], {}, {"r": r}) for r in rows) else 1)' "$1" 2>/dev/null
}

RAND=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
PROJ="cli-demo-$RAND"; USER_NAME="cli-user-$RAND"; USER_PW="pw-$RAND-Ib!"
say "# ironbark identity CLI test: url=$URL cloud=$OS_CLOUD clouds.yaml=$CLOUDS"
say "# $("$OSC" --version 2>&1)  names: $PROJ $USER_NAME"
START=$(date +%s)

begin "GET $URL/v3 (version document, unauthenticated)"
OUT=$(curl -s -m 10 -w '\nHTTP %{http_code}' "$URL/v3"); rc=1
case "$OUT" in *'"id": "v3'*'HTTP 200'|*'"id":"v3'*'HTTP 200') rc=0;; esac
finish $rc "expected 200 with a v3 version"

begin "token issue (admin, project admin)"
osc token-issue token issue -f json; rc=$?
ADMIN_TOKEN=$(jget id); ADMIN_PROJECT=$(jget project_id)
[ $rc -eq 0 ] && [ -n "$ADMIN_TOKEN" ] && [ -n "$ADMIN_PROJECT" ] && [ -n "$(jget user_id)" ]; finish $? "no id/project_id/user_id"

begin "project create $PROJ"
osc project-create project create --domain default --description "ironbark cli test" "$PROJ" -f json; rc=$?
PROJ_ID=$(jget id)
[ $rc -eq 0 ] && [ -n "$PROJ_ID" ] && [ "$(jget name)" = "$PROJ" ] && [ "$(jget domain_id)" = default ]
finish $? "no project id / wrong name or domain"

begin "user create $USER_NAME (default project $PROJ)"
osc user-create user create --domain default --password "$USER_PW" --project "$PROJ" \
  --email "$USER_NAME@example.invalid" "$USER_NAME" -f json; rc=$?
USER_ID=$(jget id)
[ $rc -eq 0 ] && [ -n "$USER_ID" ] && [ "$(jget default_project_id)" = "$PROJ_ID" ]
finish $? "no user id or default_project_id != $PROJ_ID"

begin "role add --project $PROJ --user $USER_NAME member"
osc role-add-project role add --project "$PROJ" --user "$USER_NAME" member; finish $?

begin "role assignment list --user --project --names (member must show)"
osc role-assignment-list role assignment list --user "$USER_NAME" --project "$PROJ" --names -f json; rc=$?
[ $rc -eq 0 ] && hasrow 'r["Role"] == "member" and r["User"].startswith("'"$USER_NAME"'") and r["Project"].startswith("'"$PROJ"'")'
finish $? "no member row for $USER_NAME on $PROJ"

begin "role add --system all --user $USER_NAME reader"
osc role-add-system role add --system all --user "$USER_NAME" reader; finish $?

begin "role assignment list --user --system all --names (reader must show)"
osc role-assignment-list-system role assignment list --user "$USER_NAME" --system all --names -f json; rc=$?
[ $rc -eq 0 ] && hasrow 'r["Role"] == "reader" and r["System"] == "all"'
finish $? "no system reader row"

# the new user, password auth, project scope (by id), same auth_url/region
USER_ENV=(OS_AUTH_URL="$AUTH_URL" OS_AUTH_TYPE=password OS_IDENTITY_API_VERSION=3
          OS_REGION_NAME=RegionOne OS_INTERFACE=public OS_USERNAME="$USER_NAME"
          OS_USER_DOMAIN_NAME=Default OS_PASSWORD="$USER_PW" OS_PROJECT_ID="$PROJ_ID")
begin "token issue as $USER_NAME (project scope) -> project_id matches"
OSC_ENV=("${USER_ENV[@]}"); osc token-issue-user token issue -f json; rc=$?; OSC_ENV=()
USER_TOKEN=$(jget id)
[ $rc -eq 0 ] && [ -n "$USER_TOKEN" ] && [ "$(jget project_id)" = "$PROJ_ID" ] && [ "$(jget user_id)" = "$USER_ID" ]
finish $? "project_id/user_id mismatch (want $PROJ_ID / $USER_ID)"

begin "catalog list (identity row present)"
osc catalog-list catalog list -f json; rc=$?
[ $rc -eq 0 ] && hasrow 'r["Type"] == "identity" and "public" in str(r["Endpoints"])'
finish $? "no identity service with a public endpoint in the catalog"

begin "endpoint list (identity public endpoint = $URL/v3)"
osc endpoint-list endpoint list -f json; rc=$?
[ $rc -eq 0 ] && hasrow 'r["Service Type"] == "identity" and r["Interface"] == "public" and r["URL"].rstrip("/") == "'"$URL"'/v3"'
finish $? "no identity public endpoint with URL $URL/v3"

# token-auth with the user's token works before revocation ...
TOKEN_ENV=(OS_AUTH_URL="$AUTH_URL" OS_IDENTITY_API_VERSION=3 OS_REGION_NAME=RegionOne
           OS_INTERFACE=public OS_PROJECT_ID="$PROJ_ID")
TOKEN_AUTH=(--os-auth-type token --os-token "$USER_TOKEN")
begin "openstack --os-auth-type token (user token) token issue -> works before revoke"
OSC_ENV=("${TOKEN_ENV[@]}"); osc token-auth-before "${TOKEN_AUTH[@]}" token issue -f json; rc=$?; OSC_ENV=()
[ $rc -eq 0 ] && [ "$(jget project_id)" = "$PROJ_ID" ]; finish $? "token auth with a valid token failed"

begin "validate user token as admin: GET /v3/auth/tokens -> 200"
OUT=$(curl -s -m 10 -o /dev/null -w 'HTTP %{http_code}' -H "X-Auth-Token: $ADMIN_TOKEN" \
  -H "X-Subject-Token: $USER_TOKEN" "$URL/v3/auth/tokens?nocatalog"); [ "$OUT" = "HTTP 200" ]; finish $?

begin "token revoke <user token> (as admin)"
REVOKED=0
[ -n "$USER_TOKEN" ] && osc token-revoke token revoke "$USER_TOKEN" && REVOKED=1
finish $((1 - REVOKED)) "no token or revoke failed"

begin "revoked token: GET /v3/auth/tokens (admin caller) -> 404"
OUT=$(curl -s -m 10 -w '\nHTTP %{http_code}' -H "X-Auth-Token: $ADMIN_TOKEN" \
  -H "X-Subject-Token: $USER_TOKEN" "$URL/v3/auth/tokens")
case "$OUT" in *'HTTP 404') rc=0;; *) rc=1;; esac
[ "$REVOKED" = 1 ] || rc=1; finish $rc "expected 404 (after a successful revoke)"

begin "revoked token as X-Auth-Token: GET /v3/auth/tokens (self) -> 401"
OUT=$(curl -s -m 10 -w '\nHTTP %{http_code}' -H "X-Auth-Token: $USER_TOKEN" \
  -H "X-Subject-Token: $USER_TOKEN" "$URL/v3/auth/tokens")
case "$OUT" in *'HTTP 401') rc=0;; *) rc=1;; esac
[ "$REVOKED" = 1 ] || rc=1; finish $rc "expected 401 (after a successful revoke)"

begin "openstack --os-auth-type token (revoked token) token issue -> must fail"
OSC_ENV=("${TOKEN_ENV[@]}"); osc token-auth-after "${TOKEN_AUTH[@]}" token issue -f json; rc=$?; OSC_ENV=()
[ $rc -ne 0 ] && [ "$REVOKED" = 1 ]; finish $? "the CLI accepted a revoked token (or nothing was revoked)"

begin "user delete $USER_NAME"
USER_DELETED=0
osc user-delete user delete "${USER_ID:-$USER_NAME}" && USER_DELETED=1; finish $((1 - USER_DELETED))

begin "project delete $PROJ"
osc project-delete project delete "${PROJ_ID:-$PROJ}"; finish $?

begin "user show $USER_NAME -> gone"
osc user-show user show "${USER_ID:-$USER_NAME}"; rc=$?
[ $rc -ne 0 ] && [ "$USER_DELETED" = 1 ]; finish $? "user still exists (or was never deleted)"

say ""
say "# wall $(( $(date +%s) - START )) s; transcript $WORK/transcript.txt"
say "$PASS passed, $FAIL failed"
exit "$FAIL"
