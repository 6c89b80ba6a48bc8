//! dpseg core: privacy-preserving on-device segmentation.
//!
//! This crate is the engine the browser SDK, the collector and the CLI share. It does no IO and
//! reads no clock: callers pass `now` (Unix seconds) and, later, an RNG.
//!
//! * [`schema`] — the data map: attributes and events with types, purposes and sensitivity.
//! * [`profile`] — the visitor's data, validated against the schema.
//! * [`rules`] — the segment rule language: parse, print, type-check, compile, evaluate, explain.
//! * [`campaign`] — campaigns of segments and groups, their `config_id`, and lint.
//! * [`privacy`] — exact coins, the LDP mechanisms, the device secret and ledger.
//! * [`report`] — the report wire format; [`estimate`] — tallies, estimates and intervals;
//!   [`simulate`] — simulated populations for `dpseg simulate` and the statistical tests.
//! * [`compact`] — the compact binary form the browser's runtime module reads.
//! * [`time`], [`limits`], [`diag`], [`sort`] — timestamps, input bounds, error presentation, and
//!   the small heapsort the runtime's paths use.
//!
//! ```
//! use dpseg::{campaign::Campaign, limits::Limits, profile::Profile, schema::Schema, time::parse_timestamp};
//!
//! let limits = Limits::default();
//! let schema = Schema::from_toml(r#"
//!     [attributes.budget]
//!     type = "number"
//!     purposes = ["measurement"]
//! "#, &limits)?;
//! let campaign = Campaign::from_toml(r#"
//!     id = "demo"
//!     purpose = "measurement"
//!     epoch = "1d"
//!     epsilon = 1.0
//!     [[segments]]
//!     id = "big_spenders"
//!     rule = "budget >= 100"
//! "#, &limits)?;
//! let compiled = campaign.compile(&schema, &limits).map_err(|f| f[0].to_string())?;
//! let now = parse_timestamp("2026-11-24T00:00:00Z")?;
//! let profile = Profile::from_json(&schema, r#"{"attributes": {"budget": 150}}"#, now, &limits)?;
//! assert_eq!(compiled.evaluate(&profile, now).segments, vec![true]);
//! # Ok::<(), Box<dyn core::error::Error>>(())
//! ```

#![no_std]

extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

pub mod campaign;
pub mod compact;
pub mod diag;
pub mod estimate;
pub mod float;
pub mod limits;
mod prelude;
pub mod privacy;
pub mod profile;
pub mod report;
pub mod rules;
pub mod schema;
pub mod simulate;
pub mod sort;
pub mod text;
pub mod time;
pub mod wire;
