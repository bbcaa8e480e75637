#!/usr/bin/env bash
# Create the client/test venv used by ironbark's identity tooling
# (tempest/run-identity.sh, tests/cli/identity.sh, bench/identity_tokens.py)
# from the exact pins in tempest/requirements.txt.
#
# Idempotent: when the venv already has every pin at the pinned version it is
# left alone (no network access at all).  Needs python3 (3.10+) with the venv
# module and PyPI; every pin is a wheel, so no compiler is involved.
#
# Env: IRONBARK_VENV=/tmp/ironbark-venv  PYTHON=python3  FORCE=1 (reinstall)
# Prints the venv path on its last line.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REQ="$HERE/requirements.txt"
VENV="${IRONBARK_VENV:-/tmp/ironbark-venv}"
PYTHON="${PYTHON:-python3}"

pins_match() {  # exit 0 when every "name==version" line of $REQ is installed in $VENV
  [ -x "$VENV/bin/python" ] || return 1
  "$VENV/bin/python" - "$REQ" <<'PY'
import re, sys
from importlib.metadata import distributions

def norm(n):
    return re.sub(r"[-_.]+", "-", n).lower()

have = {norm(d.metadata["Name"]): d.version for d in distributions()}
missing = []
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if "==" not in line:
        continue
    name, want = (s.strip() for s in line.split("==", 1))
    if have.get(norm(name)) != want:
        missing.append(f"{name}=={want} (have {have.get(norm(name))})")
if missing:
    print("venv differs from pins: " + ", ".join(missing[:5])
          + (" ..." if len(missing) > 5 else ""), file=sys.stderr)
    sys.exit(1)
PY
}

if [ "${FORCE:-0}" != 1 ] && pins_match 2>/dev/null; then
  echo "$VENV already matches $REQ"
  echo "$VENV"
  exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
# --only-binary: fail loudly rather than start compiling on a busy box.
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -U pip
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --only-binary :all: -r "$REQ"
"$VENV/bin/python" -m pip check
pins_match
echo "$VENV installed from $REQ"
echo "$VENV"
