#!/usr/bin/env bash
# A throw-away Ceph cluster on this machine, for the Ceph pool tests: 1 mon, 1 mgr and 3 OSDs on sparse-file BlueStore,
# each OSD in its own network namespace as a "host" (CRUSH host nodeN), cephx on, a size-3/min_size-2 RBD pool `rbd`.
#
#   lab.sh up DIR        bring a lab up in DIR (must not exist or be empty); waits for HEALTH_OK
#   lab.sh down DIR      stop every daemon the lab started, delete its namespaces and links, remove DIR
#                        (also after a partial `up` or a crash)
#   lab.sh status DIR    daemons, their memory, `ceph -s`
#   lab.sh add-osd DIR   one more OSD on a new CRUSH host (a new namespace); waits for HEALTH_OK again
#   lab.sh isolate-osd DIR N   takes OSD N's host off the network (its link down, the daemon keeps running), as a
#                        host whose cable is pulled; waits until the cluster has marked osd.N down
#   lab.sh restore-osd DIR N   brings OSD N's link back up; waits for HEALTH_OK with every OSD up and every PG clean
#
# Everything lives in DIR: ceph.conf, keyrings, daemon data, run/ (pid files, sockets), out/ (logs). Nothing is
# written to /etc/ceph or /var/lib/ceph. Clients use DIR/ceph.conf with DIR/client.admin.keyring (all caps) or
# DIR/client.sparse.keyring (rbd profile on the pool `rbd`), from the host's own network namespace.
#
# Network: a bridge in an "admin" namespace (where the mon and the mgr run) joins one veth per OSD namespace and one
# veth from the host, all on one /24 of 198.18.0.0/15 (RFC 2544, a range for tests that no real network uses). The
# host side gets .1, the mon .2, OSD N .(11+N). Names are derived from DIR, so two labs cannot share them.
# Timings on a 2-core machine: up 22-35 s, down 5-10 s; about 0.5 GB idle, 1.3 GB while writing 1 GiB and
# rebalancing onto a 4th OSD (the memory settings in ceph.conf below keep the OSDs small).
set -euo pipefail

readonly health_timeout_seconds=${CEPH_LAB_HEALTH_TIMEOUT:-240}
readonly stop_timeout_seconds=30
readonly osd_count=3

usage() { echo "usage: $0 up|down|status|add-osd DIR | isolate-osd|restore-osd DIR N"; }
die() { echo "lab.sh: $*" >&2; exit 1; }
step() { echo "lab.sh: $*" >&2; }

# --- names derived from DIR ---------------------------------------------------------------------------------------

lab_names() {
  dir=$(realpath -m "$1")
  id=$(printf '%s' "$dir" | sha256sum | cut -c1-6)
  ns_prefix="cephlab-$id"
  admin_ns="$ns_prefix-admin"
  host_link="cl${id}h"   # the host end of the host <-> bridge veth (15 characters at most)
  conf="$dir/ceph.conf"
  admin_keyring="$dir/client.admin.keyring"
}

osd_ns() { echo "$ns_prefix-osd$1"; }
osd_ip() { echo "$subnet.$((11 + $1))"; }

ceph_admin() { ceph --conf "$conf" --name client.admin --keyring "$admin_keyring" "$@"; }

# A free /24 in 198.18.0.0/15, starting from one derived from the lab id: none the host routes already.
choose_subnet() {
  local start=$((16#$id % 512)) i n candidate
  for ((i = 0; i < 512; i++)); do
    n=$(((start + i) % 512))
    candidate="198.$((18 + n / 256)).$((n % 256))"
    if ! ip -4 route show | grep -q "^$candidate\.0/24 "; then
      echo "$candidate"
      return
    fi
  done
  die "no free /24 in 198.18.0.0/15"
}

# --- daemons --------------------------------------------------------------------------------------------------------

# start_daemon NAME NAMESPACE COMMAND...: runs COMMAND in the foreground, detached from this shell (its own session),
# in the network namespace NAMESPACE only (nsenter --net: mounts stay shared with the host), and records its pid.
start_daemon() {
  local name=$1 ns=$2
  shift 2
  setsid nsenter --net="/run/netns/$ns" "$@" -f >"$dir/out/$name.stdout" 2>&1 </dev/null &
  echo $! >"$dir/run/lab-$name.pid"
}

# True when PID is alive and is a daemon of this lab (its command line names this lab's ceph.conf).
is_lab_daemon() {
  local pid=$1
  [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$conf"
}

lab_daemon_pids() {
  local file pid
  for file in "$dir"/run/lab-*.pid; do
    [[ -f $file ]] || continue
    pid=$(<"$file")
    [[ $pid =~ ^[0-9]+$ ]] && is_lab_daemon "$pid" && echo "$pid"
  done
  return 0
}

stop_daemons() {
  local pids pid deadline
  mapfile -t pids < <(lab_daemon_pids)
  ((${#pids[@]})) || return 0
  step "stopping ${#pids[@]} daemon(s): ${pids[*]}"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  deadline=$((SECONDS + stop_timeout_seconds))
  while ((SECONDS < deadline)); do
    mapfile -t pids < <(lab_daemon_pids)
    ((${#pids[@]})) || return 0
    sleep 0.5
  done
  step "killing daemon(s) still running after ${stop_timeout_seconds}s: ${pids[*]}"
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  sleep 0.5
}

# --- network --------------------------------------------------------------------------------------------------------

make_namespace() {
  ip netns add "$1"
  ip -n "$1" link set lo up
}

setup_admin_network() {
  make_namespace "$admin_ns"
  ip -n "$admin_ns" link add br0 type bridge
  ip -n "$admin_ns" link set br0 up
  ip -n "$admin_ns" addr add "$subnet.2/24" dev br0
  ip link add "$host_link" type veth peer name uplink netns "$admin_ns"
  ip -n "$admin_ns" link set uplink master br0 up
  ip addr add "$subnet.1/24" dev "$host_link"
  ip link set "$host_link" up
}

setup_osd_network() {
  local n=$1 ns
  ns=$(osd_ns "$n")
  make_namespace "$ns"
  ip -n "$admin_ns" link add "osd$n" type veth peer name eth0 netns "$ns"
  ip -n "$admin_ns" link set "osd$n" master br0 up
  ip -n "$ns" addr add "$(osd_ip "$n")/24" dev eth0
  ip -n "$ns" link set eth0 up
}

# --- configuration --------------------------------------------------------------------------------------------------

write_conf() {
  cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = [v2:$subnet.2:3300,v1:$subnet.2:6789]
public network = $subnet.0/24
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
keyring = $dir/\$name.keyring
run dir = $dir/run
pid file = $dir/run/\$name.pid
admin socket = $dir/run/\$name.asok
log file = $dir/out/\$name.log
crash dir = $dir/crash
ms bind ipv6 = false
osd pool default size = 3
osd pool default min size = 2
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 1
mon warn on pool no redundancy = false
mon allow pool delete = true
mon data avail warn = 2
mon data avail crit = 1

[mon]
mon data = $dir/mon.\$id
mon cluster log file = $dir/out/cluster.log
keyring = $dir/mon.\$id/keyring

[mgr]
mgr data = $dir/mgr.\$id
keyring = $dir/mgr.\$id/keyring

[osd]
osd data = $dir/osd.\$id
keyring = $dir/osd.\$id/keyring
osd objectstore = bluestore
# Not "block": the OSD makes a "block" symlink itself, and mkfs fails with ELOOP on a file of that name.
bluestore block path = $dir/osd.\$id/block.file
bluestore block create = true
bluestore block size = 10G
bluestore cache autotune = false
bluestore cache size = 128M
osd memory target = 896M
osd op num shards = 2
osd op num threads per shard = 1
# File-backed OSDs count as hdd, whose recovery sleeps 0.1 s between operations.
osd recovery sleep hdd = 0

[client]
# One socket and one log per client process: clients share a name, and a second one would warn that the socket exists.
admin socket = $dir/run/\$name.\$pid.asok
log file = $dir/out/\$name.\$pid.log
EOF
}

append_osd_conf() {
  local n=$1
  cat >>"$conf" <<EOF

[osd.$n]
public addr = $(osd_ip "$n")
cluster addr = $(osd_ip "$n")
crush location = root=default host=node$n
EOF
}

# --- bring-up -------------------------------------------------------------------------------------------------------

make_keyrings() {
  ceph-authtool --create-keyring "$dir/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool --create-keyring "$admin_keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
  ceph-authtool "$dir/mon.keyring" --import-keyring "$admin_keyring" >/dev/null
  chmod 0600 "$dir/mon.keyring" "$admin_keyring"
}

start_mon() {
  monmaptool --create --fsid "$fsid" --addv a "[v2:$subnet.2:3300,v1:$subnet.2:6789]" "$dir/monmap" >/dev/null
  ceph-mon --conf "$conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/mon.keyring"
  start_daemon mon.a "$admin_ns" ceph-mon --conf "$conf" -i a
  wait_for "the mon to answer" 60 ceph_admin --connect-timeout 5 mon stat
}

start_mgr() {
  mkdir -p "$dir/mgr.x"
  ceph_admin auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' mds 'allow *' \
    -o "$dir/mgr.x/keyring" >/dev/null
  chmod 0600 "$dir/mgr.x/keyring"
  start_daemon mgr.x "$admin_ns" ceph-mgr --conf "$conf" -i x
}

# add_osd N: creates OSD N (id N) in its own namespace on CRUSH host nodeN and starts it.
add_osd() {
  local n=$1 uuid secret id
  setup_osd_network "$n"
  append_osd_conf "$n"
  uuid=$(uuidgen)
  secret=$(ceph-authtool --gen-print-key)
  mkdir -p "$dir/osd.$n"
  # The secret goes through a file (mode 0600), not an argument.
  (umask 077 && printf '{"cephx_secret": "%s"}\n' "$secret" >"$dir/osd.$n/new.json")
  id=$(ceph_admin osd new "$uuid" "$n" -i "$dir/osd.$n/new.json")
  rm -f "$dir/osd.$n/new.json"
  [[ $id == "$n" ]] || die "ceph osd new gave id '$id', expected $n"
  ceph-authtool --create-keyring "$dir/osd.$n/keyring" --name "osd.$n" --add-key "$secret" >/dev/null
  chmod 0600 "$dir/osd.$n/keyring"
  ceph-osd --conf "$conf" -i "$n" --mkfs --osd-uuid "$uuid" >"$dir/out/osd.$n.mkfs" 2>&1 ||
    { cat "$dir/out/osd.$n.mkfs" >&2; die "mkfs of osd.$n failed"; }
  start_daemon "osd.$n" "$(osd_ns "$n")" ceph-osd --conf "$conf" -i "$n"
}

make_pool() {
  ceph_admin osd pool create rbd 32 32 >/dev/null 2>&1
  ceph_admin osd pool set rbd size 3 >/dev/null 2>&1
  ceph_admin osd pool set rbd min_size 2 >/dev/null 2>&1
  rbd --conf "$conf" --name client.admin --keyring "$admin_keyring" pool init rbd
  ceph_admin auth get-or-create client.sparse mon 'profile rbd' osd 'profile rbd pool=rbd' \
    mgr 'profile rbd pool=rbd' -o "$dir/client.sparse.keyring" >/dev/null
  chmod 0600 "$dir/client.sparse.keyring"
}

# wait_for WHAT SECONDS COMMAND...: runs COMMAND until it succeeds, for at most SECONDS.
wait_for() {
  local what=$1 seconds=$2 deadline
  shift 2
  deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "timed out after ${seconds}s waiting for $what"
    sleep 1
  done
}

is_healthy() { [[ $(ceph_admin --connect-timeout 5 health 2>/dev/null) == HEALTH_OK* ]]; }

# True when every PG is active+clean (HEALTH_OK comes before PGs that are still peering are reported).
pgs_are_clean() {
  ceph_admin --connect-timeout 5 pg stat --format json 2>/dev/null |
    jq -e '.pg_summary as $s | ([$s.num_pg_by_state[] | select(.name == "active+clean") | .num] | add) == $s.num_pgs' >/dev/null
}

# Waits for HEALTH_OK with WANT OSDs up and every PG active+clean; on time-out prints `ceph health detail` and fails.
wait_for_health() {
  local want=$1 deadline=$((SECONDS + health_timeout_seconds))
  until is_healthy && [[ $(ceph_admin osd stat --format json | jq '.num_up_osds') == "$want" ]] && pgs_are_clean; do
    if ((SECONDS >= deadline)); then
      ceph_admin health detail >&2 || true
      die "no HEALTH_OK with $want OSDs up after ${health_timeout_seconds}s"
    fi
    sleep 1
  done
}

require_tools() {
  local tool missing=()
  for tool in ceph ceph-mon ceph-mgr ceph-osd ceph-authtool monmaptool rbd jq uuidgen nsenter setsid ip; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  ((${#missing[@]} == 0)) || die "missing: ${missing[*]} (Debian packages: ceph ceph-mon ceph-mgr ceph-osd jq uuid-runtime)"
  [[ $(id -u) -eq 0 ]] || die "run me as root: I create network namespaces"
}

lab_up() {
  require_tools
  if [[ -e $dir ]] && [[ -n $(ls -A "$dir") ]]; then
    die "$dir exists and is not empty (a lab already? run: $0 down $dir)"
  fi
  ip netns list | grep -q "^$ns_prefix-" && die "namespaces $ns_prefix-* exist already (run: $0 down $dir)"
  mkdir -p "$dir/run" "$dir/out" "$dir/crash"
  subnet=$(choose_subnet)
  fsid=$(uuidgen)
  printf 'subnet=%s\nfsid=%s\n' "$subnet" "$fsid" >"$dir/lab.env"
  local started=$SECONDS
  step "lab $id in $dir: subnet $subnet.0/24, namespaces $ns_prefix-*"
  setup_admin_network
  write_conf
  make_keyrings
  start_mon
  start_mgr
  local n
  for ((n = 0; n < osd_count; n++)); do add_osd "$n"; done
  make_pool
  wait_for_health "$osd_count"
  step "HEALTH_OK after $((SECONDS - started))s: conf $conf, keyrings $admin_keyring and $dir/client.sparse.keyring"
}

lab_add_osd() {
  load_lab
  local n capacity
  n=$(ceph_admin osd ls --format json | jq 'length')
  capacity=$(pool_capacity_bytes)
  local started=$SECONDS
  add_osd "$n"
  wait_for_health "$((n + 1))"
  wait_for_pool_capacity_above "$capacity" "$n"
  step "osd.$n on host node$n: HEALTH_OK after $((SECONDS - started))s, pool rbd holds $(pool_capacity_bytes) bytes (was $capacity)"
}

# What pool rbd can hold as `ceph df` reports it (stored + max_avail), as a pool's capacity is read by the module.
pool_capacity_bytes() {
  ceph_admin df --format json | jq '.pools[] | select(.name == "rbd") | .stats.stored + .stats.max_avail'
}

# The manager counts a new OSD's space in `ceph df` a few seconds after the cluster is healthy again, once the OSD
# has reported its statistics: wait for that, so that a caller reads the grown capacity.
wait_for_pool_capacity_above() {
  local before=$1 n=$2 deadline=$((SECONDS + health_timeout_seconds))
  until (($(pool_capacity_bytes) > before)); do
    ((SECONDS < deadline)) || die "pool rbd still holds $(pool_capacity_bytes) bytes after ${health_timeout_seconds}s, without the space of osd.$n"
    sleep 1
  done
}

# The number of the OSD a command names: an OSD of this lab, in its own namespace.
checked_osd() {
  local n=$1
  [[ $n =~ ^[0-9]+$ ]] || die "'$n' is not an OSD number"
  ip netns list | grep -q "^$(osd_ns "$n")\b" || die "this lab has no osd.$n (no namespace $(osd_ns "$n"))"
  echo "$n"
}

osd_is_up() {
  [[ $(ceph_admin --connect-timeout 5 osd dump --format json | jq --argjson n "$1" '.osds[] | select(.osd == $n) | .up') == 1 ]]
}

lab_isolate_osd() {
  load_lab
  local n started=$SECONDS deadline
  n=$(checked_osd "$1")
  ip -n "$(osd_ns "$n")" link set eth0 down
  # The other OSDs miss its heartbeats for `osd heartbeat grace` (20 s) and report it; the mon then marks it down.
  deadline=$((SECONDS + health_timeout_seconds))
  while osd_is_up "$n"; do
    ((SECONDS < deadline)) || die "osd.$n is still up ${health_timeout_seconds}s after its link went down"
    sleep 1
  done
  step "osd.$n isolated (link down): marked down after $((SECONDS - started))s"
}

lab_restore_osd() {
  load_lab
  local n started=$SECONDS
  n=$(checked_osd "$1")
  ip -n "$(osd_ns "$n")" link set eth0 up
  wait_for_health "$(ceph_admin osd ls --format json | jq 'length')"
  step "osd.$n restored (link up): HEALTH_OK after $((SECONDS - started))s"
}

load_lab() {
  [[ -f $dir/lab.env ]] || die "$dir is no lab (no lab.env)"
  # shellcheck disable=SC1091
  source "$dir/lab.env"
}

lab_status() {
  load_lab
  local file name pid rss
  for file in "$dir"/run/lab-*.pid; do
    [[ -f $file ]] || continue
    name=${file##*/lab-}
    name=${name%.pid}
    pid=$(<"$file")
    if is_lab_daemon "$pid"; then
      rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
      printf '%-8s pid %-8s rss %6d MiB\n' "$name" "$pid" "$((rss / 1024))"
    else
      printf '%-8s not running\n' "$name"
    fi
  done
  ceph_admin --connect-timeout 5 -s
}

lab_down() {
  local started=$SECONDS ns
  [[ -d $dir ]] && stop_daemons
  while read -r ns _; do
    [[ $ns == "$ns_prefix-"* ]] && ip netns delete "$ns"
  done < <(ip netns list)
  # Deleting the admin namespace takes the veth's host end with it, asynchronously: it may vanish between the two calls.
  ip link delete "$host_link" 2>/dev/null || true
  ! ip link show "$host_link" >/dev/null 2>&1 || die "could not delete link $host_link"
  if [[ -d $dir ]]; then
    if [[ -f $dir/lab.env || -z $(ls -A "$dir") ]]; then
      rm -rf "$dir"
    else
      step "left $dir in place: it holds no lab.env, so it is not a lab directory"
    fi
  fi
  step "lab $id down after $((SECONDS - started))s"
}

case "$1:$#" in
  up:2 | down:2 | status:2 | add-osd:2 | isolate-osd:3 | restore-osd:3) ;;
  *) usage >&2; exit 2 ;;
esac
lab_names "$2"
case "$1" in
  up) lab_up ;;
  down) lab_down ;;
  status) lab_status ;;
  add-osd) lab_add_osd ;;
  isolate-osd) lab_isolate_osd "$3" ;;
  restore-osd) lab_restore_osd "$3" ;;
esac
