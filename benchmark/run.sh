#!/usr/bin/env bash
# `npm run bench`: installs the comparison points once, then runs the benchmark.
set -euo pipefail
cd "$(dirname "$0")"

# 1.x compiles C++ with cmake-js, shm-typed-array with node-gyp: both need this
# machine's Node headers (nodejs.org may be out of reach) and cmake.
export npm_config_nodedir="${npm_config_nodedir:-$(dirname "$(dirname "$(command -v node)")")}"
if ! command -v cmake >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends cmake >/dev/null
  else
    echo "npm run bench needs cmake (to build the 1.x package it compares against); install it first" >&2
    exit 1
  fi
fi
if [ ! -e node_modules/shared-memory-v1/build/Release/shared_memory.node ] || [ ! -e node_modules/shm-typed-array/build/Release/shm.node ]; then
  npm ci --no-audit --no-fund
fi
# Every system's copies allocate fresh Buffers. glibc serves large ones with mmap and returns them
# on free, so whether a copy pays ~256 page faults per MiB depends on the allocator's recent
# history, not on the system measured (medians flipped between 35 µs and 400 µs for 1 MiB).
# Keeping large allocations in the heap makes every system reuse freed memory alike.
export GLIBC_TUNABLES="${GLIBC_TUNABLES:-glibc.malloc.mmap_threshold=268435456:glibc.malloc.trim_threshold=268435456}"
exec node --expose-gc index.js "$@"
