//! The compact forms the browser's runtime module reads (src/compact.rs): a runnable campaign
//! read back evaluates and reports exactly as the compiled campaign it came from, and malformed
//! bytes are refused, never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use crate::common;

use dpseg::campaign::{Campaign, CompiledCampaign, Runnable};
use dpseg::limits::Limits;
use dpseg::privacy::ledger::{DeviceState, SitePolicy};
use dpseg::profile::Profile;
use dpseg::schema::Schema;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fn campaigns() -> (Schema, Vec<CompiledCampaign>) {
    let limits = Limits::default();
    let schema = Schema::from_toml(&common::read("examples/outdoor/schema.toml"), &limits).unwrap();
    let files = [
        "examples/outdoor/campaigns/spring-2027.toml",
        "examples/outdoor/campaigns/family-gear.toml",
        "examples/outdoor/benchmark/benchmark.toml",
    ];
    let compiled = files
        .iter()
        .map(|f| {
            let c = Campaign::from_toml(&common::read(f), &limits).unwrap();
            c.compile(&schema, &limits).unwrap()
        })
        .collect();
    (schema, compiled)
}

#[test]
fn a_runnable_read_back_is_the_same_campaign() {
    let (_, compiled) = campaigns();
    for c in &compiled {
        let bytes = c.runnable().to_compact();
        let back = Runnable::from_compact(&bytes, &Limits::default()).unwrap();
        // Origins (for explanations) are not carried; everything evaluation reads is.
        assert_eq!(back.to_compact(), bytes, "{}", c.config_id());
        assert_eq!(back.config_id(), c.config_id());
        assert_eq!(back.mechanism(), c.mechanism());
        assert_eq!(back.segment_ids().len(), c.campaign().segments().len());
        // What the report module reads: the head and the mechanism, and nothing after them.
        let (head, mechanism) = Runnable::read_head(&bytes).unwrap();
        assert_eq!(&head, c.runnable().head());
        assert_eq!(mechanism.as_ref(), c.mechanism());
    }
}

#[test]
fn a_runnable_read_back_evaluates_and_reports_identically() {
    let limits = Limits::default();
    let (schema, compiled) = campaigns();
    for seed in 0..20 {
        let doc = common::heavy_profile(&schema, 300, seed);
        let profile = Profile::from_json_value(&schema, &doc, common::NOW, &limits).unwrap();
        for c in &compiled {
            let back =
                Runnable::from_compact(&c.runnable().to_compact(), &Limits::default()).unwrap();
            for now in [common::NOW, common::NOW + 40 * 86_400] {
                assert_eq!(back.evaluate(&profile, now), c.evaluate(&profile, now));
            }
            let Some(mech) = c.mechanism() else { continue };
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            let state = DeviceState::new(&mut rng);
            let (mut a, mut b) = (state.clone(), state);
            let (mut ra, mut rb) = (rng.clone(), rng);
            let m = c.evaluate(&profile, common::NOW);
            let policy = SitePolicy::default();
            let one = a.report(c.runnable(), mech, &m, common::NOW, &policy, &mut ra).unwrap();
            let other = b
                .report(&back, back.mechanism().unwrap(), &m, common::NOW, &policy, &mut rb)
                .unwrap();
            assert_eq!(one, other);
            assert_eq!(a, b);
        }
    }
}

#[test]
fn every_truncation_and_every_single_byte_change_is_handled() {
    let limits = Limits::default();
    let (schema, compiled) = campaigns();
    let doc = common::heavy_profile(&schema, 100, 7);
    let profile = Profile::from_json_value(&schema, &doc, common::NOW, &limits).unwrap();
    let bytes = compiled[0].runnable().to_compact();
    let whole = Runnable::read_head(&bytes).unwrap();
    let mut heads = 0;
    for cut in 0..bytes.len() {
        assert!(Runnable::from_compact(&bytes[..cut], &limits).is_err(), "prefix {cut}");
        // The head alone reads from any prefix that holds it, and only as itself.
        // (Its `config_id` is the hash of the bytes given, so it is the prefix's.)
        if let Ok((head, mechanism)) = Runnable::read_head(&bytes[..cut]) {
            let same = |h: &dpseg::campaign::Head| {
                (
                    h.id().to_owned(),
                    h.epoch_secs(),
                    h.purpose().to_owned(),
                    h.schema_id().to_owned(),
                    h.covers().to_vec(),
                    h.memo_ids().to_vec(),
                )
            };
            assert_eq!((same(&head), mechanism), (same(&whole.0), whole.1.clone()), "prefix {cut}");
            heads += 1;
        }
    }
    assert!(heads > 0 && heads < bytes.len());
    // A changed byte either is refused or reads as some campaign that evaluates without panic.
    let mut accepted = 0;
    for i in 0..bytes.len() {
        for delta in [1u8, 0x80] {
            let mut b = bytes.clone();
            b[i] = b[i].wrapping_add(delta);
            let _ = Runnable::read_head(&b);
            if let Ok(r) = Runnable::from_compact(&b, &limits) {
                accepted += 1;
                let _ = r.evaluate(&profile, common::NOW);
            }
        }
    }
    assert!(accepted > 0, "some changes (a constant, a string byte) still read");
    let refused = Runnable::from_compact(b"dpd1", &limits).unwrap_err();
    assert_eq!(refused.at, 0);
}

#[test]
fn device_state_round_trips_and_refuses_bad_bytes() {
    let (_, compiled) = campaigns();
    let c = &compiled[0];
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let mut state = DeviceState::new(&mut rng);
    let m = c.new_membership();
    state
        .report(
            c.runnable(),
            c.mechanism().unwrap(),
            &m,
            common::NOW,
            &SitePolicy::default(),
            &mut rng,
        )
        .unwrap();
    let bytes = state.to_compact();
    assert_eq!(DeviceState::from_compact(&bytes).unwrap(), state);
    for cut in 0..bytes.len() {
        assert!(DeviceState::from_compact(&bytes[..cut]).is_err());
    }
    let mut extra = bytes.clone();
    extra.push(0);
    assert!(DeviceState::from_compact(&extra).is_err());
}

#[test]
fn a_data_map_read_back_validates_profiles_the_same_way() {
    let limits = Limits::default();
    let (schema, _) = campaigns();
    let bytes = schema.to_compact();
    let back = Schema::from_compact(&bytes, &limits).unwrap();
    assert_eq!(back.to_compact(), bytes);
    for (a, b) in schema.attributes().iter().zip(back.attributes()) {
        assert_eq!(
            (&a.name, a.ty, a.source, &a.purposes, a.sensitive, &a.values),
            (&b.name, b.ty, b.source, &b.purposes, b.sensitive, &b.values)
        );
    }
    for (a, b) in schema.events().iter().zip(back.events()) {
        assert_eq!(
            (&a.name, &a.props, &a.purposes, a.retention, a.sensitive),
            (&b.name, &b.props, &b.purposes, b.retention, b.sensitive)
        );
    }
    assert_eq!(schema.attributes().len(), back.attributes().len());
    assert_eq!(schema.events().len(), back.events().len());
    for seed in 0..5 {
        let doc = common::heavy_profile(&schema, 200, seed);
        let a = Profile::from_json_value(&schema, &doc, common::NOW, &limits).unwrap();
        let b = Profile::from_json_value(&back, &doc, common::NOW, &limits).unwrap();
        assert_eq!(a, b);
    }
    for cut in 0..bytes.len() {
        assert!(Schema::from_compact(&bytes[..cut], &limits).is_err(), "prefix {cut}");
    }
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x41;
        // Refused, or some data map: never a panic, and lookups still work on what was read.
        if let Ok(s) = Schema::from_compact(&b, &limits) {
            for a in s.attributes() {
                assert!(s.attribute(&a.name).is_some());
            }
        }
    }
}
