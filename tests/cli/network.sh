#!/usr/bin/env bash
# Network (Neutron v2.0) smoke test with the real `openstack` CLI
# (python-openstackclient 10.5.0 / openstacksdk 4.22.0 / python-ironicclient
# 6.3.0 from tempest/requirements.txt) against a running ironbark: the network
# (and baremetal) endpoints are the ones the identity service's catalog names.
# It covers what Tempest's tempest.api.network does not (provider attributes,
# port binding, the Ironic VIF attach binding); see tempest/network-tests.md §4.
#
# Usage: tests/cli/network.sh [IDENTITY_URL [BAREMETAL_URL]]
#        (IDENTITY_URL default http://127.0.0.1:5000; without BAREMETAL_URL the
#        baremetal VIF steps are left out)
#
# Cloud config as in tests/cli/identity.sh: $CLOUDS_YAML, else
# $OS_CLIENT_CONFIG_FILE, else $IRONBARK_DATA_DIR/clouds.yaml (default ./data),
# else a clouds.yaml generated in $WORK for IDENTITY_URL with admin /
# $ADMIN_PASSWORD (default secretadmin), project admin, domain Default.
# Everything runs as that admin (project admin).
#
# Covers: network create (plain; provider vlan/physnet1/100, admin view of the
# provider:* attributes), subnet create with allocation pool and DNS server,
# port create with vnic_type baremetal and a binding:profile
# local_link_information (fixed IP from the pool, generated MAC), port create
# with an explicit fixed IP, the same IP again refused, security group + tcp/22
# rule + rule list, port set --security-group, network/subnet/port lists, a
# network delete refused while it has ports; with BAREMETAL_URL: a fake-hardware
# node with a port carrying local_link_connection, `baremetal node vif attach`
# binding the Neutron port (binding:host_id = node UUID,
# binding:profile.local_link_information = the baremetal port's
# local_link_connection), vif list, vif detach unbinding it again.
# binding:profile is given as JSON: OSC's JSONKeyValueAction tries JSON first and
# only falls back to <key>=<value>, which would make local_link_information a
# string instead of a list.
# Everything created is removed again, also when a step fails (EXIT trap).
#
# Every step is checked on exit status AND output; a numbered transcript goes to
# stdout (and $WORK/transcript.txt); exit status 0 only when every step passed;
# the last line is "N/M steps passed".
# Env: IRONBARK_VENV=/tmp/ironbark-venv  WORK=/tmp/ironbark-cli-network
#      ADMIN_PASSWORD=secretadmin  DEBUG=1 (add --debug to every openstack call;
#      full HTTP logs in $WORK/debug/NN-<step>.log)  KEEP=1 (leave the files in $WORK)
set -uo pipefail
URL="${1:-${IDENTITY_URL:-http://127.0.0.1:5000}}"
URL="${URL%/}"; URL="${URL%/v3}"
BM_URL="${2:-${BAREMETAL_URL:-}}"
BM_URL="${BM_URL%/}"; BM_URL="${BM_URL%/v1}"
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${IRONBARK_VENV:-/tmp/ironbark-venv}"
WORK="${WORK:-/tmp/ironbark-cli-network}"
ADMIN_PASSWORD="${ADMIN_PASSWORD:-secretadmin}"
export OS_CLOUD="${OS_CLOUD:-ironbark}"
DEBUG="${DEBUG:-0}"

for u in "$URL" ${BM_URL:+"$BM_URL"}; do
  case "$u" in
    http://127.*|http://localhost*|http://\[::1\]*) ;;
    *) echo "refusing non-loopback URL $u" >&2; exit 2;;
  esac
done
[ -x "$VENV/bin/openstack" ] || IRONBARK_VENV="$VENV" "$ROOT/tempest/setup-venv.sh" >/dev/null \
  || { echo "cannot create venv $VENV" >&2; exit 2; }
OSC="$VENV/bin/openstack"
PY="$VENV/bin/python"
mkdir -p "$WORK/debug"
rm -f "$WORK"/debug/*.log

# --- cloud config and step machinery: tests/cli/lib.sh -------------------------
source "$HERE/lib.sh"
cli_admin_clouds

# --- step machinery ----------------------------------------------------------------
cli_transcript
# osc NAME ARGS...: run `openstack ARGS` (admin cloud); stdout in $OUT, stderr in $ERR.
# stdin is /dev/null so that no command ever reads the script's stdin.
osc() {
  local name="$1"; shift
  local dbg=()
  [ "$DEBUG" = 1 ] && dbg=(--debug --log-file "$WORK/debug/$(printf %02d "$N")-$name.log")
  say "   \$ openstack $*"
  OUT=$("$OSC" "${dbg[@]}" "$@" 2>"$WORK/stderr.txt" </dev/null); local rc=$?
  ERR=""; [ "$DEBUG" != 1 ] && ERR="$(cat "$WORK/stderr.txt")"
  show_out
  return $rc
}
# chk (tests/cli/lib.sh) also knows LLC, the local_link_information list used below.
CHK_PRELUDE='LLC = json.loads(EXTRA)'
chk_extra() { printf '%s' "$LLC_JSON"; }
jval() {  # jval KEY: top-level value from the JSON in $OUT ('' when absent/null)
  printf '%s' "$OUT" | "$PY" -c '
import json, sys
v = json.load(sys.stdin).get(sys.argv[1])
print("" if v is None else v)' "$1" 2>/dev/null
}

RAND=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
NET1="net1-$RAND"; NET2="net2-$RAND"; SUB1="sub1-$RAND"; SG1="sg1-$RAND"
P1="p1-$RAND"; P2="p2-$RAND"; P3="p3-$RAND"; NODE="cli-net-node-$RAND"
POOL_START=10.20.0.10; POOL_END=10.20.0.20
LLC_JSON='[{"switch_id": "00:11:22:33:44:55", "port_id": "xe-0/0/1", "switch_info": "leaf1"}]'
PROFILE_JSON="{\"local_link_information\": $LLC_JSON}"
NET1_ID=""; NET2_ID=""; SUB1_ID=""; SG1_ID=""; P1_ID=""; P2_ID=""; P3_ID=""
NODE_ID=""; BMPORT_ID=""; VIF_ATTACHED=""
say "# ironbark network CLI test: identity=$URL baremetal=${BM_URL:-none} cloud=$OS_CLOUD clouds.yaml=$CLOUDS"
say "# $("$OSC" --version 2>&1)  names: $NET1 $NET2 $SUB1 $P1 $P2 $SG1"
START=$(date +%s)

# Whatever a failed step left behind is removed on exit (quietly, admin cloud).
cleanup() {
  local left=()
  q() { "$OSC" "$@" </dev/null >/dev/null 2>&1; }
  if [ -n "$VIF_ATTACHED" ] && [ -n "$NODE_ID" ]; then
    q baremetal node vif detach "$NODE_ID" "$VIF_ATTACHED" && left+=("vif $VIF_ATTACHED")
  fi
  if [ -n "$BMPORT_ID" ] && q baremetal port show "$BMPORT_ID"; then
    q baremetal port delete "$BMPORT_ID" && left+=("baremetal port $BMPORT_ID")
  fi
  if [ -n "$NODE_ID" ] && q baremetal node show "$NODE_ID"; then
    q baremetal node delete "$NODE_ID" && left+=("node $NODE_ID")
  fi
  for id in "$P1_ID" "$P2_ID" "$P3_ID"; do
    [ -n "$id" ] && q port show "$id" && q port delete "$id" && left+=("port $id")
  done
  if [ -n "$SUB1_ID" ] && q subnet show "$SUB1_ID"; then
    q subnet delete "$SUB1_ID" && left+=("subnet $SUB1_ID")
  fi
  for id in "$NET1_ID" "$NET2_ID"; do
    [ -n "$id" ] && q network show "$id" && q network delete "$id" && left+=("network $id")
  done
  if [ -n "$SG1_ID" ] && q security group show "$SG1_ID"; then
    q security group delete "$SG1_ID" && left+=("security group $SG1_ID")
  fi
  [ ${#left[@]} -gt 0 ] && say "# cleanup removed leftovers: ${left[*]}"
  [ "${KEEP:-0}" = 1 ] || rm -f "$WORK/stderr.txt"
}
trap cleanup EXIT

# ----------------------------------------------------------------------------------------
begin "token issue (admin, project admin)"
osc token-issue token issue -f json; rc=$?; rc_ok $rc
ADMIN_TOKEN=$(jval id); ADMIN_PROJECT=$(jval project_id)
[ -n "$ADMIN_TOKEN" ] && [ -n "$ADMIN_PROJECT" ] || bad "no token id / project_id"
finish

begin "endpoint list --service network --interface public; GET <url>/ lists v2.0"
osc endpoint-list endpoint list --service network --interface public -f json; rc=$?; rc_ok $rc
chk "one public network endpoint" 'len(rows) >= 1 and rows[0]["Service Type"] == "network"'
NETWORK_URL=$(printf '%s' "$OUT" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["URL"].rstrip("/"))' 2>/dev/null)
[ -n "$NETWORK_URL" ] || bad "no network URL"
OUT=$(curl -s -m 10 -w '\nHTTP %{http_code}' "$NETWORK_URL/"); ERR=""; show_out
case "$OUT" in *'"v2.0"'*'HTTP 200') ;; *) bad "GET $NETWORK_URL/: want 200 with version v2.0";; esac
finish

begin "extension list --network (binding, provider, security-group, external-net, quotas)"
osc extension-list extension list --network -f json; rc=$?; rc_ok $rc
for a in binding provider security-group external-net quotas; do
  chk "alias $a listed" 'row("Alias", "'"$a"'") is not None'
done
finish

begin "network create $NET1"
osc network-create network create "$NET1" -f json; rc=$?; rc_ok $rc
NET1_ID=$(jval id)
[ -n "$NET1_ID" ] || bad "no network id"
chk "name $NET1, status ACTIVE, admin_state_up" 'g("name") == "'"$NET1"'" and g("status") == "ACTIVE" and g("admin_state_up") is True'
chk "router:external false, shared false, no subnets" 'g("router:external") is False and g("shared") is False and g("subnets") == []'
chk "mtu an integer > 0" 'isinstance(g("mtu"), int) and g("mtu") > 0'
chk "project_id = admin project" 'g("project_id") == "'"$ADMIN_PROJECT"'"'
finish

begin "network create --provider-network-type vlan --provider-physical-network physnet1 --provider-segment 100 $NET2"
osc network-create-provider network create --provider-network-type vlan \
  --provider-physical-network physnet1 --provider-segment 100 "$NET2" -f json; rc=$?; rc_ok $rc
NET2_ID=$(jval id)
[ -n "$NET2_ID" ] || bad "no network id"
chk "provider:network_type vlan" 'g("provider:network_type") == "vlan"'
chk "provider:physical_network physnet1" 'g("provider:physical_network") == "physnet1"'
chk "provider:segmentation_id 100" 'g("provider:segmentation_id") in (100, "100")'
osc network-show-provider network show "$NET2" -f json; rc=$?; rc_ok $rc
chk "show by name: same id and provider attributes" 'g("id") == "'"$NET2_ID"'" and g("provider:network_type") == "vlan" and g("provider:physical_network") == "physnet1" and g("provider:segmentation_id") in (100, "100")'
finish

begin "subnet create --network $NET1 --subnet-range 10.20.0.0/24 --allocation-pool start=$POOL_START,end=$POOL_END --dns-nameserver 10.20.0.2 $SUB1"
osc subnet-create subnet create --network "$NET1" --subnet-range 10.20.0.0/24 \
  --allocation-pool "start=$POOL_START,end=$POOL_END" --dns-nameserver 10.20.0.2 "$SUB1" -f json
rc=$?; rc_ok $rc
SUB1_ID=$(jval id)
[ -n "$SUB1_ID" ] || bad "no subnet id"
chk "cidr 10.20.0.0/24, ip_version 4, network $NET1" 'g("cidr") == "10.20.0.0/24" and g("ip_version") == 4 and g("network_id") == "'"$NET1_ID"'"'
chk "allocation_pools [$POOL_START-$POOL_END]" 'g("allocation_pools") == [{"start": "'"$POOL_START"'", "end": "'"$POOL_END"'"}]'
chk "dns_nameservers [10.20.0.2]" 'g("dns_nameservers") == ["10.20.0.2"]'
chk "gateway_ip 10.20.0.1 (first host), enable_dhcp true" 'g("gateway_ip") == "10.20.0.1" and g("enable_dhcp") is True'
finish

begin "port create --network $NET1 --vnic-type baremetal --binding-profile <local_link_information JSON> $P1"
osc port-create port create --network "$NET1" --vnic-type baremetal \
  --binding-profile "$PROFILE_JSON" "$P1" -f json; rc=$?; rc_ok $rc
P1_ID=$(jval id)
[ -n "$P1_ID" ] || bad "no port id"
chk "network_id $NET1, name $P1" 'g("network_id") == "'"$NET1_ID"'" and g("name") == "'"$P1"'"'
chk "binding_vnic_type baremetal" 'g("binding_vnic_type") == "baremetal"'
chk "binding_profile.local_link_information as given" '(g("binding_profile") or {}).get("local_link_information") == LLC'
finish

begin "port show $P1 (fixed IP in the pool, MAC set, vnic_type baremetal)"
osc port-show port show "$P1" -f json; rc=$?; rc_ok $rc
chk "id $P1_ID" 'g("id") == "'"$P1_ID"'"'
chk "one fixed IP, on $SUB1, within $POOL_START-$POOL_END" 'len(g("fixed_ips") or []) == 1 and g("fixed_ips")[0]["subnet_id"] == "'"$SUB1_ID"'" and ip("'"$POOL_START"'") <= ip(g("fixed_ips")[0]["ip_address"]) <= ip("'"$POOL_END"'")'
chk "mac_address set (xx:xx:xx:xx:xx:xx)" '__import__("re").fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", g("mac_address") or "") is not None'
chk "binding_vnic_type baremetal" 'g("binding_vnic_type") == "baremetal"'
chk "binding_profile kept" '(g("binding_profile") or {}).get("local_link_information") == LLC'
chk "admin_state_up, the project default security group" 'g("admin_state_up") is True and len(g("security_group_ids") or []) == 1'
P1_IP=$(printf '%s' "$OUT" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["fixed_ips"][0]["ip_address"])' 2>/dev/null)
P1_MAC=$(jval mac_address)
DEFAULT_SG=$(printf '%s' "$OUT" | "$PY" -c 'import json,sys; print((json.load(sys.stdin).get("security_group_ids") or [""])[0])' 2>/dev/null)
finish
# the explicit address of the next steps; moved when p1 happened to get it
FIXED_IP=10.20.0.15
[ "${P1_IP:-}" = "$FIXED_IP" ] && FIXED_IP=10.20.0.16

begin "port create --network $NET1 --fixed-ip subnet=$SUB1,ip-address=$FIXED_IP $P2"
osc port-create-fixed port create --network "$NET1" \
  --fixed-ip "subnet=$SUB1,ip-address=$FIXED_IP" "$P2" -f json; rc=$?; rc_ok $rc
P2_ID=$(jval id)
[ -n "$P2_ID" ] || bad "no port id"
chk "fixed_ips exactly [$SUB1 $FIXED_IP]" 'g("fixed_ips") == [{"subnet_id": "'"$SUB1_ID"'", "ip_address": "'"$FIXED_IP"'"}]'
chk "MAC differs from $P1's" 'g("mac_address") not in ("", None, "'"${P1_MAC:-}"'")'
chk "unbound: binding_host_id empty, binding_profile empty" 'not g("binding_host_id") and not g("binding_profile")'
P2_MAC=$(jval mac_address)
finish

begin "port create --fixed-ip ip-address=$FIXED_IP again ($P3) -> refused, nothing created"
osc port-create-dup port create --network "$NET1" \
  --fixed-ip "subnet=$SUB1,ip-address=$FIXED_IP" "$P3" -f json; rc=$?; rc_fail $rc
P3_ID=$(jval id 2>/dev/null || true)
has "conflict naming the address" "already allocated|IpAddressAlreadyAllocated|in use|409|conflict"
osc port-list-dup port list --name "$P3" -f json; rc=$?; rc_ok $rc
chk "no port named $P3" 'rows == []'
finish

begin "security group create $SG1"
osc sg-create security group create "$SG1" -f json; rc=$?; rc_ok $rc
SG1_ID=$(jval id)
[ -n "$SG1_ID" ] || bad "no security group id"
chk "name $SG1, project admin" 'g("name") == "'"$SG1"'" and g("project_id") == "'"$ADMIN_PROJECT"'"'
chk "not the default group" 'g("id") != "'"${DEFAULT_SG:-}"'"'
finish

begin "security group rule create --protocol tcp --dst-port 22 $SG1"
osc sg-rule-create security group rule create --protocol tcp --dst-port 22 "$SG1" -f json
rc=$?; rc_ok $rc
RULE_ID=$(jval id)
[ -n "$RULE_ID" ] || bad "no rule id"
chk "tcp 22-22 ingress IPv4 0.0.0.0/0" 'g("protocol") == "tcp" and g("port_range_min") == 22 and g("port_range_max") == 22 and g("direction") == "ingress" and g("ether_type") == "IPv4" and g("remote_ip_prefix") == "0.0.0.0/0"'
chk "in group $SG1" 'g("security_group_id") == "'"$SG1_ID"'"'
finish

begin "security group rule list $SG1 (contains the tcp/22 rule)"
osc sg-rule-list security group rule list "$SG1" -f json; rc=$?; rc_ok $rc
chk "row $RULE_ID: tcp 22:22 ingress" '(row("ID", "'"$RULE_ID"'") or {}).get("IP Protocol") == "tcp" and row("ID", "'"$RULE_ID"'")["Port Range"] == "22:22" and row("ID", "'"$RULE_ID"'")["Direction"] == "ingress"'
finish

begin "port set --security-group $SG1 $P1; port show"
osc port-set-sg port set --security-group "$SG1" "$P1"; rc=$?; rc_ok $rc
osc port-show-sg port show "$P1" -f json; rc=$?; rc_ok $rc
chk "security_group_ids contains $SG1 (and still the default group)" '"'"$SG1_ID"'" in (g("security_group_ids") or []) and "'"${DEFAULT_SG:-x}"'" in g("security_group_ids")'
chk "fixed IP and binding unchanged" 'g("fixed_ips")[0]["ip_address"] == "'"${P1_IP:-}"'" and (g("binding_profile") or {}).get("local_link_information") == LLC'
finish

begin "network list (contains $NET1 with $SUB1, and $NET2)"
osc network-list network list -f json; rc=$?; rc_ok $rc
chk "row $NET1" '(row("ID", "'"$NET1_ID"'") or {}).get("Name") == "'"$NET1"'"'
chk "$NET1 lists $SUB1" '"'"$SUB1_ID"'" in (row("ID", "'"$NET1_ID"'") or {}).get("Subnets", [])'
chk "row $NET2" 'row("ID", "'"$NET2_ID"'") is not None'
finish

begin "subnet list (contains $SUB1: 10.20.0.0/24 on $NET1)"
osc subnet-list subnet list -f json; rc=$?; rc_ok $rc
chk "row $SUB1" '(row("ID", "'"$SUB1_ID"'") or {}).get("Subnet") == "10.20.0.0/24" and row("ID", "'"$SUB1_ID"'")["Network"] == "'"$NET1_ID"'"'
finish

begin "port list --network $NET1 (exactly $P1 and $P2)"
osc port-list port list --network "$NET1" -f json; rc=$?; rc_ok $rc
chk "ids = {$P1, $P2}" 'sorted(r["ID"] for r in rows) == sorted(["'"$P1_ID"'", "'"$P2_ID"'"])'
chk "$P2 has $FIXED_IP" '[f["ip_address"] for f in (row("ID", "'"$P2_ID"'") or {}).get("Fixed IP Addresses", [])] == ["'"$FIXED_IP"'"]'
finish

if [ -n "$BM_URL" ]; then
  begin "baremetal endpoint: catalog names $BM_URL; baremetal node create --driver fake-hardware --network-interface flat"
  osc bm-endpoint endpoint list --service baremetal --interface public -f json; rc=$?; rc_ok $rc
  chk "catalog baremetal endpoint = $BM_URL" 'len(rows) >= 1 and rows[0]["URL"].rstrip("/") in ("'"$BM_URL"'", "'"$BM_URL"'/v1")'
  osc bm-node-create baremetal node create --driver fake-hardware --network-interface flat --name "$NODE" -f json; rc=$?; rc_ok $rc
  NODE_ID=$(jval uuid)
  [ -n "$NODE_ID" ] || bad "no node uuid"
  chk "driver fake-hardware" 'g("driver") == "fake-hardware"'
  finish

  # the baremetal NIC carries the MAC of the Neutron port that will be attached
  BM_MAC="${P2_MAC:-52:54:00:12:34:56}"
  begin "baremetal port create $BM_MAC --node $NODE --local-link-connection switch_id=…,port_id=…,switch_info=…"
  osc bm-port-create baremetal port create "$BM_MAC" --node "${NODE_ID:-$NODE}" \
    --local-link-connection switch_id=00:11:22:33:44:55 \
    --local-link-connection port_id=xe-0/0/1 \
    --local-link-connection switch_info=leaf1 -f json; rc=$?; rc_ok $rc
  BMPORT_ID=$(jval uuid)
  [ -n "$BMPORT_ID" ] || bad "no baremetal port uuid"
  chk "local_link_connection as given" 'g("local_link_connection") == LLC[0]'
  chk "node_uuid $NODE_ID" 'g("node_uuid") == "'"$NODE_ID"'"'
  finish

  begin "baremetal node vif attach $NODE $P2; port show $P2 is bound to the node"
  osc bm-vif-attach baremetal node vif attach "${NODE_ID:-$NODE}" "${P2_ID:-$P2}"; rc=$?; rc_ok $rc
  [ $rc -eq 0 ] && VIF_ATTACHED="${P2_ID:-$P2}"
  osc port-show-bound port show "$P2" -f json; rc=$?; rc_ok $rc
  chk "binding_host_id = node uuid $NODE_ID" 'g("binding_host_id") == "'"$NODE_ID"'"'
  chk "binding_profile.local_link_information = the baremetal port's local_link_connection" '(g("binding_profile") or {}).get("local_link_information") == LLC'
  chk "fixed IP kept" 'g("fixed_ips") == [{"subnet_id": "'"$SUB1_ID"'", "ip_address": "'"$FIXED_IP"'"}]'
  finish

  begin "baremetal node vif list $NODE (contains $P2)"
  osc bm-vif-list baremetal node vif list "${NODE_ID:-$NODE}" -f json; rc=$?; rc_ok $rc
  chk "row $P2_ID" 'any("'"$P2_ID"'" in r.values() for r in rows)'
  finish

  begin "baremetal node vif detach $NODE $P2; port $P2 unbound again; vif list empty"
  osc bm-vif-detach baremetal node vif detach "${NODE_ID:-$NODE}" "${P2_ID:-$P2}"; rc=$?; rc_ok $rc
  [ $rc -eq 0 ] && VIF_ATTACHED=""
  osc port-show-unbound port show "$P2" -f json; rc=$?; rc_ok $rc
  chk "binding_host_id empty" 'not g("binding_host_id")'
  chk "no local_link_information in binding_profile" '"local_link_information" not in (g("binding_profile") or {})'
  osc bm-vif-list-empty baremetal node vif list "${NODE_ID:-$NODE}" -f json; rc=$?; rc_ok $rc
  chk "no row for $P2_ID" 'not any("'"$P2_ID"'" in r.values() for r in rows)'
  finish
fi

begin "network delete $NET1 while it has ports -> refused (409), network still there"
osc network-delete-busy network delete "$NET1"; rc=$?; rc_fail $rc
has "message says ports are in use" "in use|409|conflict"
osc network-show-busy network show "${NET1_ID:-$NET1}" -f json; rc=$?; rc_ok $rc
chk "still there, subnet kept" 'g("id") == "'"$NET1_ID"'" and g("subnets") == ["'"$SUB1_ID"'"]'
finish

begin "cleanup: delete ports, subnet, networks, security group${BM_URL:+, baremetal port and node}; all gone"
if [ -n "$BM_URL" ]; then
  osc bm-port-delete baremetal port delete "${BMPORT_ID:-none}"; rc=$?; rc_ok $rc
  osc bm-node-delete baremetal node delete "${NODE_ID:-$NODE}"; rc=$?; rc_ok $rc
fi
osc port-delete port delete "${P1_ID:-$P1}" "${P2_ID:-$P2}"; rc=$?; rc_ok $rc
osc subnet-delete subnet delete "${SUB1_ID:-$SUB1}"; rc=$?; rc_ok $rc
osc network-delete network delete "${NET1_ID:-$NET1}" "${NET2_ID:-$NET2}"; rc=$?; rc_ok $rc
osc sg-delete security group delete "${SG1_ID:-$SG1}"; rc=$?; rc_ok $rc
osc network-show-deleted network show "${NET1_ID:-$NET1}" -f json; rc=$?; rc_fail $rc
has "not-found message" "no network.*found|not found|could not find|404"
osc network-list-final network list -f json; rc=$?; rc_ok $rc
chk "neither network listed" 'row("ID", "'"$NET1_ID"'") is None and row("ID", "'"$NET2_ID"'") is None'
finish

trap - EXIT
cleanup
say ""
say "# wall $(( $(date +%s) - START )) s; transcript $WORK/transcript.txt"
say "$PASS/$N steps passed"
[ "$FAIL" -eq 0 ]
