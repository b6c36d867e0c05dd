#!/usr/bin/env bash
# `npm run bench`: every benchmark, each printing its figures next to a baseline measured in the
# same run on this machine. Results are recorded by hand in BENCHMARKS.md with this command.
set -euo pipefail
cd "$(dirname "$0")/.."
export TSX_TSCONFIG_PATH=tsconfig.base.json
tsx() { npx tsx --conditions=source "$@"; }

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, node $(node --version), $(date -u +%F)"
tsx bench/fastcdc-throughput.ts
tsx bench/compression-throughput.ts
tsx bench/ingest-throughput.ts 512
npx tsc -b
node bench/ingest-memory.mjs 0.5 zstd
node bench/ingest-memory.mjs 2 zstd
