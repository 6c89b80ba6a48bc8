//! Whole-campaign evaluation does not allocate: the 133-segment benchmark campaign on a profile
//! with 50 attributes and 500 events, counted by a global allocator.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails by panicking"
)]
#![allow(unsafe_code, reason = "a counting allocator must implement GlobalAlloc")]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use dpseg::campaign::Campaign;
use dpseg::limits::Limits;
use dpseg::profile::Profile;
use dpseg::schema::Schema;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn evaluating_a_whole_campaign_does_not_allocate() {
    let limits = Limits::default();
    let schema = Schema::from_toml(&common::read("examples/outdoor/schema.toml"), &limits).unwrap();
    let campaign =
        Campaign::from_toml(&common::read("examples/outdoor/benchmark/benchmark.toml"), &limits)
            .unwrap();
    let compiled = campaign.compile(&schema, &limits).unwrap();
    let doc = common::heavy_profile(&schema, 500, 7);
    let profile = Profile::from_json_value(&schema, &doc, common::NOW, &limits).unwrap();
    assert_eq!(profile.event_count(), 500);
    let mut out = compiled.new_membership();
    compiled.evaluate_into(&profile, common::NOW, &mut out);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for k in 0..100 {
        compiled.evaluate_into(&profile, common::NOW + k * 3_600, &mut out);
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(allocations, 0);
    // The evaluation did real work: some segments hold and some do not.
    let held = out.segments.iter().filter(|&&b| b).count();
    assert!(
        held > 0 && held < out.segments.len(),
        "{held} of {} segments held",
        out.segments.len()
    );
}
