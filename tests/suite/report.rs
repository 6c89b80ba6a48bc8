//! The report wire format: round trip, strict decoding with distinct errors, fixed length, and
//! no panic on arbitrary input.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails by panicking"
)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use dpseg::estimate::Tally;
use dpseg::privacy::coin::SimRandomness;
use dpseg::privacy::mechanism::{ItemMechanism, Mechanism, Slot};
use dpseg::report::{encode, Report, ReportError};
use proptest::prelude::*;

/// Three segments and three groups, one per non-trivial oracle, two items per report.
fn mechanism() -> Mechanism {
    let items = vec![
        ItemMechanism::grr(2, 0.5, 2.0),
        ItemMechanism::grr(2, 0.5, 2.0),
        ItemMechanism::grr(2, 0.5, 2.0),
        ItemMechanism::oue(10, 0.5, 2.0),
        ItemMechanism::ss(6, 2, 0.5, 2.0),
        ItemMechanism::olh(9, 0.5, 2.0),
    ];
    Mechanism::from_items(items, 3, 2)
}

fn report(mech: &Mechanism, truth: &[u16], seed: u64) -> (Report, Vec<Slot>) {
    let mut rng = SimRandomness::new(seed, seed);
    let mut slots = vec![Slot { item: 0, out: 0 }; usize::from(mech.per_report())];
    mech.privatize(truth, &mut rng, &mut slots);
    (encode("c", "cfg", 7, mech, &slots, &mut rng), slots)
}

#[test]
fn reports_round_trip_and_have_one_length() {
    let mech = mechanism();
    let mut lengths = std::collections::BTreeSet::new();
    for seed in 0..500 {
        let truth = [(seed % 2) as u16, 1, 0, (seed % 10) as u16, (seed % 6) as u16, 8];
        let (r, slots) = report(&mech, &truth, seed);
        let json = serde_json::to_string(&r).unwrap();
        lengths.insert(json.len());
        let decoded = Report::from_json(&json).unwrap().decode("c", "cfg", &mech).unwrap();
        assert_eq!(decoded.slots, slots);
        assert_eq!(decoded.epoch, 7);
        assert_eq!(r.nonce.len(), 22);
    }
    assert_eq!(lengths.len(), 1, "serialised lengths differ: {lengths:?}");
}

#[test]
fn nonces_are_fresh_per_report() {
    let mech = mechanism();
    let nonces: std::collections::BTreeSet<String> =
        (0..1000).map(|s| report(&mech, &[0; 6], s).0.nonce).collect();
    assert_eq!(nonces.len(), 1000);
}

#[test]
fn each_defect_has_its_own_error() {
    let mech = mechanism();
    let (good, _) = report(&mech, &[1, 0, 1, 3, 2, 4], 3);
    let payload = URL_SAFE_NO_PAD.decode(&good.payload).unwrap();
    let width = 2 + usize::from(mech.answer_bytes());
    let with_payload =
        |bytes: &[u8]| Report { payload: URL_SAFE_NO_PAD.encode(bytes), ..good.clone() };
    let mut swapped = payload.clone();
    swapped.rotate_left(width); // items out of order
    let mut out_of_range = payload.clone();
    out_of_range[..2].copy_from_slice(&40u16.to_be_bytes());
    let mut duplicate = payload.clone();
    let (first, second) = duplicate.split_at_mut(width);
    second[..2].copy_from_slice(&first[..2]);
    let mut bad_answer = payload.clone();
    bad_answer[2..width].fill(0xff);
    let cases: Vec<(Report, &str)> = vec![
        (Report { v: 2, ..good.clone() }, "unsupported-version"),
        (Report { campaign: "other".into(), ..good.clone() }, "unknown-campaign"),
        (Report { config_id: "old".into(), ..good.clone() }, "stale-config"),
        (Report { mechanism: "rappor".into(), ..good.clone() }, "wrong-mechanism"),
        (Report { nonce: "short".into(), ..good.clone() }, "bad-nonce"),
        (Report { nonce: "!".repeat(22), ..good.clone() }, "bad-nonce"),
        (Report { payload: "***".into(), ..good.clone() }, "bad-base64"),
        (with_payload(&payload[..payload.len() - 1]), "wrong-length"),
        (with_payload(&[payload.clone(), vec![0]].concat()), "wrong-length"),
        (Report { payload: "A".repeat(10_000), ..good.clone() }, "wrong-length"),
        (with_payload(&out_of_range), "item-out-of-range"),
        (with_payload(&swapped), "item-order"),
        (with_payload(&duplicate), "item-order"),
        (with_payload(&bad_answer), "bad-answer"),
    ];
    assert!(good.decode("c", "cfg", &mech).is_ok());
    for (r, code) in cases {
        let got = r.decode("c", "cfg", &mech).map(|_| ()).map_err(|e| e.code());
        assert_eq!(got, Err(code), "{r:?}");
    }
    assert_eq!(Report::from_json("{\"v\":1}").map_err(|e| e.code()), Err("report-syntax"));
    assert_eq!(
        Report::from_json(
            &serde_json::to_string(&good).unwrap().replace("\"v\":1", "\"v\":1,\"ip\":\"1.2.3.4\"")
        )
        .map_err(|e| e.code()),
        Err("report-syntax"),
        "unknown fields are refused"
    );
    let msg = ReportError::Length { expected: 20, found: 19 }.to_string();
    assert!(msg.contains("19") && msg.contains("20"));
}

#[test]
fn tallies_merge_exactly_and_round_trip_through_counters() {
    let mech = mechanism();
    let (mut whole, mut a, mut b) = (Tally::new(&mech), Tally::new(&mech), Tally::new(&mech));
    for seed in 0..400 {
        let (_, slots) = report(&mech, &[1, 0, 1, (seed % 10) as u16, 2, (seed % 9) as u16], seed);
        whole.add(&mech, &slots);
        if seed % 3 == 0 { &mut a } else { &mut b }.add(&mech, &slots);
    }
    a.merge(&b).unwrap();
    assert_eq!(a, whole);
    let mut restored = Tally::new(&mech);
    for (k, v) in whole.counters() {
        assert!(restored.set_counter(&k, v), "{k}");
    }
    assert_eq!(restored, whole);
    assert!(
        !restored.set_counter("y:3:10", 1)
            && !restored.set_counter("n:6", 1)
            && !restored.set_counter("x", 1)
    );
    let other = Tally::new(&Mechanism::from_items(vec![ItemMechanism::grr(2, 1.0, 1.0)], 1, 1));
    assert!(whole.merge(&other).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3_000, ..ProptestConfig::default() })]

    #[test]
    fn decoding_arbitrary_payloads_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64), text in ".{0,40}") {
        let mech = mechanism();
        let (good, _) = report(&mech, &[0; 6], 1);
        let _ = Report { payload: URL_SAFE_NO_PAD.encode(&bytes), ..good.clone() }.decode("c", "cfg", &mech);
        let _ = Report { payload: text.clone(), nonce: text.clone(), ..good }.decode("c", "cfg", &mech);
        let _ = Report::from_json(&text);
    }

    #[test]
    fn decoding_payloads_of_the_right_length_never_panics(bytes in prop::collection::vec(any::<u8>(), 22)) {
        let mech = mechanism();
        prop_assert_eq!(mech.payload_bytes(), 22);
        let (good, _) = report(&mech, &[0; 6], 1);
        if let Ok(d) = (Report { payload: URL_SAFE_NO_PAD.encode(&bytes), ..good }).decode("c", "cfg", &mech) {
            // Whatever decodes can be counted.
            let mut t = Tally::new(&mech);
            t.add(&mech, &d.slots);
            prop_assert_eq!(t.reports(), 1);
        }
    }
}

proptest! {
    /// The runtime module writes reports by hand; the bytes must be serde_json's.
    #[test]
    fn hand_written_json_is_serde_jsons(
        campaign in any::<String>(),
        config_id in "[0-9a-f]{32}|\\PC*",
        epoch in any::<u64>(),
        nonce in any::<String>(),
        payload in "[A-Za-z0-9_-]{0,64}|[\\x00-\\x1f\"\\\\]{0,8}",
        v in any::<u8>(),
    ) {
        let r = Report { v, campaign, config_id, epoch, nonce, mechanism: "segment-sampling".into(), payload };
        prop_assert_eq!(r.to_json_text(), serde_json::to_string(&r).unwrap());
    }
}

proptest! {
    /// The hand-written encoder writes what the base64 crate writes.
    #[test]
    fn base64url_is_the_crates(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        prop_assert_eq!(dpseg::report::base64url(&bytes), URL_SAFE_NO_PAD.encode(&bytes));
    }
}
