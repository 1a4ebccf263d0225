#!/usr/bin/env bash
# CI step: the Node suite, against the binary in the repository root (a release build placed
# there by scripts/ci/build.sh or a downloaded artifact, or the build of `npm install`).
set -euo pipefail
cd "$(dirname "$0")/../.."
node -e "const m = require('.'); console.log('testing', require.resolve('./binding.js'), 'on Node', process.version, process.platform, process.arch, typeof m.Channel)"
npm test
