//! Block names: which names are valid, and the name the OS sees for each.
//!
//! The rules differ per OS, so they are pure functions of a [`Platform`] that the unit tests run
//! for every platform on any machine; [`Platform::CURRENT`] is the one the addon was built for.

/// The operating-system families whose naming rules differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(
  dead_code,
  reason = "each target constructs only its own platform; tests use all"
)]
pub enum Platform {
  /// Linux (glibc and musl): POSIX shm objects are files in `/dev/shm`, `NAME_MAX` is 255.
  Linux,
  /// macOS: `PSHMNAMLEN` is 31 bytes including the leading `/`.
  MacOs,
  /// FreeBSD and other Unix systems: POSIX names up to `PATH_MAX`.
  OtherUnix,
  /// Windows: named file mappings in the `Local\` (default) or `Global\` namespace.
  Windows,
}

impl Platform {
  #[cfg(target_os = "linux")]
  pub const CURRENT: Platform = Platform::Linux;
  #[cfg(any(target_os = "macos", target_os = "ios"))]
  pub const CURRENT: Platform = Platform::MacOs;
  #[cfg(windows)]
  pub const CURRENT: Platform = Platform::Windows;
  #[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "ios", windows)))]
  pub const CURRENT: Platform = Platform::OtherUnix;

  /// The longest OS-level name (in bytes, prefix included) that the platform accepts.
  pub const fn max_os_name_len(self) -> usize {
    match self {
      // `/dev/shm/<name>` is one file name: NAME_MAX (255) bytes, and shm_open(3) counts the
      // leading slash.
      Platform::Linux => 255,
      // PSHMNAMLEN in xnu's bsd/kern/posix_shm.c: 31 bytes including the leading slash.
      Platform::MacOs => 31,
      // PATH_MAX minus the terminating NUL.
      Platform::OtherUnix => 1023,
      // MAX_PATH for kernel object names.
      Platform::Windows => 260,
    }
  }

  /// The prefix the OS needs in front of a block name.
  const fn prefix(self, global: bool) -> &'static str {
    match (self, global) {
      (Platform::Windows, true) => "Global\\",
      (Platform::Windows, false) => "",
      _ => "/",
    }
  }
}

/// Why a name cannot be used.
#[derive(Debug, PartialEq, Eq)]
pub enum NameError {
  Empty,
  /// `/`, `\` or NUL: they would leave the shm namespace or cut the name short.
  ForbiddenChar(char),
  /// `.` and `..` name directories, never a block.
  DotName,
  /// Longer than the OS allows; `max` is the longest user name that fits.
  TooLong {
    max: usize,
  },
}

impl std::fmt::Display for NameError {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    match self {
      NameError::Empty => write!(f, "a name must not be empty"),
      NameError::ForbiddenChar('\0') => write!(f, "a name must not contain NUL"),
      NameError::ForbiddenChar(c) => write!(f, "a name must not contain '{c}'"),
      NameError::DotName => write!(f, "'.' and '..' are not block names"),
      NameError::TooLong { max } => {
        write!(f, "a name may have at most {max} bytes on this platform")
      }
    }
  }
}

/// The OS-level name of block `name`: `/name` on Unix, `name` or `Global\name` on Windows.
///
/// Names are checked the same way on every platform (no `/`, `\`, NUL, `.` or `..`) so that a
/// name that works on one OS means the same block on another; only the length limit differs.
pub fn os_name(name: &str, global: bool, platform: Platform) -> Result<String, NameError> {
  if name.is_empty() {
    return Err(NameError::Empty);
  }
  if let Some(c) = name.chars().find(|c| matches!(c, '/' | '\\' | '\0')) {
    return Err(NameError::ForbiddenChar(c));
  }
  if name == "." || name == ".." {
    return Err(NameError::DotName);
  }
  let prefix = platform.prefix(global);
  let max = platform.max_os_name_len() - prefix.len();
  if name.len() > max {
    return Err(NameError::TooLong { max });
  }
  Ok(format!("{prefix}{name}"))
}

#[cfg(test)]
mod tests {
  use super::*;

  const ALL: [Platform; 4] = [
    Platform::Linux,
    Platform::MacOs,
    Platform::OtherUnix,
    Platform::Windows,
  ];

  #[test]
  fn each_refusal_says_why() {
    let said = |name: &str| {
      os_name(name, false, Platform::Linux)
        .unwrap_err()
        .to_string()
    };
    assert_eq!(said(""), "a name must not be empty");
    assert_eq!(said("a/b"), "a name must not contain '/'");
    assert_eq!(said("a\\b"), "a name must not contain '\\'");
    assert_eq!(said("a\0b"), "a name must not contain NUL");
    assert_eq!(said(".."), "'.' and '..' are not block names");
    assert_eq!(
      said(&"x".repeat(300)),
      "a name may have at most 254 bytes on this platform"
    );
  }

  #[test]
  fn unix_names_get_a_leading_slash_and_ignore_global() {
    for platform in [Platform::Linux, Platform::MacOs, Platform::OtherUnix] {
      assert_eq!(os_name("abc", false, platform).unwrap(), "/abc");
      assert_eq!(os_name("abc", true, platform).unwrap(), "/abc");
    }
  }

  #[test]
  fn windows_names_are_local_unless_global() {
    assert_eq!(os_name("abc", false, Platform::Windows).unwrap(), "abc");
    assert_eq!(
      os_name("abc", true, Platform::Windows).unwrap(),
      "Global\\abc"
    );
  }

  #[test]
  fn names_that_leave_the_namespace_are_refused_everywhere() {
    for platform in ALL {
      assert_eq!(os_name("", false, platform), Err(NameError::Empty));
      assert_eq!(
        os_name("a/b", false, platform),
        Err(NameError::ForbiddenChar('/'))
      );
      assert_eq!(
        os_name("../etc/passwd", false, platform),
        Err(NameError::ForbiddenChar('/'))
      );
      assert_eq!(
        os_name("a\\b", false, platform),
        Err(NameError::ForbiddenChar('\\'))
      );
      assert_eq!(
        os_name("a\0b", false, platform),
        Err(NameError::ForbiddenChar('\0'))
      );
      assert_eq!(os_name(".", false, platform), Err(NameError::DotName));
      assert_eq!(os_name("..", false, platform), Err(NameError::DotName));
      assert!(os_name("...", false, platform).is_ok());
    }
  }

  #[test]
  fn macos_allows_30_bytes_after_the_slash() {
    let longest = "x".repeat(30);
    assert_eq!(os_name(&longest, false, Platform::MacOs).unwrap().len(), 31);
    assert_eq!(
      os_name(&"x".repeat(31), false, Platform::MacOs),
      Err(NameError::TooLong { max: 30 })
    );
  }

  #[test]
  fn length_limits_count_bytes_and_the_prefix() {
    // "é" is two bytes in UTF-8.
    assert_eq!(
      os_name(&"é".repeat(16), false, Platform::MacOs),
      Err(NameError::TooLong { max: 30 })
    );
    assert!(os_name(&"x".repeat(254), false, Platform::Linux).is_ok());
    assert_eq!(
      os_name(&"x".repeat(255), false, Platform::Linux),
      Err(NameError::TooLong { max: 254 })
    );
    assert!(os_name(&"x".repeat(260), false, Platform::Windows).is_ok());
    assert_eq!(
      os_name(&"x".repeat(254), true, Platform::Windows),
      Err(NameError::TooLong { max: 253 })
    );
  }
}
