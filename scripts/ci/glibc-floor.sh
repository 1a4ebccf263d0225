#!/usr/bin/env bash
# CI step: fails if BINARY needs a newer glibc than the floor the README promises.
#   scripts/ci/glibc-floor.sh BINARY [FLOOR]
set -euo pipefail
binary=${1:?usage: scripts/ci/glibc-floor.sh BINARY [FLOOR]}
floor=${2:-2.17}
# The symbol versions the binary asks of glibc; the newest one is what it needs. readelf reads the
# ELF tables of any architecture (an aarch64 binary on an x64 runner too).
needed=$(readelf -W --dyn-syms "$binary" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
[ -n "$needed" ] || { echo "$binary asks nothing of glibc: is it a glibc build?" >&2; exit 1; }
if [ "$(printf '%s\n%s\n' "$needed" "$floor" | sort -V | tail -n 1)" != "$floor" ]; then
  echo "$binary needs glibc $needed, newer than the floor $floor the README states" >&2
  readelf -W --dyn-syms "$binary" | grep "GLIBC_$needed" >&2
  exit 1
fi
echo "$binary needs glibc $needed at most (floor: $floor)"
