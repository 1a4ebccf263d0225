#!/usr/bin/env bash
# CI step: the Rust tests (the OS layer and the pure rules, without Node).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo test
