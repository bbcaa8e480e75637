# Shared by the benchmark scripts (source it): free loopback ports, and an
# ironbark started and stopped on them.
#   free_ports N            -> N free ports, none of the services' defaults
#   start_ironbark DATA [VAR=value ...]
#                           -> starts $BIN serve with DATA as data dir and the
#                              extra environment; sets IB_PID and ID_URL,
#                              BM_URL, CMP_URL, IMG_URL, NET_URL, CTR_URL;
#                              waits up to $START_TIMEOUT (120) s; log in DATA.log
#   stop_ironbark           -> TERM, then KILL after 10 s
# Needs: BIN; optional IRONBARK_ADMIN_PASSWORD (default secretadmin).

free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks, ports = [], []
while len(ports) < int(sys.argv[1]):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    socks.append(s)
    if p not in (5000, 6385, 8774, 9292, 9696, 8082, 8086, 8110):
        ports.append(p)
print(*ports)
PY
}

IB_PID=""
start_ironbark() {
  local data="$1"; shift
  local p_id p_bm p_img p_cmp p_net p_ctr t0
  read -r p_id p_bm p_img p_cmp p_net p_ctr < <(free_ports 6) || return 1
  mkdir -p "$data"
  env IRONBARK_DATA_DIR="$data" IRONBARK_ADMIN_PASSWORD="${IRONBARK_ADMIN_PASSWORD:-secretadmin}" \
    IRONBARK_LOG="${IRONBARK_LOG:-warn}" IRONBARK_HOST=127.0.0.1 \
    IRONBARK_IDENTITY_PORT="$p_id" IRONBARK_BAREMETAL_PORT="$p_bm" IRONBARK_IMAGE_PORT="$p_img" \
    IRONBARK_COMPUTE_PORT="$p_cmp" IRONBARK_NETWORK_PORT="$p_net" IRONBARK_CONTRAIL_PORT="$p_ctr" \
    "$@" "$BIN" serve > "$data.out" 2> "$data.log" &
  IB_PID=$!
  ID_URL="http://127.0.0.1:$p_id"; BM_URL="http://127.0.0.1:$p_bm"; CMP_URL="http://127.0.0.1:$p_cmp"
  IMG_URL="http://127.0.0.1:$p_img"; NET_URL="http://127.0.0.1:$p_net"; CTR_URL="http://127.0.0.1:$p_ctr"
  t0=$SECONDS
  until [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$ID_URL/v3")" = 200 ]; do
    if ! kill -0 "$IB_PID" 2>/dev/null; then tail -20 "$data.log" >&2; return 1; fi
    if [ $((SECONDS - t0)) -ge "${START_TIMEOUT:-120}" ]; then tail -20 "$data.log" >&2; return 1; fi
    sleep 0.2
  done
}

stop_ironbark() {
  if [ -n "$IB_PID" ] && kill -0 "$IB_PID" 2>/dev/null; then
    kill "$IB_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$IB_PID" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$IB_PID" 2>/dev/null && kill -9 "$IB_PID" 2>/dev/null
    wait "$IB_PID" 2>/dev/null
  fi
  IB_PID=""
}
