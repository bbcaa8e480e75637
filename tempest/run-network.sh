#!/usr/bin/env bash
# Run the Tempest 47 network API tests (default: every test in
# tempest.api.network, minus the two router tests no flag can skip) against a
# RUNNING ironbark, with ironbark's own identity service as the Keystone (no
# other Keystone involved).  What each test sends and asserts, which tests are
# in scope and why each skip is configured: tempest/network-tests.md.
#
# Usage: tempest/run-network.sh IDENTITY_URL NETWORK_URL [REGEX]
#   e.g. tempest/run-network.sh http://127.0.0.1:5000 http://127.0.0.1:9696
# REGEX (3rd argument or $REGEX) selects tests as `tempest run --regex` does;
# default tempest\.api\.network.
#
# Identity: Tempest runs with pre-provisioned credentials (accounts.yaml,
# use_dynamic_credentials=false); during the run it only calls
# POST /v3/auth/tokens.  The network base classes ask for the credentials
# ['primary', 'project_reader'] (BaseAdminNetworkTest: ['primary', 'admin'];
# FloatingIPAdminTestJSON, skipped here, also 'alt'), so per concurrent worker
# N this script provisions:
#   project tempest-network-N       user tempest-network-member-N  role member
#                                   user tempest-network-reader-N  role reader
#   project tempest-network-alt-N   user tempest-network-alt-N     role member
#   project admin                   user tempest-network-admin-N   role admin
# Tempest's preprov provider takes the reader from the primary's project, and
# the alt account is the first free non-admin account in file order, so
# accounts.yaml lists the alt accounts first.  The users are created through
# ironbark's identity admin API with the `openstack` CLI, logged in as the
# bootstrap admin (user admin, project admin, domain Default, password
# $ADMIN_PASSWORD).
#
# The network clients take their URL from the token catalog (type network,
# interface public, region $REGION) as is and append /v2.0/...; the script
# refuses to run when that endpoint is not NETWORK_URL.  Before `tempest run`
# it needs GET NETWORK_URL/ to answer 200 with a "versions" list (what
# tempest's versions client requires) and warns when GET NETWORK_URL/v2.0/
# fails or when GET /v2.0/extensions lacks an alias of API_EXTENSIONS;
# accounts and tempest.conf are made before that check, so they can be
# inspected without a network service.
#
# Configuration (defaults = the scope of ironbark's network service; every
# value and every skip is justified in tempest/network-tests.md §0):
#   API_EXTENSIONS=security-group,binding,provider,external-net,quotas,net-mtu,
#     standard-attr-description,allowed-address-pairs,ip-substring-filtering,
#     port-security   ([network-feature-enabled] api_extensions: tempest skips
#     every class/test whose alias is missing -- router, metering, dhcp agents,
#     extra_dhcp_opt, tags, subnet pools, service providers, dvr -- and the
#     server must list each alias named here)
#   IPV6=true  IPV6_SUBNET_ATTRIBUTES=false (true: ipv6_ra_mode/address_mode,
#     SLAAC EUI-64 and GET /v2.0/routers needed; +15 tests)  PORT_SECURITY=true
#   [network-feature-enabled] floating_ips=false, [network] public_network_id
#     empty, [service_available] nova=false: fixed in tempest/network.conf.tmpl
#     (no floating IPs, no external router network, no hypervisors).
# Tests no flag can skip are left out with EXCLUDE_REGEX (default
# test_port_list_filter_by_router_id|test_dhcp_stateful_router: both create
# routers, out of scope); EXCLUDE_REGEX='' runs them.
#
# Baseline: tempest/network-baseline.txt lists the test ids expected to pass
# (one per line, '#' comments).  A baseline test that was selected by this
# run's regex but did not pass is a regression, printed under "REGRESSIONS:".
# UPDATE_BASELINE=1 rewrites the baseline: the ids this run selected are
# replaced by the ones that passed (ids outside the run's selection are kept,
# so a full run rewrites it from scratch and a narrow REGEX only touches its
# own tests).  BASELINE=<file> uses another file; BASELINE= (empty) disables.
#
# Env: IRONBARK_VENV=/tmp/ironbark-venv (made by tempest/setup-venv.sh if absent)
#      TWORK=/tmp/ironbark-tempest-network  ADMIN_PASSWORD=secretadmin
#      TEMPEST_PASSWORD=ironbark-tempest-pw (password of the tempest users)
#      REGION=RegionOne  CONCURRENCY=1  PROVISION=1 (0: users already exist)
#      ENFORCE_SCOPE=true ([enforce_scope] neutron: reads go through the
#      reader account; false: through the member account)
#      BUILD_TIMEOUT=60 ([network] build_timeout, seconds per port-deletion wait)
#      API_EXTENSIONS, IPV6, IPV6_SUBNET_ATTRIBUTES, PORT_SECURITY (see above)
#      EXCLUDE_REGEX (see above)
#      DEBUG=false (true: request/response bodies in $TWORK/tempest.log)
#      UPDATE_BASELINE=0  BASELINE=tempest/network-baseline.txt
#      EXTRA_ARGS (appended to `tempest run`)
# Output: $TWORK/run.log, tempest.log, results.subunit, selected.txt (test ids
#         the regex selected), outcomes.txt (sorted "test_id ok|FAILED|SKIPPED..."
#         lines, comparable with other implementations' lists), summary.txt;
#         the last line printed is "N passed, N failed, N skipped".
#         Exit status non-zero when a test failed, a baseline test regressed,
#         no test ran, or setup (accounts, catalog, network service) failed.
set -uo pipefail
IDENTITY_URL="${1:?usage: run-network.sh IDENTITY_URL NETWORK_URL [REGEX]}"
NETWORK_URL="${2:?usage: run-network.sh IDENTITY_URL NETWORK_URL [REGEX]}"
IDENTITY_URL="${IDENTITY_URL%/}"; IDENTITY_URL="${IDENTITY_URL%/v3}"
NETWORK_URL="${NETWORK_URL%/}"; NETWORK_URL="${NETWORK_URL%/v2.0}"
REGEX="${3:-${REGEX:-tempest\.api\.network}}"
HERE="$(cd "$(dirname "$0")" && pwd)"
VENV="${IRONBARK_VENV:-/tmp/ironbark-venv}"
TWORK="${TWORK:-/tmp/ironbark-tempest-network}"
ADMIN_PASSWORD="${ADMIN_PASSWORD:-secretadmin}"
TEMPEST_PASSWORD="${TEMPEST_PASSWORD:-ironbark-tempest-pw}"
REGION="${REGION:-RegionOne}"
CONCURRENCY="${CONCURRENCY:-1}"
ENFORCE_SCOPE="${ENFORCE_SCOPE:-true}"
BUILD_TIMEOUT="${BUILD_TIMEOUT:-60}"
DEBUG="${DEBUG:-false}"
API_EXTENSIONS="${API_EXTENSIONS-security-group,binding,provider,external-net,quotas,net-mtu,standard-attr-description,allowed-address-pairs,ip-substring-filtering,port-security}"
IPV6="${IPV6:-true}"
IPV6_SUBNET_ATTRIBUTES="${IPV6_SUBNET_ATTRIBUTES:-false}"
PORT_SECURITY="${PORT_SECURITY:-true}"
EXCLUDE_REGEX="${EXCLUDE_REGEX-test_port_list_filter_by_router_id|test_dhcp_stateful_router}"
BASELINE="${BASELINE-$HERE/network-baseline.txt}"
UPDATE_BASELINE="${UPDATE_BASELINE:-0}"

for u in "$IDENTITY_URL" "$NETWORK_URL"; do
  case "$u" in
    http://127.*|http://localhost*|http://\[::1\]*) ;;
    *) echo "refusing non-loopback URL $u" >&2; exit 2;;
  esac
done
for v in ENFORCE_SCOPE DEBUG IPV6 IPV6_SUBNET_ATTRIBUTES PORT_SECURITY; do
  case "${!v}" in
    true|false) ;;
    *) echo "$v must be true or false, not '${!v}'" >&2; exit 2;;
  esac
done
case "$CONCURRENCY$BUILD_TIMEOUT" in
  *[!0-9]*) echo "CONCURRENCY and BUILD_TIMEOUT must be positive integers" >&2; exit 2;;
esac
[ "$CONCURRENCY" -ge 1 ] || { echo "CONCURRENCY must be >= 1" >&2; exit 2; }
# a comma-separated list of aliases (tempest: empty = no extension at all,
# "all" = every extension, which would un-skip the router/metering/... tests)
API_EXTENSIONS="$(printf '%s' "$API_EXTENSIONS" | tr -d '[:space:]')"
case "$API_EXTENSIONS" in
  *[!a-z0-9_,:-]*|,*|*,|*,,*)
    echo "API_EXTENSIONS must be a comma-separated list of extension aliases" >&2; exit 2;;
esac

[ -x "$VENV/bin/tempest" ] || IRONBARK_VENV="$VENV" "$HERE/setup-venv.sh" >/dev/null \
  || { echo "cannot create venv $VENV" >&2; exit 1; }
export PATH="$VENV/bin:$PATH"

code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 "$IDENTITY_URL/v3")
[ "$code" = 200 ] || { echo "identity not ready: GET $IDENTITY_URL/v3 -> $code" >&2; exit 1; }

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
  echo "# provisioning $CONCURRENCY x (member + reader, alt member, admin)" \
       "as admin at $IDENTITY_URL/v3"
  ( export OS_AUTH_URL="$IDENTITY_URL/v3" OS_USERNAME=admin OS_PASSWORD="$ADMIN_PASSWORD" \
      OS_PROJECT_NAME=admin OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default \
      OS_IDENTITY_API_VERSION=3 OS_AUTH_TYPE=password OS_REGION_NAME="$REGION"
    unset OS_CLOUD OS_ENDPOINT OS_TOKEN OS_CLIENT_CONFIG_FILE OS_SYSTEM_SCOPE
    # (set -e does not apply inside a "( … ) || …" list: check each call)
    user() {  # user NAME PROJECT ROLE
      openstack user create --domain Default --project "$2" --project-domain Default \
        --password "$TEMPEST_PASSWORD" --or-show "$1" >/dev/null || return 1
      # --or-show keeps an existing user's password: set it explicitly
      openstack user set --password "$TEMPEST_PASSWORD" "$1" || return 1
      openstack role add --project "$2" --project-domain Default \
        --user "$1" --user-domain Default "$3" || return 1
    }
    for i in $(seq 1 "$CONCURRENCY"); do
      for p in "tempest-network-$i" "tempest-network-alt-$i"; do
        openstack project create --domain Default --or-show \
          --description "ironbark tempest network worker $i" "$p" >/dev/null || exit 1
      done
      user "tempest-network-member-$i" "tempest-network-$i" member || exit 1
      user "tempest-network-reader-$i" "tempest-network-$i" reader || exit 1
      user "tempest-network-alt-$i" "tempest-network-alt-$i" member || exit 1
      user "tempest-network-admin-$i" admin admin || exit 1
    done ) || { echo "account provisioning failed" >&2; exit 1; }
fi
{
  # alt accounts first: see the header
  for i in $(seq 1 "$CONCURRENCY"); do
    printf -- "- username: tempest-network-alt-%s\n  password: '%s'\n  project_name: tempest-network-alt-%s\n  roles: [member]\n" \
      "$i" "$TEMPEST_PASSWORD" "$i"
  done
  for i in $(seq 1 "$CONCURRENCY"); do
    for kind in member reader; do
      printf -- "- username: tempest-network-%s-%s\n  password: '%s'\n  project_name: tempest-network-%s\n  roles: [%s]\n" \
        "$kind" "$i" "$TEMPEST_PASSWORD" "$i" "$kind"
    done
  done
  for i in $(seq 1 "$CONCURRENCY"); do
    printf -- "- username: tempest-network-admin-%s\n  password: '%s'\n  project_name: admin\n  roles: [admin]\n" \
      "$i" "$TEMPEST_PASSWORD"
  done
} > "$acc"

# --- preflight: the tokens tempest will ask for and their network endpoint ---
python3 - "$IDENTITY_URL" "$NETWORK_URL" "$REGION" "$TEMPEST_PASSWORD" "$CONCURRENCY" <<'PY' \
  || { echo "preflight failed (accounts / catalog), see above" >&2; exit 1; }
import json, sys, urllib.request, urllib.error
ident, network, region, pw, n = sys.argv[1:6]

def token(user, project):
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "password": pw, "domain": {"name": "Default"}}}},
        "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}}
    req = urllib.request.Request(ident + "/v3/auth/tokens", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)["token"]
    except urllib.error.HTTPError as e:
        sys.exit(f"token for {user} on project {project}: HTTP {e.code} "
                 f"{e.read()[:300]!r}")

def network_url(tok, who):
    for svc in tok.get("catalog") or []:
        if svc.get("type") != "network":
            continue
        for ep in svc.get("endpoints", []):
            if ep.get("interface") == "public" and ep.get("region") in (region, None):
                return ep["url"].rstrip("/")
    sys.exit(f"{who} token: no public network endpoint in region {region} in the catalog")

for i in range(1, int(n) + 1):
    for user, project, role in ((f"tempest-network-member-{i}", f"tempest-network-{i}", "member"),
                                (f"tempest-network-reader-{i}", f"tempest-network-{i}", "reader"),
                                (f"tempest-network-alt-{i}", f"tempest-network-alt-{i}", "member"),
                                (f"tempest-network-admin-{i}", "admin", "admin")):
        tok = token(user, project)
        roles = {r["name"] for r in tok.get("roles", [])}
        if role not in roles:
            sys.exit(f"{user} token on {project} lacks role {role} (has {sorted(roles)})")
        url = network_url(tok, user)
        if url != network:
            sys.exit(f"{user} token: catalog network endpoint {url} is not {network} "
                     "(tempest would test the catalog's endpoint; it uses the URL as is, "
                     "so it must be the unversioned root)")
PY

# --- tempest.conf -------------------------------------------------------------
sed -e "s|@TWORK@|$TWORK|g" -e "s|@IDENTITY_URL@|$IDENTITY_URL|g" \
    -e "s|@REGION@|$REGION|g" -e "s|@DEBUG@|$DEBUG|g" \
    -e "s|@ENFORCE_SCOPE@|$ENFORCE_SCOPE|g" -e "s|@BUILD_TIMEOUT@|$BUILD_TIMEOUT|g" \
    -e "s|@API_EXTENSIONS@|$API_EXTENSIONS|g" -e "s|@IPV6@|$IPV6|g" \
    -e "s|@IPV6_SUBNET_ATTRIBUTES@|$IPV6_SUBNET_ATTRIBUTES|g" \
    -e "s|@PORT_SECURITY@|$PORT_SECURITY|g" \
    "$HERE/network.conf.tmpl" > "$TWORK/etc/tempest.conf" || exit 1
if grep -q '@[A-Z_]*@' "$TWORK/etc/tempest.conf"; then
  echo "unfilled template variable in $TWORK/etc/tempest.conf" >&2; exit 1
fi
echo "# accounts in $acc, tempest.conf in $TWORK/etc/tempest.conf"

# --- the network service itself ----------------------------------------------
# tempest's versions client: GET <catalog url>/ -> 200 {"versions": [...]}
code=$(curl -s -o "$TWORK/versions.json" -w '%{http_code}' -m 5 \
  -H 'Accept: application/json' "$NETWORK_URL/")
if [ "$code" != 200 ] || ! python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if isinstance(d, dict) and isinstance(d.get("versions"), list) else 1)' \
    "$TWORK/versions.json" 2>/dev/null; then
  echo "network service not ready: GET $NETWORK_URL/ -> ${code/#000/no answer}" \
       "(expected 200 with a \"versions\" list; is ironbark's network service" \
       "listening on that port (IRONBARK_NETWORK_PORT)?)" >&2
  exit 1
fi
# What decides whether whole classes can pass beyond the flags: the version
# document, GET /v2.0/, the extension list.  Prints one line; warns (stderr).
netinfo=$(python3 - "$IDENTITY_URL" "$NETWORK_URL" "$TEMPEST_PASSWORD" "$API_EXTENSIONS" <<'PY'
import json, sys, urllib.request, urllib.error
ident, network, pw, wanted = sys.argv[1:5]
req = urllib.request.Request(ident + "/v3/auth/tokens", json.dumps({"auth": {
    "identity": {"methods": ["password"], "password": {"user": {
        "name": "tempest-network-member-1", "password": pw, "domain": {"name": "Default"}}}},
    "scope": {"project": {"name": "tempest-network-1", "domain": {"name": "Default"}}}}}).encode(),
    {"Content-Type": "application/json"})
with urllib.request.urlopen(req, timeout=10) as r:
    tok = r.headers["X-Subject-Token"]
def get(url):
    req = urllib.request.Request(url, headers={"Accept": "application/json",
                                               "X-Auth-Token": tok})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
status, body = get(network + "/")
versions = []
try:
    doc = json.loads(body)
    versions = [v.get("id") for v in doc["versions"]]
    if set(doc) != {"versions"} or versions != ["v2.0"]:
        print("warning: GET / should be exactly {\"versions\": [{\"id\": \"v2.0\", ...}]}"
              f" (test_api_version_resources), got keys {sorted(doc)} ids {versions}",
              file=sys.stderr)
except Exception as e:
    print(f"warning: GET {network}/ body unreadable: {e}", file=sys.stderr)
status, body = get(network + "/v2.0/")
if status != 200:
    print(f"warning: GET {network}/v2.0/ -> {status} (test_show_api_v2_details)",
          file=sys.stderr)
status, body = get(network + "/v2.0/extensions")
have = []
if status == 200:
    try:
        have = sorted(e["alias"] for e in json.loads(body)["extensions"])
    except Exception as e:
        print(f"warning: GET /v2.0/extensions body unreadable: {e}", file=sys.stderr)
else:
    print(f"warning: GET {network}/v2.0/extensions -> {status}", file=sys.stderr)
missing = [a for a in wanted.split(",") if a and a not in have]
if missing:
    print("warning: API_EXTENSIONS names aliases the server does not list: "
          + ",".join(missing) + " (their tests will run and fail)", file=sys.stderr)
print(f"versions={','.join(map(str, versions)) or 'none'} extensions={len(have)}"
      f" missing-from-server={','.join(missing) or 'none'}")
PY
) || { echo "cannot query the network service at $NETWORK_URL, see above" >&2; exit 1; }

cd "$TWORK" || exit 1
echo "# tempest network against $NETWORK_URL (identity $IDENTITY_URL) regex=$REGEX" \
     "exclude=${EXCLUDE_REGEX:-none} enforce_scope=$ENFORCE_SCOPE concurrency=$CONCURRENCY"
echo "# flags: api_extensions=${API_EXTENSIONS:-none} ipv6=$IPV6" \
     "ipv6_subnet_attributes=$IPV6_SUBNET_ATTRIBUTES port_security=$PORT_SECURITY" \
     "floating_ips=false public_network_id=''"
echo "# server: $netinfo"
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
  "$BASELINE" "$UPDATE_BASELINE" 'Tempest 47 network API tests (tempest.api.network) expected to PASS
against ironbark'\''s network service with tempest/run-network.sh'\''s
default flags; run-network.sh reports a listed test that it selected
but that did not pass as a regression.  What each test needs:
tempest/network-tests.md
Regenerate: UPDATE_BASELINE=1 tempest/run-network.sh IDENTITY_URL NETWORK_URL' > "$TWORK/summary.txt"
regress=$?
cat "$TWORK/summary.txt"
# "0 tests ran" (bad regex, every class skipped or errored before its tests)
# is a failure too, whatever stestr returned
read -r npass _ nfail _ _ < <(tail -n1 "$TWORK/summary.txt" | tr -d ,)
if [ "$rc" -eq 0 ] && [ $((${npass:-0} + ${nfail:-0})) -eq 0 ]; then rc=1; fi
if [ "$rc" -eq 0 ] && [ "$regress" -ne 0 ]; then rc=1; fi
exit "$rc"
