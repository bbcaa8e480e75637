#!/usr/bin/env bash
# Run the Tempest 47 compute API tests on flavors and keypairs against a
# RUNNING ironbark, with ironbark's own identity service as the Keystone.
# What each test sends and asserts: tempest/compute-tests.md.
#
# Usage: tempest/run-compute.sh IDENTITY_URL COMPUTE_URL [REGEX]
#   e.g. tempest/run-compute.sh http://127.0.0.1:5000 http://127.0.0.1:8774
# REGEX (3rd argument or $REGEX) selects tests as `tempest run --regex` does;
# default: tempest.api.compute.flavors, tempest.api.compute.admin.test_flavors*,
# tempest.api.compute.keypairs and tempest.api.compute.admin.test_keypairs_v210.
#
# Identity: pre-provisioned credentials (accounts.yaml,
# use_dynamic_credentials=false). The compute classes ask for ['primary',
# 'project_reader'] plus 'admin' (admin classes) and 'alt'
# (FlavorsAdminNegativeTestJSON), so per concurrent worker N this script makes,
# through ironbark's identity admin API (as the bootstrap admin, password
# $ADMIN_PASSWORD):
#   project tempest-compute-N      user tempest-compute-member-N  role member
#                                  user tempest-compute-reader-N  role reader
#   project tempest-compute-alt-N  user tempest-compute-alt-N     role member
#   project admin                  user tempest-compute-admin-N   role admin
# accounts.yaml lists the alt accounts first (tempest takes the first free
# non-admin account as alt).
#
# Resources tempest needs ([compute] image_ref, flavor_ref, flavor_ref_alt):
# a public raw image "tempest-compute-image" with 4 KiB of data (image API,
# found through the catalog) and the public flavors "tempest-compute-flavor"
# (1 vCPU, 512 MiB, 1 GB) and "tempest-compute-flavor-alt" (1 vCPU, 1024 MiB,
# 2 GB) made through the compute API; existing ones are reused.
#
# Baseline: tempest/compute-baseline.txt lists the test ids expected to pass;
# a baseline test that was selected but did not pass is a regression, printed
# under "REGRESSIONS:". UPDATE_BASELINE=1 rewrites it (ids outside the run's
# selection are kept). BASELINE=<file> uses another file; BASELINE= disables.
#
# Env: IRONBARK_VENV=/tmp/ironbark-venv (made by tempest/setup-venv.sh if absent)
#      TWORK=/tmp/ironbark-tempest-compute  ADMIN_PASSWORD=secretadmin
#      TEMPEST_PASSWORD=ironbark-tempest-pw  REGION=RegionOne  CONCURRENCY=2
#      ENFORCE_SCOPE=true  MAX_MICROVERSION=latest  BUILD_TIMEOUT=60
#      DEBUG=false  UPDATE_BASELINE=0  BASELINE=tempest/compute-baseline.txt
#      EXCLUDE_REGEX (default: none)  EXTRA_ARGS (appended to `tempest run`)
# Output: $TWORK/run.log, tempest.log, outcomes.txt, selected.txt, summary.txt;
#         the last line printed is "N passed, N failed, N skipped".
#         Exit status non-zero when a test failed, a baseline test regressed,
#         no test ran, or setup failed.
set -uo pipefail
IDENTITY_URL="${1:?usage: run-compute.sh IDENTITY_URL COMPUTE_URL [REGEX]}"
COMPUTE_URL="${2:?usage: run-compute.sh IDENTITY_URL COMPUTE_URL [REGEX]}"
IDENTITY_URL="${IDENTITY_URL%/}"; IDENTITY_URL="${IDENTITY_URL%/v3}"
COMPUTE_URL="${COMPUTE_URL%/}"; COMPUTE_URL="${COMPUTE_URL%/v2.1}"
DEFAULT_REGEX='^tempest\.api\.compute\.(flavors\.|admin\.test_flavors|keypairs\.|admin\.test_keypairs_v210)'
REGEX="${3:-${REGEX:-$DEFAULT_REGEX}}"
HERE="$(cd "$(dirname "$0")" && pwd)"
VENV="${IRONBARK_VENV:-/tmp/ironbark-venv}"
TWORK="${TWORK:-/tmp/ironbark-tempest-compute}"
ADMIN_PASSWORD="${ADMIN_PASSWORD:-secretadmin}"
TEMPEST_PASSWORD="${TEMPEST_PASSWORD:-ironbark-tempest-pw}"
REGION="${REGION:-RegionOne}"
CONCURRENCY="${CONCURRENCY:-2}"
ENFORCE_SCOPE="${ENFORCE_SCOPE:-true}"
MAX_MICROVERSION="${MAX_MICROVERSION:-latest}"
BUILD_TIMEOUT="${BUILD_TIMEOUT:-60}"
DEBUG="${DEBUG:-false}"
EXCLUDE_REGEX="${EXCLUDE_REGEX-}"
BASELINE="${BASELINE-$HERE/compute-baseline.txt}"
UPDATE_BASELINE="${UPDATE_BASELINE:-0}"

for u in "$IDENTITY_URL" "$COMPUTE_URL"; do
  case "$u" in
    http://127.*|http://localhost*|http://\[::1\]*) ;;
    *) echo "refusing non-loopback URL $u" >&2; exit 2;;
  esac
done
for v in ENFORCE_SCOPE DEBUG; do
  case "${!v}" in true|false) ;; *) echo "$v must be true or false, not '${!v}'" >&2; exit 2;; esac
done
case "$CONCURRENCY$BUILD_TIMEOUT" in
  *[!0-9]*) echo "CONCURRENCY and BUILD_TIMEOUT must be positive integers" >&2; exit 2;;
esac
[ "$CONCURRENCY" -ge 1 ] || { echo "CONCURRENCY must be >= 1" >&2; exit 2; }

[ -x "$VENV/bin/tempest" ] || IRONBARK_VENV="$VENV" "$HERE/setup-venv.sh" >/dev/null \
  || { echo "cannot create venv $VENV" >&2; exit 1; }
export PATH="$VENV/bin:$PATH"

code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 "$IDENTITY_URL/v3")
[ "$code" = 200 ] || { echo "identity not ready: GET $IDENTITY_URL/v3 -> $code" >&2; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 "$COMPUTE_URL/v2.1")
[ "$code" = 200 ] || { echo "compute not ready: GET $COMPUTE_URL/v2.1 -> ${code/#000/no answer}" >&2; exit 1; }

mkdir -p "$TWORK/etc" || exit 1
rm -f "$TWORK/.stestr.conf"
rm -rf "$TWORK/locks"; mkdir -p "$TWORK/locks"

# --- accounts, image, flavors (REST, as the bootstrap admin) -------------------
# prints "IMAGE_REF FLAVOR_REF FLAVOR_REF_ALT"
refs=$(python3 - "$IDENTITY_URL" "$COMPUTE_URL" "$REGION" "$ADMIN_PASSWORD" "$TEMPEST_PASSWORD" \
  "$CONCURRENCY" "${PROVISION:-1}" <<'PY'
import json, os, sys, urllib.error, urllib.parse, urllib.request
ident, compute, region, admin_pw, pw, n, provision = sys.argv[1:8]
n = int(n)

def call(method, url, token=None, body=None, headers=None, raw=None):
    h = {"Accept": "application/json", **(headers or {})}
    data = None
    if body is not None:
        data = json.dumps(body).encode(); h["Content-Type"] = "application/json"
    if raw is not None:
        data = raw; h["Content-Type"] = "application/octet-stream"
    if token:
        h["X-Auth-Token"] = token
    req = urllib.request.Request(url, data, h, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read()
            return r.status, r.headers, (json.loads(text) if text.strip() else None)
    except urllib.error.HTTPError as e:
        sys.exit(f"{method} {url}: HTTP {e.code} {e.read()[:300]!r}")

def token(user, password, project):
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "password": password, "domain": {"name": "Default"}}}},
        "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}}
    _, h, b = call("POST", ident + "/v3/auth/tokens", body=body)
    return h["X-Subject-Token"], b["token"]

def endpoint(tok, kind):
    for svc in tok.get("catalog") or []:
        if svc.get("type") == kind:
            for ep in svc.get("endpoints", []):
                if ep.get("interface") == "public" and ep.get("region") in (region, None):
                    return ep["url"].rstrip("/")
    sys.exit(f"no public {kind} endpoint in region {region} in the catalog")

admin, admin_body = token("admin", admin_pw, "admin")
q = urllib.parse.quote
def find(collection, name):
    _, _, b = call("GET", f"{ident}/v3/{collection}?name={q(name)}", admin)
    return b[collection][0]["id"] if b[collection] else None

accounts = []
if provision == "1":
    roles = {r: find("roles", r) for r in ("member", "reader", "admin")}
    def project(name):
        return find("projects", name) or call("POST", ident + "/v3/projects", admin,
            {"project": {"name": name, "domain_id": "default",
                         "description": "ironbark tempest compute"}})[2]["project"]["id"]
    def user(name, pid, role):
        uid = find("users", name)
        if uid:
            call("PATCH", f"{ident}/v3/users/{uid}", admin, {"user": {"password": pw}})
        else:
            uid = call("POST", ident + "/v3/users", admin, {"user": {
                "name": name, "domain_id": "default", "password": pw,
                "default_project_id": pid}})[2]["user"]["id"]
        call("PUT", f"{ident}/v3/projects/{pid}/users/{uid}/roles/{roles[role]}", admin)
    admin_pid = find("projects", "admin")
    for i in range(1, n + 1):
        p, alt = project(f"tempest-compute-{i}"), project(f"tempest-compute-alt-{i}")
        user(f"tempest-compute-member-{i}", p, "member")
        user(f"tempest-compute-reader-{i}", p, "reader")
        user(f"tempest-compute-alt-{i}", alt, "member")
        user(f"tempest-compute-admin-{i}", admin_pid, "admin")

# the catalog must name the compute URL given to this script
for i in range(1, n + 1):
    _, tok = token(f"tempest-compute-member-{i}", pw, f"tempest-compute-{i}")
    url = endpoint(tok, "compute")
    if url != compute + "/v2.1":
        sys.exit(f"catalog compute endpoint {url} is not {compute}/v2.1")

image = endpoint(admin_body, "image")
_, _, b = call("GET", f"{image}/v2/images?name=tempest-compute-image", admin)
if b["images"]:
    image_id = b["images"][0]["id"]
else:
    _, _, img = call("POST", image + "/v2/images", admin, {"name": "tempest-compute-image",
        "container_format": "bare", "disk_format": "raw", "visibility": "public"})
    image_id = img["id"]
    call("PUT", f"{image}/v2/images/{image_id}/file", admin, raw=os.urandom(4096))

nova = compute + "/v2.1"
_, _, b = call("GET", nova + "/flavors/detail?is_public=None", admin)
have = {f["name"]: f["id"] for f in b["flavors"]}
refs = []
for name, ram, disk in (("tempest-compute-flavor", 512, 1), ("tempest-compute-flavor-alt", 1024, 2)):
    if name not in have:
        _, _, f = call("POST", nova + "/flavors", admin, {"flavor": {
            "name": name, "ram": ram, "vcpus": 1, "disk": disk}})
        have[name] = f["flavor"]["id"]
    refs.append(have[name])
print(image_id, *refs)
PY
) || { echo "provisioning failed (accounts / catalog / image / flavors), see above" >&2; exit 1; }
read -r IMAGE_REF FLAVOR_REF FLAVOR_REF_ALT <<< "$refs"

acc="$TWORK/etc/accounts.yaml"
{
  for i in $(seq 1 "$CONCURRENCY"); do
    printf -- "- username: tempest-compute-alt-%s\n  password: '%s'\n  project_name: tempest-compute-alt-%s\n  roles: [member]\n" \
      "$i" "$TEMPEST_PASSWORD" "$i"
  done
  for i in $(seq 1 "$CONCURRENCY"); do
    for kind in member reader; do
      printf -- "- username: tempest-compute-%s-%s\n  password: '%s'\n  project_name: tempest-compute-%s\n  roles: [%s]\n" \
        "$kind" "$i" "$TEMPEST_PASSWORD" "$i" "$kind"
    done
    printf -- "- username: tempest-compute-admin-%s\n  password: '%s'\n  project_name: admin\n  roles: [admin]\n" \
      "$i" "$TEMPEST_PASSWORD"
  done
} > "$acc"

sed -e "s|@TWORK@|$TWORK|g" -e "s|@IDENTITY_URL@|$IDENTITY_URL|g" \
    -e "s|@REGION@|$REGION|g" -e "s|@DEBUG@|$DEBUG|g" \
    -e "s|@ENFORCE_SCOPE@|$ENFORCE_SCOPE|g" -e "s|@BUILD_TIMEOUT@|$BUILD_TIMEOUT|g" \
    -e "s|@IMAGE_REF@|$IMAGE_REF|g" -e "s|@FLAVOR_REF@|$FLAVOR_REF|g" \
    -e "s|@FLAVOR_REF_ALT@|$FLAVOR_REF_ALT|g" -e "s|@MAX_MICROVERSION@|$MAX_MICROVERSION|g" \
    "$HERE/compute.conf.tmpl" > "$TWORK/etc/tempest.conf" || exit 1
if grep -q '@[A-Z_]*@' "$TWORK/etc/tempest.conf"; then
  echo "unfilled template variable in $TWORK/etc/tempest.conf" >&2; exit 1
fi
echo "# accounts in $acc, tempest.conf in $TWORK/etc/tempest.conf"
echo "# image_ref=$IMAGE_REF flavor_ref=$FLAVOR_REF flavor_ref_alt=$FLAVOR_REF_ALT"

cd "$TWORK" || exit 1
echo "# tempest compute against $COMPUTE_URL (identity $IDENTITY_URL) regex=$REGEX" \
     "exclude=${EXCLUDE_REGEX:-none} enforce_scope=$ENFORCE_SCOPE concurrency=$CONCURRENCY"
t0=$(date +%s)
# shellcheck disable=SC2086
tempest run --config-file "$TWORK/etc/tempest.conf" --concurrency "$CONCURRENCY" \
  --regex "$REGEX" ${EXCLUDE_REGEX:+--exclude-regex "$EXCLUDE_REGEX"} ${EXTRA_ARGS:-} \
  > "$TWORK/run.log" 2>&1
rc=$?
t1=$(date +%s)
# shellcheck disable=SC2086
tempest run --config-file "$TWORK/etc/tempest.conf" --list-tests --regex "$REGEX" \
  ${EXCLUDE_REGEX:+--exclude-regex "$EXCLUDE_REGEX"} 2>/dev/null \
  | grep -E '^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+(\[.*\])?$' \
  | sed -E 's/\[.*\]$//' | sort -u > "$TWORK/selected.txt"
grep -E '\.\.\. (ok|FAILED|SKIPPED)' "$TWORK/run.log" \
  | sed -E 's/^\{[0-9]+\} //; s/ \[[0-9.]+s\]//; s/ \.\.\. / /' | sort > "$TWORK/outcomes.txt"

python3 "$HERE/summarize.py" "$TWORK/run.log" "$((t1 - t0))" "$TWORK/outcomes.txt" "$TWORK/selected.txt" \
  "$BASELINE" "$UPDATE_BASELINE" 'Tempest 47 compute flavor and keypair tests expected to PASS against
ironbark'\''s compute service with tempest/run-compute.sh'\''s defaults; a listed
test that was selected but did not pass is a regression.
What each test needs: tempest/compute-tests.md
Regenerate: UPDATE_BASELINE=1 tempest/run-compute.sh IDENTITY_URL COMPUTE_URL' > "$TWORK/summary.txt"
regress=$?
cat "$TWORK/summary.txt"
read -r npass _ nfail _ _ < <(tail -n1 "$TWORK/summary.txt" | tr -d ,)
if [ "$rc" -eq 0 ] && [ $((${npass:-0} + ${nfail:-0})) -eq 0 ]; then rc=1; fi
if [ "$rc" -eq 0 ] && [ "$regress" -ne 0 ]; then rc=1; fi
exit "$rc"
