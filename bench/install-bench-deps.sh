#!/usr/bin/env bash
# Installs what the HTTP benchmarks (bench/http-*.ts) run besides Node: wrk (load generator),
# nginx (the static-file baseline), curl, zstd (the CLI baseline), nix-bin (`nix-store --dump`
# makes the NARs) and PostgreSQL (the get-missing-paths benchmark's throwaway cluster).
# Debian/Ubuntu only; as root, or through sudo otherwise. Fails loudly when it cannot install.
set -euo pipefail

declare -A need=(
  [wrk]=wrk
  [/usr/sbin/nginx]=nginx-light
  [curl]=curl
  [zstd]=zstd
  [nix-store]=nix-bin
)
missing=()
for tool in "${!need[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${need[$tool]}")
done
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-bench-deps: installing ${missing[*]}" >&2
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-bench-deps: ERROR: apt-get not found; install ${missing[*]} by hand" >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "install-bench-deps: ERROR: not root and no password-less sudo; install ${missing[*]} by hand" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q || { echo "install-bench-deps: ERROR: apt-get update failed" >&2; exit 1; }
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" || {
  echo "install-bench-deps: ERROR: apt-get install ${missing[*]} failed" >&2
  exit 1
}
# The Debian nginx package starts a system nginx on port 80; the benchmarks run their own.
for tool in "${!need[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || { echo "install-bench-deps: ERROR: $tool still missing after install" >&2; exit 1; }
done
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "install-bench-deps: ERROR: PostgreSQL initdb still missing" >&2; exit 1; }
