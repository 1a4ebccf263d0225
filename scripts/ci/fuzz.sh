#!/usr/bin/env bash
# CI step: the fuzz targets of the pure rules (names, ranges, text), 20 s each (FUZZ_SECONDS).
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet
for target in names ranges text; do
  echo "-- $target"
  # cargo-fuzz asks rustc for nightly-only flags (sanitizers): RUSTC_BOOTSTRAP lets a stable
  # toolchain accept them.
  RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" --fuzz-dir fuzz -- -max_total_time="${FUZZ_SECONDS:-20}" 2>&1 | tail -n 2
done
