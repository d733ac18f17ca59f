//! `cec-client`: the JSON shapes of the cecsync local API ([`wire`]) and a typed async client.

pub mod wire;
