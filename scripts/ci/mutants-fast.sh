#!/usr/bin/env bash
# CI step: the fast part of the mutation run (docs/testing.md): the pure rules judged by the unit
# tests, and the lines the last commit changed, judged by their areas' test files.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v cargo-mutants >/dev/null || cargo install cargo-mutants --version 27.1.0 --locked --quiet
bash scripts/mutants.sh --rust --unit-only name-rules
if git rev-parse --verify --quiet HEAD~1 >/dev/null; then
  bash scripts/mutants.sh --changed HEAD~1
else
  echo "no parent commit (a shallow clone?): the changed lines are not judged"
fi
