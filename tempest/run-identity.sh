#!/usr/bin/env bash
# Run the Tempest 47 identity v3 API tests (tokens, API discovery, catalog;
# 9 tests) against a RUNNING Keystone-v3-compatible identity service, e.g.
# ironbark's identity endpoint.
#
# Usage: tempest/run-identity.sh IDENTITY_URL      (e.g. http://127.0.0.1:5000)
#
# Tempest runs with pre-provisioned credentials (accounts.yaml,
# use_dynamic_credentials=false) and every other service marked unavailable.
# The accounts are provisioned once through the identity admin API with the
# `openstack` CLI, logged in as the bootstrap admin (user admin, project
# admin, domain Default).  What these test classes request
# (tempest/api/identity/base.py: BaseIdentityV3Test.credentials = ['primary']):
#   primary = a project-scoped account with role `member` (preprov provider:
#   get_primary_creds -> _get_creds(['member'], scope='project')).
# No admin and no reader account is requested by these classes.
# Per worker this script creates project tempest-identity-N and user
# tempest-member-N (member on it, default project = it); READER=1 adds user
# tempest-reader-N (reader on it) for wider regexes whose classes ask for a
# project_reader persona.
#
# Env: IRONBARK_VENV=/tmp/ironbark-venv (made by tempest/setup-venv.sh if absent)
#      TWORK=/tmp/ironbark-tempest-identity  ADMIN_PASSWORD=secretadmin
#      TEMPEST_PASSWORD=ironbark-tempest-pw (password of the tempest users)
#      REGION=RegionOne  CONCURRENCY=1  PROVISION=1 (0: users already exist)
#      READER=0  REGEX (default below)  DEBUG=false  EXTRA_ARGS (appended to `tempest run`)
# Output: $TWORK/run.log, results.subunit, outcomes.txt (sorted
#         "test_id ok|FAILED|SKIPPED..." lines), summary.txt; the last line
#         printed is "N passed, N failed, N skipped".  Exit status non-zero
#         when a test failed, provisioning failed, or no test ran.
set -uo pipefail
URL="${1:?usage: run-identity.sh IDENTITY_URL (e.g. http://127.0.0.1:5000)}"
URL="${URL%/}"; URL="${URL%/v3}"
HERE="$(cd "$(dirname "$0")" && pwd)"
VENV="${IRONBARK_VENV:-/tmp/ironbark-venv}"
TWORK="${TWORK:-/tmp/ironbark-tempest-identity}"
ADMIN_PASSWORD="${ADMIN_PASSWORD:-secretadmin}"
TEMPEST_PASSWORD="${TEMPEST_PASSWORD:-ironbark-tempest-pw}"
REGION="${REGION:-RegionOne}"
CONCURRENCY="${CONCURRENCY:-1}"
DEBUG="${DEBUG:-false}"
REGEX="${REGEX:-tempest\.api\.identity\.v3\.(test_tokens|test_api_discovery|test_catalog)}"

case "$URL" in
  http://127.*|http://localhost*|http://\[::1\]*) ;;
  *) echo "refusing non-loopback identity URL $URL" >&2; exit 2;;
esac

[ -x "$VENV/bin/tempest" ] || IRONBARK_VENV="$VENV" "$HERE/setup-venv.sh" >/dev/null \
  || { echo "cannot create venv $VENV" >&2; exit 1; }
export PATH="$VENV/bin:$PATH"

code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 "$URL/v3")
[ "$code" = 200 ] || { echo "identity not ready: GET $URL/v3 -> $code" >&2; exit 1; }

# The work dir is a plain directory, not a registered `tempest init`
# workspace (~/.tempest/workspace.yaml is global and names collide):
# `tempest run --config-file` writes .stestr.conf for this venv itself.
mkdir -p "$TWORK/etc" || exit 1
rm -f "$TWORK/.stestr.conf"
# account locks left behind by a killed run would starve the allocation
rm -rf "$TWORK/locks"; mkdir -p "$TWORK/locks"

# --- accounts ---------------------------------------------------------------
acc="$TWORK/etc/accounts.yaml"
KINDS="member"; [ "${READER:-0}" = 1 ] && KINDS="member reader"
if [ "${PROVISION:-1}" = 1 ]; then
  echo "# provisioning $CONCURRENCY project(s) + account(s) ($KINDS) as admin at $URL/v3"
  ( export OS_AUTH_URL="$URL/v3" OS_USERNAME=admin OS_PASSWORD="$ADMIN_PASSWORD" \
      OS_PROJECT_NAME=admin OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default \
      OS_IDENTITY_API_VERSION=3 OS_AUTH_TYPE=password OS_REGION_NAME="$REGION"
    unset OS_CLOUD OS_ENDPOINT OS_TOKEN OS_CLIENT_CONFIG_FILE
    # (set -e does not apply inside a "( … ) || …" list: check each call)
    for i in $(seq 1 "$CONCURRENCY"); do
      p="tempest-identity-$i"
      openstack project create --domain Default --or-show \
        --description "ironbark tempest identity worker $i" "$p" >/dev/null || exit 1
      for kind in $KINDS; do
        u="tempest-$kind-$i"
        openstack user create --domain Default --project "$p" --project-domain Default \
          --password "$TEMPEST_PASSWORD" --or-show "$u" >/dev/null || exit 1
        # --or-show keeps an existing user's password: set it explicitly
        openstack user set --password "$TEMPEST_PASSWORD" "$u" || exit 1
        openstack role add --project "$p" --project-domain Default \
          --user "$u" --user-domain Default "$kind" || exit 1
      done
    done ) || { echo "account provisioning failed" >&2; exit 1; }
fi
for i in $(seq 1 "$CONCURRENCY"); do
  for kind in $KINDS; do
    printf -- "- username: tempest-%s-%s\n  password: '%s'\n  project_name: tempest-identity-%s\n  roles: [%s]\n" \
      "$kind" "$i" "$TEMPEST_PASSWORD" "$i" "$kind"
  done
done > "$acc"

# --- tempest.conf -------------------------------------------------------------
cat > "$TWORK/etc/tempest.conf" <<EOF
# written by ironbark tempest/run-identity.sh for $URL
[DEFAULT]
log_file = $TWORK/tempest.log
debug = $DEBUG
lock_path = $TWORK/locks

[oslo_concurrency]
lock_path = $TWORK/locks

[auth]
use_dynamic_credentials = false
test_accounts_file = $acc
default_credentials_domain_name = Default
create_isolated_networks = false
admin_domain_scope = false

[identity]
uri_v3 = $URL/v3
auth_version = v3
region = $REGION
v3_endpoint_type = public
catalog_type = identity
disable_ssl_certificate_validation = true

[identity-feature-enabled]
api_v3 = true
security_compliance = false
project_tags = false
application_credentials = false
access_rules = false

[service_available]
nova = false
glance = false
neutron = false
cinder = false
swift = false
placement = false
horizon = false
ironic = false
ironic_inspector = false

[validation]
run_validation = false
EOF

echo "# tempest identity against $URL regex=$REGEX concurrency=$CONCURRENCY"
cd "$TWORK" || exit 1
t0=$(date +%s)
# shellcheck disable=SC2086
tempest run --config-file "$TWORK/etc/tempest.conf" --concurrency "$CONCURRENCY" \
  --regex "$REGEX" ${EXTRA_ARGS:-} > "$TWORK/run.log" 2>&1
rc=$?
t1=$(date +%s)
stestr last --subunit > "$TWORK/results.subunit" 2>/dev/null || true
# per-test outcomes, sorted: "<test id> ok|FAILED|SKIPPED: reason"
grep -E '\.\.\. (ok|FAILED|SKIPPED)' "$TWORK/run.log" \
  | sed -E 's/^\{[0-9]+\} //; s/ \[[0-9.]+s\]//; s/ \.\.\. / /' | sort > "$TWORK/outcomes.txt"
python3 - "$TWORK/run.log" "$((t1 - t0))" "$TWORK/outcomes.txt" > "$TWORK/summary.txt" <<'PY'
import re, sys
log = open(sys.argv[1], errors="replace").read()
def count(key):
    m = re.search(r"^ - %s: (\d+)" % key, log, re.M)
    return int(m.group(1)) if m else 0
passed, failed, skipped = count("Passed"), count("Failed"), count("Skipped")
failed_ids = [l[:-len(" FAILED")] for l in open(sys.argv[3]).read().splitlines()
              if l.endswith(" FAILED")]
print(f"wall {sys.argv[2]} s; tempest output in {sys.argv[1]}")
for t in failed_ids:
    print("FAILED", t)
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
cat "$TWORK/summary.txt"
# "0 tests ran" (bad regex, every class skipped or errored before its
# tests) is a failure too, whatever stestr returned
read -r npass _ nfail _ _ < <(tail -n1 "$TWORK/summary.txt" | tr -d ,)
if [ "$rc" -eq 0 ] && [ $((npass + nfail)) -eq 0 ]; then rc=1; fi
exit "$rc"
