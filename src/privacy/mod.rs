//! Local differential privacy: exact coins, mechanisms, and the device's ledger (docs/privacy.md).
//!
//! The guarantees, and the tests that back each, are stated in `docs/privacy.md`.

pub mod coin;
pub mod ledger;
pub mod mechanism;
