#!/usr/bin/env bash
# What reporting costs the API: the bare-metal load of ../shared/peer/
# bench_ironic_api.py (N nodes + ports, list pages, show, patch, every node
# manage -> provide -> deploy -> undeploy, delete; C client threads; noauth,
# SQLite, release build) against ironbark with
#   off       no Sandesh, no notifications, no metrics middleware
#   default   metrics only (the default configuration)
#   absent    + Sandesh to a collector address where nothing listens
#   present   + Sandesh to a collector that answers (bench/sink_collector.py)
#   all       + Sandesh present + versioned notifications to RabbitMQ
# ROUNDS rounds, configurations interleaved within each round; the table is
# the median over rounds of each op's p50 and p99, beside the committed Ironic
# 39 figures for the same load (median of its 6 runs, ../shared/peer/results).
#
# Usage: bench/reporting_overhead.sh
# Env: BIN=<clone>/target/release/ironbark  ROUNDS=3  N=200  C=8
#      IRONBARK_VENV=/tmp/ironbark-venv (requests)  PEER=<clone>/../shared/peer
#      AMQP=rabbit://guest:guest@127.0.0.1:5672/  OUT=bench/results/reporting
# Exit status: 0 every run completed with no errors, 1 otherwise, 2 setup error.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BIN="${BIN:-$ROOT/target/release/ironbark}"
ROUNDS="${ROUNDS:-3}"; N="${N:-200}"; C="${C:-8}"
PEER="${PEER:-$ROOT/../shared/peer}"
VENV="${IRONBARK_VENV:-/tmp/ironbark-venv}"
AMQP="${AMQP:-rabbit://guest:guest@127.0.0.1:5672/}"
OUT="${OUT:-$HERE/results/reporting}"
PY="$VENV/bin/python"
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
die() { echo "reporting_overhead: $*" >&2; exit 2; }
[ -x "$BIN" ] || die "no executable $BIN (cargo build --release, or set BIN=)"
[ -x "$PY" ] && "$PY" -c 'import requests' 2>/dev/null || die "no $PY with requests (tempest/setup-venv.sh)"
[ -f "$PEER/bench_ironic_api.py" ] || die "no $PEER/bench_ironic_api.py (set PEER=)"

TMP="$(mktemp -d /tmp/ironbark-reporting-bench.XXXXXX)" || die "mktemp failed"
SINK_PID=""
TOPIC="ironbark_bench_$$"
cleanup() {
  stop_ironbark
  [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null
  # The queues the notifier declared for this run's topic.
  command -v rabbitmqctl >/dev/null && for p in info error; do rabbitmqctl -q delete_queue "$TOPIC.$p" >/dev/null 2>&1; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

python3 "$HERE/sink_collector.py" > "$TMP/sink.out" &
SINK_PID=$!
for _ in $(seq 1 50); do grep -q listening "$TMP/sink.out" && break; sleep 0.1; done
SINK=$(awk '/listening/ {print $2}' "$TMP/sink.out")
[ -n "$SINK" ] || die "the sink collector did not start"
read -r DEAD < <(free_ports 1)

config_env() {  # the extra environment of one configuration
  case "$1" in
    off) echo "IRONBARK_METRICS__ENABLED=false" ;;
    default) echo "" ;;
    absent) echo "IRONBARK_SANDESH__COLLECTORS=127.0.0.1:$DEAD IRONBARK_SANDESH__INTROSPECT_PORT=0" ;;
    present) echo "IRONBARK_SANDESH__COLLECTORS=$SINK IRONBARK_SANDESH__INTROSPECT_PORT=0" ;;
    all) echo "IRONBARK_SANDESH__COLLECTORS=$SINK IRONBARK_SANDESH__INTROSPECT_PORT=0" \
              "IRONBARK_NOTIFICATIONS__TRANSPORT_URL=$AMQP IRONBARK_NOTIFICATIONS__TOPICS=$TOPIC" ;;
  esac
}

CONFIGS="off default absent present all"
FAILED=0
mkdir -p "$OUT"
for r in $(seq 1 "$ROUNDS"); do
  for cfg in $CONFIGS; do
    # shellcheck disable=SC2046
    start_ironbark "$TMP/$cfg-$r" IRONBARK_AUTH=noauth $(config_env "$cfg") || die "ironbark ($cfg) did not start"
    echo "# round $r: $cfg"
    "$PY" "$PEER/bench_ironic_api.py" --base-url "$BM_URL" --nodes "$N" --concurrency "$C" \
      --out "$OUT/$cfg-run$r.json" > "$TMP/$cfg-$r.bench.log" 2>&1 || { FAILED=1; tail -5 "$TMP/$cfg-$r.bench.log"; }
    if [ "$cfg" = absent ]; then
      url=$(grep -o 'introspect http://[^ ]*' "$TMP/$cfg-$r.out" | awk '{print $2}')
      echo "# absent collector, as introspect shows it: $(curl -s "${url}Snh_CollectorInfoRequest" | grep -o '<status[^/]*' | sed 's/.*>//')"
    fi
    grep -E ' (ERROR|WARN) ' "$TMP/$cfg-$r.log" | grep -v "sandesh\|notifications" | head -3 | sed "s/^/# $cfg log: /"
    stop_ironbark
  done
done
kill "$SINK_PID" 2>/dev/null; wait "$SINK_PID" 2>/dev/null; SINK_PID=""
echo "# sink collector: $(tail -1 "$TMP/sink.out")"
"$PY" "$HERE/reporting_overhead.py" --results "$OUT" --configs $CONFIGS \
  --reference "$PEER"/results/ironic-39.0.0-run*.json | tee "$OUT/summary.md"
{
  echo
  echo "ironbark $("$BIN" --version 2>/dev/null) (git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)), N=$N C=$C," \
    "$ROUNDS rounds; sink collector: $(tail -1 "$TMP/sink.out"); box: $(nproc) CPUs, load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee -a "$OUT/summary.md"
exit "$FAILED"
