//! The device's ledger and longitudinal state (docs/privacy.md, "Per device").

#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "small counts"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails by panicking"
)]

use crate::common;

use dpseg::campaign::{Campaign, CompiledCampaign};
use dpseg::limits::Limits;
use dpseg::privacy::coin::{Coin, DeviceRandomness};
use dpseg::privacy::ledger::{DeviceState, Secret, SitePolicy};
use dpseg::privacy::mechanism::{ItemMechanism, Mechanism, Oracle, Slot};
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
            for (i, &want) in whole.item_values(mech).iter().enumerate() {
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

fn compiled_text(text: &str) -> CompiledCampaign {
    let limits = Limits::default();
    let schema = Schema::from_toml(&common::read("examples/outdoor/schema.toml"), &limits).unwrap();
    Campaign::from_toml(text, &limits).unwrap().compile(&schema, &limits).unwrap()
}

fn spring(epoch: &str, rule_change: bool) -> CompiledCampaign {
    // At ε = 0.25 (lifetime 1) every item in one report still has a total below the
    // mechanisms' maximum.
    let mut text = common::read("examples/outdoor/campaigns/spring-2027.toml")
        .replace("epoch = \"1d\"", &format!("epoch = \"{epoch}\""))
        .replace("epsilon = 1.0", "epsilon = 0.25")
        .replace("epsilon_lifetime = 4.0", "epsilon_lifetime = 1.0");
    if rule_change {
        text = text.replace("budget < 50", "budget < 60");
    }
    compiled_text(&text)
}

#[test]
fn pruning_keeps_what_a_long_epoch_still_needs() {
    // An 8-week campaign reports; 31 days later a 1-day campaign reports (its window is 30
    // days): the 8-week campaign's spend must survive, or it could report twice in one epoch.
    let long = spring("8w", false);
    let short = compiled_text(
        &common::read("examples/outdoor/campaigns/spring-2027.toml")
            .replace("id = \"spring-2027\"", "id = \"daily\""),
    );
    let policy = SitePolicy::default();
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    let mut state = DeviceState::new(&mut rng);
    let week = 7 * 86_400;
    let start = (common::NOW / (8 * week)) * (8 * week); // the start of an 8-week epoch
    let (lm, sm) = (long.mechanism().unwrap(), short.mechanism().unwrap());
    let (ml, ms) = (long.new_membership(), short.new_membership());
    state.report(long.runnable(), lm, &ml, start + 60, &policy, &mut rng).unwrap();
    state.report(short.runnable(), sm, &ms, start + 31 * 86_400, &policy, &mut rng).unwrap();
    let again = state
        .report(long.runnable(), lm, &ml, start + 32 * 86_400, &policy, &mut rng)
        .map_err(|e| e.code());
    assert_eq!(again, Err("already-reported"), "the 8-week epoch has not ended");
    // After its epoch ends, it reports again.
    assert!(state
        .report(long.runnable(), lm, &ml, start + 8 * week + 60, &policy, &mut rng)
        .is_ok());
}

#[test]
fn a_spend_dated_in_the_future_still_counts() {
    // The clock was ahead when the report was made, then set back: the spend counts against
    // the window at the earlier time too.
    let c = compiled(1.0);
    let mech = c.mechanism().unwrap();
    let policy = SitePolicy { epsilon_window_max: 1.5, ..SitePolicy::default() };
    let mut rng = ChaCha20Rng::seed_from_u64(12);
    let mut state = DeviceState::new(&mut rng);
    let m = c.new_membership();
    state.report(c.runnable(), mech, &m, common::NOW + 10 * 86_400, &policy, &mut rng).unwrap();
    assert!(state.spent_in_window(common::NOW, &policy) > 0.99);
    let back =
        state.report(c.runnable(), mech, &m, common::NOW, &policy, &mut rng).map_err(|e| e.code());
    assert_eq!(back, Err("over-window-cap"));
}

#[test]
fn spends_that_are_not_positive_and_finite_are_refused() {
    let mut rng = ChaCha20Rng::seed_from_u64(13);
    let state = DeviceState::new(&mut rng);
    let policy = SitePolicy::default();
    for e in [0.0, -4.0, f64::NAN, f64::INFINITY] {
        assert_eq!(
            state.check("c", 1, e, common::NOW, &policy).map_err(|e| e.code()),
            Err("dishonest-mechanism"),
            "{e}"
        );
    }
    // A stored state with a negative spend does not decode (and the SDK does not replace it).
    let c = compiled(1.0);
    let mut s = DeviceState::new(&mut rng);
    s.report(
        c.runnable(),
        c.mechanism().unwrap(),
        &c.new_membership(),
        common::NOW,
        &policy,
        &mut rng,
    )
    .unwrap();
    let mut bytes = s.to_compact();
    let eps = c.mechanism().unwrap().eps_report().to_le_bytes();
    let at = bytes.windows(8).position(|w| w == eps).expect("the spend's ε is in the bytes");
    bytes[at..at + 8].copy_from_slice(&(-4.0f64).to_le_bytes());
    assert!(DeviceState::from_compact(&bytes).is_err());
}

#[test]
fn a_first_format_device_state_is_read_and_keeps_its_secret() {
    // dpd1: tag, secret, spends (campaign, epoch, ε, at); no epoch ends, no charges.
    let v1 = crate::compiled::device_state_v1();
    let state = DeviceState::from_compact(&v1).unwrap();
    assert_eq!(state.spent().len(), 1);
    assert!(state.charged().is_empty());
    let back = DeviceState::from_compact(&state.to_compact()).unwrap();
    assert_eq!(back, state, "migrated to this format without loss");
    assert!(state.to_compact().starts_with(b"dpd2"));
}

#[test]
fn new_versions_of_a_campaign_reuse_permanent_answers_and_are_not_charged_again() {
    // Three versions: v1, v2 (another epoch length: a new config_id, the same meaning) and v3
    // (a changed rule). Reports go through the real device path (DeviceRandomness, HMAC of the
    // device secret) with the instantaneous layer at the identity, so each answer *is* the
    // permanent answer.
    let (v1, v2, v3) = (spring("1d", false), spring("2d", false), spring("1d", true));
    assert_ne!(v1.config_id(), v2.config_id());
    assert_eq!(v1.runnable().head().memo_ids(), v2.runnable().head().memo_ids());
    let changed: Vec<bool> = v1
        .runnable()
        .head()
        .memo_ids()
        .iter()
        .zip(v3.runnable().head().memo_ids())
        .map(|(a, b)| a != b)
        .collect();
    assert!(changed.iter().any(|&c| c) && !changed.iter().all(|&c| c), "{changed:?}");
    // The planned mechanism with every item's instantaneous layer kept (GRR keep ≈ 1), all
    // items in every report.
    let planned = v1.mechanism().unwrap();
    let items: Vec<_> = planned
        .items()
        .iter()
        .map(|i| {
            // GRR, SS and OLH share the permanent layer (a GRR value memo): keep the planned
            // coin, read it through GRR's identity.
            assert_ne!(i.oracle(), Oracle::Oue, "the spring campaign's items have value memos");
            let keep = Coin::from_numerator(u64::MAX);
            ItemMechanism::from_coins(Oracle::Grr, i.domain(), i.memo(), keep, 0, 0)
        })
        .collect();
    let n = u16::try_from(items.len()).unwrap();
    let identity = Mechanism::from_items(items, planned.segments(), n);
    let policy =
        SitePolicy { epsilon_report_max: 100.0, epsilon_window_max: 1e6, ..SitePolicy::default() };
    let truth = |i: u16| u16::from(i % 3 == 0);
    let mut rng = ChaCha20Rng::seed_from_u64(21);
    let mut state = DeviceState::new(&mut rng);
    let day = 86_400;
    let answers = |r: &dpseg::report::Report| r.payload.clone();
    let mut seen = Vec::new();
    for (k, v) in [&v1, &v2, &v1, &v2].iter().enumerate() {
        let at = common::NOW + i64::try_from(k).unwrap() * 3 * day;
        let policy = SitePolicy { epsilon_lifetime_max: 1e6, ..policy.clone() };
        let r = state
            .report_with(v.runnable().head(), &identity, truth, at, &policy, &mut rng)
            .unwrap();
        seen.push(answers(&r));
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "the same permanent answers in every version");
    let one_version = state.charged_total();
    assert!((one_version - identity.eps_lifetime()).abs() < 1e-6, "{one_version}");
    // The changed rule is a new permanent answer for the changed items only, and is charged.
    let at = common::NOW + 20 * day;
    let policy_big = SitePolicy { epsilon_lifetime_max: 1e6, ..policy.clone() };
    state.report_with(v3.runnable().head(), &identity, truth, at, &policy_big, &mut rng).unwrap();
    let per_item: f64 = identity.items()[0].eps_memo();
    let new_items = changed.iter().filter(|&&c| c).count() as f64;
    assert!((state.charged_total() - one_version - new_items * per_item).abs() < 1e-6);
    // A lifetime cap below the next charge refuses the report and changes nothing.
    let mut fresh = DeviceState::new(&mut rng);
    let tight =
        SitePolicy { epsilon_lifetime_max: identity.eps_lifetime() - 0.01, ..policy.clone() };
    let before = fresh.clone();
    let refused = fresh
        .report_with(v1.runnable().head(), &identity, truth, common::NOW, &tight, &mut rng)
        .map_err(|e| e.code());
    assert_eq!(refused, Err("over-lifetime-cap"));
    assert_eq!(fresh, before);
    // A different secret draws other permanent answers (the memo is the device's).
    let mut other = DeviceState::new(&mut rng);
    let differ = (0..8).any(|_| {
        other = DeviceState::new(&mut rng);
        let r = other
            .report_with(v1.runnable().head(), &identity, truth, common::NOW, &policy_big, &mut rng)
            .unwrap();
        answers(&r) != seen[0]
    });
    assert!(differ);
}

#[test]
fn a_sites_caps_are_positive_finite_numbers_or_refused() {
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert!(SitePolicy::with_caps(bad, 8.0).is_none(), "{bad} per report");
        assert!(SitePolicy::with_caps(2.0, bad).is_none(), "{bad} per window");
    }
    let p = SitePolicy::with_caps(1.5, 6.0).unwrap();
    assert_eq!((p.epsilon_report_max, p.epsilon_window_max), (1.5, 6.0));
    let d = SitePolicy::default();
    assert_eq!((p.window_secs, p.epsilon_lifetime_max), (d.window_secs, d.epsilon_lifetime_max));
}
