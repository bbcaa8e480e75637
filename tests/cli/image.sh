#!/usr/bin/env bash
# Image (Glance v2) smoke test with the real `openstack` CLI (python-openstackclient
# 10.5.0 / openstacksdk 4.22.0 from tempest/requirements.txt) against a running
# ironbark: the image endpoint is the one the identity service's catalog names.
#
# Usage: tests/cli/image.sh [IDENTITY_URL]     (default http://127.0.0.1:5000)
#
# Cloud config as in tests/cli/identity.sh: $CLOUDS_YAML, else
# $OS_CLIENT_CONFIG_FILE, else $IRONBARK_DATA_DIR/clouds.yaml (default ./data),
# else a clouds.yaml generated in $WORK for IDENTITY_URL with admin /
# $ADMIN_PASSWORD (default secretadmin), project admin, domain Default.
#
# Covers: qcow2 upload (status, size, checksum = md5sum, os_hash_value =
# sha512sum, virtual_size from the qcow2 header, visibility), list / list
# --public / show by name, set and unset of properties, name, min_ram and tags,
# private -> shared image with a member project (add project, member list,
# accept as that project's user, list --shared as that user, remove project),
# save + cmp, protected delete refused, unprotected delete, show after delete,
# and a bogus --disk-format (client side and, with curl, server side).
# Everything created (images, project, user, files) is removed again, also when
# a step fails (EXIT trap).
#
# Every step is checked on exit status AND output; a numbered transcript goes to
# stdout (and $WORK/transcript.txt); exit status 0 only when every step passed;
# the last line is "N/M steps passed".
# Env: IRONBARK_VENV=/tmp/ironbark-venv  WORK=/tmp/ironbark-cli-image
#      ADMIN_PASSWORD=secretadmin  DEBUG=1 (add --debug to every openstack call;
#      full HTTP logs in $WORK/debug/NN-<step>.log)  KEEP=1 (leave the files in $WORK)
set -uo pipefail
URL="${1:-${IDENTITY_URL:-http://127.0.0.1:5000}}"
URL="${URL%/}"; URL="${URL%/v3}"
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${IRONBARK_VENV:-/tmp/ironbark-venv}"
WORK="${WORK:-/tmp/ironbark-cli-image}"
ADMIN_PASSWORD="${ADMIN_PASSWORD:-secretadmin}"
export OS_CLOUD="${OS_CLOUD:-ironbark}"
DEBUG="${DEBUG:-0}"

case "$URL" in
  http://127.*|http://localhost*|http://\[::1\]*) ;;
  *) echo "refusing non-loopback identity URL $URL" >&2; exit 2;;
esac
[ -x "$VENV/bin/openstack" ] || IRONBARK_VENV="$VENV" "$ROOT/tempest/setup-venv.sh" >/dev/null \
  || { echo "cannot create venv $VENV" >&2; exit 2; }
command -v qemu-img >/dev/null || { echo "qemu-img not found" >&2; exit 2; }
OSC="$VENV/bin/openstack"
PY="$VENV/bin/python"
mkdir -p "$WORK/debug"
rm -f "$WORK"/debug/*.log

# --- cloud config and step machinery: tests/cli/lib.sh -------------------------
source "$HERE/lib.sh"
cli_admin_clouds

# --- step machinery ----------------------------------------------------------------
cli_transcript
# osc NAME ARGS...: run `openstack ARGS` (admin cloud); stdout in $OUT, stderr in $ERR.
# With OSC_ENV set (array of VAR=value) the command runs without the cloud
# (OS_CLOUD unset) on exactly those OS_* variables instead.  stdin is /dev/null
# so that `image create` never takes image data from the script's stdin.
OSC_ENV=()
osc() {
  local name="$1"; shift
  local dbg=() pre=()
  [ "$DEBUG" = 1 ] && dbg=(--debug --log-file "$WORK/debug/$(printf %02d "$N")-$name.log")
  [ ${#OSC_ENV[@]} -gt 0 ] && pre=(env -u OS_CLOUD -u OS_PASSWORD "${OSC_ENV[@]}")
  say "   \$ openstack $*"
  OUT=$("${pre[@]}" "$OSC" "${dbg[@]}" "$@" 2>"$WORK/stderr.txt" </dev/null); local rc=$?
  ERR=""; [ "$DEBUG" != 1 ] && ERR="$(cat "$WORK/stderr.txt")"
  show_out
  return $rc
}
# chk (tests/cli/lib.sh): g(key) also finds the key in d["properties"], where
# OSC puts custom properties and os_hash_*.
CHK_PRELUDE='
def g(k, default=None):
    if isinstance(d, dict):
        if k in d:
            return d[k]
        p = d.get("properties")
        if isinstance(p, dict) and k in p:
            return p[k]
    return default
'
jval() {  # jval KEY: top-level value (or properties value) from the JSON in $OUT
  printf '%s' "$OUT" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
v = d.get(sys.argv[1], (d.get("properties") or {}).get(sys.argv[1], ""))
print("" if v is None else v)' "$1" 2>/dev/null
}

RAND=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
IMG="cli-img-$RAND"; IMG_NEW="cli-img-renamed-$RAND"; IMG2="cli-img-shared-$RAND"
IMG_BOGUS="cli-img-bogus-$RAND"
PROJ="cli-img-proj-$RAND"; USER_NAME="cli-img-user-$RAND"; USER_PW="pw-$RAND-Ib!"
FILE="$WORK/cirros.img"; FILE2="$WORK/small-$RAND.raw"; SAVED="$WORK/out.img"
IMG_ID=""; IMG2_ID=""; PROJ_ID=""; USER_ID=""
say "# ironbark image CLI test: identity=$URL cloud=$OS_CLOUD clouds.yaml=$CLOUDS"
say "# $("$OSC" --version 2>&1)  names: $IMG $IMG2 $PROJ $USER_NAME"
START=$(date +%s)

# Whatever a failed step left behind is removed on exit (quietly, admin cloud).
cleanup() {
  local left=()
  for id in "$IMG_ID" "$IMG2_ID"; do
    [ -n "$id" ] || continue
    if "$OSC" image show "$id" -f value -c id </dev/null >/dev/null 2>&1; then
      "$OSC" image set --unprotected "$id" </dev/null >/dev/null 2>&1
      "$OSC" image delete "$id" </dev/null >/dev/null 2>&1 && left+=("image $id")
    fi
  done
  if [ -n "$USER_ID" ] && "$OSC" user show "$USER_ID" </dev/null >/dev/null 2>&1; then
    "$OSC" user delete "$USER_ID" </dev/null >/dev/null 2>&1 && left+=("user $USER_ID")
  fi
  if [ -n "$PROJ_ID" ] && "$OSC" project show "$PROJ_ID" </dev/null >/dev/null 2>&1; then
    "$OSC" project delete "$PROJ_ID" </dev/null >/dev/null 2>&1 && left+=("project $PROJ_ID")
  fi
  [ ${#left[@]} -gt 0 ] && say "# cleanup removed leftovers: ${left[*]}"
  [ "${KEEP:-0}" = 1 ] || rm -f "$FILE" "$FILE2" "$SAVED" "$WORK/stderr.txt"
}
trap cleanup EXIT

# ----------------------------------------------------------------------------------------
begin "qemu-img create -f qcow2 $FILE 64M"
rm -f "$FILE" "$SAVED"
say "   \$ qemu-img create -f qcow2 $FILE 64M"
OUT=$(qemu-img create -f qcow2 "$FILE" 64M 2>&1); rc=$?; show_out; rc_ok $rc
OUT=$(qemu-img info --output=json "$FILE" 2>/dev/null)
chk "qemu-img info: format qcow2, virtual-size 67108864" 'd["format"] == "qcow2" and d["virtual-size"] == 67108864'
MD5=$(md5sum < "$FILE" | cut -d' ' -f1); SHA512=$(sha512sum < "$FILE" | cut -d' ' -f1)
SIZE=$(stat -c %s "$FILE")
OUT="size $SIZE  md5 $MD5"$'\n'"sha512 $SHA512"; show_out
[ -n "$MD5" ] && [ "$SIZE" -gt 0 ] || bad "no file"
head -c 1048577 /dev/urandom > "$FILE2" || bad "cannot write $FILE2"
finish

begin "token issue (admin, project admin)"
osc token-issue token issue -f json; rc=$?; rc_ok $rc
ADMIN_TOKEN=$(jval id); ADMIN_PROJECT=$(jval project_id)
[ -n "$ADMIN_TOKEN" ] && [ -n "$ADMIN_PROJECT" ] || bad "no token id / project_id"
finish

begin "endpoint list --service image --interface public (catalog names the image service)"
osc endpoint-list endpoint list --service image --interface public -f json; rc=$?; rc_ok $rc
chk "one public image endpoint" 'len(rows) >= 1 and rows[0]["Service Type"] == "image"'
IMAGE_URL=$(printf '%s' "$OUT" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["URL"].rstrip("/"))' 2>/dev/null)
IMAGE_URL="${IMAGE_URL%/v2}"
[ -n "$IMAGE_URL" ] || bad "no image URL"
OUT=$(curl -s -m 10 -w '\nHTTP %{http_code}' "$IMAGE_URL/versions"); ERR=""; show_out
case "$OUT" in *'"versions"'*'HTTP 200') ;; *) bad "GET $IMAGE_URL/versions: want 200 with versions";; esac
finish

begin "image create --file cirros.img --disk-format qcow2 --container-format bare --public $IMG"
osc image-create image create --file "$FILE" --disk-format qcow2 --container-format bare \
  --public "$IMG" -f json; rc=$?; rc_ok $rc
IMG_ID=$(jval id)
[ -n "$IMG_ID" ] || bad "no image id"
chk "status active" 'g("status") == "active"'
chk "name $IMG" 'g("name") == "'"$IMG"'"'
chk "checksum = md5sum $MD5" 'g("checksum") == "'"$MD5"'"'
chk "size = $SIZE" 'g("size") == '"$SIZE"
chk "visibility public" 'g("visibility") == "public"'
chk "os_hash_algo sha512" 'g("os_hash_algo") == "sha512"'
chk "os_hash_value = sha512sum" 'g("os_hash_value") == "'"$SHA512"'"'
chk "virtual_size 67108864" 'g("virtual_size") == 67108864'
chk "disk_format qcow2, container_format bare" 'g("disk_format") == "qcow2" and g("container_format") == "bare"'
chk "owner = admin project" 'g("owner") == "'"$ADMIN_PROJECT"'"'
finish

begin "image list (contains $IMG, active)"
osc image-list image list -f json; rc=$?; rc_ok $rc
chk "row $IMG_ID / $IMG / active" 'row("ID", "'"$IMG_ID"'") is not None and row("ID", "'"$IMG_ID"'")["Name"] == "'"$IMG"'" and row("ID", "'"$IMG_ID"'")["Status"] == "active"'
finish

begin "image list --public --long (contains $IMG; only public rows)"
osc image-list-public image list --public --long -f json; rc=$?; rc_ok $rc
chk "row $IMG_ID" 'row("ID", "'"$IMG_ID"'") is not None'
chk "every row public" 'all(r["Visibility"] == "public" for r in rows)'
chk "checksum column = md5sum" '(row("ID", "'"$IMG_ID"'") or {}).get("Checksum") == "'"$MD5"'"'
finish

begin "image show $IMG (by name)"
osc image-show image show "$IMG" -f json; rc=$?; rc_ok $rc
chk "id $IMG_ID" 'g("id") == "'"$IMG_ID"'"'
chk "status active, size $SIZE, checksum" 'g("status") == "active" and g("size") == '"$SIZE"' and g("checksum") == "'"$MD5"'"'
finish

begin "image set --property foo=bar --name $IMG_NEW --min-ram 64 --tag t1 $IMG; image show $IMG_NEW"
osc image-set image set --property foo=bar --name "$IMG_NEW" --min-ram 64 --tag t1 "$IMG"; rc=$?; rc_ok $rc
osc image-show-renamed image show "$IMG_NEW" -f json; rc=$?; rc_ok $rc
chk "same id" 'g("id") == "'"$IMG_ID"'"'
chk "name $IMG_NEW" 'g("name") == "'"$IMG_NEW"'"'
chk "property foo=bar" 'g("foo") == "bar"'
chk "min_ram 64" 'g("min_ram") == 64'
chk "tags [t1]" 'g("tags") == ["t1"]'
chk "still active with the same checksum" 'g("status") == "active" and g("checksum") == "'"$MD5"'"'
finish

begin "image show $IMG (old name) -> not found"
osc image-show-oldname image show "$IMG" -f json; rc=$?; rc_fail $rc
has "message names the missing image" "no image.*found|not found|could not find"
finish

begin "image unset --property foo --tag t1 $IMG_NEW; image show"
osc image-unset image unset --property foo --tag t1 "$IMG_NEW"; rc=$?; rc_ok $rc
osc image-show-unset image show "$IMG_NEW" -f json; rc=$?; rc_ok $rc
chk "no property foo" 'g("foo") is None'
chk "no tag t1" '"t1" not in (g("tags") or [])'
chk "min_ram still 64, name kept" 'g("min_ram") == 64 and g("name") == "'"$IMG_NEW"'"'
finish

begin "project create $PROJ; user create $USER_NAME; role add member"
osc project-create project create --domain default --description "ironbark image cli test" "$PROJ" -f json
rc=$?; rc_ok $rc; PROJ_ID=$(jval id)
[ -n "$PROJ_ID" ] || bad "no project id"
osc user-create user create --domain default --password "$USER_PW" --project "$PROJ" "$USER_NAME" -f json
rc=$?; rc_ok $rc; USER_ID=$(jval id)
chk "default_project_id = $PROJ" 'g("default_project_id") == "'"$PROJ_ID"'"'
osc role-add role add --project "$PROJ" --user "$USER_NAME" member; rc=$?; rc_ok $rc
finish
USER_ENV=(OS_AUTH_URL="$AUTH_URL" OS_AUTH_TYPE=password OS_IDENTITY_API_VERSION=3
          OS_REGION_NAME=RegionOne OS_INTERFACE=public OS_USERNAME="$USER_NAME"
          OS_USER_DOMAIN_NAME=Default OS_PASSWORD="$USER_PW" OS_PROJECT_ID="$PROJ_ID")

begin "image create --private $IMG2 (1 MiB + 1 raw)"
osc image-create-private image create --file "$FILE2" --disk-format raw --container-format bare \
  --private "$IMG2" -f json; rc=$?; rc_ok $rc
IMG2_ID=$(jval id)
[ -n "$IMG2_ID" ] || bad "no image id"
chk "status active, visibility private" 'g("status") == "active" and g("visibility") == "private"'
chk "size 1048577" 'g("size") == 1048577'
finish

begin "as $USER_NAME: image show $IMG2 (private, not a member) -> not found"
OSC_ENV=("${USER_ENV[@]}"); osc user-show-private image show "$IMG2_ID" -f json; rc=$?; OSC_ENV=()
rc_fail $rc
has "not-found message" "no image.*found|not found|could not find|404"
finish

begin "image set --shared $IMG2"
osc image-set-shared image set --shared "$IMG2"; rc=$?; rc_ok $rc
osc image-show-shared image show "$IMG2" -f json; rc=$?; rc_ok $rc
chk "visibility shared" 'g("visibility") == "shared"'
finish

begin "image add project $IMG2 $PROJ"
osc image-add-project image add project "$IMG2" "$PROJ_ID" -f json; rc=$?; rc_ok $rc
chk "member_id $PROJ_ID" 'g("member_id") == "'"$PROJ_ID"'"'
chk "image_id $IMG2_ID" 'g("image_id") == "'"$IMG2_ID"'"'
chk "status pending" 'g("status") == "pending"'
finish

begin "image member list $IMG2 (pending member)"
osc image-member-list image member list "$IMG2" -f json; rc=$?; rc_ok $rc
chk "row $PROJ_ID pending" '(row("Member ID", "'"$PROJ_ID"'") or {}).get("Status") == "pending"'
finish

begin "as $USER_NAME: image list --shared --member-status pending (offered, not yet accepted)"
OSC_ENV=("${USER_ENV[@]}"); osc user-list-pending image list --shared --member-status pending -f json
rc=$?; OSC_ENV=(); rc_ok $rc
chk "row $IMG2_ID" 'row("ID", "'"$IMG2_ID"'") is not None'
finish

begin "as $USER_NAME: image set --accept $IMG2; image member list shows accepted"
OSC_ENV=("${USER_ENV[@]}"); osc user-accept image set --accept "$IMG2_ID"; rc=$?; OSC_ENV=(); rc_ok $rc
osc image-member-list-accepted image member list "$IMG2" -f json; rc=$?; rc_ok $rc
chk "row $PROJ_ID accepted" '(row("Member ID", "'"$PROJ_ID"'") or {}).get("Status") == "accepted"'
finish

begin "as $USER_NAME: image list --shared (contains $IMG2)"
OSC_ENV=("${USER_ENV[@]}"); osc user-list-shared image list --shared -f json; rc=$?; OSC_ENV=(); rc_ok $rc
chk "row $IMG2_ID / $IMG2" '(row("ID", "'"$IMG2_ID"'") or {}).get("Name") == "'"$IMG2"'"'
finish

begin "image remove project $IMG2 $PROJ; member list empty; user no longer sees it"
osc image-remove-project image remove project "$IMG2" "$PROJ_ID"; rc=$?; rc_ok $rc
osc image-member-list-removed image member list "$IMG2" -f json; rc=$?; rc_ok $rc
chk "no row for $PROJ_ID" 'row("Member ID", "'"$PROJ_ID"'") is None'
OSC_ENV=("${USER_ENV[@]}"); osc user-show-removed image show "$IMG2_ID" -f json; rc=$?; OSC_ENV=()
rc_fail $rc
finish

begin "image save --file out.img $IMG_NEW; cmp with cirros.img"
rm -f "$SAVED"
osc image-save image save --file "$SAVED" "$IMG_NEW"; rc=$?; rc_ok $rc
OUT=$(cmp "$FILE" "$SAVED" 2>&1 && echo "identical, $(stat -c %s "$SAVED") bytes"); rc=$?; ERR=""; show_out
[ $rc -eq 0 ] || bad "downloaded file differs"
finish

begin "image set --protected $IMG_NEW"
osc image-set-protected image set --protected "$IMG_NEW"; rc=$?; rc_ok $rc
osc image-show-protected image show "$IMG_NEW" -f json; rc=$?; rc_ok $rc
chk "protected true" 'g("protected") is True'
finish

begin "image delete $IMG_NEW (protected) -> refused, image still there"
osc image-delete-protected image delete "$IMG_NEW"; rc=$?; rc_fail $rc
has "message says protected" "protected"
osc image-show-still image show "$IMG_ID" -f json; rc=$?; rc_ok $rc
chk "still active" 'g("status") == "active"'
finish

begin "image set --unprotected $IMG_NEW"
osc image-set-unprotected image set --unprotected "$IMG_NEW"; rc=$?; rc_ok $rc
osc image-show-unprotected image show "$IMG_NEW" -f json; rc=$?; rc_ok $rc
chk "protected false" 'g("protected") is False'
finish

begin "image delete $IMG_NEW"
osc image-delete image delete "$IMG_NEW"; rc=$?; rc_ok $rc
printf '%s\n%s\n' "$OUT" "$ERR" | grep -Eiq 'fail|error' && bad "error output"
finish

begin "image show $IMG_ID (deleted) -> not found"
osc image-show-deleted image show "$IMG_ID" -f json; rc=$?; rc_fail $rc
has "not-found message" "no image.*found|not found|could not find|404"
finish

begin "image create --disk-format bogus -> refused with a clear message (client side)"
osc image-create-bogus image create --file "$FILE2" --disk-format bogus --container-format bare \
  "$IMG_BOGUS" -f json; rc=$?; rc_fail $rc
has "message names the bad value and the choices" "invalid choice: 'bogus'.*qcow2"
finish

begin "POST /v2/images disk_format=bogus (curl, admin token) -> 400 naming disk_format; nothing created"
OUT=$(curl -s -m 10 -w '\nHTTP %{http_code}' -H "X-Auth-Token: $ADMIN_TOKEN" \
  -H 'Content-Type: application/json' -X POST "$IMAGE_URL/v2/images" \
  -d '{"name": "'"$IMG_BOGUS"'", "disk_format": "bogus", "container_format": "bare"}'); ERR=""; show_out
case "$OUT" in *'HTTP 400') ;; *) bad "want HTTP 400";; esac
has "body names disk_format or the value" "disk_format|bogus"
osc image-list-bogus image list --name "$IMG_BOGUS" -f json; rc=$?; rc_ok $rc
chk "no image named $IMG_BOGUS" 'rows == []'
finish

begin "cleanup: image delete $IMG2; user delete $USER_NAME; project delete $PROJ"
osc image-delete-2 image delete "$IMG2_ID"; rc=$?; rc_ok $rc
osc user-delete user delete "${USER_ID:-$USER_NAME}"; rc=$?; rc_ok $rc
osc project-delete project delete "${PROJ_ID:-$PROJ}"; rc=$?; rc_ok $rc
osc image-list-final image list -f json; rc=$?; rc_ok $rc
chk "neither image listed" 'row("ID", "'"$IMG_ID"'") is None and row("ID", "'"$IMG2_ID"'") is None'
finish

trap - EXIT
cleanup
say ""
say "# wall $(( $(date +%s) - START )) s; transcript $WORK/transcript.txt"
say "$PASS/$N steps passed"
[ "$FAIL" -eq 0 ]
