//! Loading a document from arbitrary bytes (what a peer or a damaged disk could hand over),
//! then reading it as each kind of document: errors, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = automerge::AutoCommit::load(data) {
        let _ = cec_core::doc::event::read(&doc);
        let _ = cec_core::doc::attendance::read(&doc);
        let _ = cec_core::doc::portfolio::read(&doc);
    }
});
