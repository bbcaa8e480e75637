#!/usr/bin/env bash
# Horizon 27 with the ironic-ui plugin (both from PyPI, tests/horizon/
# requirements.txt) against a fresh ironbark: Horizon is given ironbark's
# identity URL only (local_settings.py); Django's own server runs it; the
# pages are checked in Debian's headless Chromium (tests/ui/horizon.test.mjs).
#
# Usage: tests/horizon/run.sh [SCREENSHOT_DIR]
#   SCREENSHOT_DIR defaults to docs/screenshots. The venv is $HORIZON_VENV
#   (default /tmp/ironbark-horizon-venv); builds ironbark (debug) when
#   target/debug/ironbark is missing.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SHOTS="$(mkdir -p "${1:-$ROOT/docs/screenshots}" && cd "${1:-$ROOT/docs/screenshots}" && pwd)"
VENV="${HORIZON_VENV:-/tmp/ironbark-horizon-venv}"

bash "$ROOT/tests/ui/install.sh"
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements.txt"
SITE=$("$VENV/bin/python" -c 'import openstack_dashboard, os; print(os.path.dirname(openstack_dashboard.__file__))')
PLUGIN=$("$VENV/bin/python" -c 'import ironic_ui, os; print(os.path.dirname(ironic_ui.__file__))')
# the venv is this script's: its settings and enabled plugins are written here
cp "$HERE/local_settings.py" "$SITE/local/local_settings.py"
cp "$PLUGIN/enabled/_2200_ironic.py" "$SITE/local/enabled/_2200_ironic.py"

BIN="$ROOT/target/debug/ironbark"
[ -x "$BIN" ] || (cd "$ROOT" && cargo build --quiet)
WORK=$(mktemp -d /tmp/ironbark-horizon.XXXXXX)
# shared with the benchmarks: free ports, start, wait, stop
source "$ROOT/bench/lib.sh"
export ADMIN_PASSWORD=horizon-admin IRONBARK_ADMIN_PASSWORD=horizon-admin
HZ_PID=""
cleanup() { [ -n "$HZ_PID" ] && kill "$HZ_PID" 2>/dev/null; stop_ironbark; }
trap cleanup EXIT
start_ironbark "$WORK/data" IRONBARK_FAKE__DELAY_MS=100
IDENTITY_URL="$ID_URL"
"$VENV/bin/python" "$HERE/setup_cloud.py" "$IDENTITY_URL" "$ADMIN_PASSWORD"

export DJANGO_SETTINGS_MODULE=openstack_dashboard.settings IRONBARK_IDENTITY_URL="$IDENTITY_URL" \
  HORIZON_STATIC_ROOT="$WORK/static" HORIZON_SECRET_KEY="$(head -c 32 /dev/urandom | base64)" PYTHONWARNINGS=ignore
"$VENV/bin/django-admin" collectstatic --noinput -v0
"$VENV/bin/django-admin" compress --force -v0
HORIZON_PORT=$(free_ports 1)
HORIZON_URL="http://127.0.0.1:$HORIZON_PORT"
"$VENV/bin/django-admin" runserver "127.0.0.1:$HORIZON_PORT" --insecure --noreload > "$WORK/horizon.log" 2>&1 &
HZ_PID=$!
for _ in $(seq 1 100); do curl -fsS -o /dev/null "$HORIZON_URL/auth/login/" 2>/dev/null && break; sleep 0.3; done
curl -fsS -o /dev/null "$HORIZON_URL/auth/login/" || { echo "Horizon did not start:"; cat "$WORK/horizon.log"; exit 1; }

if HORIZON_URL="$HORIZON_URL" SHOTS="$SHOTS" FAILURES="$WORK" node "$ROOT/tests/ui/horizon.test.mjs"; then
  rm -rf "$WORK"
else
  echo "the Horizon test failed; screenshots and logs in $WORK; Horizon's log:"
  tail -60 "$WORK/horizon.log"
  exit 1
fi
