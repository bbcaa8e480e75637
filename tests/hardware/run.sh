#!/usr/bin/env bash
# ironbark's hardware types against real BMC emulators from PyPI, driven by
# the real `openstack baremetal` CLI:
#   redfish — sushy-tools 2.2 (fake systems driver): tests/hardware/redfish_test.py
#   ipmi    — pyghmi's fakebmc + Debian's ipmitool: tests/hardware/ipmi_test.py
#             (skipped with a note when ipmitool cannot be installed)
#
# Usage: tests/hardware/run.sh [redfish|ipmi|all]   (default all)
# Env: HW_VENV=/tmp/ironbark-hw-venv (emulators, from requirements.txt here)
#      IRONBARK_VENV=/tmp/ironbark-venv (clients, from tempest/setup-venv.sh)
# Builds ironbark (debug) when target/debug/ironbark is missing.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
WHAT="${1:-all}"
HW_VENV="${HW_VENV:-/tmp/ironbark-hw-venv}"
[ -x "$HW_VENV/bin/python" ] || python3 -m venv "$HW_VENV"
"$HW_VENV/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements.txt"
CLIENT_VENV="$(bash "$ROOT/tempest/setup-venv.sh" | tail -1)"
BIN="$ROOT/target/debug/ironbark"
[ -x "$BIN" ] || (cd "$ROOT" && cargo build --quiet)

WORK=$(mktemp -d /tmp/ironbark-hw.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {  # wait_http <url> <what> <log>
  for _ in $(seq 1 150); do
    curl -fsS -m 2 "$1" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "$2 did not start; log:" >&2; cat "$3" >&2; return 1
}

start_ironbark() {
  declare -A PORT
  for s in IDENTITY BAREMETAL COMPUTE IMAGE NETWORK CONTRAIL; do PORT[$s]=$(free_port); done
  env IRONBARK_DATA_DIR="$WORK/ironbark" IRONBARK_AUTH=noauth \
    IRONBARK_IDENTITY_PORT="${PORT[IDENTITY]}" IRONBARK_BAREMETAL_PORT="${PORT[BAREMETAL]}" \
    IRONBARK_COMPUTE_PORT="${PORT[COMPUTE]}" IRONBARK_IMAGE_PORT="${PORT[IMAGE]}" \
    IRONBARK_NETWORK_PORT="${PORT[NETWORK]}" IRONBARK_CONTRAIL_PORT="${PORT[CONTRAIL]}" \
    IRONBARK_BMC__POWER_STATE_CHANGE_TIMEOUT_S=40 IRONBARK_BMC__REQUEST_TIMEOUT_S=10 RUST_LOG="${RUST_LOG:-info}" \
    "$BIN" serve > "$WORK/ironbark.log" 2>&1 &
  PIDS+=($!)
  IRONBARK_URL="http://127.0.0.1:${PORT[BAREMETAL]}"
  wait_http "$IRONBARK_URL/" ironbark "$WORK/ironbark.log"
}

run_redfish() {
  local port iso_port
  port=$(free_port); iso_port=$(free_port)
  SUSHY_URL="http://127.0.0.1:$port"
  mkdir -p "$WORK/sushy/state" "$WORK/iso"
  # A small "ISO" for the virtual-media deploy; sushy fetches it on insert.
  head -c 1048576 /dev/urandom > "$WORK/iso/deploy.iso"
  (cd "$WORK/iso" && exec python3 -m http.server "$iso_port" --bind 127.0.0.1) > "$WORK/iso.log" 2>&1 &
  PIDS+=($!)
  ISO_URL="http://127.0.0.1:$iso_port/deploy.iso"
  cat > "$WORK/sushy/emulator.conf" <<EOF
SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'
SUSHY_EMULATOR_LISTEN_PORT = $port
SUSHY_EMULATOR_FAKE_DRIVER = True
SUSHY_EMULATOR_STATE_DIR = '$WORK/sushy/state'
SUSHY_EMULATOR_FEATURE_SET = 'full'
EXTERNAL_NOTIFICATION_URL = 'http://127.0.0.1:9'
SUSHY_EMULATOR_FAKE_SYSTEMS = [
  {'uuid': '27946b59-9e44-4fa7-8e91-f3527a1ef001', 'name': 'fake-01', 'power_state': 'Off',
   'external_notifier': False,
   'nics': [{'mac': '00:5c:52:31:3a:01', 'ip': '127.0.0.1'}, {'mac': '00:5c:52:31:3a:11', 'ip': '127.0.0.2'}]},
  {'uuid': '27946b59-9e44-4fa7-8e91-f3527a1ef002', 'name': 'fake-02', 'power_state': 'Off',
   'external_notifier': False, 'nics': [{'mac': '00:5c:52:31:3a:02', 'ip': '127.0.0.3'}]},
]
SUSHY_EMULATOR_STORAGE = {
  '27946b59-9e44-4fa7-8e91-f3527a1ef001': [
    {'Id': '1', 'Name': 'Local Storage Controller',
     'StorageControllers': [{'MemberId': '0', 'Name': 'Contoso Integrated RAID', 'SpeedGbps': 12}],
     'Drives': ['32ADF365C6C1B7BD', '58CFF987G8J2V9KL']}]}
SUSHY_EMULATOR_DRIVES = {
  ('27946b59-9e44-4fa7-8e91-f3527a1ef001', '1'): [
    {'Id': '32ADF365C6C1B7BD', 'Name': 'Drive Sample', 'CapacityBytes': 107374182400, 'Protocol': 'SAS'},
    {'Id': '58CFF987G8J2V9KL', 'Name': 'Drive Sample', 'CapacityBytes': 899527000000, 'Protocol': 'SAS'}]}
EOF
  "$HW_VENV/bin/sushy-emulator" --config "$WORK/sushy/emulator.conf" > "$WORK/sushy.log" 2>&1 &
  PIDS+=($!)
  wait_http "$SUSHY_URL/redfish/v1/Systems" sushy-emulator "$WORK/sushy.log"
  "$CLIENT_VENV/bin/python" "$HERE/redfish_test.py" "$IRONBARK_URL" "$SUSHY_URL" "$ISO_URL" "$CLIENT_VENV/bin/openstack"
}

run_ipmi() {
  if ! command -v ipmitool >/dev/null 2>&1; then
    echo "# installing ipmitool (Debian)"
    (apt-get install -y -q ipmitool > "$WORK/apt.log" 2>&1 || { apt-get update -q >> "$WORK/apt.log" 2>&1 && apt-get install -y -q ipmitool >> "$WORK/apt.log" 2>&1; }) \
      || { echo "SKIP ipmi: ipmitool could not be installed (see $WORK/apt.log)"; return 0; }
  fi
  local port
  port=$(free_port)
  # pyghmi's own simulated BMC (user admin, password password).
  "$HW_VENV/bin/fakebmc" --port "$port" > "$WORK/fakebmc.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 50); do
    ipmitool -I lanplus -H 127.0.0.1 -p "$port" -U admin -P password -R 1 -N 1 power status >/dev/null 2>&1 && break
    sleep 0.2
  done
  "$CLIENT_VENV/bin/python" "$HERE/ipmi_test.py" "$IRONBARK_URL" "127.0.0.1" "$port" "$CLIENT_VENV/bin/openstack"
}

start_ironbark
rc=0
case "$WHAT" in
  redfish) run_redfish || rc=$? ;;
  ipmi) run_ipmi || rc=$? ;;
  all) run_redfish || rc=$?; [ "$rc" = 0 ] && { run_ipmi || rc=$?; } ;;
  *) echo "usage: $0 [redfish|ipmi|all]" >&2; exit 2 ;;
esac
if [ "$rc" != 0 ]; then
  echo "logs in $WORK (ironbark.log, sushy.log, fakebmc.log)" >&2
  trap - EXIT; cleanup; exit "$rc"
fi
rm -rf "$WORK"
