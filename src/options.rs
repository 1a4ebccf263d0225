//! What the constructor was asked to do: the 1.x positional form
//! `(name, sizeInBytes, global, host)` or the 2.x form `(name, options)`.

use napi::bindgen_prelude::Unknown;

use crate::error::{ShmError, ShmResult};
use crate::js;

/// Permission bits of a created block on Unix: only the owner may use it.
const DEFAULT_MODE: u32 = 0o600;

/// Whether to create the block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Create {
  /// Create it; fail if it exists (1.x `host = true`).
  Always,
  /// Attach to it; fail if it is missing (1.x `host = false`).
  Never,
  /// Attach if it exists, create it otherwise.
  IfMissing,
}

#[derive(Debug)]
pub struct Options {
  pub name: String,
  /// Required to create; when attaching, the least size the block must have.
  pub size: Option<usize>,
  pub create: Create,
  pub global: bool,
  /// Permission bits for a created block (Unix).
  pub mode: u32,
  pub read_only: bool,
  /// Whether a create may take the name of a block whose creator died.
  pub reclaim: bool,
}

impl Options {
  pub fn parse(
    name: &Unknown,
    size_or_options: &Unknown,
    global: &Unknown,
    host: &Unknown,
  ) -> ShmResult<Options> {
    let name = js::string(name, "name")?;
    if js::is_options_object(size_or_options)? {
      return Options::from_object(name, size_or_options);
    }
    Ok(Options {
      name,
      size: Some(js::size(size_or_options, "sizeInBytes")?),
      global: js::optional_bool(global, "global", false)?,
      create: match js::optional_bool(host, "host", true)? {
        true => Create::Always,
        false => Create::Never,
      },
      mode: DEFAULT_MODE,
      read_only: false,
      reclaim: false,
    })
  }

  fn from_object(name: String, options: &Unknown) -> ShmResult<Options> {
    let size = js::property(options, c"size")?;
    let create = js::property(options, c"create")?;
    let size = match size.get_type()? {
      napi::ValueType::Undefined => None,
      _ => Some(js::size(&size, "options.size")?),
    };
    let create = create_option(&create)?;
    let read_only = js::optional_bool(
      &js::property(options, c"readOnly")?,
      "options.readOnly",
      false,
    )?;
    let global = js::optional_bool(&js::property(options, c"global")?, "options.global", false)?;
    let mode = js::optional_integer(&js::property(options, c"mode")?, "options.mode", 0o777)?
      .unwrap_or(DEFAULT_MODE);
    let reclaim = js::optional_bool(
      &js::property(options, c"reclaim")?,
      "options.reclaim",
      false,
    )?;
    if size.is_none() && create != Create::Never {
      return Err(ShmError::InvalidArgType(
        "options.size must be a number to create a block (or set create: false to attach)".into(),
      ));
    }
    if read_only && create != Create::Never {
      return Err(ShmError::InvalidArgValue(
        "options.readOnly needs create: false: a block is created writable".into(),
      ));
    }
    if reclaim && create == Create::Never {
      return Err(ShmError::InvalidArgValue(
        "options.reclaim needs create: true or 'if-missing': only a create takes a name back"
          .into(),
      ));
    }
    Ok(Options {
      name,
      size,
      create,
      global,
      mode,
      read_only,
      reclaim,
    })
  }
}

fn create_option(value: &Unknown) -> ShmResult<Create> {
  match value.get_type()? {
    napi::ValueType::Undefined => Ok(Create::Always),
    napi::ValueType::Boolean => match js::optional_bool(value, "options.create", true)? {
      true => Ok(Create::Always),
      false => Ok(Create::Never),
    },
    _ => match js::string_value(value)?.as_deref() {
      Some("if-missing") => Ok(Create::IfMissing),
      Some(other) => Err(ShmError::InvalidArgValue(format!(
        "options.create must be true, false or 'if-missing', got '{}'",
        crate::error::shorten(other)
      ))),
      None => Err(js::wrong_type(
        "options.create",
        "a boolean or 'if-missing'",
        value,
      )),
    },
  }
}
