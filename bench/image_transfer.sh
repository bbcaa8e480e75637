#!/usr/bin/env bash
# Image data transfer benchmark: upload and download a SIZE_MB file through
# ironbark's Glance-v2 image service with curl, next to the reference of the
# same box: md5sum and sha512sum of the same file (an upload has to compute
# both, so one md5 + sha512 pass over the data is the physical limit), timed
# one after the other and in parallel.  ironbark's resident memory is sampled
# while data moves; it must stay flat (streaming, no buffering of the image).
#
# Usage: bench/image_transfer.sh
#
# Starts its own ironbark (BIN serve) on free loopback ports with a fresh data
# directory in a temp dir on $TMPBASE, gets an admin token (POST /v3/auth/tokens),
# then per image: POST /v2/images (raw/bare) -> 201; PUT /v2/images/ID/file
# (first image with Content-Length, second with Transfer-Encoding: chunked)
# -> 204; GET /v2/images/ID: status active, size, checksum = md5sum,
# os_hash_value = sha512sum; GET /v2/images/ID/file -> /dev/null (timed), and
# for the first image once more into a file that must `cmp` equal; DELETE.
# VmRSS of the server is read from /proc/PID/status every SAMPLE_S seconds;
# VmHWM is reset before each transfer (/proc/PID/clear_refs) and read after,
# which also catches peaks between two samples.
#
# Env: BIN=<clone>/target/release/ironbark  SIZE_MB=2048  TMPBASE=/tmp
#      IRONBARK_ADMIN_PASSWORD=secretadmin  SAMPLE_S=0.2  BASELINE_S=2
#      OUT_JSON=bench/results/image-transfer-<UTC time>.json
#      START_TIMEOUT=120 (s for the server to answer)  XFER_TIMEOUT=1800 (s per curl)
#      EXPECT100=0: curl is told not to send `Expect: 100-continue` (clients such
#        as openstacksdk/requests never send it); 1 keeps curl's default
#      KEEP=1: keep the temp dir (data dir, server log, samples)
#      IMAGE_URL: use this image endpoint instead of ironbark's own image port
#        (only for checking the script; RSS is still the started ironbark's)
# Disk: the test file, the stored copy of one image and one downloaded copy
#      exist at the same time: 3 x SIZE_MB (+256 MiB) must be free on $TMPBASE.
# Output: a table (operation, seconds, MiB/s, ratio to the md5 & sha512
#      limit, peak RSS) and $OUT_JSON.  Exit 0 when every transfer and check
#      passed, 1 when one failed, 2 on a setup error, 3 when the server's image
#      service does not answer (only the reference, token and RSS baseline ran;
#      no JSON written).  Never uses the fixed ports 5000/6385/9292.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BIN="${BIN:-$ROOT/target/release/ironbark}"
SIZE_MB="${SIZE_MB:-2048}"
TMPBASE="${TMPBASE:-/tmp}"
ADMIN_PASSWORD="${IRONBARK_ADMIN_PASSWORD:-secretadmin}"
SAMPLE_S="${SAMPLE_S:-0.2}"
BASELINE_S="${BASELINE_S:-2}"
START_TIMEOUT="${START_TIMEOUT:-120}"
XFER_TIMEOUT="${XFER_TIMEOUT:-1800}"
EXPECT100="${EXPECT100:-0}"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT_JSON="${OUT_JSON:-$HERE/results/image-transfer-$STAMP.json}"

die() { echo "image_transfer: $*" >&2; exit 2; }
[ -x "$BIN" ] || die "no executable $BIN (build it, or set BIN=)"
case "$SIZE_MB" in ''|*[!0-9]*) die "SIZE_MB must be a positive integer";; esac
[ "$SIZE_MB" -gt 0 ] || die "SIZE_MB must be a positive integer"
for t in curl md5sum sha512sum python3 cmp df; do command -v "$t" >/dev/null || die "$t not found"; done
SIZE=$((SIZE_MB * 1024 * 1024))
NEED_KB=$(( (3 * SIZE_MB + 256) * 1024 ))
AVAIL_KB=$(df -Pk "$TMPBASE" | awk 'NR == 2 {print $4}')
echo "# $TMPBASE: $((AVAIL_KB / 1024)) MiB free, need $((NEED_KB / 1024)) MiB (file + stored image + downloaded copy)"
[ "${AVAIL_KB:-0}" -ge "$NEED_KB" ] || die "not enough space on $TMPBASE (set SIZE_MB or TMPBASE)"

TMP="$(mktemp -d "$TMPBASE/ironbark-image-bench.XXXXXX")" || die "mktemp failed"
FILE="$TMP/image.bin"; DL="$TMP/download.bin"
IB_PID=""; SAMPLER_PID=""
cleanup() {
  [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null
  if [ -n "$IB_PID" ] && kill -0 "$IB_PID" 2>/dev/null; then
    kill "$IB_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$IB_PID" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$IB_PID" 2>/dev/null && kill -9 "$IB_PID" 2>/dev/null
  fi
  wait 2>/dev/null
  if [ "${KEEP:-0}" = 1 ]; then rm -f "$FILE" "$DL"; echo "# kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { printf '%s' "$EPOCHREALTIME"; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
# Every timed operation and every check is one line in $TMP/ops.tsv:
# kind  name  seconds  bytes  ok(1/0)  start  end  hwm_kb  note
op() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >> "$TMP/ops.tsv"; }
FAILED=0
check() {  # check OK-EXIT-STATUS DESCRIPTION
  if [ "$1" -eq 0 ]; then echo "   ok: $2"; op check "$2" 0 0 1 0 0 0 ""
  else echo "   FAILED: $2"; op check "$2" 0 0 0 0 0 0 ""; FAILED=1; fi
}
: > "$TMP/ops.tsv"

# --- reference: the same file, the same box -----------------------------------------
echo "# writing $SIZE_MB MiB of random data to $FILE"
t0=$(now)
dd if=/dev/urandom of="$FILE" bs=1M count="$SIZE_MB" iflag=fullblock status=none || die "dd failed"
echo "#   $(sub "$(now)" "$t0") s"
[ "$(stat -c %s "$FILE")" = "$SIZE" ] || die "test file has the wrong size"
t0=$(now); cat "$FILE" > /dev/null; t1=$(now)
op ref "read (cat > /dev/null, page cache)" "$(sub "$t1" "$t0")" "$SIZE" 1 "$t0" "$t1" "" ""
t0=$(now); MD5=$(md5sum < "$FILE" | cut -d' ' -f1); t1=$(now)
op ref "md5sum" "$(sub "$t1" "$t0")" "$SIZE" 1 "$t0" "$t1" "" ""
t2=$(now); SHA512=$(sha512sum < "$FILE" | cut -d' ' -f1); t3=$(now)
op ref "sha512sum" "$(sub "$t3" "$t2")" "$SIZE" 1 "$t2" "$t3" "" ""
op ref "md5sum then sha512sum (sequential)" \
  "$(awk -v a="$(sub "$t1" "$t0")" -v b="$(sub "$t3" "$t2")" 'BEGIN { printf "%.3f", a + b }')" "$SIZE" 1 "$t0" "$t3" "" ""
t0=$(now)
md5sum < "$FILE" > "$TMP/md5.par" & p1=$!
sha512sum < "$FILE" > "$TMP/sha512.par" & p2=$!
wait "$p1"; r1=$?; wait "$p2"; r2=$?
t1=$(now)
op ref "md5sum & sha512sum in parallel = limit" "$(sub "$t1" "$t0")" "$SIZE" 1 "$t0" "$t1" "" ""
[ $r1 -eq 0 ] && [ $r2 -eq 0 ] && [ "$(cut -d' ' -f1 "$TMP/md5.par")" = "$MD5" ] \
  && [ "$(cut -d' ' -f1 "$TMP/sha512.par")" = "$SHA512" ]; check $? "parallel hashes equal the sequential ones"
echo "# md5    $MD5"
echo "# sha512 ${SHA512:0:32}..."

# --- start ironbark ---------------------------------------------------------------------------
read -r P_ID P_BM P_IMG P_CMP P_NET P_CTR < <(python3 - <<'PY'
import socket
socks, ports = [], []
while len(ports) < 6:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    socks.append(s)
    if p not in (5000, 6385, 8774, 9292, 9696, 8082):
        ports.append(p)
print(*ports)
PY
) || die "no free ports"
ID_URL="http://127.0.0.1:$P_ID"
IMG_URL="${IMAGE_URL:-http://127.0.0.1:$P_IMG}"; IMG_URL="${IMG_URL%/}"
echo "# starting $BIN serve: identity $P_ID, baremetal $P_BM, image $P_IMG (data $TMP/data)"
IRONBARK_DATA_DIR="$TMP/data" IRONBARK_ADMIN_PASSWORD="$ADMIN_PASSWORD" IRONBARK_LOG=warn \
IRONBARK_HOST=127.0.0.1 IRONBARK_IDENTITY_PORT="$P_ID" IRONBARK_BAREMETAL_PORT="$P_BM" \
IRONBARK_IMAGE_PORT="$P_IMG" IRONBARK_COMPUTE_PORT="$P_CMP" IRONBARK_NETWORK_PORT="$P_NET" \
IRONBARK_CONTRAIL_PORT="$P_CTR" "$BIN" serve > "$TMP/ironbark.out" 2> "$TMP/ironbark.log" &
IB_PID=$!
t0=$SECONDS
until [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$ID_URL/v3")" = 200 ]; do
  kill -0 "$IB_PID" 2>/dev/null || { tail -20 "$TMP/ironbark.log" >&2; die "ironbark exited during start"; }
  [ $((SECONDS - t0)) -lt "$START_TIMEOUT" ] || { tail -20 "$TMP/ironbark.log" >&2; die "identity did not answer in ${START_TIMEOUT}s"; }
  sleep 0.3
done
echo "# ironbark pid $IB_PID answering after $((SECONDS - t0)) s: $("$BIN" --version 2>/dev/null)"

rss_kb() { local k v _; while read -r k v _; do [ "$k" = "$1:" ] && { echo "$v"; return; }; done < "/proc/$IB_PID/status"; echo ""; }
sampler() {
  local k v _ kb
  while [ -r "/proc/$IB_PID/status" ]; do
    kb=""
    while read -r k v _; do [ "$k" = VmRSS: ] && { kb=$v; break; }; done < "/proc/$IB_PID/status" 2>/dev/null
    [ -n "$kb" ] && printf '%s %s\n' "$EPOCHREALTIME" "$kb"
    sleep "$SAMPLE_S"
  done
}
sampler > "$TMP/rss.txt" & SAMPLER_PID=$!
hwm_reset() { echo 5 > "/proc/$IB_PID/clear_refs" 2>/dev/null; }

# --- token ----------------------------------------------------------------------------------
AUTH_BODY=$(python3 -c 'import json, sys; print(json.dumps({"auth": {
  "identity": {"methods": ["password"], "password": {"user": {"name": "admin",
    "domain": {"name": "Default"}, "password": sys.argv[1]}}},
  "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}))' "$ADMIN_PASSWORD")
code=$(curl -s -m 30 -D "$TMP/token.h" -o "$TMP/token.json" -w '%{http_code}' \
  -H 'Content-Type: application/json' -X POST "$ID_URL/v3/auth/tokens" -d "$AUTH_BODY")
TOKEN=$(awk 'tolower($1) == "x-subject-token:" {print $2}' "$TMP/token.h" | tr -d '\r')
[ "$code" = 201 ] && [ -n "$TOKEN" ]; check $? "POST /v3/auth/tokens -> 201 + X-Subject-Token (got $code)"
[ -n "$TOKEN" ] || exit 1

# --- image service? -----------------------------------------------------------------------------
IMAGE_UP=0; A=""; B=""
for _ in $(seq 1 20); do
  [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$IMG_URL/versions")" = 200 ] && { IMAGE_UP=1; break; }
  sleep 0.5
done

BODY=$(mktemp "$TMP/body.XXXXXX")
api() {  # api METHOD PATH [JSON]: HTTP status on stdout, body in $BODY
  local data=(); [ $# -ge 3 ] && data=(-H 'Content-Type: application/json' -d "$3")
  curl -s -m 60 -o "$BODY" -w '%{http_code}' -H "X-Auth-Token: $TOKEN" -X "$1" "${data[@]}" "$IMG_URL$2"
}
jfield() { python3 -c 'import json,sys; v = json.load(open(sys.argv[1])).get(sys.argv[2]); print("" if v is None else v)' "$BODY" "$1" 2>/dev/null; }
create_image() {  # create_image NAME -> id on stdout
  local c; c=$(api POST /v2/images '{"name": "'"$1"'", "disk_format": "raw", "container_format": "bare"}')
  [ "$c" = 201 ] || { echo "   POST /v2/images -> $c: $(head -c 300 "$BODY")" >&2; return 1; }
  jfield id
}
CURL_UP=(-H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/octet-stream')
[ "$EXPECT100" = 1 ] || CURL_UP+=(-H 'Expect:')
upload() {  # upload NAME ID [extra curl args]: timed PUT, then the image record is checked
  local name="$1" id="$2"; shift 2
  local t0 t1 res code secs bytes hwm
  hwm_reset; t0=$(now)
  res=$(curl -sS -m "$XFER_TIMEOUT" -o "$BODY" -w '%{http_code} %{time_total} %{size_upload}' \
    -T "$FILE" -X PUT "${CURL_UP[@]}" "$@" "$IMG_URL/v2/images/$id/file"); t1=$(now)
  hwm=$(rss_kb VmHWM)
  read -r code secs bytes <<<"$res"
  echo "   PUT  $name: HTTP $code, $secs s, $bytes bytes"
  # the rate is SIZE / time (curl's size_upload is only reported: it may count chunk framing)
  op xfer "$name" "${secs:-0}" "$SIZE" "$([ "$code" = 204 ] && echo 1 || echo 0)" "$t0" "$t1" "$hwm" "HTTP $code, curl sent $bytes bytes"
  [ "$code" = 204 ]; check $? "$name: PUT -> 204 (got $code)"
  code=$(api GET "/v2/images/$id")
  [ "$code" = 200 ] && [ "$(jfield status)" = active ]; check $? "$name: GET image -> 200, status active (got $code $(jfield status))"
  [ "$(jfield size)" = "$SIZE" ]; check $? "$name: size = $SIZE (got $(jfield size))"
  [ "$(jfield checksum)" = "$MD5" ]; check $? "$name: checksum = md5sum"
  [ "$(jfield os_hash_algo)" = sha512 ] && [ "$(jfield os_hash_value)" = "$SHA512" ]; check $? "$name: os_hash_value = sha512sum"
}
download() {  # download NAME ID OUTFILE: timed GET
  local name="$1" id="$2" out="$3"
  local t0 t1 res code secs bytes hwm md5h
  hwm_reset; t0=$(now)
  res=$(curl -sS -m "$XFER_TIMEOUT" -o "$out" -D "$TMP/get.h" -w '%{http_code} %{time_total} %{size_download}' \
    -H "X-Auth-Token: $TOKEN" "$IMG_URL/v2/images/$id/file"); t1=$(now)
  hwm=$(rss_kb VmHWM)
  read -r code secs bytes <<<"$res"
  md5h=$(awk 'tolower($1) == "content-md5:" {print $2}' "$TMP/get.h" | tr -d '\r')
  echo "   GET  $name: HTTP $code, $secs s, $bytes bytes, Content-MD5 ${md5h:-(none)}"
  op xfer "$name" "${secs:-0}" "${bytes:-0}" "$([ "$code" = 200 ] && [ "${bytes%.*}" = "$SIZE" ] && echo 1 || echo 0)" "$t0" "$t1" "$hwm" "HTTP $code"
  [ "$code" = 200 ] && [ "${bytes%.*}" = "$SIZE" ]; check $? "$name: GET file -> 200 with $SIZE bytes (got $code, $bytes)"
  [ "$md5h" = "$MD5" ]; check $? "$name: Content-MD5 = md5sum"
}

if [ "$IMAGE_UP" = 1 ]; then
  echo "# image service $IMG_URL answers GET /versions"
  A=$(create_image "bench-cl-$STAMP") && [ -n "$A" ]; check $? "POST /v2/images (image 1) -> 201 with an id"
  B=$(create_image "bench-chunked-$STAMP") && [ -n "$B" ]; check $? "POST /v2/images (image 2) -> 201 with an id"
else
  echo "# image service $IMG_URL does not answer GET /versions: transfers skipped"
fi

sleep "$BASELINE_S"
op idle "baseline (idle, before transfers)" "$BASELINE_S" 0 1 "$(sub "$(now)" "$BASELINE_S")" "$(now)" "$(rss_kb VmHWM)" ""

if [ "$IMAGE_UP" = 1 ] && [ -n "$A" ] && [ -n "$B" ]; then
  upload "upload, Content-Length" "$A"
  download "download -> /dev/null" "$A" /dev/null
  download "download -> file" "$A" "$DL"
  cmp -s "$FILE" "$DL"; check $? "downloaded file cmp-equal to the original"
  rm -f "$DL"
  c=$(api DELETE "/v2/images/$A"); [ "$c" = 204 ]; check $? "DELETE image 1 -> 204 (got $c)"
  upload "upload, chunked" "$B" -H 'Transfer-Encoding: chunked'
  download "download (chunked-uploaded) -> /dev/null" "$B" /dev/null
  c=$(api DELETE "/v2/images/$B"); [ "$c" = 204 ]; check $? "DELETE image 2 -> 204 (got $c)"
  t0=$(now); sleep 1
  op idle "after transfers (idle)" 1 0 1 "$t0" "$(now)" "" ""
fi
kill "$SAMPLER_PID" 2>/dev/null; wait "$SAMPLER_PID" 2>/dev/null; SAMPLER_PID=""

# --- table and JSON -------------------------------------------------------------------------------
WRITE_JSON="$OUT_JSON"; [ "$IMAGE_UP" = 1 ] || WRITE_JSON=""
[ -n "$WRITE_JSON" ] && mkdir -p "$(dirname "$WRITE_JSON")"
python3 - "$TMP/ops.tsv" "$TMP/rss.txt" "$WRITE_JSON" <<PY
import json, os, platform, statistics, subprocess, sys
ops_p, rss_p, out = sys.argv[1], sys.argv[2], sys.argv[3]
ops = []
for line in open(ops_p):
    kind, name, secs, nbytes, ok, t0, t1, hwm, note = line.rstrip("\n").split("\t")
    ops.append(dict(kind=kind, name=name, seconds=float(secs), bytes=int(float(nbytes)), ok=ok == "1",
                    start=float(t0 or 0), end=float(t1 or 0), hwm_kb=int(hwm) if hwm else None, note=note))
samples = [tuple(map(float, l.split())) for l in open(rss_p) if len(l.split()) == 2]
size = $SIZE
mib = lambda b, s: b / 1048576 / s if s > 0 else None
refs = [o for o in ops if o["kind"] == "ref"]
limit = next(o for o in refs if "parallel" in o["name"])
seq = next(o for o in refs if "sequential" in o["name"])
limit_mibs, seq_mibs = mib(size, limit["seconds"]), mib(size, seq["seconds"])
def window(o):
    v = [kb for t, kb in samples if o["start"] <= t <= o["end"] + $SAMPLE_S]
    return v
base = next((o for o in ops if o["kind"] == "idle" and o["name"].startswith("baseline")), None)
base_v = window(base) if base else []
baseline_kb = int(statistics.median(base_v)) if base_v else None
rows, results = [], []
for o in ops:
    if o["kind"] not in ("ref", "xfer"):
        continue
    rate = mib(o["bytes"] or size, o["seconds"]) if o["kind"] == "ref" else mib(o["bytes"], o["seconds"])
    v = window(o) if o["kind"] == "xfer" else []
    peak = int(max(v)) if v else None
    r = dict(op=o["name"], kind="reference" if o["kind"] == "ref" else "ironbark", seconds=round(o["seconds"], 3),
             bytes=o["bytes"], mib_per_s=round(rate, 1) if rate else None,
             ratio_to_limit=round(rate / limit_mibs, 3) if rate and limit_mibs else None,
             ratio_to_sequential=round(rate / seq_mibs, 3) if rate and seq_mibs else None, ok=o["ok"])
    if o["kind"] == "xfer":
        r.update(peak_rss_kb=peak, rss_samples=len(v), hwm_kb=o["hwm_kb"],
                 rss_growth_kb=peak - baseline_kb if peak is not None and baseline_kb is not None else None,
                 status=o["note"])
    results.append(r)
    f = lambda x, fmt: "-" if x is None else fmt.format(x)
    rss = "-" if o["kind"] == "ref" else (f(peak / 1024 if peak else None, "{:.1f}") + " / " + f(o["hwm_kb"] / 1024 if o["hwm_kb"] else None, "{:.1f}"))
    rows.append((o["name"] + ("" if o["ok"] else "  [FAILED]"), f(o["seconds"], "{:.2f}"), f(rate, "{:.0f}"),
                 f(r["ratio_to_limit"], "{:.2f}x"), rss))
hdr = ("operation", "seconds", "MiB/s", "x limit", "peak RSS MiB (sampled / HWM)")
w = [max(len(str(x[j])) for x in rows + [hdr]) for j in range(len(hdr))]
print()
print(f"{size // 1048576} MiB; limit = md5sum & sha512sum in parallel = {limit_mibs:.0f} MiB/s "
      f"(sequential {seq_mibs:.0f} MiB/s); RSS sampled every $SAMPLE_S s")
for x in [hdr] + rows:
    print("  ".join(str(c).ljust(w[j]) if j in (0, 4) else str(c).rjust(w[j]) for j, c in enumerate(x)))
after = next((o for o in ops if o["kind"] == "idle" and o["name"].startswith("after")), None)
after_v = window(after) if after else []
print(f"baseline RSS {baseline_kb / 1024:.1f} MiB (median of {len(base_v)} samples before any transfer)"
      if baseline_kb else "baseline RSS: no samples")
if after_v:
    print(f"RSS after the transfers {statistics.median(after_v) / 1024:.1f} MiB")
checks = [dict(check=o["name"], ok=o["ok"]) for o in ops if o["kind"] == "check"]
bad = [c["check"] for c in checks if not c["ok"]]
print(f"{len(checks) - len(bad)}/{len(checks)} checks passed" + (": FAILED " + "; ".join(bad) if bad else ""))
if not out:
    sys.exit(0)
def sh(*a):
    try:
        return subprocess.run(a, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:
        return None
mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal:")), None)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), None)
doc = {
    "benchmark": "ironbark bench/image_transfer.sh",
    "started": "$STAMP",
    "size_bytes": size,
    "settings": {"size_mb": $SIZE_MB, "sample_s": $SAMPLE_S, "baseline_s": $BASELINE_S,
                 "expect_100_continue": "$EXPECT100" == "1", "tmpbase": "$TMPBASE",
                 "image_url_override": bool("${IMAGE_URL:-}")},
    "ironbark": {"bin": "$BIN", "version": sh("$BIN", "--version"),
                 "git": sh("git", "-C", "$ROOT", "rev-parse", "--short", "HEAD")},
    "box": {"cpus": os.cpu_count(), "cpu": cpu, "mem_total_kb": int(mem) if mem else None,
            "kernel": platform.release(), "loadavg_end": list(os.getloadavg()), "curl": (sh("curl", "--version") or "").split("\n")[0]},
    "md5": "$MD5", "sha512": "$SHA512",
    "limit_mib_per_s": round(limit_mibs, 1), "sequential_hash_mib_per_s": round(seq_mibs, 1),
    "rss": {"baseline_kb": baseline_kb, "baseline_samples": len(base_v),
            "after_kb": int(statistics.median(after_v)) if after_v else None,
            "samples": len(samples)},
    "results": results,
    "checks": checks,
}
json.dump(doc, open(out, "w"), indent=2)
open(out, "a").write("\n")
print(f"# results in {out}")
PY
[ "$IMAGE_UP" = 1 ] || exit 3
exit "$FAILED"
