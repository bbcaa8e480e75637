#!/usr/bin/env bash
# Side-by-side token benchmark: the real Keystone 30 (reference) vs ironbark's
# identity service, with the same bench/identity_tokens.py settings.
#
# Usage: bench/run-identity-bench.sh [IRONBARK_IDENTITY_URL]   (default http://127.0.0.1:5000)
#
# Keystone: if nothing answers GET $KEYSTONE_URL/v3, it is started with the
# peer harness (../shared/peer/run-keystone.sh next to this clone: keystone
# 30.0.0, sqlite, fernet, gunicorn with 2 sync workers) in $KDATA, and stopped
# again at the end.  The two servers are measured one after the other, never
# at the same time.  Not part of CI.
#
# Env: KEYSTONE_URL=http://127.0.0.1:5100  N=64  C=8  CAP=60 (s per op)
#      MATCH_CATALOG=1: give the keystone the same 5 catalog services ironbark
#        bootstraps (identity, baremetal + compute, image, network on the usual
#        ports), so both servers render catalogs of the same size
#      ADMIN_PASSWORD=secretadmin (keystone admin)  IRONBARK_ADMIN_PASSWORD (default: ADMIN_PASSWORD)
#      REPEAT=1: runs per server; with REPEAT>1 <server>.json holds, per op, the
#        run with the median req/s (all runs kept as <server>-runK.json)
#      SKIP_KEYSTONE=1: reuse $KEYSTONE_JSON (default bench/results/keystone-30-identity.json)
#      SKIP_IRONBARK=1: keystone half only
#      OUT_DIR=bench/results/run-<UTC time>  PEER_DIR=<clone>/../shared/peer
#      IRONBARK_VENV=/tmp/ironbark-venv  KVENV=/tmp/keystone-venv  KDATA=/tmp/keystone-bench-5100
# Output: $OUT_DIR/keystone.json, ironbark.json, table.txt; exit status 0 when
#         both halves ran without request errors.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
IB_URL="${1:-${IRONBARK_URL:-http://127.0.0.1:5000}}"; IB_URL="${IB_URL%/}"; IB_URL="${IB_URL%/v3}"
KURL="${KEYSTONE_URL:-http://127.0.0.1:5100}"; KURL="${KURL%/}"; KURL="${KURL%/v3}"
N="${N:-64}"; C="${C:-8}"; CAP="${CAP:-60}"
ADMIN_PASSWORD="${ADMIN_PASSWORD:-secretadmin}"
IRONBARK_ADMIN_PASSWORD="${IRONBARK_ADMIN_PASSWORD:-$ADMIN_PASSWORD}"
PEER_DIR="${PEER_DIR:-$ROOT/../shared/peer}"
VENV="${IRONBARK_VENV:-/tmp/ironbark-venv}"
KVENV="${KVENV:-/tmp/keystone-venv}"
KDATA="${KDATA:-/tmp/keystone-bench-5100}"
OUT_DIR="${OUT_DIR:-$HERE/results/run-$(date -u +%Y%m%dT%H%M%SZ)}"
KEYSTONE_JSON="${KEYSTONE_JSON:-$HERE/results/keystone-30-identity.json}"
for u in "$IB_URL" "$KURL"; do
  case "$u" in http://127.*|http://localhost*) ;; *) echo "refusing non-loopback $u" >&2; exit 2;; esac
done
mkdir -p "$OUT_DIR"
[ -x "$VENV/bin/python" ] || IRONBARK_VENV="$VENV" "$ROOT/tempest/setup-venv.sh" >/dev/null \
  || { echo "cannot create $VENV" >&2; exit 2; }
PY="$VENV/bin/python"
BENCH=("$PY" "$HERE/identity_tokens.py" --n "$N" --concurrency "$C" --duration-cap "$CAP")
REPEAT="${REPEAT:-1}"
# bench LABEL URL PASSWORD OUTBASE: REPEAT runs, then the per-op median run -> OUTBASE.json
bench() {
  local label="$1" url="$2" pw="$3" base="$4" k brc=0 files=()
  for k in $(seq 1 "$REPEAT"); do
    [ "$REPEAT" -gt 1 ] && echo "# run $k/$REPEAT"
    "${BENCH[@]}" --url "$url" --password "$pw" --label "$label" --out "$base-run$k.json" || brc=1
    files+=("$base-run$k.json")
  done
  "$PY" - "$base.json" "${files[@]}" <<'MERGE' || brc=1
import json, statistics, sys
out, runs = sys.argv[1], [json.load(open(p)) for p in sys.argv[2:]]
doc = dict(runs[0])
if len(runs) > 1:
    merged = []
    for idx, r0 in enumerate(runs[0]["results"]):
        cands = sorted((r["results"][idx] for r in runs), key=lambda x: x["req_per_s"] or 0)
        pick = dict(cands[(len(cands) - 1) // 2])
        pick["req_per_s_runs"] = [c["req_per_s"] for c in cands]
        pick["p50_ms_runs"] = sorted(c["p50_ms"] for c in cands)
        merged.append(pick)
    doc["results"] = merged
    doc["aggregation"] = f"per op: the run with the median req/s of {len(runs)} runs"
    doc["runs"] = [{"started": r["started"], "loadavg_end": r["client"]["loadavg_end"],
                    "results": r["results"]} for r in runs]
json.dump(doc, open(out, "w"), indent=2)
open(out, "a").write("\n")
MERGE
  [ "$REPEAT" -gt 1 ] || rm -f "${files[@]}"
  return $brc
}
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' -m 5 "$1/v3")" = 200 ]; }
rc=0

# --- Keystone half -----------------------------------------------------------
STARTED_KEYSTONE=0
if [ "${SKIP_KEYSTONE:-0}" = 1 ]; then
  [ -f "$KEYSTONE_JSON" ] || { echo "SKIP_KEYSTONE=1 but no $KEYSTONE_JSON" >&2; exit 2; }
  cp "$KEYSTONE_JSON" "$OUT_DIR/keystone.json"
  echo "# keystone: reusing $KEYSTONE_JSON"
else
  if ! ready "$KURL"; then
    [ -x "$PEER_DIR/run-keystone.sh" ] || { echo "no keystone at $KURL and no $PEER_DIR/run-keystone.sh" >&2; exit 2; }
    if [ ! -x "$KVENV/bin/keystone-manage" ]; then
      echo "# creating $KVENV from $PEER_DIR/requirements-keystone.txt"
      python3 -m venv "$KVENV" && "$KVENV/bin/pip" install -q --only-binary :all: \
        -r "$PEER_DIR/requirements-keystone.txt" || { echo "keystone venv failed" >&2; exit 2; }
    fi
    echo "# starting keystone 30 at $KURL (data $KDATA)"
    KVENV="$KVENV" VENV="$VENV" KDATA="$KDATA" ADMIN_PASSWORD="$ADMIN_PASSWORD" \
      "$PEER_DIR/run-keystone.sh" "$KURL" http://127.0.0.1:6385 >/dev/null \
      || { echo "keystone did not start (see $KDATA)" >&2; exit 2; }
    STARTED_KEYSTONE=1
  fi
  if [ "${MATCH_CATALOG:-1}" = 1 ]; then
    ( export OS_AUTH_URL="$KURL/v3" OS_USERNAME=admin OS_PASSWORD="$ADMIN_PASSWORD" \
        OS_PROJECT_NAME=admin OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default \
        OS_IDENTITY_API_VERSION=3 OS_AUTH_TYPE=password OS_REGION_NAME=RegionOne
      unset OS_CLOUD OS_CLIENT_CONFIG_FILE OS_TOKEN OS_ENDPOINT
      have=$("$VENV/bin/openstack" service list -f value -c Type) || exit 1
      for spec in compute:nova:http://127.0.0.1:8774/v2.1 image:glance:http://127.0.0.1:9292 \
                  network:neutron:http://127.0.0.1:9696; do
        IFS=: read -r type name url <<<"$spec"; url="${spec#*:*:}"
        grep -qx "$type" <<<"$have" && continue
        echo "# adding $type service to keystone's catalog ($url)"
        "$VENV/bin/openstack" service create --name "$name" "$type" >/dev/null || exit 1
        for iface in public internal admin; do
          "$VENV/bin/openstack" endpoint create --region RegionOne "$type" "$iface" "$url" >/dev/null || exit 1
        done
      done ) || echo "warning: could not align keystone's catalog" >&2
  fi
  echo "# keystone $KURL: n=$N c=$C cap=${CAP}s"
  bench keystone-30.0.0 "$KURL" "$ADMIN_PASSWORD" "$OUT_DIR/keystone" || rc=1
  if [ "$STARTED_KEYSTONE" = 1 ]; then
    KDATA="$KDATA" "$PEER_DIR/stop-keystone.sh" >/dev/null
  fi
fi

# --- ironbark half --------------------------------------------------------------
if [ "${SKIP_IRONBARK:-0}" != 1 ]; then
  if ready "$IB_URL"; then
    echo "# ironbark $IB_URL: n=$N c=$C cap=${CAP}s"
    bench ironbark "$IB_URL" "$IRONBARK_ADMIN_PASSWORD" "$OUT_DIR/ironbark" || rc=1
  else
    echo "ironbark not answering GET $IB_URL/v3 (start: target/release/ironbark serve)" >&2
    rc=1
  fi
fi

# --- side-by-side table -------------------------------------------------------------
"$PY" - "$OUT_DIR/keystone.json" "$OUT_DIR/ironbark.json" <<'PY' | tee "$OUT_DIR/table.txt"
import json, os, sys
def load(p):
    return json.load(open(p)) if os.path.exists(p) else None
k, i = load(sys.argv[1]), load(sys.argv[2])
ops = [r["op"] for r in (k or i or {"results": []})["results"]]
by = lambda d: {r["op"]: r for r in d["results"]} if d else {}
kr, ir = by(k), by(i)
f = lambda v, fmt="{:.1f}": "-" if v is None else fmt.format(v)
s = (k or i or {}).get("settings", {})
print(f"n={s.get('n')} concurrency={s.get('concurrency')} per op; ratio = ironbark req/s / keystone req/s")
if k and i and any(k["settings"][x] != i["settings"][x] for x in ("n", "concurrency")):
    print(f"WARNING: settings differ: keystone n={k['settings']['n']} c={k['settings']['concurrency']}, "
          f"ironbark n={i['settings']['n']} c={i['settings']['concurrency']}")
hdr = ("op", "keystone req/s", "ironbark req/s", "ratio", "keystone p50 ms", "ironbark p50 ms",
       "keystone p99 ms", "ironbark p99 ms", "errors k/i")
rows = []
for op in ops:
    a, b = kr.get(op, {}), ir.get(op, {})
    ka, ib = a.get("req_per_s"), b.get("req_per_s")
    rows.append((op, f(ka), f(ib), f(ib / ka if ka and ib else None, "{:.1f}x"),
                 f(a.get("p50_ms")), f(b.get("p50_ms")), f(a.get("p99_ms")), f(b.get("p99_ms")),
                 f"{a.get('errors', '-')}/{b.get('errors', '-')}"))
w = [max(len(str(r[j])) for r in rows + [hdr]) for j in range(len(hdr))]
for r in [hdr] + rows:
    print("  ".join(str(c).ljust(w[j]) if j == 0 else str(c).rjust(w[j]) for j, c in enumerate(r)))
PY
echo "# results in $OUT_DIR"
exit $rc
