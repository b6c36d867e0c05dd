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
# The whole run is bounded (default 40 minutes; a full run takes about 10 here): a test stuck
# where its own timeout cannot fire must fail the run loudly, not leave CI waiting. Half a
# minute before the end, the process tree is printed, so the failure shows what was stuck (the
# watchdog reporter has already named the slow test files).
limit="${ATTIC_TS_TEST_TIMEOUT_SECONDS:-2400}"
(
  # The sleep holds none of our output streams, so a run that ends early is not kept open by it.
  sleep "$((limit - 30))" </dev/null >/dev/null 2>&1 || exit 0
  echo "test.sh: the test run is about to reach its limit of ${limit}s (ATTIC_TS_TEST_TIMEOUT_SECONDS); running now:"
  ps -eo pid,ppid,etime,stat,args --forest | grep -v -e ' \[' -e 'ps -eo'
) >&2 &
snapshot=$!
status=0
timeout --kill-after=30s "$limit" npx vitest run "$@" || status=$?
# SIGPIPE ends the sleep without the "Terminated" line bash prints for SIGTERM; the subshell
# then exits without printing.
pkill -PIPE -P "$snapshot" 2>/dev/null || true
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  echo "test.sh: the test run did not finish within ${limit}s and was stopped" >&2
fi
exit "$status"
