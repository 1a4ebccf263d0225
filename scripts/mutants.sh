#!/usr/bin/env bash
# Mutation testing: plants small bugs one at a time and checks that a test fails for each.
# See docs/testing.md for what the areas are and what the last run scored.
#
#   scripts/mutants.sh [--rust | --js] [--changed REV] [--unit-only] [--shard K/N] [AREA ...]
#
#   AREA        data-path, lifecycle, waiting, os-layer, name-rules (scripts/mutants/areas.js);
#               all of them when none is named
#   --rust      only the Rust mutants (cargo-mutants); --js only the JavaScript ones (StrykerJS)
#   --changed   only mutants on the lines changed since REV, at most MUTANTS_LIMIT (default 10)
#               per file, picked evenly (what CI runs)
#   --unit-only judge Rust mutants by `cargo test` alone, without the Node suite (the pure rules)
#   --recheck   judge again only the mutants that survived the last run (after adding tests); a
#               survivor caught now counts as caught
#   --shard     only shard K of N of each Rust file's mutants (to split a run across machines)
#   --file      only this source file of the areas (may be repeated)
#   --re REGEX  only the Rust mutants whose name (file:line:column: what) matches, judged again
#               into a directory of their own (selected/); to re-judge chosen functions
#   --lines R   only the JavaScript mutants inside the line ranges R (file:first-last, comma
#               separated), judged again into selected/lines-R/; --re's counterpart for StrykerJS
#   MUTANTS_JOBS  mutants judged at once (default 2)
#
# Each mutant is judged by `cargo test` (Rust) and by the area's Node test files, fast ones first
# (scripts/mutants/judge.js). A whole run takes hours on two cores, so it is resumable: results go
# to $MUTANTS_OUT (default mutants.out/), one directory per source file, and a file whose run
# finished is skipped when the script runs again (delete its directory to redo it); a Rust file
# whose run was stopped goes on from the mutants not yet judged. The score and
# the surviving mutants are printed at the end (scripts/mutants/score.js), also for files run
# earlier; the exit status is 1 when a mutant survived that scripts/mutants/equivalent.txt does not
# explain.
set -euo pipefail
# Everything is in main(), which bash reads whole before it runs: editing this file during a run
# (a run takes hours) cannot change what the run does.
main() {
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

languages=(rust js)
changed_since=""
select_re=""
select_lines=""
unit_only=""
recheck=""
shard=""
only_files=()
wanted=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rust) languages=(rust) ;;
    --js) languages=(js) ;;
    --changed) changed_since=$2; shift ;;
    --unit-only) unit_only=1 ;;
    --re) select_re=$2; languages=(rust); shift ;;
    --lines) select_lines=$2; languages=(js); shift ;;
    --recheck) recheck=1 ;;
    --shard) shard=$2; shift ;;
    --file) only_files+=("$2"); shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) wanted+=("$1") ;;
  esac
  shift
done

# What `cargo test` passes to the test binaries: the ignored node_suite test runs the Node suite.
test_args=(--include-ignored)
[ -z "$unit_only" ] || test_args=()

# A partial run (--changed, --unit-only) keeps its results apart from those of the full run.
# --lines: a directory per set of ranges, so that runs of one file in parts (a long file judged
# region by region) keep each part's results.
# A long list of ranges is cut and told apart by its checksum (a name has at most 255 bytes).
lines_dir=""
if [ -n "$select_lines" ]; then
  lines_dir=lines-$(printf %s "$select_lines" | tr -c 'A-Za-z0-9.-' '_')
  [ ${#lines_dir} -le 100 ] || lines_dir=${lines_dir:0:60}-$(printf %s "$select_lines" | cksum | cut -d' ' -f1)
  lines_dir=/selected/$lines_dir
fi
out=${MUTANTS_OUT:-mutants.out}${changed_since:+/changed}${select_re:+/selected}${lines_dir}${unit_only:+/unit-only}
out=$(mkdir -p "$out" && cd "$out" && pwd)
[ ${#wanted[@]} -gt 0 ] || mapfile -t wanted < <(node -e 'console.log(Object.keys(require("./scripts/mutants/areas").areas).join("\n"))')

# area files: the source files of one language in one area, minus unchanged ones with --changed.
area_files() {
  node -e '
    const [area, language] = process.argv.slice(1)
    const files = require("./scripts/mutants/areas").areas[area]
    if (!files) { console.error(`no area ${area}`); process.exit(2) }
    console.log(files[language].join("\n"))' "$1" "$2" |
    while read -r file; do
      [ -n "$file" ] || continue
      if [ -n "$changed_since" ] && git diff --quiet "$changed_since" -- "$file"; then continue; fi
      if [ ${#only_files[@]} -gt 0 ] && ! printf '%s\n' "${only_files[@]}" | grep -qxF "$file"; then continue; fi
      echo "$file"
    done
}

# The tree the judge runs in: this checkout's tracked files, its generated binding and its build,
# copied, so that editing the checkout during a long run does not change what judges the mutants.
# Rust and JavaScript each get their own (StrykerJS instruments lib/ in place).
snapshot() {
  local tree=$1
  rm -rf "$tree" && mkdir -p "$tree"
  git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$tree"
  cp binding.js binding.d.ts shared-memory.*.node "$tree"/
  ln -s "$root/node_modules" "$tree/node_modules"
}

# A mutant can leave blocks behind: it may break unlink itself, or the names (the Node tests name
# theirs t-<tag>-<pid>-<id>, the Rust tests shmtest-<tag>-<pid>, and a mutant of the name rules
# may add to them). Remove the entries of this user with such a name that appeared in /dev/shm
# during this run and name no live process: another run at the same time may still use its own.
blocks() {
  find /dev/shm -maxdepth 1 -type f -user "$(id -u)" \( -name '*t-*' -o -name '*leak-*' -o -name '*shmtest-*' \) 2>/dev/null | sort
}
blocks_before=$(blocks)
trees=()
cleanup() {
  # A mutant that hangs a test can leave the peers the test started running after the judge
  # killed the test (their parent gone, they sleep on): stop whatever still runs from a tree.
  local tree
  if [ ${#trees[@]} -ne 0 ]; then
    for tree in "${trees[@]}"; do pkill -f -- "$tree/" 2>/dev/null || true; done
  fi
  remove_new_blocks
  [ ${#trees[@]} -eq 0 ] || rm -rf "${trees[@]}"
}
remove_new_blocks() {
  comm -13 <(echo "$blocks_before") <(blocks) | while read -r block; do
    pid=$(basename "$block" | tr -c '0-9\n' '\n' | grep -m1 -E '^[0-9]{3,}$' || true)
    if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then rm -f "$block"; fi
  done
}
trap cleanup EXIT

[ -f shared-memory.linux-x64-gnu.node ] || npm run build
git rev-parse HEAD > "$out/commit"

# The judge must pass without mutants first, or every mutant would look caught. cargo-mutants'
# own baseline would run once per file; this runs once per area.
baseline_passed=()
baseline() {
  local language=$1 area=$2 tree=$3
  printf '%s\n' "${baseline_passed[@]}" | grep -qxF "$language $area" && return 0
  echo "== baseline: the $area judge without mutants"
  if [ "$language" = rust ]; then
    SHM_MUTANTS_TREE="$tree" SHM_MUTANTS_AREA="$area" cargo test --quiet -- "${test_args[@]}"
  else
    (cd "$tree" && node scripts/mutants/judge.js "$area")
  fi
  baseline_passed+=("$language $area")
}

for language in "${languages[@]}"; do
  # One tree per run: two runs at once must not share one (StrykerJS instruments it in place).
  tree="$out/$language-tree.$$"
  snapshot "$tree"
  trees+=("$tree")
  for area in "${wanted[@]}"; do
    for file in $(area_files "$area" "$language"); do
      dir="$out/$language/$area/${file//\//_}"
      survivors=""
      if [ -n "$recheck" ]; then
        # Only the survivors of the finished run: a regex of their names (Rust), or the lines
        # they are on (JavaScript).
        [ -f "$dir/done" ] || { echo "== $file ($area): no finished run to recheck"; continue; }
        survivors=$(node scripts/mutants/survivors.js "$dir" "$language" "$file")
        [ -n "$survivors" ] || { echo "== $file ($area): no survivors"; continue; }
        dir="$dir/recheck"
      elif [ -f "$dir/done" ] && [ -z "$changed_since$select_re$select_lines" ]; then
        echo "== $file ($area): done earlier, skipped"
        continue
      fi
      baseline "$language" "$area" "$tree"
      echo "== $file ($area, $language${recheck:+, survivors only})"
      resume=()
      if [ "$language" = rust ] && [ -z "$recheck$changed_since$select_re" ] && [ -d "$dir/mutants.out" -o -d "$dir/earlier" ]; then
        # A run of this file was interrupted: keep what it judged (in earlier/, which the score
        # reads too) and judge only the rest. Mutants it was judging when stopped run again.
        mkdir -p "$dir/earlier"
        for list in caught missed timeout unviable; do
          [ ! -f "$dir/mutants.out/$list.txt" ] || cat "$dir/mutants.out/$list.txt" >> "$dir/earlier/$list.txt"
        done
        rm -rf "$dir/mutants.out"
        resume=(--exclude-re "$(node scripts/mutants/judged.js "$dir")")
        echo "   resumed: $(cat "$dir"/earlier/*.txt | wc -l) mutants judged earlier are skipped"
      else
        rm -rf "$dir" && mkdir -p "$dir"
      fi
      if [ "$language" = rust ]; then
        # cargo-mutants copies the crate per job and runs `cargo test`, whose ignored node_suite
        # test (tests/node_suite.rs) builds the mutant's addon and runs the judge in $tree.
        selection=(--file "$file")
        [ -z "$survivors" ] || selection+=(--re "$survivors")
        [ -z "$select_re" ] || selection+=(--re "$select_re")
        if [ -n "$changed_since" ]; then
          git diff "$changed_since" -- "$file" > "$dir/changes.diff"
          selection+=(--in-diff "$dir/changes.diff")
          count=$(cargo mutants "${selection[@]}" --list 2>/dev/null | wc -l)
          shards=$(( (count + ${MUTANTS_LIMIT:-10} - 1) / ${MUTANTS_LIMIT:-10} ))
          [ "$shards" -gt 1 ] && selection+=(--shard "1/$shards")
        fi
        # The unit tests take seconds; the Node suite of an area minutes, under load.
        timeout=300
        [ -z "$unit_only" ] || timeout=60
        SHM_MUTANTS_TREE="$tree" SHM_MUTANTS_AREA="$area" \
          cargo mutants "${selection[@]}" ${resume[@]:+"${resume[@]}"} --output "$dir" --jobs "${MUTANTS_JOBS:-2}" --no-shuffle \
          --baseline skip --timeout "$timeout" --build-timeout 300 ${shard:+--shard "$shard"} \
          -- ${test_args[@]:+-- "${test_args[@]}"} && status=0 || status=$?
        # 0: all caught, 2: some missed, 3: some timed out. Anything else (the baseline failed,
        # an interrupt) leaves the file to run again.
        case $status in 0|2|3) touch "$dir/done" ;; *) echo "cargo mutants exited with $status" ;; esac
      else
        # With --changed, StrykerJS mutates line ranges: the changed lines, evenly thinned to
        # MUTANTS_LIMIT lines (a line holds about two mutants).
        ranges=${survivors:-$file}
        if [ -n "$select_lines" ]; then
          # Only this file's ranges of --lines.
          ranges=$(tr "," "\n" <<< "$select_lines" | grep -F "$file:" | paste -sd, - || true)
          [ -n "$ranges" ] || continue
        fi
        if [ -n "$changed_since" ] && [ -z "$survivors" ]; then
          ranges=$(git diff -U0 "$changed_since" -- "$file" | node -e '
            const [file, limit] = process.argv.slice(1)
            const lines = []
            for (const [, start, count = "1"] of require("fs").readFileSync(0, "utf8").matchAll(/^@@ -\S+ \+(\d+)(?:,(\d+))? @@/gm))
              for (let line = +start; line < +start + +count; line++) lines.push(line)
            const step = Math.max(1, lines.length / Math.ceil(limit / 2))
            const picked = []
            for (let i = 0; i < lines.length; i += step) picked.push(lines[Math.floor(i)])
            console.log(picked.map((line) => `${file}:${line}-${line}`).join(","))' "$file" "${MUTANTS_LIMIT:-10}")
          [ -n "$ranges" ] || { touch "$dir/done"; continue; }
        fi
        node -e '
          const [dir, area, ranges] = process.argv.slice(1)
          require("fs").writeFileSync(`${dir}/stryker.conf.json`, JSON.stringify({
            testRunner: "command",
            commandRunner: { command: `node scripts/mutants/judge.js ${area}` },
            mutate: ranges.split(","),
            inPlace: true,
            concurrency: Number(process.env.MUTANTS_JOBS || 2),
            timeoutMS: 240000,
            reporters: ["json", "progress"],
            jsonReporter: { fileName: `${dir}/report.json` },
            tempDirName: `${dir}/stryker-tmp`,
            cleanTempDir: true,
          }, null, 2))' "$dir" "$area" "$ranges"
        (cd "$tree" && node "$root/node_modules/@stryker-mutator/core/bin/stryker.js" run "$dir/stryker.conf.json") &&
          [ -f "$dir/report.json" ] && touch "$dir/done"
      fi
    done
  done
done

node scripts/mutants/score.js "$out" "${wanted[@]}"
}

main "$@"
