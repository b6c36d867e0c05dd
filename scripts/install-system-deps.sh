#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real: Nix (the client whose behaviour
# is the contract), the zstd/xz CLIs used to cross-check our compression, and the PostgreSQL
# server (the e2e run starts a throwaway cluster from /usr/lib/postgresql/<version>/bin), and
# Ceph's RADOS Gateway (a real S3 for the storage tests, started by scripts/ceph-rgw.sh).
# With --build, only what `npm ci` needs to compile the native modules (for `npm start`).
# Idempotent: it only calls apt-get when something is missing. Needs root (CI and the dev
# machines run as root).
set -euo pipefail

need=()
# node-liblzma builds against the system liblzma.
[ -e /usr/include/lzma.h ] || need+=(liblzma-dev)
if [ "${1:-}" != "--build" ]; then
command -v nix-store >/dev/null 2>&1 || need+=(nix-bin)
# Debian's Nix setup: the nixbld build users and /etc/nix/nix.conf with `sandbox = false` (the
# sandbox has no /bin/sh on Debian). nix-bin only recommends it, and --no-install-recommends
# below skips it: without it every nix-build fails ("the group 'nixbld' ... does not exist").
{ [ -e /etc/nix/nix.conf ] && getent group nixbld >/dev/null; } || need+=(nix-setup-systemd)
command -v zstd >/dev/null 2>&1 || need+=(zstd)
command -v xz >/dev/null 2>&1 || need+=(xz-utils)
# Any installed major version will do: the test helper picks the newest /usr/lib/postgresql/*/bin.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
# S3: a single-node Ceph cluster with a RADOS Gateway (scripts/ceph-rgw.sh; about 270 MB).
command -v radosgw >/dev/null 2>&1 || need+=(radosgw ceph-mon ceph-osd ceph-common)
fi

if [ ${#need[@]} -gt 0 ]; then
  echo "install-system-deps: installing ${need[*]}"
  if [ "$(id -u)" != 0 ]; then
    echo "install-system-deps: need root to apt-get install ${need[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
