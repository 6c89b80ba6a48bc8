//! The device's ledger and longitudinal state (docs/privacy.md, "Per device").

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use dpseg::campaign::{Campaign, CompiledCampaign};
use dpseg::limits::Limits;
use dpseg::privacy::coin::DeviceRandomness;
use dpseg::privacy::ledger::{DeviceState, Secret, SitePolicy};
use dpseg::privacy::mechanism::Slot;
use dpseg::schema::Schema;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fn compiled(epsilon: f64) -> CompiledCampaign {
    let limits = Limits::default();
    let schema = Schema::from_toml(&common::read("examples/outdoor/schema.toml"), &limits).unwrap();
    let text = common::read("examples/outdoor/campaigns/spring-2027.toml")
        .replace("epsilon = 1.0", &format!("epsilon = {epsilon}"));
    Campaign::from_toml(&text, &limits).unwrap().compile(&schema, &limits).unwrap()
}

#[test]
fn one_report_per_campaign_per_epoch() {
    let c = compiled(1.0);
    let mech = c.mechanism().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut state = DeviceState::new(&mut rng);
    let m = c.new_membership();
    let policy = SitePolicy::default();
    let day = 86_400;
    let now = common::NOW + 3_600;
    let first = state.report(c.runnable(), mech, &m, now, &policy, &mut rng).unwrap();
    assert_eq!(first.epoch, u64::try_from(now / day).unwrap());
    let before = state.clone();
    let again =
        state.report(c.runnable(), mech, &m, now + 60, &policy, &mut rng).map_err(|e| e.code());
    assert_eq!(again, Err("already-reported"));
    assert_eq!(state, before, "a refused report leaves the ledger unchanged");
    assert!(state.report(c.runnable(), mech, &m, now + day, &policy, &mut rng).is_ok());
    assert_eq!(state.spent().len(), 2);
}

#[test]
fn caps_stop_reporting() {
    let c = compiled(1.0);
    let mech = c.mechanism().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let mut state = DeviceState::new(&mut rng);
    let m = c.new_membership();
    let strict = SitePolicy { epsilon_report_max: 0.5, ..SitePolicy::default() };
    assert_eq!(
        state.report(c.runnable(), mech, &m, common::NOW, &strict, &mut rng).map_err(|e| e.code()),
        Err("over-report-cap")
    );
    assert!(state.spent().is_empty());
    let window = SitePolicy {
        epsilon_report_max: 2.0,
        epsilon_window_max: 2.5,
        window_secs: 7 * 86_400,
        ..SitePolicy::default()
    };
    let day = 86_400;
    assert!(state.report(c.runnable(), mech, &m, common::NOW, &window, &mut rng).is_ok());
    assert!(state.report(c.runnable(), mech, &m, common::NOW + day, &window, &mut rng).is_ok());
    let third = state
        .report(c.runnable(), mech, &m, common::NOW + 2 * day, &window, &mut rng)
        .map_err(|e| e.code());
    assert_eq!(third, Err("over-window-cap"));
    // Two reports of a campaign at ε = 1: the realised ε is the coins', at most the nominal.
    let spent = state.spent_in_window(common::NOW + 2 * day, &window);
    assert!(spent <= 2.0 && spent > 2.0 - 1e-6, "{spent}");
    // Once the first report leaves the window, there is room again.
    assert!(state.report(c.runnable(), mech, &m, common::NOW + 7 * day, &window, &mut rng).is_ok());
}

#[test]
fn the_sampled_items_and_permanent_answers_are_memoised() {
    let c = compiled(1.0);
    let mech = c.mechanism().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let truth = vec![1u16; mech.items().len()];
    let run = |secret: &Secret, rng: &mut ChaCha20Rng| {
        let prf = secret.prf(c.config_id());
        let mut r = DeviceRandomness::one_version(rng, &prf);
        let mut slots = vec![Slot { item: 0, out: 0 }; usize::from(mech.per_report())];
        mech.privatize(&truth, &mut r, &mut slots);
        slots[0].item
    };
    let secret = Secret::generate(&mut rng);
    let first = run(&secret, &mut rng);
    assert!(
        (0..50).all(|_| run(&secret, &mut rng) == first),
        "a device always reports on the same items"
    );
    let others: std::collections::BTreeSet<u16> =
        (0..50).map(|_| run(&Secret::generate(&mut rng), &mut rng)).collect();
    assert!(others.len() > 3, "different devices sample different items: {others:?}");
}

#[test]
fn state_serialises_and_hides_its_secret() {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let state = DeviceState::new(&mut rng);
    let json = serde_json::to_string(&state).unwrap();
    let back: DeviceState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, state);
    let secret = serde_json::from_str::<serde_json::Value>(&json).unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let debug = format!("{state:?}");
    assert!(!debug.contains(&secret) && debug.contains("<hidden>"), "{debug}");
    assert!(
        serde_json::from_str::<DeviceState>(r#"{"secret": "AAAA", "spent": []}"#).is_err(),
        "short secrets are refused"
    );
    let mut wiped = state.clone();
    wiped.reset(&mut rng);
    assert_ne!(wiped, state, "forgetting draws a new secret");
    assert!(wiped.spent().is_empty());
}

#[test]
fn a_report_that_evaluates_only_its_sampled_items_is_the_same_report() {
    let limits = Limits::default();
    let schema = Schema::from_toml(&common::read("examples/outdoor/schema.toml"), &limits).unwrap();
    let mut compared = 0;
    for file in ["benchmark/benchmark", "campaigns/spring-2027", "campaigns/family-gear"] {
        let text = common::read(&format!("examples/outdoor/{file}.toml"));
        let c = Campaign::from_toml(&text, &limits).unwrap().compile(&schema, &limits).unwrap();
        let mech = c.mechanism().unwrap();
        for (d, name) in ["alice", "bob", "carla", "dieter"].iter().enumerate() {
            let doc = common::read(&format!("examples/outdoor/profiles/{name}.json"));
            let profile =
                dpseg::profile::Profile::from_json(&schema, &doc, common::NOW, &limits).unwrap();
            let whole = c.evaluate(&profile, common::NOW);
            // Every item's lazily computed truth is the whole pass's.
            let mut scratch = c.new_membership();
            for (i, &want) in mech.truth(&whole).iter().enumerate() {
                assert_eq!(
                    c.runnable().item_truth(&profile, common::NOW, i, &mut scratch),
                    Some(want)
                );
            }
            // Same device, same noise: the same report, byte for byte, over several devices.
            for seed in 0..8u64 {
                let policy = SitePolicy::default();
                let mut a_rng = ChaCha20Rng::seed_from_u64(seed * 31 + d as u64);
                let mut a = DeviceState::new(&mut a_rng);
                let mut b = a.clone();
                let mut b_rng = a_rng.clone();
                let eager =
                    a.report(c.runnable(), mech, &whole, common::NOW, &policy, &mut a_rng).unwrap();
                let lazy = b
                    .report_with(
                        c.runnable().head(),
                        mech,
                        |i| {
                            c.runnable()
                                .item_truth(&profile, common::NOW, usize::from(i), &mut scratch)
                                .unwrap()
                        },
                        common::NOW,
                        &policy,
                        &mut b_rng,
                    )
                    .unwrap();
                assert_eq!(eager, lazy);
                assert_eq!(a, b);
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 3 * 4 * 8);
}
