#!/usr/bin/env bash
# CI step, Windows only: the suites in scripts/windows/ on Windows itself (under Wine they run
# through scripts/test-windows.sh). They load the package from SHM_WINDOWS_MODULE.
set -euo pipefail
cd "$(dirname "$0")/../.."
SHM_WINDOWS_MODULE=$(pwd -W 2>/dev/null || pwd)
export SHM_WINDOWS_MODULE
node scripts/run-tests.js --test-timeout=120000 scripts/windows
