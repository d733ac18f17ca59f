//! `cec-client`: the JSON shapes of the cecsync local API ([`wire`]) and, with the default
//! feature `http`, a typed async [`Client`] of it and the `cec` command line.

pub mod wire;

#[cfg(feature = "http")]
pub mod client;
#[cfg(feature = "http")]
pub mod discover;
#[cfg(feature = "http")]
pub mod error;

#[cfg(feature = "http")]
pub use client::{CheckInFilter, Client, PageOpts, Progress, ReportFormat};
#[cfg(feature = "http")]
pub use error::ClientError;
