//! The addon's pure rules, compiled from its own source files so the fuzz targets need no Node.

#[path = "../../src/name.rs"]
pub mod name;
#[path = "../../src/rules.rs"]
pub mod rules;
