#!/usr/bin/env bash
# Starts the attic-ts server (`npm start`): installs dependencies on first use, builds, then runs
# atticd. With no config anywhere, atticd's first-run setup writes ~/.config/attic/server.toml,
# prints a root token and serves on [::]:8080. Arguments are passed to atticd
# (e.g. `npm start -- -f server.toml --mode api-server`).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ]; then
  bash scripts/install-system-deps.sh --build
  npm ci
fi
# The local compiler: no npx update notices, and the version the lockfile pins.
./node_modules/.bin/tsc -b
# The settings bin/atticd.js names in its shebang (see there).
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-65536}"
exec node --max-semi-space-size=4 --no-allocation-site-pretenuring --heap-growing-percent=20 packages/server-koa/bin/atticd.js "$@"
