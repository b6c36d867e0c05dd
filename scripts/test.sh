#!/usr/bin/env bash
# The one test command (`npm test`): installs what the suites need, builds, runs every test.
# A missing service or tool fails the run; nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-system-deps.sh

# Install node modules when missing or older than the lockfile.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

npx tsc -b
node scripts/lint-inject.mjs
npx vitest run "$@"
