//! `cec-client`: a typed client of the cecsync local API (see `docs/api.md`).
