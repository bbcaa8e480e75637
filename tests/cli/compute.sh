#!/usr/bin/env bash
# Compute (Nova v2.1) end-to-end test with the real `openstack` CLI
# (python-openstackclient 10.5.0 / openstacksdk 4.22.0 / python-ironicclient
# 6.3.0 from tempest/requirements.txt) against a running ironbark: a tenant gets
# a bare-metal server on a fake-hardware node, with its image really written to
# the node's disk file and a config drive beside it, and gives it back.  Every
# endpoint is the one the identity service's catalog names.
#
# Usage: tests/cli/compute.sh [IDENTITY_URL [BAREMETAL_URL]]
#        (IDENTITY_URL default http://127.0.0.1:5000; BAREMETAL_URL, when given,
#        must be the catalog's baremetal endpoint)
#
# Cloud config as in tests/cli/identity.sh: $CLOUDS_YAML, else
# $OS_CLIENT_CONFIG_FILE, else $IRONBARK_DATA_DIR/clouds.yaml (default ./data),
# else one generated for IDENTITY_URL with admin / $ADMIN_PASSWORD (default
# secretadmin), project admin, domain Default.  The script writes
# $WORK/clouds.yaml with that admin cloud plus one cloud per tenant persona.
#
# Two personas besides the admin: tenant A (member of a new project A) and
# tenant B (member of a new project B).  The admin enrols 3 fake-hardware nodes
# (resource class baremetal-gold, flat network interface, one baremetal port
# each with a local_link_connection), moves them manage -> provide ->
# available, uploads a qcow2 image with a marker string in it, creates the
# flavor bm.gold (resources:CUSTOM_BAREMETAL_GOLD=1, VCPU/MEMORY_MB/DISK_GB=0)
# and a shared network with a subnet.  Tenant A imports a keypair and boots
# `server create --wait` with user data: ACTIVE, an address from the subnet.
# The admin sees the server on one of the nodes (hypervisor_hostname, node
# provision_state active, instance_uuid), the node's disk file
# <fake disk dir>/<node>.img holding exactly the image's raw bytes and the
# config drive <node>.configdrive.img: a FAT volume labelled config-2 whose
# openstack/latest/meta_data.json carries the server's uuid and the public key
# and whose user_data is the file given (read with a small FAT reader below).
# Tenant B can neither see nor delete the server (404 "No server with a name or
# ID").  Tenant A deletes it (--wait); the node is cleaned back to available,
# its disk all zeros, driver_internal_info.disk_erase recorded, the config
# drive gone; the server lists are empty.
# Everything created (server, keypair, flavor, image, network, nodes, ports,
# users, projects, files) is removed again, also when a step fails (EXIT trap).
#
# Fake disks: $FAKE_DISK_DIR, else $IRONBARK_FAKE__DISK_DIR, else
# $IRONBARK_DATA_DIR/fake-disks (default ./data/fake-disks): the directory of
# the ironbark under test (CI exports IRONBARK_DATA_DIR for it).
#
# Every step is checked on exit status AND output; a numbered transcript goes to
# stdout (and $WORK/transcript.txt); exit status 0 only when every step passed;
# the last line is "N/M steps passed".
# Env: IRONBARK_VENV=/tmp/ironbark-venv  WORK=/tmp/ironbark-cli-compute
#      ADMIN_PASSWORD=secretadmin  STATE_TIMEOUT=30 (s to wait for a node state)
#      DEBUG=1 (add --debug to every openstack call; full HTTP logs in
#      $WORK/debug/NN-<step>.log)  KEEP=1 (leave the files in $WORK)
set -uo pipefail
URL="${1:-${IDENTITY_URL:-http://127.0.0.1:5000}}"
URL="${URL%/}"; URL="${URL%/v3}"
BM_URL="${2:-${BAREMETAL_URL:-}}"
BM_URL="${BM_URL%/}"; BM_URL="${BM_URL%/v1}"
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${IRONBARK_VENV:-/tmp/ironbark-venv}"
WORK="${WORK:-/tmp/ironbark-cli-compute}"
ADMIN_PASSWORD="${ADMIN_PASSWORD:-secretadmin}"
STATE_TIMEOUT="${STATE_TIMEOUT:-30}"
export OS_CLOUD="${OS_CLOUD:-ironbark}"
DEBUG="${DEBUG:-0}"
DISK_DIR="${FAKE_DISK_DIR:-${IRONBARK_FAKE__DISK_DIR:-${IRONBARK_DATA_DIR:-./data}/fake-disks}}"

for u in "$URL" ${BM_URL:+"$BM_URL"}; do
  case "$u" in
    http://127.*|http://localhost*|http://\[::1\]*) ;;
    *) echo "refusing non-loopback URL $u" >&2; exit 2;;
  esac
done
[ -x "$VENV/bin/openstack" ] || IRONBARK_VENV="$VENV" "$ROOT/tempest/setup-venv.sh" >/dev/null \
  || { echo "cannot create venv $VENV" >&2; exit 2; }
for t in qemu-img ssh-keygen curl; do
  command -v "$t" >/dev/null || { echo "$t not found" >&2; exit 2; }
done
OSC="$VENV/bin/openstack"
PY="$VENV/bin/python"
mkdir -p "$WORK/debug"
rm -f "$WORK"/debug/*.log
DISK_DIR="$(cd "$DISK_DIR" 2>/dev/null && pwd || echo "$DISK_DIR")"

# --- cloud config and step machinery: tests/cli/lib.sh -------------------------
source "$HERE/lib.sh"
CLI_NO_PASSWORD_ENV=1 cli_admin_clouds

RAND=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
PROJ_A="cli-cmp-a-$RAND"; PROJ_B="cli-cmp-b-$RAND"
USER_A="cli-cmp-ua-$RAND"; USER_B="cli-cmp-ub-$RAND"
PW_A="pw-a-$RAND-Ib!"; PW_B="pw-b-$RAND-Ib!"
CLOUD_A="$OS_CLOUD-tenant-a"; CLOUD_B="$OS_CLOUD-tenant-b"

# $WORK/clouds.yaml: the admin cloud (its password filled in from $ADMIN_PASSWORD
# when the file has none) and the two tenant clouds on the same identity.
MERGED="$WORK/clouds.yaml"
read -r AUTH_URL < <("$PY" - "$CLOUDS" "$OS_CLOUD" "$MERGED" "$ADMIN_PASSWORD" \
    "$CLOUD_A" "$USER_A" "$PW_A" "$PROJ_A" "$CLOUD_B" "$USER_B" "$PW_B" "$PROJ_B" <<'PY'
import copy, os, sys, yaml
src, name, out, admin_pw = sys.argv[1:5]
admin = yaml.safe_load(open(src))["clouds"][name]
admin.setdefault("auth", {}).setdefault("password", admin_pw)
clouds = {name: admin}
for cloud, user, pw, proj in (sys.argv[5:9], sys.argv[9:13]):
    c = {k: copy.deepcopy(v) for k, v in admin.items() if k != "auth"}
    c["auth"] = {"auth_url": admin["auth"]["auth_url"], "username": user, "password": pw,
                 "project_name": proj, "user_domain_name": "Default", "project_domain_name": "Default"}
    clouds[cloud] = c
fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as f:
    yaml.safe_dump({"clouds": clouds}, f, default_flow_style=False)
print(admin["auth"].get("auth_url", "").rstrip("/"))
PY
) || { echo "cannot read cloud '$OS_CLOUD' from $CLOUDS" >&2; exit 2; }
export OS_CLIENT_CONFIG_FILE="$MERGED"
case "$AUTH_URL" in "$URL"|"$URL/v3") ;;
  *) echo "# note: $CLOUDS auth_url is $AUTH_URL, not $URL/v3 (the CLI follows the file)";;
esac

# --- step machinery ----------------------------------------------------------------
cli_transcript
# osc NAME ARGS...: run `openstack ARGS` as the admin; osc_a / osc_b: as tenant A /
# tenant B (--os-cloud).  stdout in $OUT, stderr in $ERR.  stdin is /dev/null so
# that no command ever reads the script's stdin.
AS=()
osc() {
  local name="$1"; shift
  local dbg=()
  [ "$DEBUG" = 1 ] && dbg=(--debug --log-file "$WORK/debug/$(printf %02d "$N")-$name.log")
  say "   \$ openstack ${AS[*]:+${AS[*]} }$*"
  OUT=$("$OSC" "${AS[@]}" "${dbg[@]}" "$@" 2>"$WORK/stderr.txt" </dev/null); local rc=$?
  ERR=""; [ "$DEBUG" != 1 ] && ERR="$(cat "$WORK/stderr.txt")"
  show_out
  return $rc
}
osc_a() { local rc; AS=(--os-cloud "$CLOUD_A"); osc "$@"; rc=$?; AS=(); return $rc; }
osc_b() { local rc; AS=(--os-cloud "$CLOUD_B"); osc "$@"; rc=$?; AS=(); return $rc; }
run() {  # run CMD ARGS...: a local command, shown like an openstack call
  say "   \$ $*"
  OUT=$("$@" 2>"$WORK/stderr.txt" </dev/null); local rc=$?
  ERR="$(cat "$WORK/stderr.txt")"; show_out
  return $rc
}
# chk (tests/cli/lib.sh) also knows NODES (the enrolled node uuids) and addrs(v)
# (every IP address in a server's "addresses", whatever OSC's shape: dict of
# lists of strings or of {"addr"} objects, or "net=ip, ip" text).
CHK_PRELUDE='
NODES = EXTRA.split()
def addrs(v):
    out = []
    if isinstance(v, dict):
        for lst in v.values():
            for a in (lst if isinstance(lst, list) else [lst]):
                out.append(a.get("addr") if isinstance(a, dict) else str(a))
    elif isinstance(v, str):
        out = re.findall(r"\d+\.\d+\.\d+\.\d+", v)
    return out
'
chk_extra() { printf '%s' "${NODE_IDS[*]:-}"; }
jval() {  # jval KEY: top-level value from the JSON in $OUT ('' when absent/null)
  printf '%s' "$OUT" | "$PY" -c '
import json, sys
v = json.load(sys.stdin).get(sys.argv[1])
print("" if v is None else v)' "$1" 2>/dev/null
}
# wait_nodes STATE: poll `baremetal node list` until every enrolled node is in
# STATE with no target (at most $STATE_TIMEOUT s); the last list stays in $OUT.
wait_nodes() {
  local want="$1" t0=$SECONDS
  while :; do
    OUT=$("$OSC" baremetal node list --fields uuid provision_state target_provision_state \
      -f json 2>"$WORK/stderr.txt" </dev/null)
    if printf '%s' "$OUT" | "$PY" -c '
import json, sys
rows = {r.get("uuid", r.get("UUID")): r for r in json.load(sys.stdin)}
want, ids = sys.argv[1], sys.argv[2].split()
f = lambda r, k: r.get(k, r.get(k.replace("_", " ").title()))
sys.exit(0 if ids and all(f(rows.get(i, {}), "provision_state") == want
                          and not f(rows[i], "target_provision_state") for i in ids) else 1)' \
        "$want" "${NODE_IDS[*]:-}" 2>/dev/null; then
      say "   (all ${#NODE_IDS[@]} nodes $want after $((SECONDS - t0)) s)"; return 0
    fi
    [ $((SECONDS - t0)) -lt "$STATE_TIMEOUT" ] || { ERR="$(cat "$WORK/stderr.txt")"; show_out; return 1; }
    sleep 1
  done
}
# fat.py IMAGE label | cat PATH: a reader for the FAT12/16/32 volume of a config
# drive (boot sector label, root and sub-directories with long names, cluster
# chains): prints the volume label, or the content of the file at PATH.
cat > "$WORK/fat.py" <<'PY'
import struct, sys
img = open(sys.argv[1], "rb").read()
u16 = lambda o, b=img: struct.unpack_from("<H", b, o)[0]
u32 = lambda o, b=img: struct.unpack_from("<I", b, o)[0]
bps, spc, rsvd, nfats, nroot = u16(11), img[13], u16(14), img[16], u16(17)
total = u16(19) or u32(32)
fat_sz = u16(22) or u32(36)
root_secs = (nroot * 32 + bps - 1) // bps
data0 = rsvd + nfats * fat_sz + root_secs
clusters = (total - data0) // spc
kind = 12 if clusters < 4085 else 16 if clusters < 65525 else 32
fat = img[rsvd * bps:(rsvd + fat_sz) * bps]
def next_cluster(c):
    if kind == 12:
        v = u16(c * 3 // 2, fat)
        v = v >> 4 if c & 1 else v & 0xFFF
        return None if v >= 0xFF8 else v
    if kind == 16:
        v = u16(c * 2, fat)
        return None if v >= 0xFFF8 else v
    v = u32(c * 4, fat) & 0x0FFFFFFF
    return None if v >= 0x0FFFFFF8 else v
def chain(c, size=None):
    out, seen = bytearray(), set()
    while c is not None and c >= 2 and c not in seen:
        seen.add(c)
        off = (data0 + (c - 2) * spc) * bps
        out += img[off:off + spc * bps]
        c = next_cluster(c)
    return bytes(out if size is None else out[:size])
def entries(raw):
    lfn = []
    for o in range(0, len(raw) - 31, 32):
        e = raw[o:o + 32]
        if e[0] == 0:
            break
        if e[0] == 0xE5:
            lfn = []
            continue
        if e[11] == 0x0F:
            part = e[1:11] + e[14:26] + e[28:32]
            lfn.insert(0, part.decode("utf-16-le").split("\x00")[0])
            continue
        if e[11] & 0x08:
            lfn = []
            continue
        base, ext = e[0:8].decode("latin-1").rstrip(), e[8:11].decode("latin-1").rstrip()
        if e[12] & 0x08: base = base.lower()
        if e[12] & 0x10: ext = ext.lower()
        name = "".join(lfn) or (base + ("." + ext if ext else ""))
        lfn = []
        yield name, e[11], (u16(20, e) << 16 if kind == 32 else 0) | u16(26, e), u32(28, e)
if sys.argv[2] == "label":
    print(img[71 if kind == 32 else 43:][:11].decode("latin-1").rstrip())
    sys.exit(0)
raw = chain(u32(44)) if kind == 32 else img[(rsvd + nfats * fat_sz) * bps:data0 * bps]
parts = [p for p in sys.argv[3].split("/") if p]
for i, p in enumerate(parts):
    hit = next((x for x in entries(raw) if x[0] == p), None)
    if hit is None:
        sys.exit(f"{p}: not found")
    if i < len(parts) - 1:
        raw = chain(hit[2])
    else:
        sys.stdout.buffer.write(chain(hit[2], hit[3]))
PY
# zeros.py FILE: counts the non-zero bytes; exit 0 only for a non-empty all-zero file.
cat > "$WORK/zeros.py" <<'PY'
import sys
f, n, nz = open(sys.argv[1], "rb"), 0, 0
while chunk := f.read(1 << 20):
    n += len(chunk)
    nz += len(chunk) - chunk.count(0)
print(f"{n} bytes, {nz} non-zero")
sys.exit(0 if n > 0 and nz == 0 else 1)
PY

IMG="cli-cmp-img-$RAND"; FLAVOR="bm.gold"; NET="cli-cmp-net-$RAND"; SUB="cli-cmp-sub-$RAND"
KEY="cli-cmp-key-$RAND"; SRV="cli-cmp-srv-$RAND"; NODE_PREFIX="cli-cmp-node-$RAND"
MARKER="ironbark-compute-cli-marker-$RAND"
RAW="$WORK/image-$RAND.raw"; QCOW="$WORK/image-$RAND.qcow2"; BACK="$WORK/image-$RAND.back.raw"
USERDATA="$WORK/user-data-$RAND"; KEYFILE="$WORK/key-$RAND"
SUBNET_CIDR=10.77.0.0/24
PROJ_A_ID=""; PROJ_B_ID=""; USER_A_ID=""; USER_B_ID=""; IMG_ID=""; FLAVOR_ID=""
FLAVOR_MADE=""; NET_ID=""; SUB_ID=""; KEY_MADE=""; SRV_ID=""; SRV_NODE=""
NODE_IDS=(); BMPORT_IDS=()
say "# ironbark compute CLI test: identity=$URL baremetal=${BM_URL:-catalog} cloud=$OS_CLOUD clouds.yaml=$CLOUDS"
say "# fake disks: $DISK_DIR"
say "# $("$OSC" --version 2>&1)  names: $PROJ_A $PROJ_B $USER_A $USER_B $IMG $NET $KEY $SRV"
START=$(date +%s)

# Whatever a failed step left behind is removed on exit (quietly).
cleanup() {
  local left=() id
  q() { "$OSC" "$@" </dev/null >/dev/null 2>&1; }
  qa() { "$OSC" --os-cloud "$CLOUD_A" "$@" </dev/null >/dev/null 2>&1; }
  if [ -n "$SRV_ID" ] && q server show "$SRV_ID"; then
    q server delete --wait "$SRV_ID" && left+=("server $SRV_ID")
  fi
  if [ -n "$KEY_MADE" ] && qa keypair show "$KEY"; then
    qa keypair delete "$KEY" && left+=("keypair $KEY")
  fi
  if [ -n "$FLAVOR_MADE" ] && q flavor show "$FLAVOR_MADE"; then
    q flavor delete "$FLAVOR_MADE" && left+=("flavor $FLAVOR")
  fi
  if [ -n "$IMG_ID" ] && q image show "$IMG_ID"; then
    q image delete "$IMG_ID" && left+=("image $IMG_ID")
  fi
  if [ -n "$NET_ID" ]; then
    for id in $("$OSC" port list --network "$NET_ID" -f value -c ID </dev/null 2>/dev/null); do
      q port delete "$id" && left+=("port $id")
    done
  fi
  if [ -n "$SUB_ID" ] && q subnet show "$SUB_ID"; then
    q subnet delete "$SUB_ID" && left+=("subnet $SUB_ID")
  fi
  if [ -n "$NET_ID" ] && q network show "$NET_ID"; then
    q network delete "$NET_ID" && left+=("network $NET_ID")
  fi
  for id in "${BMPORT_IDS[@]}"; do
    q baremetal port show "$id" && q baremetal port delete "$id" && left+=("baremetal port $id")
  done
  for id in "${NODE_IDS[@]}"; do
    if q baremetal node show "$id"; then
      q baremetal node maintenance set "$id"
      q baremetal node delete "$id" && left+=("node $id")
    fi
    q baremetal node show "$id" || rm -f "$DISK_DIR/$id.img"
  done
  for id in "$USER_A_ID" "$USER_B_ID"; do
    [ -n "$id" ] && q user show "$id" && q user delete "$id" && left+=("user $id")
  done
  for id in "$PROJ_A_ID" "$PROJ_B_ID"; do
    [ -n "$id" ] && q project show "$id" && q project delete "$id" && left+=("project $id")
  done
  [ ${#left[@]} -gt 0 ] && say "# cleanup removed leftovers: ${left[*]}"
  if [ "${KEEP:-0}" != 1 ]; then
    rm -f "$RAW" "$QCOW" "$BACK" "$USERDATA" "$KEYFILE" "$KEYFILE.pub" "$WORK/stderr.txt" \
      "$MERGED" "$WORK/fat.py" "$WORK/zeros.py"
  fi
}
trap cleanup EXIT

# ----------------------------------------------------------------------------------------
begin "token issue (admin); catalog has compute, baremetal, image, network; GET <compute>/ lists v2.1"
osc token-issue token issue -f json; rc=$?; rc_ok $rc
ADMIN_PROJECT=$(jval project_id)
[ -n "$ADMIN_PROJECT" ] || bad "no project_id"
osc endpoint-list endpoint list --interface public -f json; rc=$?; rc_ok $rc
for s in compute baremetal image network; do
  chk "a public $s endpoint" 'row("Service Type", "'"$s"'") is not None'
done
COMPUTE_URL=$(printf '%s' "$OUT" | "$PY" -c '
import json, sys
print(next(r["URL"] for r in json.load(sys.stdin) if r["Service Type"] == "compute").rstrip("/"))' 2>/dev/null)
CAT_BM_URL=$(printf '%s' "$OUT" | "$PY" -c '
import json, sys
print(next(r["URL"] for r in json.load(sys.stdin) if r["Service Type"] == "baremetal").rstrip("/"))' 2>/dev/null)
if [ -n "$BM_URL" ]; then
  case "$CAT_BM_URL" in "$BM_URL"|"$BM_URL/v1") ;; *) bad "catalog baremetal endpoint $CAT_BM_URL, not $BM_URL";; esac
fi
COMPUTE_ROOT="${COMPUTE_URL%/v2.1*}"
COMPUTE_ROOT="${COMPUTE_ROOT%/v2*}"
if [ -n "$COMPUTE_ROOT" ]; then
  OUT=$(curl -s -m 10 -w '\nHTTP %{http_code}' "$COMPUTE_ROOT/"); ERR=""; say "   \$ curl $COMPUTE_ROOT/"; show_out
  case "$OUT" in *'"v2.1"'*'HTTP 200'|*'"v2.1"'*'HTTP 300') ;; *) bad "GET $COMPUTE_ROOT/: want the version list naming v2.1";; esac
else
  bad "no compute URL in the catalog"
fi
finish

begin "project create $PROJ_A, $PROJ_B; user create $USER_A, $USER_B; role add member"
osc project-create-a project create --domain default --description "ironbark compute cli test A" "$PROJ_A" -f json
rc=$?; rc_ok $rc; PROJ_A_ID=$(jval id)
osc project-create-b project create --domain default --description "ironbark compute cli test B" "$PROJ_B" -f json
rc=$?; rc_ok $rc; PROJ_B_ID=$(jval id)
osc user-create-a user create --domain default --password "$PW_A" --project "$PROJ_A" "$USER_A" -f json
rc=$?; rc_ok $rc; USER_A_ID=$(jval id)
osc user-create-b user create --domain default --password "$PW_B" --project "$PROJ_B" "$USER_B" -f json
rc=$?; rc_ok $rc; USER_B_ID=$(jval id)
osc role-add-a role add --project "$PROJ_A" --user "$USER_A" member; rc=$?; rc_ok $rc
osc role-add-b role add --project "$PROJ_B" --user "$USER_B" member; rc=$?; rc_ok $rc
[ -n "$PROJ_A_ID" ] && [ -n "$PROJ_B_ID" ] && [ -n "$USER_A_ID" ] && [ -n "$USER_B_ID" ] || bad "missing project/user ids"
finish

begin "token issue as tenant A and as tenant B (clouds $CLOUD_A, $CLOUD_B in $MERGED)"
osc_a token-issue-a token issue -f json; rc=$?; rc_ok $rc
chk "tenant A token scoped to $PROJ_A, user $USER_A" 'g("project_id") == "'"$PROJ_A_ID"'" and g("user_id") == "'"$USER_A_ID"'"'
osc_b token-issue-b token issue -f json; rc=$?; rc_ok $rc
chk "tenant B token scoped to $PROJ_B, user $USER_B" 'g("project_id") == "'"$PROJ_B_ID"'" and g("user_id") == "'"$USER_B_ID"'"'
finish

begin "baremetal node create x3 --driver fake-hardware --resource-class baremetal-gold --network-interface flat"
for i in 1 2 3; do
  osc "node-create-$i" baremetal node create --driver fake-hardware --resource-class baremetal-gold \
    --network-interface flat --name "$NODE_PREFIX-$i" \
    --property cpus=1 --property memory_mb=1024 --property local_gb=10 -f json; rc=$?; rc_ok $rc
  id=$(jval uuid)
  if [ -n "$id" ]; then NODE_IDS+=("$id"); else bad "node $i: no uuid"; fi
  chk "node $i: fake-hardware, resource_class baremetal-gold, network_interface flat, enroll" 'g("driver") == "fake-hardware" and g("resource_class") == "baremetal-gold" and g("network_interface") == "flat" and g("provision_state") == "enroll"'
done
[ ${#NODE_IDS[@]} -eq 3 ] || bad "want 3 nodes, have ${#NODE_IDS[@]}"
finish

begin "baremetal port create <mac> --node <node> --local-link-connection switch_id=…,port_id=…,switch_info=… (one per node)"
for i in 1 2 3; do
  node="${NODE_IDS[$((i - 1))]:-none}"
  mac="52:54:${RAND:0:2}:${RAND:2:2}:${RAND:4:2}:0$i"
  osc "bm-port-create-$i" baremetal port create "$mac" --node "$node" \
    --local-link-connection switch_id=00:11:22:33:44:55 \
    --local-link-connection "port_id=xe-0/0/$i" \
    --local-link-connection switch_info=leaf1 -f json; rc=$?; rc_ok $rc
  id=$(jval uuid)
  if [ -n "$id" ]; then BMPORT_IDS+=("$id"); else bad "port $i: no uuid"; fi
  chk "port $i on its node, local_link_connection as given" 'g("node_uuid") == "'"$node"'" and g("address") == "'"$mac"'" and g("local_link_connection") == {"switch_id": "00:11:22:33:44:55", "port_id": "xe-0/0/'"$i"'", "switch_info": "leaf1"}'
done
finish

begin "baremetal node manage + provide (3 nodes) -> available"
osc node-manage baremetal node manage "${NODE_IDS[@]}"; rc=$?; rc_ok $rc
wait_nodes manageable || bad "not all nodes manageable within ${STATE_TIMEOUT}s"
osc node-provide baremetal node provide "${NODE_IDS[@]}"; rc=$?; rc_ok $rc
wait_nodes available || bad "not all nodes available within ${STATE_TIMEOUT}s"
show_out
finish

begin "image create --disk-format qcow2 --file <qcow2 with a marker> --public $IMG"
"$PY" - "$RAW" "$MARKER" <<'PY' || bad "cannot write the raw image"
import sys
path, marker = sys.argv[1], sys.argv[2].encode()
size = 4 * 1024 * 1024
data = bytearray(size)
for off in (0, 512 * 1024 + 7, size - len(marker)):
    data[off:off + len(marker)] = marker
for i in range(1024 * 1024, 1024 * 1024 + 65536):
    data[i] = (i * 7 + 3) % 251 + 1
open(path, "wb").write(data)
PY
run qemu-img convert -f raw -O qcow2 "$RAW" "$QCOW"; rc=$?; rc_ok $rc
grep -q "$MARKER" "$QCOW" || bad "marker not in the qcow2 file"
osc image-create image create --disk-format qcow2 --container-format bare --file "$QCOW" --public "$IMG" -f json
rc=$?; rc_ok $rc
IMG_ID=$(jval id)
[ -n "$IMG_ID" ] || bad "no image id"
chk "active, qcow2, public, size = file size" 'g("status") == "active" and g("disk_format") == "qcow2" and g("visibility") == "public" and g("size") == '"$(stat -c %s "$QCOW" 2>/dev/null || echo -1)"
finish

begin "flavor create --ram 1024 --disk 10 --vcpus 1 $FLAVOR; flavor set --property resources:CUSTOM_BAREMETAL_GOLD=1 (VCPU/MEMORY_MB/DISK_GB=0)"
osc flavor-create flavor create --ram 1024 --disk 10 --vcpus 1 "$FLAVOR" -f json; rc=$?; rc_ok $rc
FLAVOR_ID=$(jval id); [ -n "$FLAVOR_ID" ] && FLAVOR_MADE="$FLAVOR_ID"
[ -n "$FLAVOR_ID" ] || bad "no flavor id"
chk "ram 1024, disk 10, vcpus 1, public" 'g("ram") == 1024 and g("disk") == 10 and g("vcpus") == 1 and g("os-flavor-access:is_public") is not False'
osc flavor-set flavor set --property resources:CUSTOM_BAREMETAL_GOLD=1 --property resources:VCPU=0 \
  --property resources:MEMORY_MB=0 --property resources:DISK_GB=0 "${FLAVOR_ID:-$FLAVOR}"; rc=$?; rc_ok $rc
osc flavor-show flavor show "${FLAVOR_ID:-$FLAVOR}" -f json; rc=$?; rc_ok $rc
chk "properties hold the four resources" 'g("properties") == {"resources:CUSTOM_BAREMETAL_GOLD": "1", "resources:VCPU": "0", "resources:MEMORY_MB": "0", "resources:DISK_GB": "0"}'
osc_a flavor-list-a flavor list -f json; rc=$?; rc_ok $rc
chk "tenant A sees $FLAVOR" 'row("ID", "'"$FLAVOR_ID"'") is not None'
finish

begin "network create --share $NET; subnet create --subnet-range $SUBNET_CIDR $SUB; tenant A sees it"
osc network-create network create --share "$NET" -f json; rc=$?; rc_ok $rc
NET_ID=$(jval id)
[ -n "$NET_ID" ] || bad "no network id"
chk "shared" 'g("shared") is True'
osc subnet-create subnet create --network "${NET_ID:-$NET}" --subnet-range "$SUBNET_CIDR" "$SUB" -f json; rc=$?; rc_ok $rc
SUB_ID=$(jval id)
[ -n "$SUB_ID" ] || bad "no subnet id"
chk "cidr $SUBNET_CIDR on $NET" 'g("cidr") == "'"$SUBNET_CIDR"'" and g("network_id") == "'"$NET_ID"'"'
osc_a network-list-a network list -f json; rc=$?; rc_ok $rc
chk "tenant A lists $NET with $SUB" '"'"$SUB_ID"'" in ((row("ID", "'"$NET_ID"'") or {}).get("Subnets") or [])'
finish

begin "tenant A: ssh-keygen; keypair create --public-key $KEY (fingerprint = ssh-keygen's MD5)"
rm -f "$KEYFILE" "$KEYFILE.pub"
run ssh-keygen -q -t ed25519 -N "" -C "cli-compute-$RAND" -f "$KEYFILE"; rc=$?; rc_ok $rc
PUBKEY="$(cat "$KEYFILE.pub" 2>/dev/null)"
FP=$(ssh-keygen -l -E md5 -f "$KEYFILE.pub" 2>/dev/null | awk '{print $2}'); FP="${FP#MD5:}"
[ -n "$FP" ] || bad "no fingerprint from ssh-keygen"
osc_a keypair-create keypair create --public-key "$KEYFILE.pub" "$KEY" -f json; rc=$?; rc_ok $rc
[ $rc -eq 0 ] && KEY_MADE=1
chk "name $KEY, fingerprint $FP" 'g("name") == "'"$KEY"'" and g("fingerprint") == "'"$FP"'"'
osc_a keypair-list-a keypair list -f json; rc=$?; rc_ok $rc
chk "tenant A lists $KEY" 'row("Name", "'"$KEY"'") is not None'
osc_b keypair-list-b keypair list -f json; rc=$?; rc_ok $rc
chk "tenant B does not" 'row("Name", "'"$KEY"'") is None'
finish

begin "tenant A: server create --flavor $FLAVOR --image $IMG --network $NET --key-name $KEY --user-data <file> --wait $SRV"
printf '#cloud-config\n# %s\nruncmd:\n  - echo hello from ironbark\n' "$MARKER" > "$USERDATA"
osc_a server-create server create --flavor "$FLAVOR" --image "${IMG_ID:-$IMG}" --network "${NET_ID:-$NET}" \
  --key-name "$KEY" --user-data "$USERDATA" --wait "$SRV" -f json; rc=$?; rc_ok $rc
SRV_ID=$(jval id)
[ -n "$SRV_ID" ] || bad "no server id"
chk "status ACTIVE" 'g("status") == "ACTIVE"'
chk "one address, in $SUBNET_CIDR" 'len(addrs(g("addresses"))) == 1 and ip(addrs(g("addresses"))[0]) in net("'"$SUBNET_CIDR"'")'
chk "key_name $KEY" 'g("key_name") == "'"$KEY"'"'
finish

begin "tenant A: server show $SRV; server list"
osc_a server-show-a server show "${SRV_ID:-$SRV}" -f json; rc=$?; rc_ok $rc
chk "id, name, ACTIVE, project $PROJ_A, user $USER_A" 'g("id") == "'"$SRV_ID"'" and g("name") == "'"$SRV"'" and g("status") == "ACTIVE" and g("project_id") == "'"$PROJ_A_ID"'" and g("user_id") == "'"$USER_A_ID"'"'
chk "image $IMG_ID, flavor $FLAVOR" '"'"$IMG_ID"'" in json.dumps(g("image")) and "'"$FLAVOR"'" in json.dumps(g("flavor"))'
chk "address in $SUBNET_CIDR on $NET" 'any(ip(a) in net("'"$SUBNET_CIDR"'") for a in addrs(g("addresses"))) and "'"$NET"'" in json.dumps(g("addresses"))'
chk "no hypervisor attributes for a tenant" 'g("OS-EXT-SRV-ATTR:hypervisor_hostname") is None'
SRV_IP=$(printf '%s' "$OUT" | "$PY" -c '
import json, re, sys
print((re.findall(r"\d+\.\d+\.\d+\.\d+", json.dumps(json.load(sys.stdin).get("addresses"))) or [""])[0])' 2>/dev/null)
osc_a server-list-a server list -f json; rc=$?; rc_ok $rc
chk "exactly $SRV, ACTIVE" 'len(rows) == 1 and rows[0]["ID"] == "'"$SRV_ID"'" and rows[0]["Status"] == "ACTIVE"'
finish

begin "admin: server show (hypervisor_hostname = a node); node show: active, instance_uuid = server"
osc server-show-admin server show "${SRV_ID:-none}" -f json; rc=$?; rc_ok $rc
SRV_NODE=$(jval "OS-EXT-SRV-ATTR:hypervisor_hostname")
chk "OS-EXT-SRV-ATTR:hypervisor_hostname is one of the 3 nodes" 'g("OS-EXT-SRV-ATTR:hypervisor_hostname") in NODES'
osc node-show-active baremetal node show "${SRV_NODE:-none}" -f json; rc=$?; rc_ok $rc
chk "provision_state active, instance_uuid $SRV_ID, power on" 'g("provision_state") == "active" and g("instance_uuid") == "'"$SRV_ID"'" and g("power_state") == "power on"'
chk "instance_info.image_source = $IMG_ID" '"'"$IMG_ID"'" in json.dumps(g("instance_info"))'
osc port-list-server port list --device-id "${SRV_ID:-none}" -f json; rc=$?; rc_ok $rc
chk "one port, with $SRV_IP" 'len(rows) == 1 and "'"$SRV_IP"'" in json.dumps(rows)'
SRV_PORT=$(printf '%s' "$OUT" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["ID"])' 2>/dev/null)
osc port-show-server port show "${SRV_PORT:-none}" -f json; rc=$?; rc_ok $rc
chk "bound to the node: binding_host_id = node, vnic_type baremetal, device_owner compute:*" 'g("binding_host_id") == "'"$SRV_NODE"'" and g("binding_vnic_type") == "baremetal" and (g("device_owner") or "").startswith("compute:")'
chk "project $PROJ_A, status ACTIVE" 'g("project_id") == "'"$PROJ_A_ID"'" and g("status") == "ACTIVE"'
osc node-vif-list baremetal node vif list "${SRV_NODE:-none}" -f json; rc=$?; rc_ok $rc
chk "the node's one VIF is that port" 'len(rows) == 1 and "'"${SRV_PORT:-x}"'" in json.dumps(rows)'
finish

DISK="$DISK_DIR/${SRV_NODE:-none}.img"; CD="$DISK_DIR/${SRV_NODE:-none}.configdrive.img"
begin "the node's disk file holds the image's raw bytes (cmp with qemu-img convert -O raw of the upload)"
run qemu-img convert -f qcow2 -O raw "$QCOW" "$BACK"; rc=$?; rc_ok $rc
run ls -l "$DISK"; rc=$?; rc_ok $rc
run cmp "$DISK" "$BACK"; rc=$?; rc_ok $rc
[ "$rc" -eq 0 ] && say "   (identical: $(stat -c %s "$DISK") bytes)"
grep -q "$MARKER" "$DISK" 2>/dev/null || bad "marker not in $DISK"
for i in "${NODE_IDS[@]}"; do
  [ "$i" = "$SRV_NODE" ] && continue
  [ -e "$DISK_DIR/$i.img" ] && bad "node $i, not the server's, has a disk file"
done
finish

begin "the config drive is a FAT volume labelled config-2: meta_data.json (uuid, public key), user_data"
run ls -l "$CD"; rc=$?; rc_ok $rc
run "$PY" "$WORK/fat.py" "$CD" label; rc=$?; rc_ok $rc
[ "$OUT" = "config-2" ] || bad "label '$OUT', want config-2"
run "$PY" "$WORK/fat.py" "$CD" cat openstack/latest/meta_data.json; rc=$?; rc_ok $rc
chk "uuid $SRV_ID, name $SRV, public_keys {$KEY: the public key}" 'g("uuid") == "'"$SRV_ID"'" and g("name") == "'"$SRV"'" and {k: v.strip() for k, v in (g("public_keys") or {}).items()} == {"'"$KEY"'": """'"$PUBKEY"'"""}'
run "$PY" "$WORK/fat.py" "$CD" cat openstack/latest/user_data; rc=$?; rc_ok $rc
[ "$OUT" = "$(cat "$USERDATA")" ] || bad "user_data differs from $USERDATA"
run "$PY" "$WORK/fat.py" "$CD" cat openstack/latest/network_data.json; rc=$?; rc_ok $rc
chk "network_data names $SRV_IP" '"'"$SRV_IP"'" in json.dumps(d)'
finish

# OSC 10.5 (openstacksdk) words a miss "No Server found for X" after GET
# /servers/X answered 404 and the name search came back empty; older clients
# said "No server with a name or ID of X exists".  The 404s themselves are
# checked with curl and tenant B's token.
NOTFOUND="No server with a name or ID|No Server found for"
begin "tenant B: server show / server delete $SRV -> not found (404 itemNotFound); list empty"
osc_b server-show-b server show "${SRV_ID:-$SRV}" -f json; rc=$?; rc_fail $rc
has "not found for B" "$NOTFOUND"
osc_b server-show-b-name server show "$SRV" -f json; rc=$?; rc_fail $rc
has "not found by name either" "$NOTFOUND"
osc_b server-delete-b server delete "${SRV_ID:-$SRV}"; rc=$?; rc_fail $rc
has "delete: not found for B" "$NOTFOUND"
TOKEN_B=$("$OSC" --os-cloud "$CLOUD_B" token issue -f value -c id </dev/null 2>/dev/null)
[ -n "$TOKEN_B" ] || bad "no token for tenant B"
for m in GET DELETE; do
  say "   \$ curl -X $m $COMPUTE_URL/servers/${SRV_ID:-none}   (tenant B's token)"
  OUT=$(curl -s -m 10 -X "$m" -H "X-Auth-Token: $TOKEN_B" -w '\nHTTP %{http_code}' "$COMPUTE_URL/servers/${SRV_ID:-none}")
  ERR=""; show_out
  case "$OUT" in *itemNotFound*'HTTP 404') ;; *) bad "$m as B: want 404 itemNotFound";; esac
done
osc_b server-list-b server list -f json; rc=$?; rc_ok $rc
chk "B lists no servers" 'rows == []'
osc_a server-show-a-still server show "${SRV_ID:-$SRV}" -f json; rc=$?; rc_ok $rc
chk "still ACTIVE for A" 'g("status") == "ACTIVE"'
finish

begin "tenant A: server delete --wait $SRV; server show -> not found"
osc_a server-delete server delete --wait "${SRV_ID:-$SRV}"; rc=$?; rc_ok $rc
osc_a server-show-deleted server show "${SRV_ID:-$SRV}" -f json; rc=$?; rc_fail $rc
has "not found after delete" "$NOTFOUND"
finish

begin "admin: the node is cleaned back to available; disk all zeros; disk_erase recorded; config drive gone"
t0=$SECONDS; st=""
while :; do
  OUT=$("$OSC" baremetal node show "${SRV_NODE:-none}" -f json 2>"$WORK/stderr.txt" </dev/null)
  st=$(jval provision_state); tgt=$(jval target_provision_state)
  [ "$st" = available ] && [ -z "$tgt" ] && break
  [ $((SECONDS - t0)) -lt "$STATE_TIMEOUT" ] || break
  sleep 1
done
say "   \$ openstack baremetal node show ${SRV_NODE:-none} -f json   (polled $((SECONDS - t0)) s)"; show_out
chk "provision_state available, no instance_uuid, no instance_info image" 'g("provision_state") == "available" and not g("instance_uuid") and "'"$IMG_ID"'" not in json.dumps(g("instance_info"))'
chk "driver_internal_info.disk_erase present (bytes_zeroed = disk size)" 'isinstance((g("driver_internal_info") or {}).get("disk_erase"), dict) and g("driver_internal_info")["disk_erase"].get("bytes_zeroed") == '"$(stat -c %s "$DISK" 2>/dev/null || echo -1)"
run "$PY" "$WORK/zeros.py" "$DISK"; rc=$?; rc_ok $rc
[ -e "$CD" ] && bad "config drive $CD still there"
grep -q "$MARKER" "$DISK" 2>/dev/null && bad "marker still in $DISK"
osc node-vif-list-empty baremetal node vif list "${SRV_NODE:-none}" -f json; rc=$?; rc_ok $rc
chk "no VIFs left" 'rows == []'
osc port-list-after port list --network "${NET_ID:-none}" -f json; rc=$?; rc_ok $rc
chk "the server's port is gone" 'rows == []'
finish

begin "server list empty (tenant A; admin --all-projects has no $SRV)"
osc_a server-list-a-empty server list -f json; rc=$?; rc_ok $rc
chk "A lists nothing" 'rows == []'
osc server-list-all server list --all-projects -f json; rc=$?; rc_ok $rc
chk "no row $SRV_ID" 'row("ID", "'"$SRV_ID"'") is None'
finish

begin "cleanup: keypair, flavor, image, subnet, network, baremetal ports, nodes, users, projects; all gone"
osc_a keypair-delete keypair delete "$KEY"; rc=$?; rc_ok $rc; [ $rc -eq 0 ] && KEY_MADE=""
osc flavor-delete flavor delete "${FLAVOR_ID:-$FLAVOR}"; rc=$?; rc_ok $rc; [ $rc -eq 0 ] && FLAVOR_MADE=""
osc image-delete image delete "${IMG_ID:-$IMG}"; rc=$?; rc_ok $rc
osc subnet-delete subnet delete "${SUB_ID:-$SUB}"; rc=$?; rc_ok $rc
osc network-delete network delete "${NET_ID:-$NET}"; rc=$?; rc_ok $rc
osc bm-port-delete baremetal port delete "${BMPORT_IDS[@]:-none}"; rc=$?; rc_ok $rc
osc bm-node-delete baremetal node delete "${NODE_IDS[@]:-none}"; rc=$?; rc_ok $rc
osc user-delete user delete "${USER_A_ID:-$USER_A}" "${USER_B_ID:-$USER_B}"; rc=$?; rc_ok $rc
osc project-delete project delete "${PROJ_A_ID:-$PROJ_A}" "${PROJ_B_ID:-$PROJ_B}"; rc=$?; rc_ok $rc
osc node-list-final baremetal node list -f json; rc=$?; rc_ok $rc
chk "none of the nodes listed" 'not any(r["UUID"] in NODES for r in rows)'
# a deleted node's disk files go with it
for id in "${NODE_IDS[@]}"; do
  [ -e "$DISK_DIR/$id.img" ] && bad "disk file $DISK_DIR/$id.img left after the node was deleted"
done
osc flavor-show-deleted flavor show "${FLAVOR_ID:-$FLAVOR}"; rc=$?; rc_fail $rc
osc image-show-deleted image show "${IMG_ID:-$IMG}"; rc=$?; rc_fail $rc
osc project-show-deleted project show "${PROJ_A_ID:-$PROJ_A}"; rc=$?; rc_fail $rc
finish

trap - EXIT
cleanup
say ""
say "# wall $(( $(date +%s) - START )) s; transcript $WORK/transcript.txt"
say "$PASS/$N steps passed"
[ "$FAIL" -eq 0 ]
