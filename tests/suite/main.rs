//! The core's integration tests, one binary (linking the crate once per test profile instead of
//! once per file): each module is one concern, named as its file. `tests/no_alloc.rs` stays its
//! own binary, since it installs a counting global allocator.

#[path = "../common/mod.rs"]
mod common;

mod audit;
mod campaign;
mod compact;
mod compiled;
mod differential;
mod fast_paths;
mod ledger;
mod privacy_exact;
mod report;
mod robustness;
mod roundtrip;
mod spec;
mod statistics;
mod structure;
mod wire;
