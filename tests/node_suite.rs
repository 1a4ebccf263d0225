//! Judges this build of the addon with the Node test suite.
//!
//! `scripts/mutants.sh` runs cargo-mutants, which judges each mutant with `cargo test`. Most of the
//! addon is only reachable from JavaScript, so this test loads the cdylib `cargo test` just built
//! into Node and runs the test files of one area (`scripts/mutants/judge.js`). It is ignored in a
//! plain `cargo test`: the Node suite runs on its own there (`npm test`), against the release build.

use std::path::PathBuf;
use std::process::Command;

#[test]
#[ignore = "run by scripts/mutants.sh with SHM_MUTANTS_TREE and SHM_MUTANTS_AREA set"]
fn node_suite_passes_with_this_build() {
  let tree = PathBuf::from(std::env::var_os("SHM_MUTANTS_TREE").expect("SHM_MUTANTS_TREE"));
  let area = std::env::var("SHM_MUTANTS_AREA").expect("SHM_MUTANTS_AREA");

  // `cargo test` does not build the cdylib (it builds the crate as a test harness), so build it
  // here, in a target directory of its own: the one `cargo test` uses is locked while it runs.
  let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
  let target_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("node-suite");
  let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
  let built = Command::new(cargo)
    .args(["build", "--lib", "--quiet", "--target-dir"])
    .arg(&target_dir)
    .current_dir(&manifest_dir)
    .status()
    .expect("run cargo build");
  assert!(built.success(), "cargo build of the addon failed");
  let library = target_dir.join("debug").join(format!(
    "{}shared_memory_node{}",
    std::env::consts::DLL_PREFIX,
    std::env::consts::DLL_SUFFIX
  ));

  // Node loads an addon only from a file named *.node.
  let addon = target_dir.join("shared-memory-under-test.node");
  std::fs::copy(&library, &addon).expect("copy the addon");

  let status = Command::new("node")
    .arg(tree.join("scripts/mutants/judge.js"))
    .arg(&area)
    .env("NAPI_RS_NATIVE_LIBRARY_PATH", &addon)
    .status()
    .expect("run node");
  assert!(
    status.success(),
    "the Node suite of area {area} failed with this build"
  );
}
