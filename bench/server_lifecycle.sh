#!/usr/bin/env bash
# Server lifecycle benchmark: how long a bare-metal server takes to build and to
# be given back, on ironbark's Nova-v2.1 API with fake-hardware nodes, next to
# the same fake-hardware node lifecycle on the real Ironic 39 (the reference).
#
# Usage: bench/server_lifecycle.sh
#
# ironbark half: starts its own ironbark ($BIN serve) on free loopback ports with
# a fresh data directory in a temp dir on $TMPBASE; bench/server_lifecycle.py
# then enrols COUNT fake-hardware nodes (resource class bench-gold, flat network
# interface, a port each with a local_link_connection) through manage/provide,
# uploads a SIZE_MB raw image of random data, creates a flavor
# (resources:CUSTOM_BENCH_GOLD=1) and a network with a /24 subnet, and measures
#   build   = POST /v2.1/servers -> GET /v2.1/servers/{id} shows ACTIVE
#   release = DELETE /v2.1/servers/{id} -> the server's node is available again
# once sequentially (one server at a time) and once with all COUNT requests
# started together (then one poller lists every server / node).  Polling is
# every POLL_S (0.02) s.  It checks that every server landed on its own node,
# that node's disk file holds the image (size), and that every released node
# recorded its disk erase.  ironbark is stopped before the reference starts.
#
# Reference: the real Ironic 39 from $PEER (../shared/peer: run-ironic.sh on a
# free loopback port, noauth, sqlite, fake-hardware, automated cleaning on, its
# defaults), the same COUNT nodes and rounds:
#   build   = PUT /v1/nodes/{n}/states/provision {"target": "active"} -> active
#   release = {"target": "deleted"} -> available
# The two columns do not do the same work: ironbark's build includes
# scheduling, the Neutron port and VIF binding, the config drive and writing the
# image to the node's disk file, and its release the port removal and zeroing
# the disk; Ironic's is the bare fake deploy / undeploy + fake cleaning.
#
# Env: BIN=<clone>/target/release/ironbark  COUNT=50  SIZE_MB=64  POLL_S=0.02
#      TMPBASE=/tmp  IRONBARK_ADMIN_PASSWORD=secretadmin  PEER=<clone>/../shared/peer
#      PEER_VENV=/tmp/peer-venv (setup-venvs.sh there)  IRONBARK_VENV=/tmp/ironbark-venv
#      IRONIC=1 (0: skip the reference and reuse IRONIC_JSON)
#      IRONIC_JSON=bench/results/server_lifecycle-ironic.json
#      OUT_TXT=bench/results/server_lifecycle.txt  (the table; the two JSON files
#        with every latency go beside it as server_lifecycle-{ironbark,ironic}.json)
#      START_TIMEOUT=120 (s for a server to answer)  WAIT_TIMEOUT=300 (s per wait)
#      KEEP=1: keep the temp dir (data dir, server logs)
# Disk: the image, its stored copy and one disk file per node:
#      (COUNT + 2) x SIZE_MB (+256 MiB) must be free on $TMPBASE.
# Exit status: 0 every request and check passed, 1 one failed, 2 setup error,
# 3 ironbark's compute service does not answer.  Never uses the fixed ports
# 5000/6385/8774/9292/9696/8082.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BIN="${BIN:-$ROOT/target/release/ironbark}"
COUNT="${COUNT:-50}"
SIZE_MB="${SIZE_MB:-64}"
POLL_S="${POLL_S:-0.02}"
TMPBASE="${TMPBASE:-/tmp}"
ADMIN_PASSWORD="${IRONBARK_ADMIN_PASSWORD:-secretadmin}"
PEER="${PEER:-$ROOT/../shared/peer}"
PEER_VENV="${PEER_VENV:-/tmp/peer-venv}"
VENV="${IRONBARK_VENV:-/tmp/ironbark-venv}"
IRONIC="${IRONIC:-1}"
OUT_TXT="${OUT_TXT:-$HERE/results/server_lifecycle.txt}"
OUT_BASE="${OUT_TXT%.txt}"
IRONIC_JSON="${IRONIC_JSON:-$OUT_BASE-ironic.json}"
START_TIMEOUT="${START_TIMEOUT:-120}"
WAIT_TIMEOUT="${WAIT_TIMEOUT:-300}"
PY="$VENV/bin/python"

die() { echo "server_lifecycle: $*" >&2; exit 2; }
[ -x "$BIN" ] || die "no executable $BIN (cargo build --release, or set BIN=)"
[ -x "$PY" ] || die "no $PY (tempest/setup-venv.sh)"
"$PY" -c 'import requests' 2>/dev/null || die "$PY has no requests"
for v in COUNT SIZE_MB; do
  case "${!v}" in ''|*[!0-9]*|0) die "$v must be a positive integer";; esac
done
if [ "$IRONIC" = 1 ]; then
  [ -x "$PEER/run-ironic.sh" ] && [ -x "$PEER/stop-ironic.sh" ] || die "no $PEER/run-ironic.sh (set PEER=)"
  [ -x "$PEER_VENV/bin/ironic" ] || die "no $PEER_VENV/bin/ironic ($PEER/setup-venvs.sh)"
else
  [ -f "$IRONIC_JSON" ] || die "IRONIC=0 needs a saved $IRONIC_JSON"
fi
for t in curl python3 df dd; do command -v "$t" >/dev/null || die "$t not found"; done
NEED_KB=$(( ((COUNT + 2) * SIZE_MB + 256) * 1024 ))
AVAIL_KB=$(df -Pk "$TMPBASE" | awk 'NR == 2 {print $4}')
echo "# $TMPBASE: $((AVAIL_KB / 1024)) MiB free, need $((NEED_KB / 1024)) MiB (image, stored copy, $COUNT disk files)"
[ "${AVAIL_KB:-0}" -ge "$NEED_KB" ] || die "not enough space on $TMPBASE (set SIZE_MB, COUNT or TMPBASE)"

TMP="$(mktemp -d "$TMPBASE/ironbark-lifecycle-bench.XXXXXX")" || die "mktemp failed"
IRONIC_UP=""
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
cleanup() {
  stop_ironbark
  [ -n "$IRONIC_UP" ] && DATA="$TMP/ironic" "$PEER/stop-ironic.sh" >/dev/null 2>&1
  if [ "${KEEP:-0}" = 1 ]; then rm -rf "$TMP/data/fake-disks" "$TMP/image.raw"; echo "# kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "# writing a $SIZE_MB MiB raw image of random data"
dd if=/dev/urandom of="$TMP/image.raw" bs=1M count="$SIZE_MB" iflag=fullblock status=none || die "dd failed"

# --- ironbark -------------------------------------------------------------------------------
echo "# starting $BIN serve (data $TMP/data)"
t0=$SECONDS
START_TIMEOUT="$START_TIMEOUT" start_ironbark "$TMP/data" IRONBARK_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
  || die "ironbark did not answer in ${START_TIMEOUT}s"
echo "# ironbark pid $IB_PID answering after $((SECONDS - t0)) s at $ID_URL: $("$BIN" --version 2>/dev/null)"
code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$CMP_URL/")
case "$code" in 200|300) ;; *) echo "server_lifecycle: compute service at $CMP_URL answers '$code'" >&2; exit 3;; esac

FAILED=0
echo "# ironbark: $COUNT servers, $SIZE_MB MiB image, poll ${POLL_S}s"
"$PY" "$HERE/server_lifecycle.py" ironbark --identity "$ID_URL" --password "$ADMIN_PASSWORD" \
  --image "$TMP/image.raw" --disk-dir "$TMP/data/fake-disks" --count "$COUNT" --poll "$POLL_S" \
  --timeout "$WAIT_TIMEOUT" --out "$TMP/ironbark.json" || FAILED=1
stop_ironbark
grep -E ' (ERROR|WARN) ' "$TMP/data.log" | head -5 | sed 's/^/# ironbark log: /'

# --- reference: Ironic 39 ---------------------------------------------------------------------------
if [ "$IRONIC" = 1 ]; then
  read -r P_IRONIC < <(free_ports 1) || die "no free port"
  echo "# starting Ironic 39 ($PEER/run-ironic.sh) on $P_IRONIC (data $TMP/ironic)"
  IRONIC_UP=1
  DATA="$TMP/ironic" VENV="$PEER_VENV" "$PEER/run-ironic.sh" "http://127.0.0.1:$P_IRONIC" || die "Ironic did not start"
  "$PY" "$HERE/server_lifecycle.py" ironic --url "http://127.0.0.1:$P_IRONIC" --count "$COUNT" \
    --poll "$POLL_S" --timeout "$WAIT_TIMEOUT" --out "$TMP/ironic.json" || FAILED=1
  DATA="$TMP/ironic" "$PEER/stop-ironic.sh" >/dev/null; IRONIC_UP=""
  IRONIC_JSON_NOW="$TMP/ironic.json"
else
  echo "# reference: saved $IRONIC_JSON"
  IRONIC_JSON_NOW="$IRONIC_JSON"
fi

# --- table ---------------------------------------------------------------------------------
[ -f "$TMP/ironbark.json" ] && [ -f "$IRONIC_JSON_NOW" ] || { echo "server_lifecycle: no results" >&2; exit 1; }
mkdir -p "$(dirname "$OUT_TXT")"
cp "$TMP/ironbark.json" "$OUT_BASE-ironbark.json"
[ "$IRONIC_JSON_NOW" = "$OUT_BASE-ironic.json" ] || cp "$IRONIC_JSON_NOW" "$OUT_BASE-ironic.json"
echo
"$PY" "$HERE/server_lifecycle.py" table --ironbark "$OUT_BASE-ironbark.json" --ironic "$OUT_BASE-ironic.json" \
  --out "$OUT_TXT"
{
  echo "ironbark $("$BIN" --version 2>/dev/null) (checkout at git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)," \
    "$(basename "$BIN")), $SIZE_MB MiB image; box: $(nproc) CPUs, load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee -a "$OUT_TXT"
echo "# table in $OUT_TXT; every latency in $OUT_BASE-{ironbark,ironic}.json"
exit "$FAILED"
