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
# shared with the benchmarks: free ports, start, wait, stop
source "$ROOT/bench/lib.sh"
export ADMIN_PASSWORD=console-admin IRONBARK_ADMIN_PASSWORD=console-admin
trap stop_ironbark EXIT
# 300 ms per fake hardware step, so BUILD and cleaning are seen in the pages
start_ironbark "$WORK/data" IRONBARK_FAKE__DELAY_MS=300 IRONBARK_LOG=info
export IDENTITY_URL="$ID_URL"

# a small raw disk image to publish
head -c 4194304 /dev/urandom > "$WORK/ubuntu-24.04-baremetal.raw"
if IMAGE_FILE="$WORK/ubuntu-24.04-baremetal.raw" SHOTS="$SHOTS" FAILURES="$WORK" node "$HERE/console.test.mjs"; then
  rm -rf "$WORK"
else
  echo "the browser test failed; failure screenshots in $WORK; ironbark's log:"
  tail -50 "$WORK/data.log"
  exit 1
fi
