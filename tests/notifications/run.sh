#!/usr/bin/env bash
# Ironic versioned notifications from ironbark on the real RabbitMQ, read by
# kombu (tests/notifications/consume.py) and checked against what the real
# Ironic 39 sends for the same API calls.
#
# Usage: tests/notifications/run.sh [AMQP_URL]
#   AMQP_URL defaults to amqp://guest:guest@127.0.0.1:5672// (ironbark gets
#   the same broker as rabbit://…). Builds ironbark (debug) if needed and a
#   venv in $VENV (default /tmp/ironbark-notify-venv) from requirements.txt.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${VENV:-/tmp/ironbark-notify-venv}"
AMQP="${1:-amqp://guest:guest@127.0.0.1:5672//}"
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/pip" install -q -r "$HERE/requirements.txt"
BIN="$ROOT/target/debug/ironbark"
[ -x "$BIN" ] || (cd "$ROOT" && cargo build --quiet)
WORK=$(mktemp -d /tmp/ironbark-notify.XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# amqp://u:p@h:port// -> rabbit://u:p@h:port/
RABBIT="rabbit://${AMQP#amqp://}"; RABBIT="${RABBIT%/}"
declare -A PORT
for s in IDENTITY BAREMETAL COMPUTE IMAGE NETWORK CONTRAIL; do PORT[$s]=$(free_port); done
env IRONBARK_DATA_DIR="$WORK" IRONBARK_AUTH=noauth \
  IRONBARK_IDENTITY_PORT="${PORT[IDENTITY]}" IRONBARK_BAREMETAL_PORT="${PORT[BAREMETAL]}" \
  IRONBARK_COMPUTE_PORT="${PORT[COMPUTE]}" IRONBARK_IMAGE_PORT="${PORT[IMAGE]}" \
  IRONBARK_NETWORK_PORT="${PORT[NETWORK]}" IRONBARK_CONTRAIL_PORT="${PORT[CONTRAIL]}" \
  IRONBARK_NOTIFICATIONS__TRANSPORT_URL="$RABBIT" IRONBARK_NOTIFICATIONS__LEVEL=debug \
  "$BIN" serve > "$WORK/ironbark.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true' EXIT
URL="http://127.0.0.1:${PORT[BAREMETAL]}"
for _ in $(seq 1 150); do
  curl -fsS "$URL/" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "$URL/" >/dev/null || { echo "ironbark did not start:"; cat "$WORK/ironbark.log"; exit 1; }
if "$VENV/bin/python" "$HERE/consume.py" "$URL" "$AMQP"; then
  rm -rf "$WORK"
else
  echo "ironbark log: $WORK/ironbark.log" >&2
  exit 1
fi
