#!/usr/bin/env bash
# CI step: the Node suite with the addon built with AddressSanitizer, Node preloading the runtime
# (Linux x64, Debian or Ubuntu: installs libasan8 with apt-get where it is missing, through sudo
# when this is not root).
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! dpkg -s libasan8 >/dev/null 2>&1; then
  as_root=()
  [ "$(id -u)" = 0 ] || as_root=(sudo)
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libasan8 >/dev/null
fi
RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zsanitizer=address" CARGO_TARGET_DIR=target/asan \
  cargo build --release --target x86_64-unknown-linux-gnu
asan_dir=$(mktemp -d)
trap 'rm -rf "$asan_dir"' EXIT
cp target/asan/x86_64-unknown-linux-gnu/release/libshared_memory_node.so "$asan_dir/shared-memory.node"
# leaks.test.js is left out here: its resident-memory check would measure ASan's quarantine of
# freed memory (hundreds of MiB by design), not the addon. It runs in the plain suite.
mapfile -t asan_tests < <(ls __test__/*.test.js | grep -v leaks.test.js)
LD_PRELOAD="$(gcc -print-file-name=libasan.so)" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
  NAPI_RS_NATIVE_LIBRARY_PATH="$asan_dir/shared-memory.node" \
  node --test "${asan_tests[@]}"
