#!/usr/bin/env bash
# A throwaway single-node Ceph cluster with a RADOS Gateway: a real S3 implementation (SigV4,
# multipart, presigned URLs) for the tests and for developers.
#
#   scripts/ceph-rgw.sh start DIR   # prints "endpoint=http://127.0.0.1:PORT" and the keys
#   scripts/ceph-rgw.sh stop DIR    # stops exactly the daemons started with DIR/ceph.conf
#
# One monitor, one OSD on the in-memory `memstore` object store (so DIR stays small and
# everything is gone after stop), `auth = none` inside the cluster (S3 requests are still
# SigV4-checked by the gateway). Everything the daemons write (run dir, pid files, logs, admin
# sockets) stays inside DIR, so several clusters can run side by side.
# Needs: radosgw ceph-mon ceph-osd ceph-common (scripts/install-system-deps.sh installs them).
set -euo pipefail

ACCESS_KEY="${CEPH_RGW_ACCESS_KEY:-atticts0access0key00}"
SECRET_KEY="${CEPH_RGW_SECRET_KEY:-atticts0secret0key0000000000000000000000}"

usage() {
  echo "usage: $0 start|stop DIR" >&2
  exit 2
}

[ $# -eq 2 ] || usage
cmd="$1"
dir="$(mkdir -p "$2" && cd "$2" && pwd)"
conf="$dir/ceph.conf"

# A TCP port nobody listens on right now (asked from the kernel, then released).
free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# PIDs of the processes whose environment has CEPH_CONF=$conf: the daemons fork, so their PIDs
# are not ours, but they inherit the environment we started them with.
daemon_pids() {
  local p
  for p in /proc/[0-9]*; do
    [ -r "$p/environ" ] || continue
    if { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qxF "CEPH_CONF=$conf"; then
      echo "${p#/proc/}"
    fi
  done
}

stop_cluster() {
  local pids left i
  pids="$(daemon_pids | grep -vx "$$" || true)"
  [ -n "$pids" ] || return 0
  # shellcheck disable=SC2086
  kill $pids 2>/dev/null || true
  for i in $(seq 1 100); do
    left=""
    for p in $pids; do [ -d "/proc/$p" ] && left="$left $p"; done
    [ -z "$left" ] && return 0
    sleep 0.1
  done
  # shellcheck disable=SC2086
  kill -9 $left 2>/dev/null || true
}

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local seconds="$1" what="$2" i
  shift 2
  for i in $(seq 1 $((seconds * 10))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "ceph-rgw: timed out waiting for $what (logs in $dir/log)" >&2
  return 1
}

# On any failure: say which step failed and show the end of the daemons' logs.
on_error() {
  local status=$? line=$1
  echo "ceph-rgw: start failed (exit $status) at line $line: $BASH_COMMAND" >&2
  tail -n 5 "$dir"/log/*.log >&2 2>/dev/null || true
  exit "$status"
}

# Starts the OSD; a start that fails before it forks (it talks to the monitor first) is tried
# again, up to three times, with the reason kept in the log.
start_osd() {
  local id="$1" attempt
  for attempt in 1 2 3; do
    if ceph-osd -i "$id" 2>>"$dir/log/osd-start.log"; then
      return 0
    fi
    echo "ceph-rgw: osd.$id start attempt $attempt failed" >>"$dir/log/osd-start.log"
    sleep 1
  done
  return 1
}

start_cluster() {
  trap 'on_error $LINENO' ERR
  for bin in ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool ceph-authtool; do
    command -v "$bin" >/dev/null 2>&1 || {
      echo "ceph-rgw: $bin is missing; run scripts/install-system-deps.sh (installs radosgw ceph-mon ceph-osd ceph-common)" >&2
      exit 1
    }
  done
  if [ -n "$(daemon_pids | grep -vx "$$" || true)" ]; then
    echo "ceph-rgw: a cluster is already running with $conf; stop it first" >&2
    exit 1
  fi
  rm -rf "$dir/mon" "$dir/osd" "$dir/run" "$dir/log"
  mkdir -p "$dir/mon" "$dir/osd" "$dir/run" "$dir/log"
  local mon_port rgw_port fsid uuid osd_id
  mon_port="$(free_port)"
  rgw_port="$(free_port)"
  fsid="$(cat /proc/sys/kernel/random/uuid)"
  # A monitor port other than 6789 must be declared v1 everywhere, or clients time out.
  cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = [v1:127.0.0.1:$mon_port]
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
ms bind msgr2 = false
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon allow pool delete = true
osd objectstore = memstore
memstore device bytes = 4294967296
osd data = $dir/osd/\$cluster-\$id
mon data = $dir/mon/\$cluster-\$id
run dir = $dir/run
pid file = $dir/run/\$name.pid
log file = $dir/log/\$name.log
admin socket = $dir/run/\$name.asok
keyring = $dir/keyring
osd crush chooseleaf type = 0
# The OSD's own start-up crush commands race its first monmap: sent before the map arrives they
# carry fsid 0, the monitor answers EPERM ("wrong fsid") and the OSD exits 250 (seen in CI, twice
# in a row on a loaded machine). The script places the OSD in the crush map itself instead.
osd class update on start = false
osd crush update on start = false
mon warn on pool no redundancy = false
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw dns name = 127.0.0.1
# RGW keeps a deleted object's data for 2 h (rgw_gc_obj_min_wait) before its collector frees it.
# In the 4 GiB memstore a long dev session filled the OSD that way: once full, every S3 write
# hung and the S3 tests ran into their timeouts. Freed after 30 s, the store holds what is live.
rgw gc obj min wait = 30
rgw gc processor period = 30
EOF
  export CEPH_CONF="$conf"
  ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  monmaptool --create --fsid "$fsid" --addv a "[v1:127.0.0.1:$mon_port]" "$dir/monmap" >/dev/null
  ceph-mon --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring" >/dev/null
  ceph-mon -i a 2>>"$dir/log/mon-start.log"
  wait_for 30 "the monitor" ceph --connect-timeout 2 -s
  uuid="$(cat /proc/sys/kernel/random/uuid)"
  osd_id="$(ceph osd new "$uuid")"
  mkdir -p "$dir/osd/ceph-$osd_id"
  ceph-osd -i "$osd_id" --mkfs --osd-uuid "$uuid" >/dev/null 2>&1
  ceph osd crush add "osd.$osd_id" 1.0 root=default >/dev/null 2>&1
  start_osd "$osd_id"
  wait_for 60 "the OSD" sh -c "ceph osd stat | grep -q '1 up'"
  radosgw -n client.rgw 2>>"$dir/log/rgw-start.log"
  wait_for 60 "the gateway" sh -c "curl -sf http://127.0.0.1:$rgw_port/ >/dev/null"
  radosgw-admin user create --uid=attic-ts --display-name=attic-ts \
    --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >/dev/null
  echo "endpoint=http://127.0.0.1:$rgw_port"
  echo "access_key_id=$ACCESS_KEY"
  echo "secret_access_key=$SECRET_KEY"
}

case "$cmd" in
  start) start_cluster ;;
  stop) stop_cluster ;;
  *) usage ;;
esac
