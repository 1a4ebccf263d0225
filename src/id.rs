//! `generateId`: fresh block names from random v4 UUIDs.

use std::io;

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::name::{os_name, Platform};
use crate::os;

/// RFC 4648 base32, lower case: names that read the same on case-insensitive systems and never
/// start with `-`.
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// The 16 bytes of `uuid` as 26 base32 characters: short enough for macOS's 30-byte limit.
pub fn encode(bytes: [u8; 16]) -> String {
  let bits = u128::from_be_bytes(bytes);
  // 26 digits of 5 bits hold 130 bits: the first digit carries the top 3 bits.
  (0..26)
    .rev()
    .map(|digit| ALPHABET[((bits >> (digit * 5)) & 0x1f) as usize] as char)
    .collect()
}

/// How many random names `generate` tries. Two random 128-bit names collide with odds near
/// 2^-128, so one try nearly always does; the bound turns a namespace that answers "exists" for
/// every name (a broken or hostile file system) into an error instead of an endless loop.
const ATTEMPTS: usize = 16;

/// A name that no existing block uses, in the namespace `global` selects.
pub fn generate(global: bool) -> io::Result<String> {
  for _ in 0..ATTEMPTS {
    let name = encode(*uuid::Uuid::new_v4().as_bytes());
    let os_name = os_name(&name, global, Platform::CURRENT)
      .expect("generated names are valid on every platform");
    if !os::exists(&os_name)? {
      return Ok(name);
    }
  }
  Err(io::Error::other(format!(
    "no unused name found in {ATTEMPTS} random tries"
  )))
}

/// The work of `generateIdAsync`, done on the libuv thread pool.
#[cfg_attr(
  test,
  allow(dead_code, reason = "napi-rs registers generateIdAsync outside tests")
)]
pub struct GenerateId {
  global: bool,
}

#[cfg_attr(
  test,
  allow(dead_code, reason = "napi-rs registers generateIdAsync outside tests")
)]
impl GenerateId {
  pub fn new(global: bool) -> GenerateId {
    GenerateId { global }
  }
}

#[napi]
impl Task for GenerateId {
  type Output = String;
  type JsValue = String;

  fn compute(&mut self) -> Result<String> {
    generate(self.global).map_err(|e| Error::new(Status::GenericFailure, e.to_string()))
  }

  fn resolve(&mut self, _env: Env, id: String) -> Result<String> {
    Ok(id)
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn ids_are_26_base32_characters() {
    assert_eq!(encode([0; 16]), "a".repeat(26));
    assert_eq!(encode([0xff; 16]), format!("h{}", "7".repeat(25)));
    let id = generate(false).unwrap();
    assert_eq!(id.len(), 26);
    assert!(id.bytes().all(|b| ALPHABET.contains(&b)));
  }

  #[test]
  fn ids_fit_every_platform() {
    let id = generate(false).unwrap();
    for platform in [
      Platform::Linux,
      Platform::MacOs,
      Platform::OtherUnix,
      Platform::Windows,
    ] {
      assert!(os_name(&id, true, platform).is_ok());
    }
  }
}
