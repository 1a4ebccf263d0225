//! Name validation: any string, any platform, global or not. A name the rules accept must stay
//! inside the shm namespace and within the OS's length limit; one they refuse must have a reason
//! that is true of it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared_memory_node_fuzz::name::{os_name, NameError, Platform};

const PLATFORMS: [Platform; 4] = [
  Platform::Linux,
  Platform::MacOs,
  Platform::OtherUnix,
  Platform::Windows,
];

fuzz_target!(|input: (String, bool)| {
  let (name, global) = input;
  for platform in PLATFORMS {
    match os_name(&name, global, platform) {
      Ok(os) => {
        assert!(os.len() <= platform.max_os_name_len());
        assert!(os.ends_with(name.as_str()));
        let prefix = &os[..os.len() - name.len()];
        assert!(["/", "", "Global\\"].contains(&prefix));
        assert!(!name.is_empty() && name != "." && name != "..");
        assert!(!name.contains(['/', '\\', '\0']));
      }
      Err(NameError::Empty) => assert!(name.is_empty()),
      Err(NameError::ForbiddenChar(c)) => assert!(name.contains(c) && "/\\\0".contains(c)),
      Err(NameError::DotName) => assert!(name == "." || name == ".."),
      Err(NameError::TooLong { max }) => assert!(name.len() > max),
    }
  }
});
