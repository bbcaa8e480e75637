#!/usr/bin/env bash
# Run the Tempest 47 image v2 API tests (default: every test in
# tempest.api.image.v2 except the metadefs ones) against a RUNNING ironbark,
# with ironbark's own identity service as the Keystone (no other Keystone
# involved).  What each test sends and asserts: tempest/image-tests.md.
#
# Usage: tempest/run-image.sh IDENTITY_URL IMAGE_URL [REGEX]
#   e.g. tempest/run-image.sh http://127.0.0.1:5000 http://127.0.0.1:9292
# REGEX (3rd argument or $REGEX) selects tests as `tempest run --regex` does;
# default tempest\.api\.image\.v2.
#
# Identity: Tempest runs with pre-provisioned credentials (accounts.yaml,
# use_dynamic_credentials=false); during the run it only calls
# POST /v3/auth/tokens.  The image base classes ask for the credentials
# ['primary', 'project_reader'] (plus 'alt' in the member/sharing classes,
# 'admin' in the admin classes), so per concurrent worker N this script
# provisions:
#   project tempest-image-N       user tempest-image-member-N  role member
#                                 user tempest-image-reader-N  role reader
#   project tempest-image-alt-N   user tempest-image-alt-N     role member
#   project admin                 user tempest-image-admin-N   role admin
# Tempest's preprov provider takes the reader from the primary's project, and
# the alt account is the first free non-admin account in file order, so
# accounts.yaml lists the alt accounts first (an alt taken from the primary's
# own project would share images with itself).  The users are created
# through ironbark's identity admin API with the `openstack` CLI, logged in as
# the bootstrap admin (user admin, project admin, domain Default, password
# $ADMIN_PASSWORD).
#
# The image clients take their URL from the token catalog (type image,
# interface public, region $REGION) and append /v2; the script refuses to run
# when that endpoint is not IMAGE_URL.  Before `tempest run` it needs
# GET IMAGE_URL/versions to answer 200 (and warns when GET IMAGE_URL/ is not
# the 300 tempest's versions client requires); accounts and tempest.conf are
# made before that check, so they can be inspected without an image service.
#
# Features (the [image-feature-enabled] flags; defaults = what ironbark's image
# service implements: single store, glance-direct import via stage + import,
# no web-download / copy-image / glance-download, no locations API, no cache,
# no tasks API, no metadefs, no format inspection):
#   IMPORT_IMAGE=true  OS_GLANCE_RESERVED=true  MANAGE_LOCATIONS=false
#   IMAGE_CONVERSION=false  IMAGE_FORMAT_ENFORCEMENT=false  DO_SECURE_HASH=true
#   HTTP_STORE_ENABLED=false  STORE_WEIGHT_ENABLED=false  IMAGE_CACHING=false
#   HTTP_IMAGE='' (non-empty: a URL; enables ImageTaskCreate, POST /v2/tasks)
# Metadefs have no flag in tempest: EXCLUDE_REGEX (default
# test_images_metadefs, the 10 schema + 8 admin metadefs tests) keeps them
# out; EXCLUDE_REGEX='' runs them.
#
# Baseline: tempest/image-baseline.txt lists the test ids expected to pass
# (one per line, '#' comments).  A baseline test that was selected by this
# run's regex but did not pass is a regression, printed under "REGRESSIONS:".
# UPDATE_BASELINE=1 rewrites the baseline: the ids this run selected are
# replaced by the ones that passed (ids outside the run's selection are kept,
# so a full run rewrites it from scratch and a narrow REGEX only touches its
# own tests).  BASELINE=<file> uses another file; BASELINE= (empty) disables.
#
# Env: IRONBARK_VENV=/tmp/ironbark-venv (made by tempest/setup-venv.sh if absent)
#      TWORK=/tmp/ironbark-tempest-image  ADMIN_PASSWORD=secretadmin
#      TEMPEST_PASSWORD=ironbark-tempest-pw (password of the tempest users)
#      REGION=RegionOne  CONCURRENCY=1  PROVISION=1 (0: users already exist)
#      ENFORCE_SCOPE=true ([enforce_scope] glance: reads go through the
#      reader account; false: through the member account)
#      BUILD_TIMEOUT=60 ([image] build_timeout, seconds per wait)
#      the feature flags above; EXCLUDE_REGEX (see above)
#      DEBUG=false (true: request/response bodies in $TWORK/tempest.log)
#      UPDATE_BASELINE=0  BASELINE=tempest/image-baseline.txt
#      EXTRA_ARGS (appended to `tempest run`)
# Output: $TWORK/run.log, tempest.log, results.subunit, selected.txt (test ids
#         the regex selected), outcomes.txt (sorted "test_id ok|FAILED|SKIPPED..."
#         lines, comparable with other implementations' lists), summary.txt;
#         the last line printed is "N passed, N failed, N skipped".
#         Exit status non-zero when a test failed, a baseline test regressed,
#         no test ran, or setup (accounts, catalog, image service) failed.
set -uo pipefail
IDENTITY_URL="${1:?usage: run-image.sh IDENTITY_URL IMAGE_URL [REGEX]}"
IMAGE_URL="${2:?usage: run-image.sh IDENTITY_URL IMAGE_URL [REGEX]}"
IDENTITY_URL="${IDENTITY_URL%/}"; IDENTITY_URL="${IDENTITY_URL%/v3}"
IMAGE_URL="${IMAGE_URL%/}"; IMAGE_URL="${IMAGE_URL%/v2}"
REGEX="${3:-${REGEX:-tempest\.api\.image\.v2}}"
HERE="$(cd "$(dirname "$0")" && pwd)"
VENV="${IRONBARK_VENV:-/tmp/ironbark-venv}"
TWORK="${TWORK:-/tmp/ironbark-tempest-image}"
ADMIN_PASSWORD="${ADMIN_PASSWORD:-secretadmin}"
TEMPEST_PASSWORD="${TEMPEST_PASSWORD:-ironbark-tempest-pw}"
REGION="${REGION:-RegionOne}"
CONCURRENCY="${CONCURRENCY:-1}"
ENFORCE_SCOPE="${ENFORCE_SCOPE:-true}"
BUILD_TIMEOUT="${BUILD_TIMEOUT:-60}"
DEBUG="${DEBUG:-false}"
IMPORT_IMAGE="${IMPORT_IMAGE:-true}"
OS_GLANCE_RESERVED="${OS_GLANCE_RESERVED:-true}"
MANAGE_LOCATIONS="${MANAGE_LOCATIONS:-false}"
IMAGE_CONVERSION="${IMAGE_CONVERSION:-false}"
IMAGE_FORMAT_ENFORCEMENT="${IMAGE_FORMAT_ENFORCEMENT:-false}"
DO_SECURE_HASH="${DO_SECURE_HASH:-true}"
HTTP_STORE_ENABLED="${HTTP_STORE_ENABLED:-false}"
STORE_WEIGHT_ENABLED="${STORE_WEIGHT_ENABLED:-false}"
IMAGE_CACHING="${IMAGE_CACHING:-false}"
HTTP_IMAGE="${HTTP_IMAGE:-}"
EXCLUDE_REGEX="${EXCLUDE_REGEX-test_images_metadefs}"
BASELINE="${BASELINE-$HERE/image-baseline.txt}"
UPDATE_BASELINE="${UPDATE_BASELINE:-0}"

for u in "$IDENTITY_URL" "$IMAGE_URL"; do
  case "$u" in
    http://127.*|http://localhost*|http://\[::1\]*) ;;
    *) echo "refusing non-loopback URL $u" >&2; exit 2;;
  esac
done
for v in ENFORCE_SCOPE DEBUG IMPORT_IMAGE OS_GLANCE_RESERVED MANAGE_LOCATIONS \
         IMAGE_CONVERSION IMAGE_FORMAT_ENFORCEMENT DO_SECURE_HASH \
         HTTP_STORE_ENABLED STORE_WEIGHT_ENABLED IMAGE_CACHING; do
  case "${!v}" in
    true|false) ;;
    *) echo "$v must be true or false, not '${!v}'" >&2; exit 2;;
  esac
done
case "$CONCURRENCY$BUILD_TIMEOUT" in
  *[!0-9]*) echo "CONCURRENCY and BUILD_TIMEOUT must be positive integers" >&2; exit 2;;
esac
[ "$CONCURRENCY" -ge 1 ] || { echo "CONCURRENCY must be >= 1" >&2; exit 2; }
case "$HTTP_IMAGE" in
  *'|'*|*[[:space:]]*) echo "HTTP_IMAGE must be a plain URL" >&2; exit 2;;
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
      for p in "tempest-image-$i" "tempest-image-alt-$i"; do
        openstack project create --domain Default --or-show \
          --description "ironbark tempest image worker $i" "$p" >/dev/null || exit 1
      done
      user "tempest-image-member-$i" "tempest-image-$i" member || exit 1
      user "tempest-image-reader-$i" "tempest-image-$i" reader || exit 1
      user "tempest-image-alt-$i" "tempest-image-alt-$i" member || exit 1
      user "tempest-image-admin-$i" admin admin || exit 1
    done ) || { echo "account provisioning failed" >&2; exit 1; }
fi
{
  # alt accounts first: see the header
  for i in $(seq 1 "$CONCURRENCY"); do
    printf -- "- username: tempest-image-alt-%s\n  password: '%s'\n  project_name: tempest-image-alt-%s\n  roles: [member]\n" \
      "$i" "$TEMPEST_PASSWORD" "$i"
  done
  for i in $(seq 1 "$CONCURRENCY"); do
    for kind in member reader; do
      printf -- "- username: tempest-image-%s-%s\n  password: '%s'\n  project_name: tempest-image-%s\n  roles: [%s]\n" \
        "$kind" "$i" "$TEMPEST_PASSWORD" "$i" "$kind"
    done
  done
  for i in $(seq 1 "$CONCURRENCY"); do
    printf -- "- username: tempest-image-admin-%s\n  password: '%s'\n  project_name: admin\n  roles: [admin]\n" \
      "$i" "$TEMPEST_PASSWORD"
  done
} > "$acc"

# --- preflight: the tokens tempest will ask for and their image endpoint -----
python3 - "$IDENTITY_URL" "$IMAGE_URL" "$REGION" "$TEMPEST_PASSWORD" "$CONCURRENCY" <<'PY' \
  || { echo "preflight failed (accounts / catalog), see above" >&2; exit 1; }
import json, sys, urllib.request, urllib.error
ident, image, region, pw, n = sys.argv[1:6]

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

def image_url(tok, who):
    for svc in tok.get("catalog") or []:
        if svc.get("type") != "image":
            continue
        for ep in svc.get("endpoints", []):
            if ep.get("interface") == "public" and ep.get("region") in (region, None):
                return ep["url"].rstrip("/")
    sys.exit(f"{who} token: no public image endpoint in region {region} in the catalog")

for i in range(1, int(n) + 1):
    for user, project, role in ((f"tempest-image-member-{i}", f"tempest-image-{i}", "member"),
                                (f"tempest-image-reader-{i}", f"tempest-image-{i}", "reader"),
                                (f"tempest-image-alt-{i}", f"tempest-image-alt-{i}", "member"),
                                (f"tempest-image-admin-{i}", "admin", "admin")):
        tok = token(user, project)
        roles = {r["name"] for r in tok.get("roles", [])}
        if role not in roles:
            sys.exit(f"{user} token on {project} lacks role {role} (has {sorted(roles)})")
        url = image_url(tok, user)
        if url != image:
            sys.exit(f"{user} token: catalog image endpoint {url} is not {image} "
                     "(tempest would test the catalog's endpoint)")
PY

# --- tempest.conf -------------------------------------------------------------
sed -e "s|@TWORK@|$TWORK|g" -e "s|@IDENTITY_URL@|$IDENTITY_URL|g" \
    -e "s|@REGION@|$REGION|g" -e "s|@DEBUG@|$DEBUG|g" \
    -e "s|@ENFORCE_SCOPE@|$ENFORCE_SCOPE|g" -e "s|@BUILD_TIMEOUT@|$BUILD_TIMEOUT|g" \
    -e "s|@HTTP_IMAGE@|$HTTP_IMAGE|g" -e "s|@IMAGE_CACHING@|$IMAGE_CACHING|g" \
    -e "s|@IMPORT_IMAGE@|$IMPORT_IMAGE|g" -e "s|@OS_GLANCE_RESERVED@|$OS_GLANCE_RESERVED|g" \
    -e "s|@MANAGE_LOCATIONS@|$MANAGE_LOCATIONS|g" \
    -e "s|@IMAGE_CONVERSION@|$IMAGE_CONVERSION|g" \
    -e "s|@IMAGE_FORMAT_ENFORCEMENT@|$IMAGE_FORMAT_ENFORCEMENT|g" \
    -e "s|@DO_SECURE_HASH@|$DO_SECURE_HASH|g" \
    -e "s|@HTTP_STORE_ENABLED@|$HTTP_STORE_ENABLED|g" \
    -e "s|@STORE_WEIGHT_ENABLED@|$STORE_WEIGHT_ENABLED|g" \
    "$HERE/image.conf.tmpl" > "$TWORK/etc/tempest.conf" || exit 1
if grep -q '@[A-Z_]*@' "$TWORK/etc/tempest.conf"; then
  echo "unfilled template variable in $TWORK/etc/tempest.conf" >&2; exit 1
fi
echo "# accounts in $acc, tempest.conf in $TWORK/etc/tempest.conf"

# --- the image service itself --------------------------------------------------
code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 "$IMAGE_URL/versions")
if [ "$code" != 200 ]; then
  echo "image service not ready: GET $IMAGE_URL/versions -> ${code/#000/no answer}" \
       "(expected 200; is ironbark's image service listening on that port?)" >&2
  exit 1
fi
# What decides which tests run beyond the flags: versions, import methods,
# stores.  Prints one line; warns (stderr) about what would break whole classes.
imginfo=$(python3 - "$IDENTITY_URL" "$IMAGE_URL" "$TEMPEST_PASSWORD" <<'PY'
import json, sys, urllib.request, urllib.error
ident, image, pw = sys.argv[1:4]
def get(url, tok=None):
    req = urllib.request.Request(url, headers={"Accept": "application/json",
                                               **({"X-Auth-Token": tok} if tok else {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
status, body = get(image + "/")
if status != 300:
    print(f"warning: GET {image}/ -> {status}, tempest's versions client requires 300 "
          "(test_list_versions and every class calling has_version() fail)", file=sys.stderr)
try:
    vs = {v["id"]: v.get("status") for v in json.loads(get(image + "/versions")[1])["versions"]}
except Exception as e:
    vs = {}
    print(f"warning: GET {image}/versions body is not a versions document: {e}", file=sys.stderr)
sup = lambda v: vs.get(v) in ("CURRENT", "SUPPORTED")
req = urllib.request.Request(ident + "/v3/auth/tokens", json.dumps({"auth": {
    "identity": {"methods": ["password"], "password": {"user": {
        "name": "tempest-image-member-1", "password": pw, "domain": {"name": "Default"}}}},
    "scope": {"project": {"name": "tempest-image-1", "domain": {"name": "Default"}}}}}).encode(),
    {"Content-Type": "application/json"})
with urllib.request.urlopen(req, timeout=10) as r:
    tok = r.headers["X-Subject-Token"]
status, body = get(image + "/v2/info/import", tok)
try:
    methods = ",".join(json.loads(body)["import-methods"]["value"]) if status == 200 else f"HTTP {status}"
except Exception:
    methods = "unreadable"
status, body = get(image + "/v2/info/stores", tok)
if status == 404:
    stores = "single store (404)"
else:
    try:
        stores = ",".join(s["id"] for s in json.loads(body)["stores"])
    except Exception:
        stores = f"HTTP {status}, unreadable"
print(f"versions={len(vs)} tasks-api(v2.12)={'yes' if sup('v2.12') else 'no'}"
      f" locations-api(v2.17)={'yes' if sup('v2.17') else 'no'}"
      f" import-methods={methods or 'none'} stores={stores}")
PY
) || { echo "cannot query the image service at $IMAGE_URL, see above" >&2; exit 1; }

cd "$TWORK" || exit 1
echo "# tempest image against $IMAGE_URL (identity $IDENTITY_URL) regex=$REGEX" \
     "exclude=${EXCLUDE_REGEX:-none} enforce_scope=$ENFORCE_SCOPE concurrency=$CONCURRENCY"
echo "# flags: import_image=$IMPORT_IMAGE os_glance_reserved=$OS_GLANCE_RESERVED" \
     "manage_locations=$MANAGE_LOCATIONS image_conversion=$IMAGE_CONVERSION" \
     "image_format_enforcement=$IMAGE_FORMAT_ENFORCEMENT do_secure_hash=$DO_SECURE_HASH" \
     "http_store_enabled=$HTTP_STORE_ENABLED store_weight_enabled=$STORE_WEIGHT_ENABLED" \
     "image_caching=$IMAGE_CACHING http_image=${HTTP_IMAGE:-none}"
echo "# server: $imginfo"
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
  "$BASELINE" "$UPDATE_BASELINE" 'Tempest 47 image v2 API tests (tempest.api.image.v2) expected to PASS
against ironbark'\''s image service with tempest/run-image.sh'\''s default
flags; run-image.sh reports a listed test that it selected but that
did not pass as a regression.  What each test needs: tempest/image-tests.md
Regenerate: UPDATE_BASELINE=1 tempest/run-image.sh IDENTITY_URL IMAGE_URL' > "$TWORK/summary.txt"
regress=$?
cat "$TWORK/summary.txt"
# "0 tests ran" (bad regex, every class skipped or errored before its tests)
# is a failure too, whatever stestr returned
read -r npass _ nfail _ _ < <(tail -n1 "$TWORK/summary.txt" | tr -d ,)
if [ "$rc" -eq 0 ] && [ $((${npass:-0} + ${nfail:-0})) -eq 0 ]; then rc=1; fi
if [ "$rc" -eq 0 ] && [ "$regress" -ne 0 ]; then rc=1; fi
exit "$rc"
