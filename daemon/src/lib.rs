//! `cecd`: a cecsync node.
//!
//! The binary (`main.rs`) only parses flags and starts things; everything it runs lives here so
//! tests can drive it in-process.

pub mod report;
pub mod storage;
