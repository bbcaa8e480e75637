#!/usr/bin/env bash
# The web console in Debian's headless Chromium, driven by playwright-core
# (tests/ui/console.test.mjs): admin and tenant flows against a fresh
# ironbark on SQLite with fake hardware, one screenshot per page.
#
# Usage: tests/ui/run.sh [SCREENSHOT_DIR]
#   SCREENSHOT_DIR defaults to docs/screenshots (the README's pictures).
#   tests/ui/install.sh brings Debian's chromium + chromium-driver and
#   playwright-core; builds ironbark (debug) when target/debug/ironbark is
#   missing.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SHOTS="$(mkdir -p "${1:-$ROOT/docs/screenshots}" && cd "${1:-$ROOT/docs/screenshots}" && pwd)"

bash "$HERE/install.sh"

BIN="$ROOT/target/debug/ironbark"
[ -x "$BIN" ] || (cd "$ROOT" && cargo build --quiet)
WORK=$(mktemp -d /tmp/ironbark-ui.XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
declare -A PORT
for s in IDENTITY BAREMETAL COMPUTE IMAGE NETWORK CONTRAIL; do PORT[$s]=$(free_port); done
export ADMIN_PASSWORD=console-admin
# 300 ms per fake hardware step, so BUILD and cleaning are seen in the pages
env IRONBARK_DATA_DIR="$WORK/data" IRONBARK_ADMIN_PASSWORD="$ADMIN_PASSWORD" IRONBARK_FAKE__DELAY_MS=300 \
  IRONBARK_IDENTITY_PORT="${PORT[IDENTITY]}" IRONBARK_BAREMETAL_PORT="${PORT[BAREMETAL]}" \
  IRONBARK_COMPUTE_PORT="${PORT[COMPUTE]}" IRONBARK_IMAGE_PORT="${PORT[IMAGE]}" \
  IRONBARK_NETWORK_PORT="${PORT[NETWORK]}" IRONBARK_CONTRAIL_PORT="${PORT[CONTRAIL]}" \
  "$BIN" serve > "$WORK/ironbark.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true' EXIT
export IDENTITY_URL="http://127.0.0.1:${PORT[IDENTITY]}"
for _ in $(seq 1 150); do
  curl -fsS "$IDENTITY_URL/v3" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "$IDENTITY_URL/v3" >/dev/null || { echo "ironbark did not start:"; cat "$WORK/ironbark.log"; exit 1; }

# a small raw disk image to publish
head -c 4194304 /dev/urandom > "$WORK/ubuntu-24.04-baremetal.raw"
if IMAGE_FILE="$WORK/ubuntu-24.04-baremetal.raw" SHOTS="$SHOTS" FAILURES="$WORK" node "$HERE/console.test.mjs"; then
  rm -rf "$WORK"
else
  echo "the browser test failed; failure screenshots in $WORK; ironbark's log:"
  tail -50 "$WORK/ironbark.log"
  exit 1
fi
