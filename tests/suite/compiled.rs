//! The compiled form as a contract (docs/compiled.md): golden vectors of the example data map
//! and campaigns (bytes and ids), the head decoded by hand from the documented layout, device
//! states of every format version, and what a device checks of the campaigns it receives.
//!
//! `tests/spec/compiled/vectors.json` pins the bytes. A deliberate change of a format bumps its
//! version byte and is written back with `DPSEG_BLESS=1 cargo test --test suite compiled`; a
//! device state of an older version is kept in the file, since every later build must read it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails by panicking"
)]

use crate::common;

use dpseg::campaign::{Campaign, CompiledCampaign, Refusal, Runnable};
use dpseg::limits::Limits;
use dpseg::privacy::ledger::{DeviceState, SitePolicy};
use dpseg::profile::Profile;
use dpseg::schema::Schema;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const VECTORS: &str = "tests/spec/compiled/vectors.json";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

/// The documented id, computed here with `sha2` rather than by the code under test.
fn sha_id(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes)[..16])
}

fn schema() -> Schema {
    Schema::from_toml(&common::read("examples/outdoor/schema.toml"), &Limits::default()).unwrap()
}

fn examples() -> Vec<CompiledCampaign> {
    let limits = Limits::default();
    let schema = schema();
    ["family-gear", "picks", "spring-2027"]
        .iter()
        .map(|name| {
            let text = common::read(&format!("examples/outdoor/campaigns/{name}.toml"));
            Campaign::from_toml(&text, &limits).unwrap().compile(&schema, &limits).unwrap()
        })
        .collect()
}

/// A device state made through the real report path, and the ledger it must read back as.
fn device_state_now() -> (Vec<u8>, Value) {
    let compiled = examples().pop().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(2027);
    let mut state = DeviceState::new(&mut rng);
    let schema = schema();
    let limits = Limits::default();
    let doc = json!({"attributes": {"interests": ["hiking"], "budget": 120}});
    let profile = Profile::from_json_value(&schema, &doc, common::NOW, &limits).unwrap();
    let m = compiled.evaluate(&profile, common::NOW);
    let mech = compiled.mechanism().unwrap();
    state
        .report(compiled.runnable(), mech, &m, common::NOW, &SitePolicy::default(), &mut rng)
        .unwrap();
    (state.to_compact(), ledger_of(&state))
}

fn ledger_of(state: &DeviceState) -> Value {
    json!({
        "spent": state.spent().iter().map(|s| json!([s.campaign, s.epoch, s.epsilon, s.at])).collect::<Vec<_>>(),
        "charged": state.charged().len(),
    })
}

/// The first format (`dpd1`: tag, secret, spends), as the build that wrote it did.
pub(crate) fn device_state_v1() -> Vec<u8> {
    let mut v1 = b"dpd1".to_vec();
    v1.extend_from_slice(&[7u8; 32]);
    let mut w = dpseg::compact::Writer::default();
    w.len(1);
    w.str("spring-2027");
    w.uint(20_000);
    w.float(1.0);
    w.int(common::NOW);
    v1.extend_from_slice(&w.bytes);
    v1
}

fn current_vectors() -> Value {
    let schema = schema();
    let campaigns: serde_json::Map<String, Value> = examples()
        .iter()
        .map(|c| {
            let bytes = c.runnable().to_compact();
            (
                c.campaign().id().to_owned(),
                json!({"config_id": c.config_id(), "compiled": hex(&bytes)}),
            )
        })
        .collect();
    let (device, ledger) = device_state_now();
    json!({
        "schema": {"schema_id": schema.id(), "compact": hex(&schema.to_compact())},
        "campaigns": campaigns,
        "device_states": [
            {"format": "dpd1", "bytes": hex(&device_state_v1()), "ledger": {"spent": [["spring-2027", 20000, 1.0, common::NOW]], "charged": 0}},
            {"format": "dpd2", "bytes": hex(&device), "ledger": ledger},
        ],
    })
}

fn vectors() -> Value {
    let path = common::root().join(VECTORS);
    if std::env::var_os("DPSEG_BLESS").is_some() {
        let text = serde_json::to_string_pretty(&current_vectors()).unwrap() + "\n";
        std::fs::write(&path, text).unwrap();
    }
    serde_json::from_str(&common::read(VECTORS)).unwrap()
}

#[test]
fn the_example_data_map_and_campaigns_compile_to_their_golden_bytes_and_ids() {
    let v = vectors();
    let schema = schema();
    let golden = unhex(v["schema"]["compact"].as_str().unwrap());
    assert_eq!(hex(&schema.to_compact()), hex(&golden), "the data map's compact form changed");
    assert_eq!(v["schema"]["schema_id"], sha_id(&golden));
    assert_eq!(schema.id(), sha_id(&golden));
    let compiled = examples();
    assert_eq!(v["campaigns"].as_object().unwrap().len(), compiled.len());
    for c in &compiled {
        let want = &v["campaigns"][&c.campaign().id()];
        let golden = unhex(want["compiled"].as_str().unwrap());
        assert_eq!(
            hex(&c.runnable().to_compact()),
            hex(&golden),
            "{}: the compiled form changed; bump its version byte if that is deliberate",
            c.campaign().id()
        );
        assert_eq!(want["config_id"], sha_id(&golden), "{}", c.campaign().id());
        assert_eq!(c.config_id(), sha_id(&golden), "{}", c.campaign().id());
        // What the report module and the runtime read back hashes the same.
        let read = Runnable::from_compact(&golden, &Limits::default()).unwrap();
        assert_eq!(read.config_id(), c.config_id());
        assert_eq!(Runnable::read_head(&golden).unwrap().0.config_id(), c.config_id());
    }
}

/// A reader of the documented layout, written from docs/compiled.md rather than the code.
struct Doc<'a>(&'a [u8]);

impl Doc<'_> {
    fn uint(&mut self) -> u64 {
        let (mut v, mut shift) = (0u64, 0);
        loop {
            let b = self.0[0];
            self.0 = &self.0[1..];
            v |= u64::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                return v;
            }
        }
    }
    fn int(&mut self) -> i64 {
        let u = self.uint();
        // Zigzag: 0, -1, 1, -2, …
        let magnitude = i64::try_from(u >> 1).unwrap();
        if u & 1 == 1 {
            -magnitude - 1
        } else {
            magnitude
        }
    }
    fn str(&mut self) -> String {
        let n = usize::try_from(self.uint()).unwrap();
        let (s, rest) = self.0.split_at(n);
        self.0 = rest;
        String::from_utf8(s.to_vec()).unwrap()
    }
}

#[test]
fn the_head_reads_as_documented() {
    let v = vectors();
    let schema_id = v["schema"]["schema_id"].as_str().unwrap();
    for c in examples() {
        let bytes = unhex(v["campaigns"][&c.campaign().id()]["compiled"].as_str().unwrap());
        assert_eq!(&bytes[..4], b"dpc\x01", "tag and format version");
        let mut d = Doc(&bytes[4..]);
        assert_eq!(d.str(), c.campaign().id());
        assert_eq!(d.int(), c.campaign().epoch().secs());
        assert_eq!(d.str(), c.campaign().purpose());
        assert_eq!(d.str(), schema_id);
        let covers: Vec<String> = (0..d.uint()).map(|_| d.str()).collect();
        let mut want: Vec<String> =
            c.campaign().review().iter().flat_map(|r| r.covers.clone()).collect();
        want.sort();
        assert_eq!(covers, want, "{}", c.campaign().id());
        let items = d.uint();
        assert_eq!(items, c.mechanism().map_or(0, |m| u64::try_from(m.items().len()).unwrap()));
    }
}

#[test]
fn device_states_of_every_format_version_decode_to_their_ledger() {
    let v = vectors();
    let states = v["device_states"].as_array().unwrap();
    assert!(
        states.iter().any(|s| s["format"] == "dpd1")
            && states.iter().any(|s| s["format"] == "dpd2")
    );
    for s in states {
        let bytes = unhex(s["bytes"].as_str().unwrap());
        let state = DeviceState::from_compact(&bytes).unwrap_or_else(|e| {
            panic!("{}: a stored device state no longer decodes: {e}", s["format"])
        });
        assert_eq!(ledger_of(&state), s["ledger"], "{}", s["format"]);
        // Written back in this build's format, it reads as itself: nothing is lost migrating.
        let again = DeviceState::from_compact(&state.to_compact()).unwrap();
        assert_eq!(again, state);
    }
    // The current format is written exactly as the golden bytes (same secret, same ledger).
    let (now, _) = device_state_now();
    let current = states.iter().find(|s| s["format"] == "dpd2").unwrap();
    assert_eq!(hex(&now), current["bytes"].as_str().unwrap(), "the device state's format changed");
}

/// The check the runtime runs, over the bytes as the runtime reads them.
fn device_check<'s>(
    c: &CompiledCampaign,
    schema: &'s Schema,
    policy: &SitePolicy,
) -> Result<(), Refusal<'s>> {
    let bytes = c.runnable().to_compact();
    let run = Runnable::from_compact_for_evaluation(&bytes, &Limits::default()).unwrap();
    run.check(schema, &schema.id(), policy).map(|_| ())
}

#[test]
fn a_device_refuses_what_it_must_not_run() {
    let limits = Limits::default();
    let schema = schema();
    let policy = SitePolicy::default();
    for c in examples() {
        assert_eq!(device_check(&c, &schema, &policy), Ok(()), "{}", c.campaign().id());
    }
    let family = common::read("examples/outdoor/campaigns/family-gear.toml");
    let compile =
        |text: &str| Campaign::from_toml(text, &limits).unwrap().compile(&schema, &limits).unwrap();
    // Its review removed: the sensitive attribute it reads is refused, by name.
    let start = family.find("[review]").unwrap();
    let end = start + family[start..].find("\n\n").unwrap();
    let unreviewed = compile(&format!("{}{}", &family[..start], &family[end..]));
    assert_eq!(
        device_check(&unreviewed, &schema, &policy),
        Err(Refusal::Sensitive { name: "has_kids" })
    );
    // Another purpose than its data allows.
    let other = compile(&family.replace("purpose = \"measurement\"", "purpose = \"advertising\""));
    assert!(matches!(device_check(&other, &schema, &policy), Err(Refusal::Purpose { .. })));
    // A data map with one more attribute moves the ids: the campaign is refused, not misread.
    let mut text = common::read("examples/outdoor/schema.toml");
    text.push_str("\n[attributes.aaa_first]\ntype = \"bool\"\npurposes = [\"measurement\"]\n");
    let moved = Schema::from_toml(&text, &limits).unwrap();
    let bytes = compile(&family).runnable().to_compact();
    let run = Runnable::from_compact_for_evaluation(&bytes, &limits).unwrap();
    assert_eq!(run.check(&moved, &moved.id(), &policy), Err(Refusal::SchemaMismatch));
    // What it reports as sensitive is what the compiler found the rules read.
    for c in examples() {
        let bytes = c.runnable().to_compact();
        let run = Runnable::from_compact_for_evaluation(&bytes, &limits).unwrap();
        let mut got = run.check(&schema, &schema.id(), &SitePolicy::default()).unwrap();
        got.sort_unstable_by_key(|&(n, _)| n);
        assert_eq!(got, c.sensitive_data(&schema), "{}", c.campaign().id());
    }
    assert!(!examples()[0].sensitive_data(&schema).is_empty(), "family-gear reads has_kids");
    // Over the site's caps, per report and per window.
    let eps = compile(&family).mechanism().unwrap().eps_report();
    let low = SitePolicy { epsilon_report_max: eps / 2.0, ..policy.clone() };
    assert!(matches!(
        device_check(&compile(&family), &schema, &low),
        Err(Refusal::OverCap { window: false, .. })
    ));
    let narrow = SitePolicy { epsilon_window_max: eps / 2.0, ..policy };
    assert!(matches!(
        device_check(&compile(&family), &schema, &narrow),
        Err(Refusal::OverCap { window: true, .. })
    ));
}

#[test]
fn one_encoding_of_an_items_value_for_evaluate_and_item_truth() {
    // The runtime's `evaluate` (`Runnable::item_values`) and the report module's answers
    // (`Runnable::item_truth`) encode a group's value alike: the case's index, or the number of
    // cases for none.
    let schema = schema();
    let limits = Limits::default();
    for c in examples() {
        let run = c.runnable();
        let items = run.segment_ids().len() + run.groups().count();
        for seed in 0..20 {
            let doc = common::heavy_profile(&schema, 60, seed);
            let profile = Profile::from_json_value(&schema, &doc, common::NOW, &limits).unwrap();
            let m = run.evaluate(&profile, common::NOW);
            let values: Vec<u16> = run.item_values(&m).collect();
            let mut scratch = run.new_membership();
            let truths: Vec<u16> = (0..items)
                .map(|i| run.item_truth(&profile, common::NOW, i, &mut scratch).unwrap())
                .collect();
            assert_eq!(values, truths, "{} seed {seed}", c.campaign().id());
            for (g, (_, cases)) in run.groups().enumerate() {
                let v = values[run.segment_ids().len() + g];
                let n = u16::try_from(cases.count()).unwrap();
                assert_eq!(v == n, m.groups[g].is_none(), "none is the number of cases");
            }
        }
    }
}
