#!/usr/bin/env bash
# Reads a bare-metal VIF attach through Contrail's Python client (vnc_api):
# starts its own ironbark (noauth, free ports, temp data dir), creates a
# network, subnet, port and an attached fake-hardware node with curl, then
# runs vnc_read.py in a venv built from requirements.txt.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BIN="$ROOT/target/debug/ironbark"
VENV="${CONTRAIL_VENV:-$ROOT/target/contrail-venv}"

(cd "$ROOT" && cargo build --quiet)
if [ ! -x "$VENV/bin/python" ] || ! cmp -s "$HERE/requirements.txt" "$VENV/requirements.txt"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet -r "$HERE/requirements.txt"
  cp "$HERE/requirements.txt" "$VENV/requirements.txt"
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
TMP="$(mktemp -d)"
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

IP=$(free_port); BP=$(free_port); GP=$(free_port); NP=$(free_port); CP=$(free_port); XP=$(free_port)
IRONBARK_DATA_DIR="$TMP/data" IRONBARK_AUTH=noauth IRONBARK_HOST=127.0.0.1 IRONBARK_LOG=warn \
  IRONBARK_IDENTITY_PORT="$IP" IRONBARK_BAREMETAL_PORT="$BP" IRONBARK_IMAGE_PORT="$GP" \
  IRONBARK_NETWORK_PORT="$NP" IRONBARK_CONTRAIL_PORT="$CP" IRONBARK_COMPUTE_PORT="$XP" \
  "$BIN" serve > "$TMP/ironbark.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$CP/" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$CP/" >/dev/null || { echo "ironbark did not start:" >&2; cat "$TMP/ironbark.log" >&2; exit 1; }

NET="http://127.0.0.1:$NP/v2.0"
BM="http://127.0.0.1:$BP/v1"
post() { curl -fsS -X POST -H 'Content-Type: application/json' -H 'X-OpenStack-Ironic-API-Version: 1.67' "$1" -d "$2"; }
field() { python3 -c "import json,sys; v=json.load(sys.stdin); print(eval('v' + sys.argv[1]))" "$1"; }

NET_ID=$(post "$NET/networks" '{"network": {"name": "bms-net"}}' | field '["network"]["id"]')
post "$NET/subnets" "{\"subnet\": {\"network_id\": \"$NET_ID\", \"cidr\": \"10.90.0.0/24\", \"ip_version\": 4}}" >/dev/null
PORT=$(post "$NET/ports" "{\"port\": {\"network_id\": \"$NET_ID\"}}")
PORT_ID=$(echo "$PORT" | field '["port"]["id"]')
ADDRESS=$(echo "$PORT" | field '["port"]["fixed_ips"][0]["ip_address"]')
NODE_ID=$(post "$BM/nodes" '{"driver": "fake-hardware", "network_interface": "flat"}' | field '["uuid"]')
post "$BM/ports" "{\"node_uuid\": \"$NODE_ID\", \"address\": \"52:54:00:aa:bb:09\", \"local_link_connection\":
  {\"switch_id\": \"00:11:22:33:44:55\", \"port_id\": \"xe-0/0/9\", \"switch_info\": \"leaf1\"}}" >/dev/null
post "$BM/nodes/$NODE_ID/vifs" "{\"id\": \"$PORT_ID\"}"

"$VENV/bin/python" "$HERE/vnc_read.py" 127.0.0.1 "$CP" "$PORT_ID" "$NODE_ID" "$ADDRESS"
