# Shared by the CLI scripts in tests/cli (sourced, not run): the admin cloud
# config and the step machinery every transcript is made of.
#
# The sourcing script sets URL (identity root), WORK, PY (the venv's python),
# OS_CLOUD and ADMIN_PASSWORD first.

# cli_admin_clouds: the admin cloud's clouds.yaml — $CLOUDS_YAML, else
# $OS_CLIENT_CONFIG_FILE, else $IRONBARK_DATA_DIR/clouds.yaml (default ./data),
# else one generated in $WORK for $URL with admin / $ADMIN_PASSWORD, project admin,
# domain Default. Sets CLOUDS (absolute) and AUTH_URL, exports
# OS_CLIENT_CONFIG_FILE, and unsets every OS_* variable that could change which
# cloud, user or endpoint the CLI uses. A file without a password gets
# $ADMIN_PASSWORD through OS_PASSWORD unless CLI_NO_PASSWORD_ENV=1 (a script
# that writes its own clouds file with passwords must not have OS_PASSWORD
# override its other clouds).
cli_admin_clouds() {
  CLOUDS="${CLOUDS_YAML:-${OS_CLIENT_CONFIG_FILE:-${IRONBARK_DATA_DIR:-./data}/clouds.yaml}}"
  if [ ! -f "$CLOUDS" ]; then
    echo "# $CLOUDS not found; generating $WORK/admin-clouds.yaml for $URL"
    CLOUDS="$WORK/admin-clouds.yaml"
    cat > "$CLOUDS" <<EOF
clouds:
  $OS_CLOUD:
    auth:
      auth_url: $URL/v3
      username: admin
      password: '$ADMIN_PASSWORD'
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: public
    identity_api_version: 3
EOF
  fi
  CLOUDS="$(cd "$(dirname "$CLOUDS")" && pwd)/$(basename "$CLOUDS")"
  export OS_CLIENT_CONFIG_FILE="$CLOUDS"
  unset OS_AUTH_URL OS_AUTH_TYPE OS_TOKEN OS_ENDPOINT OS_USERNAME OS_USER_ID \
    OS_PROJECT_NAME OS_PROJECT_ID OS_USER_DOMAIN_NAME OS_PROJECT_DOMAIN_NAME \
    OS_DOMAIN_NAME OS_DOMAIN_ID OS_SYSTEM_SCOPE OS_PASSWORD OS_COMPUTE_API_VERSION \
    OS_NETWORK_API_VERSION OS_IMAGE_API_VERSION OS_BAREMETAL_API_VERSION \
    OS_COMPUTE_ENDPOINT_OVERRIDE OS_BAREMETAL_ENDPOINT_OVERRIDE \
    OS_NETWORK_ENDPOINT_OVERRIDE OS_IMAGE_ENDPOINT_OVERRIDE
  local has_pw
  read -r AUTH_URL has_pw < <("$PY" - "$CLOUDS" "$OS_CLOUD" <<'PY'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))["clouds"][sys.argv[2]]
a = c.get("auth", {})
print(a.get("auth_url", "").rstrip("/"), "yes" if a.get("password") else "no")
PY
  ) || { echo "cannot read cloud '$OS_CLOUD' from $CLOUDS" >&2; exit 2; }
  if [ "$has_pw" != yes ] && [ "${CLI_NO_PASSWORD_ENV:-0}" != 1 ]; then
    export OS_PASSWORD="$ADMIN_PASSWORD"
  fi
  case "$AUTH_URL" in "$URL"|"$URL/v3") ;;
    *) echo "# note: $CLOUDS auth_url is $AUTH_URL, not $URL/v3 (the CLI follows the file)";;
  esac
}

# --- step machinery --------------------------------------------------------------
# cli_transcript: counters reset, and everything printed from here on also
# goes to $WORK/transcript.txt.
cli_transcript() {
  PASS=0; FAIL=0; N=0; OUT=""; ERR=""; BAD=""
  exec > >(tee "$WORK/transcript.txt") 2>&1
}
say() { printf '%s\n' "$*"; }
show_out() {  # print $OUT / $ERR of the last command, indented, at most 40 lines each
  [ -n "$OUT" ] && printf '%s\n' "$OUT" | head -40 | sed 's/^/   | /'
  [ -n "$ERR" ] && printf '%s\n' "$ERR" | head -20 | sed 's/^/   ! /'
  return 0
}
begin() { N=$((N + 1)); OUT=""; ERR=""; BAD=""; T0=$(date +%s.%N); say ""; say "== [$N] $1"; }
bad() { BAD="${BAD:+$BAD; }$1"; }
rc_ok() { [ "$1" -eq 0 ] || bad "exit status $1 (want 0)"; }
rc_fail() { [ "$1" -ne 0 ] || bad "exit status 0 (want failure)"; }
finish() {
  local dt; dt=$(python3 -c "import time;print(f'{time.time()-$T0:.2f}')")
  if [ -z "$BAD" ]; then PASS=$((PASS + 1)); say "   -> ok (${dt}s)";
  else FAIL=$((FAIL + 1)); say "   -> FAILED (${dt}s): $BAD"; fi
}
# chk DESC PY-EXPR: EXPR over the JSON in $OUT must hold. Names: d (the
# document), rows (d when it is a list), g(key) (top-level key of d), row(col,
# value) (the first row whose column col equals value, or None), ip(a) / net(c)
# (ipaddress.ip_address / ip_network), json, re. A script adds its own names in
# CHK_PRELUDE (Python run before EXPR, with EXTRA = the output of its
# `chk_extra` function when it defines one).
CHK_PRELUDE=""
chk() {
  local extra=""
  declare -F chk_extra >/dev/null && extra="$(chk_extra)"
  printf '%s' "$OUT" | "$PY" -c '
import ipaddress, json, re, sys
d = json.loads(sys.stdin.read() or "null")
def g(k, default=None):
    return d.get(k, default) if isinstance(d, dict) else default
rows = d if isinstance(d, list) else []
def row(col, val):
    return next((r for r in rows if r.get(col) == val), None)
ip, net = ipaddress.ip_address, ipaddress.ip_network
EXTRA = sys.argv[3]
exec(sys.argv[2])
sys.exit(0 if eval(sys.argv[1]) else 1)' "$2" "$CHK_PRELUDE" "$extra" 2>/dev/null || bad "$1"
}
# has DESC REGEX: the command's stdout+stderr matches REGEX (grep -Ei)
has() { printf '%s\n%s\n' "$OUT" "$ERR" | grep -Eiq -- "$2" || bad "$1"; }
