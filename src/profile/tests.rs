use super::*;
use crate::time::parse_timestamp;

const SCHEMA: &str = r#"
[attributes.budget]
type = "number"
[attributes.interests]
type = "set"
values = ["camping", "hiking"]
[events.purchase]
props = { amount = "number", category = "string" }
retention = "30d"
"#;

fn load(doc: &str, now: &str) -> Result<Profile, ProfileError> {
    let limits = Limits::default();
    let schema = Schema::from_toml(SCHEMA, &limits)
        .map_err(|e| ProfileError::new("schema", ProfileErrorKind::Syntax(e.to_string())))?;
    let now =
        parse_timestamp(now).map_err(|e| ProfileError::new("now", ProfileErrorKind::BadTime(e)))?;
    Profile::from_json(&schema, doc, now, &limits)
}

#[test]
fn retention_drops_old_events_on_load() -> Result<(), ProfileError> {
    let p = load(
        r#"{"events": [
            {"name": "purchase", "at": "2026-11-20T00:00:00Z", "props": {"amount": 5}},
            {"name": "purchase", "at": "2026-10-01T00:00:00Z"},
            {"name": "purchase", "at": "2026-11-01T00:00:00Z"}]}"#,
        "2026-11-24T00:00:00Z",
    )?;
    let times: Vec<_> = p.events(0).times().iter().map(|&t| format_timestamp(t)).collect();
    assert_eq!(times, ["2026-11-01T00:00:00Z", "2026-11-20T00:00:00Z"]);
    assert_eq!(p.events(0).column(0)[1], Some(Value::Number(5.0)));
    Ok(())
}

#[test]
fn errors_name_the_json_path() {
    let cases = [
        (r#"{"attributes": {"budjet": 1}}"#, "$.attributes.budjet", "unknown-attribute"),
        (r#"{"attributes": {"budget": "high"}}"#, "$.attributes.budget", "wrong-type"),
        (
            r#"{"attributes": {"interests": ["hiking", "golf"]}}"#,
            "$.attributes.interests[1]",
            "not-in-vocabulary",
        ),
        (
            r#"{"events": [{"name": "purchase", "at": "2026-11-01"}, {"name": "purchase", "at": "yesterday"}]}"#,
            "$.events[1].at",
            "bad-time",
        ),
        (
            r#"{"events": [{"name": "purchase", "at": "2026-11-01", "props": {"amount": "5"}}]}"#,
            "$.events[0].props.amount",
            "wrong-type",
        ),
        (
            r#"{"events": [{"name": "purchse", "at": "2026-11-01"}]}"#,
            "$.events[0].name",
            "unknown-event",
        ),
        (r#"{"profile": {}}"#, "$.profile", "unknown-field"),
        ("[1]", "$", "profile-syntax"),
        ("{", "$", "profile-syntax"),
    ];
    for (doc, path, code) in cases {
        let e = load(doc, "2026-11-24T00:00:00Z").err();
        assert_eq!(e.as_ref().map(|e| (e.path.as_str(), e.code())), Some((path, code)), "{doc}");
    }
    let msg = load(r#"{"attributes": {"budjet": 1}}"#, "2026-11-24").err().map(|e| e.to_string());
    assert_eq!(
        msg.as_deref(),
        Some("profile: $.attributes.budjet: unknown attribute 'budjet'; did you mean 'budget'?")
    );
}

#[test]
fn a_failed_change_leaves_the_profile_unchanged() -> Result<(), ProfileError> {
    let limits = Limits::default();
    let schema = Schema::from_toml(SCHEMA, &limits)
        .map_err(|e| ProfileError::new("schema", ProfileErrorKind::Syntax(e.to_string())))?;
    let mut p = load(r#"{"attributes": {"interests": ["hiking"]}}"#, "2026-11-24")?;
    let before = p.clone();
    assert!(p.set(&schema, "interests", &serde_json::json!(["hiking", "golf"]), &limits).is_err());
    assert!(p
        .track(
            &schema,
            &serde_json::json!({"name": "purchase", "at": "2026-11-23", "props": {"amount": true}}),
            0,
            &limits
        )
        .is_err());
    assert_eq!(p, before);
    Ok(())
}

#[test]
fn event_limit_is_enforced_on_both_sides() {
    let limits = Limits { profile_events_max: 2, ..Limits::default() };
    let schema = Schema::from_toml(SCHEMA, &limits).ok();
    let ev = r#"{"name": "purchase", "at": "2026-11-20"}"#;
    let two = format!(r#"{{"events": [{ev}, {ev}]}}"#);
    let three = format!(r#"{{"events": [{ev}, {ev}, {ev}]}}"#);
    let now = 1_795_000_000;
    let load = |doc: &str| {
        schema.as_ref().map(|s| Profile::from_json(s, doc, now, &limits).map_err(|e| e.code()))
    };
    assert!(matches!(load(&two), Some(Ok(_))));
    assert_eq!(load(&three).map(|r| r.err()), Some(Some("too-many")));
}

#[test]
fn json_round_trips() -> Result<(), ProfileError> {
    let doc = r#"{"attributes": {"budget": 150, "interests": ["hiking", "camping"]},
        "events": [{"name": "purchase", "at": "2026-11-20T10:00:00Z", "props": {"amount": 80, "category": "tents"}}]}"#;
    let p = load(doc, "2026-11-24")?;
    let again = load(
        &p.to_json(
            &Schema::from_toml(SCHEMA, &Limits::default())
                .map_err(|e| ProfileError::new("", ProfileErrorKind::Syntax(e.to_string())))?,
        )
        .to_string(),
        "2026-11-24",
    )?;
    assert_eq!(p, again);
    Ok(())
}
