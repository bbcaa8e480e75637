#!/usr/bin/env bash
# Run the ironic-tempest-plugin 3.2.0 API tests (default: every test in
# ironic_tempest_plugin.tests.api.admin) against a RUNNING ironbark, with
# ironbark's own identity service as the Keystone (no other Keystone involved).
#
# Usage: tempest/run-baremetal.sh IDENTITY_URL BAREMETAL_URL [REGEX]
#   e.g. tempest/run-baremetal.sh http://127.0.0.1:5000 http://127.0.0.1:6385
# REGEX (3rd argument or $REGEX) selects tests as `tempest run --regex` does.
#
# Identity: Tempest runs with pre-provisioned credentials (accounts.yaml,
# use_dynamic_credentials=false); during the run it only calls
# POST /v3/auth/tokens.  The plugin's BaseBaremetalTest asks for the
# credentials ['admin', 'system_admin'], so per concurrent worker N this script
# provisions two DIFFERENT users (tempest's preprov provider releases an
# account lock by username/password(/project): one user listed under both
# scopes would leak the system lock and starve later classes):
#   tempest-admin-N     role admin on project admin (project-scoped admin)
#   tempest-sysadmin-N  role admin on the system    (system-scoped admin)
# They are created through ironbark's identity admin API with the `openstack`
# CLI, logged in as the bootstrap admin (user admin, project admin, domain
# Default, password $ADMIN_PASSWORD).  With [enforce_scope] ironic = true (the
# default here, as in Ironic's own gate) the baremetal client uses the
# system-scoped account.
#
# The baremetal client takes its URL from the token catalog (type baremetal,
# interface public, region $REGION); the script refuses to run when that
# endpoint is not BAREMETAL_URL.  The microversion range comes from
# BAREMETAL_URL's `GET /`, the hardware types and console interfaces from
# `GET /v1/drivers?detail=true` (read with the system-admin token).
#
# Baseline: tempest/baremetal-baseline.txt lists the test ids expected to pass
# (one per line, '#' comments).  A baseline test that was selected by this
# run's regex but did not pass is a regression, printed under "REGRESSIONS:".
# UPDATE_BASELINE=1 rewrites the baseline: the ids this run selected are
# replaced by the ones that passed (ids outside the run's selection are kept,
# so a full run rewrites it from scratch and a narrow REGEX only touches its
# own tests).  BASELINE=<file> uses another file; BASELINE= (empty) disables.
#
# Env: IRONBARK_VENV=/tmp/ironbark-venv (made by tempest/setup-venv.sh if absent)
#      TWORK=/tmp/ironbark-tempest-baremetal  ADMIN_PASSWORD=secretadmin
#      TEMPEST_PASSWORD=ironbark-tempest-pw (password of the tempest users)
#      REGION=RegionOne  CONCURRENCY=1  PROVISION=1 (0: users already exist)
#      ENFORCE_SCOPE=true  NEUTRON=true ([service_available] neutron)  MIN_MV / MAX_MV (default: from GET BAREMETAL_URL/)
#      HW_TYPES / CONSOLE_IFACES (comma lists; default: from /v1/drivers)
#      EXCLUDE_REGEX (default: test_graphical_console_connection, which needs a
#      VNC console proxy and container, not just the API; '' runs it)
#      DEBUG=false (true: request/response bodies in $TWORK/tempest.log)
#      UPDATE_BASELINE=0  BASELINE=tempest/baremetal-baseline.txt
#      EXTRA_ARGS (appended to `tempest run`)
# Output: $TWORK/run.log, tempest.log, results.subunit, selected.txt (test ids
#         the regex selected), outcomes.txt (sorted "test_id ok|FAILED|SKIPPED..."
#         lines, comparable with other implementations' lists), summary.txt;
#         the last line printed is "N passed, N failed, N skipped".
#         Exit status non-zero when a test failed, a baseline test regressed,
#         no test ran, or setup (accounts, catalog, drivers) failed.
set -uo pipefail
IDENTITY_URL="${1:?usage: run-baremetal.sh IDENTITY_URL BAREMETAL_URL [REGEX]}"
BAREMETAL_URL="${2:?usage: run-baremetal.sh IDENTITY_URL BAREMETAL_URL [REGEX]}"
IDENTITY_URL="${IDENTITY_URL%/}"; IDENTITY_URL="${IDENTITY_URL%/v3}"
BAREMETAL_URL="${BAREMETAL_URL%/}"; BAREMETAL_URL="${BAREMETAL_URL%/v1}"
REGEX="${3:-${REGEX:-ironic_tempest_plugin\.tests\.api\.admin}}"
HERE="$(cd "$(dirname "$0")" && pwd)"
VENV="${IRONBARK_VENV:-/tmp/ironbark-venv}"
TWORK="${TWORK:-/tmp/ironbark-tempest-baremetal}"
ADMIN_PASSWORD="${ADMIN_PASSWORD:-secretadmin}"
TEMPEST_PASSWORD="${TEMPEST_PASSWORD:-ironbark-tempest-pw}"
REGION="${REGION:-RegionOne}"
CONCURRENCY="${CONCURRENCY:-1}"
ENFORCE_SCOPE="${ENFORCE_SCOPE:-true}"
# true: the network service in the catalog is used (TestNodesVif creates a
# network and a port there and attaches it to a `flat` node)
NEUTRON="${NEUTRON:-true}"
DEBUG="${DEBUG:-false}"
EXCLUDE_REGEX="${EXCLUDE_REGEX-test_graphical_console_connection}"
BASELINE="${BASELINE-$HERE/baremetal-baseline.txt}"
UPDATE_BASELINE="${UPDATE_BASELINE:-0}"

for u in "$IDENTITY_URL" "$BAREMETAL_URL"; do
  case "$u" in
    http://127.*|http://localhost*|http://\[::1\]*) ;;
    *) echo "refusing non-loopback URL $u" >&2; exit 2;;
  esac
done

[ -x "$VENV/bin/tempest" ] || IRONBARK_VENV="$VENV" "$HERE/setup-venv.sh" >/dev/null \
  || { echo "cannot create venv $VENV" >&2; exit 1; }
export PATH="$VENV/bin:$PATH"

code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 "$IDENTITY_URL/v3")
[ "$code" = 200 ] || { echo "identity not ready: GET $IDENTITY_URL/v3 -> $code" >&2; exit 1; }
root_json=$(curl -fsS -m 5 "$BAREMETAL_URL/") \
  || { echo "baremetal not ready: GET $BAREMETAL_URL/ failed" >&2; exit 1; }
read -r SRV_MIN SRV_MAX < <(printf '%s' "$root_json" | python3 -c '
import json, sys
v = json.load(sys.stdin)["default_version"]
print(v.get("min_version") or "1.1", v["version"])') \
  || { echo "cannot read the microversion range from GET $BAREMETAL_URL/" >&2; exit 1; }
MIN_MV="${MIN_MV:-$SRV_MIN}"; MAX_MV="${MAX_MV:-$SRV_MAX}"

# Plain work directory, not a registered `tempest init` workspace
# (~/.tempest/workspace.yaml is global); `tempest run --config-file` writes
# .stestr.conf for this venv itself.
mkdir -p "$TWORK/etc" || exit 1
rm -f "$TWORK/.stestr.conf"
# account locks left behind by a killed run would starve the allocation
rm -rf "$TWORK/locks"; mkdir -p "$TWORK/locks"

# --- accounts ---------------------------------------------------------------
acc="$TWORK/etc/accounts.yaml"
if [ "${PROVISION:-1}" = 1 ]; then
  echo "# provisioning $CONCURRENCY project admin(s) + system admin(s) as admin at $IDENTITY_URL/v3"
  ( export OS_AUTH_URL="$IDENTITY_URL/v3" OS_USERNAME=admin OS_PASSWORD="$ADMIN_PASSWORD" \
      OS_PROJECT_NAME=admin OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default \
      OS_IDENTITY_API_VERSION=3 OS_AUTH_TYPE=password OS_REGION_NAME="$REGION"
    unset OS_CLOUD OS_ENDPOINT OS_TOKEN OS_CLIENT_CONFIG_FILE OS_SYSTEM_SCOPE
    # (set -e does not apply inside a "( … ) || …" list: check each call)
    for i in $(seq 1 "$CONCURRENCY"); do
      for u in "tempest-admin-$i" "tempest-sysadmin-$i"; do
        openstack user create --domain Default --password "$TEMPEST_PASSWORD" \
          --or-show "$u" >/dev/null || exit 1
        # --or-show keeps an existing user's password: set it explicitly
        openstack user set --password "$TEMPEST_PASSWORD" "$u" || exit 1
      done
      openstack role add --project admin --project-domain Default \
        --user "tempest-admin-$i" --user-domain Default admin || exit 1
      openstack role add --system all \
        --user "tempest-sysadmin-$i" --user-domain Default admin || exit 1
    done ) || { echo "account provisioning failed" >&2; exit 1; }
fi
for i in $(seq 1 "$CONCURRENCY"); do
  printf -- "- username: tempest-admin-%s\n  password: '%s'\n  project_name: admin\n  roles: [admin]\n" \
    "$i" "$TEMPEST_PASSWORD"
  # no domain_name here: tempest would take the entry as domain-scoped
  printf -- "- username: tempest-sysadmin-%s\n  password: '%s'\n  system: all\n  roles: [admin]\n" \
    "$i" "$TEMPEST_PASSWORD"
done > "$acc"

# --- preflight: the tokens tempest will ask for, the catalog, the drivers ----
# Prints "HW=<types>" and "CONSOLE=<interfaces>" on success.
pre=$(python3 - "$IDENTITY_URL" "$BAREMETAL_URL" "$REGION" "$TEMPEST_PASSWORD" <<'PY'
import json, sys, urllib.request, urllib.error
ident, bm, region, pw = sys.argv[1:5]

def token(user, scope):
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "password": pw, "domain": {"name": "Default"}}}},
        "scope": scope}}
    req = urllib.request.Request(ident + "/v3/auth/tokens", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.headers["X-Subject-Token"], json.load(r)["token"]
    except urllib.error.HTTPError as e:
        sys.exit(f"token for {user} ({list(scope)[0]} scope): HTTP {e.code} "
                 f"{e.read()[:300]!r}")

def baremetal_url(tok, who):
    for svc in tok.get("catalog") or []:
        if svc.get("type") != "baremetal":
            continue
        for ep in svc.get("endpoints", []):
            if ep.get("interface") == "public" and ep.get("region") in (region, None):
                return ep["url"].rstrip("/")
    sys.exit(f"{who} token: no public baremetal endpoint in region {region} in the catalog")

_, ptok = token("tempest-admin-1", {"project": {"name": "admin", "domain": {"name": "Default"}}})
sid, stok = token("tempest-sysadmin-1", {"system": {"all": True}})
for who, tok in (("project admin", ptok), ("system admin", stok)):
    url = baremetal_url(tok, who)
    if url != bm:
        sys.exit(f"{who} token: catalog baremetal endpoint {url} is not {bm} "
                 "(tempest would test the catalog's endpoint)")

req = urllib.request.Request(bm + "/v1/drivers?detail=true", headers={
    "X-Auth-Token": sid, "X-OpenStack-Ironic-API-Version": "1.31"})
try:
    with urllib.request.urlopen(req, timeout=10) as r:
        drivers = json.load(r).get("drivers", [])
except urllib.error.HTTPError as e:
    sys.exit(f"GET {bm}/v1/drivers?detail=true: HTTP {e.code} {e.read()[:300]!r}")
consoles = set()
for d in drivers:
    consoles.update(d.get("enabled_console_interfaces") or [])
print("HW=" + ",".join(d["name"] for d in drivers))
print("CONSOLE=" + (",".join(sorted(consoles)) or "fake,no-console"))
PY
) || { echo "preflight failed (accounts / catalog / drivers), see above" >&2; exit 1; }
HW_TYPES="${HW_TYPES:-$(printf '%s\n' "$pre" | sed -n 's/^HW=//p')}"
CONSOLE_IFACES="${CONSOLE_IFACES:-$(printf '%s\n' "$pre" | sed -n 's/^CONSOLE=//p')}"
[ -n "$HW_TYPES" ] || { echo "no hardware types from $BAREMETAL_URL/v1/drivers" >&2; exit 1; }

# --- tempest.conf -------------------------------------------------------------
sed -e "s|@TWORK@|$TWORK|g" -e "s|@IDENTITY_URL@|$IDENTITY_URL|g" \
    -e "s|@REGION@|$REGION|g" -e "s|@DEBUG@|$DEBUG|g" \
    -e "s|@ENFORCE_SCOPE@|$ENFORCE_SCOPE|g" -e "s|@MIN_MV@|$MIN_MV|g" \
    -e "s|@MAX_MV@|$MAX_MV|g" -e "s|@HW_TYPES@|$HW_TYPES|g" \
    -e "s|@CONSOLE_IFACES@|$CONSOLE_IFACES|g" -e "s|@NEUTRON@|$NEUTRON|g" \
    "$HERE/baremetal.conf.tmpl" > "$TWORK/etc/tempest.conf" || exit 1
if grep -q '@[A-Z_]*@' "$TWORK/etc/tempest.conf"; then
  echo "unfilled template variable in $TWORK/etc/tempest.conf" >&2; exit 1
fi

cd "$TWORK" || exit 1
echo "# tempest baremetal against $BAREMETAL_URL (identity $IDENTITY_URL) regex=$REGEX" \
     "exclude=${EXCLUDE_REGEX:-none} mv=$MIN_MV..$MAX_MV hw=$HW_TYPES console=$CONSOLE_IFACES" \
     "enforce_scope=$ENFORCE_SCOPE concurrency=$CONCURRENCY"
t0=$(date +%s)
# shellcheck disable=SC2086
tempest run --config-file "$TWORK/etc/tempest.conf" --concurrency "$CONCURRENCY" \
  --regex "$REGEX" ${EXCLUDE_REGEX:+--exclude-regex "$EXCLUDE_REGEX"} ${EXTRA_ARGS:-} \
  > "$TWORK/run.log" 2>&1
rc=$?
t1=$(date +%s)
# the ids this selection covers (tags stripped), for the baseline comparison
# (listed after the run: `--list-tests` needs the stestr repository it made)
# shellcheck disable=SC2086
tempest run --config-file "$TWORK/etc/tempest.conf" --list-tests --regex "$REGEX" \
  ${EXCLUDE_REGEX:+--exclude-regex "$EXCLUDE_REGEX"} 2>/dev/null \
  | grep -E '^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+(\[.*\])?$' \
  | sed -E 's/\[.*\]$//' | sort -u > "$TWORK/selected.txt"

stestr last --subunit > "$TWORK/results.subunit" 2>/dev/null || true
# per-test outcomes, sorted: "<test id> ok|FAILED|SKIPPED: reason"
grep -E '\.\.\. (ok|FAILED|SKIPPED)' "$TWORK/run.log" \
  | sed -E 's/^\{[0-9]+\} //; s/ \[[0-9.]+s\]//; s/ \.\.\. / /' | sort > "$TWORK/outcomes.txt"

python3 "$HERE/summarize.py" "$TWORK/run.log" "$((t1 - t0))" "$TWORK/outcomes.txt" "$TWORK/selected.txt" \
  "$BASELINE" "$UPDATE_BASELINE" 'ironic-tempest-plugin 3.2.0 API tests (tempest 47) expected to PASS
against ironbark; tempest/run-baremetal.sh reports a listed test
that it selected but that did not pass as a regression.
Regenerate: UPDATE_BASELINE=1 tempest/run-baremetal.sh IDENTITY_URL BAREMETAL_URL' > "$TWORK/summary.txt"
regress=$?
cat "$TWORK/summary.txt"
# "0 tests ran" (bad regex, every class skipped or errored before its tests)
# is a failure too, whatever stestr returned
read -r npass _ nfail _ _ < <(tail -n1 "$TWORK/summary.txt" | tr -d ,)
if [ "$rc" -eq 0 ] && [ $((${npass:-0} + ${nfail:-0})) -eq 0 ]; then rc=1; fi
if [ "$rc" -eq 0 ] && [ "$regress" -ne 0 ]; then rc=1; fi
exit "$rc"
