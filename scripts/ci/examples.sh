#!/usr/bin/env bash
# CI step: every example, each bounded in time. An example that cannot run on this OS says so
# and exits 0 (the C peer is Linux code).
set -euo pipefail
cd "$(dirname "$0")/../.."
run() {
  echo "-- $*"
  # GNU timeout where there is one (not on macOS): a hung example must fail, not stall CI.
  if timeout --version >/dev/null 2>&1; then timeout 120 "$@"; else "$@"; fi
}
run npm run example
run node examples/ping-pong.js 2000
run node examples/lock.js 2000
run node examples/channel.js
run node examples/channel-c.js
run node examples/python.js
