#!/usr/bin/env bash
# CI step: the release build of one target, exactly as it is published. Writes
# shared-memory.<platform>.node, binding.js and binding.d.ts to the repository root.
#   scripts/ci/build.sh TARGET
# Linux glibc targets are built with napi-rs's cross toolchain (--use-napi-cross, an old glibc
# sysroot) and checked against the glibc floor; musl targets with cargo-zigbuild (-x); the
# others natively on their own runners.
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${1:?usage: scripts/ci/build.sh TARGET}

flags=()
case "$target" in
  *-unknown-linux-gnu) flags=(--use-napi-cross) ;;
  *-unknown-linux-musl) flags=(-x) ;;
esac
rustup target add "$target" >/dev/null 2>&1 || true
npx napi build --platform --release --target "$target" "${flags[@]}" --js binding.js --dts binding.d.ts

if [[ "$target" == *-unknown-linux-gnu ]]; then
  binary=$(ls -t shared-memory.linux-*-gnu.node | head -n 1)
  bash scripts/ci/glibc-floor.sh "$binary"
fi
