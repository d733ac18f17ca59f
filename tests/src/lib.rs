//! End-to-end tests of `cecd`: real processes on temporary data directories, driven over
//! loopback HTTP.
//!
//! - [`Node`] starts `cecd --data-dir <tmp> --listen 127.0.0.1:0`, waits for `api-url`, and
//!   offers `get`/`post`/`put`/`patch`/`delete`, `kill9`, `terminate` and `restart`.
//! - [`http`] is a deliberately small HTTP/1.1 client that can send what a polite client would
//!   not (foreign `Host`, broken JSON, oversize bodies).
//! - [`browser`] drives headless Chromium for the page tests.
//! - [`fixtures`] builds the requests the tests share.

pub mod browser;
pub mod fixtures;
pub mod http;
pub mod mount;
mod node;

pub use http::{Request, Response};
pub use node::{Node, cec_bin, cecd_bin, free_port, workspace_bin};
