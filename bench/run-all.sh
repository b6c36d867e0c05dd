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
tsx bench/lru-eviction.ts
tsx bench/ingest-throughput.ts 512
tsx bench/engine-chunk-cost.ts
npx tsc -b
MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=65536 node --max-semi-space-size=4 --no-allocation-site-pretenuring --heap-growing-percent=20 bench/ingest-memory.mjs 0.5 zstd
MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=65536 node --max-semi-space-size=4 --no-allocation-site-pretenuring --heap-growing-percent=20 bench/ingest-memory.mjs 2 zstd
if [ "${BENCH_QUICK:-}" = 1 ]; then BENCH_CHUNKS=100000 tsx bench/sqlite-claim-scaling.ts; else tsx bench/sqlite-claim-scaling.ts; fi

# HTTP benchmarks (issue #8): the real atticd process against wrk, curl, nginx and the zstd CLI.
# Sizes come from BENCH_* variables (see each script's header); BENCH_QUICK=1 runs a small,
# single-run version of each. They need the built dist (`npx tsc -b` above).
bash bench/install-bench-deps.sh
if [ "${BENCH_QUICK:-}" = 1 ]; then
  export BENCH_RUNS=1 BENCH_SIZE_MIB=64 BENCH_NARINFO_OBJECTS=300 BENCH_WRK_SECONDS=3 \
    BENCH_INGEST_MIB=64 BENCH_DOWNLOAD_MIB=64 BENCH_CONCURRENT_MIB=8 BENCH_MISSING_OBJECTS=100000 BENCH_MISSING_REQUESTS=5
fi
# One failing script does not hide the others' figures; the run still fails at the end.
failed=()
BENCH_SIZE_MIB="${BENCH_SIZE_MIB:-512}" tsx bench/http-ingest.ts || failed+=(http-ingest)
BENCH_WRK_SECONDS="${BENCH_WRK_SECONDS:-5}" tsx bench/http-narinfo.ts || failed+=(http-narinfo)
# The same with one HTTP worker process per core (memory is then per worker; see the README).
echo "== http-narinfo with ATTIC_TS_WORKERS=auto ($(nproc) workers)"
BENCH_ATTICD_ENV="ATTIC_TS_WORKERS=auto ${BENCH_ATTICD_ENV:-}" BENCH_WRK_SECONDS="${BENCH_WRK_SECONDS:-5}" tsx bench/http-narinfo.ts || failed+=(http-narinfo-workers)
tsx bench/http-nar.ts || failed+=(http-nar)
tsx bench/http-missing-paths.ts || failed+=(http-missing-paths)
tsx bench/http-dedup.ts || failed+=(http-dedup)
if [ ${#failed[@]} -gt 0 ]; then
  echo "== FAILED: ${failed[*]}" >&2
  exit 1
fi
