//! The words of each kind of condition, through the path the product takes: a campaign compiled
//! against a labelled data map, explained for a profile (`segment_words`). Every expected
//! sentence is written here by hand.

use super::*;
use crate::campaign::Campaign;
use crate::limits::Limits;
use crate::profile::Profile;
use crate::schema::Schema;

const SCHEMA: &str = r#"
[attributes.budget]
type = "number"
purposes = ["m"]
label = "budget for gear"
[attributes.interests]
type = "set"
values = ["camping", "hiking", "kayaking", "trail_running"]
purposes = ["m"]
label = "activities"
value_labels = { trail_running = "trail running" }
[attributes.has_kids]
type = "bool"
purposes = ["m"]
question = "Do you shop for children?"
[attributes.country]
type = "string"
purposes = ["m"]
label = "country"
[attributes.signup_at]
type = "time"
purposes = ["m"]
label = "sign-up"
[events.purchase]
props = { category = "string", amount = "number" }
purposes = ["m"]
label = "purchase"
[events.newsletter_click]
purposes = ["m"]
label = "click in our newsletter"
"#;

const NOW: &str = "2026-11-24T00:00:00Z";

/// The words of the campaign's only segment, `rule`, for `profile`.
fn words(rule: &str, visitor: Option<&str>, profile: &str) -> Words {
    let limits = Limits::default();
    let schema = Schema::from_toml(SCHEMA, &limits).unwrap();
    let visitor = visitor.map_or(String::new(), |v| format!("visitor = \"{v}\"\n"));
    let text = format!(
        "id = \"c\"\npurpose = \"m\"\nepoch = \"1d\"\nepsilon = 1.0\n\
         [[segments]]\nid = \"s\"\nrule = '''{rule}'''\n{visitor}\
         [[segments]]\nid = \"other\"\nrule = 'budget >= 10'\nvisitor = \"people with a budget\"\n"
    );
    let campaign = Campaign::from_toml(&text, &limits).unwrap();
    let compiled = campaign.compile(&schema, &limits).unwrap();
    let now = crate::time::parse_timestamp(NOW).unwrap();
    let profile = Profile::from_json(&schema, profile, now, &limits).unwrap();
    compiled.segment_words(&schema, &profile, now, 0).unwrap()
}

/// The sentence of a one-condition rule.
fn sentence(rule: &str, profile: &str) -> String {
    words(rule, None, profile).reasons[0].text.clone()
}

#[test]
fn the_summary_names_the_segment_as_the_visitor_reads_it() {
    let w = words(
        "budget >= 100",
        Some("hikers with a budget for gear"),
        r#"{"attributes": {"budget": 150}}"#,
    );
    assert_eq!(w.summary, "You are among hikers with a budget for gear, because:");
    let w = words("budget >= 100", None, r#"{"attributes": {"budget": 50}}"#);
    assert_eq!(w.summary, "You are not among those in “s”, because:");
}

#[test]
fn comparisons_name_the_value_and_what_we_look_for() {
    let p = r#"{"attributes": {"budget": 150}}"#;
    assert_eq!(
        sentence("budget >= 100", p),
        "Your budget for gear is 150; we look for at least 100"
    );
    assert_eq!(sentence("budget < 50", p), "Your budget for gear is 150; we look for less than 50");
    assert_eq!(
        sentence("budget >= 100", "{}"),
        "You have not told us your budget for gear; we look for at least 100"
    );
    assert_eq!(
        sentence(r#"lower(country) in ["de", "at"]"#, r#"{"attributes": {"country": "DE"}}"#),
        "Your country is DE; we look for one of at or de"
    );
}

#[test]
fn sets_say_what_they_include_in_the_data_maps_words() {
    let p = r#"{"attributes": {"interests": ["hiking", "trail_running"]}}"#;
    assert_eq!(sentence(r#"interests has "hiking""#, p), "Your activities include hiking");
    assert_eq!(sentence(r#"interests has "camping""#, p), "Your activities do not include camping");
    assert_eq!(
        sentence(r#"interests has any ["camping", "trail_running"]"#, p),
        "Your activities include trail running"
    );
    assert_eq!(
        sentence(r#"interests has any ["camping", "kayaking"]"#, p),
        "Your activities include none of camping or kayaking"
    );
    assert_eq!(
        sentence(r#"interests has all ["hiking", "kayaking"]"#, p),
        "Your activities do not include kayaking"
    );
    assert_eq!(sentence(r#"interests has "hiking""#, "{}"), "You have not told us your activities");
}

#[test]
fn a_yes_no_answer_is_the_question_and_the_answer() {
    assert_eq!(
        sentence("has_kids", r#"{"attributes": {"has_kids": true}}"#),
        "You answered yes to “Do you shop for children?”"
    );
    assert_eq!(sentence("has_kids", "{}"), "You have not answered “Do you shop for children?”");
}

#[test]
fn events_are_counted_in_words_with_their_window() {
    let p = r#"{"events": [
        {"name": "purchase", "at": "2026-11-20T00:00:00Z", "props": {"category": "tents", "amount": 80}},
        {"name": "purchase", "at": "2026-11-21T00:00:00Z", "props": {"category": "boots", "amount": 120}},
        {"name": "newsletter_click", "at": "2026-11-22T10:00:00Z"}]}"#;
    assert_eq!(
        sentence("count(purchase, 52w) >= 3", p),
        "You have 2 purchases in the last 52 weeks; we look for at least 3"
    );
    assert_eq!(
        sentence(r#"any(purchase where category == "tents", 90d)"#, p),
        "You have 1 purchase with category “tents” in the last 90 days"
    );
    assert_eq!(sentence("any(purchase, 1d)", p), "You have no purchases in the last day");
    assert_eq!(
        sentence("avg(purchase.amount, 52w) >= 150", p),
        "The average amount of your purchases in the last 52 weeks is 100; we look for at least 150"
    );
    assert_eq!(
        sentence("avg(purchase.amount, 52w) >= 90.5", &p.replace("120", "121")),
        "The average amount of your purchases in the last 52 weeks is 100.5; we look for at least 90.5"
    );
    assert_eq!(
        sentence(r#"count(purchase where category == "stoves", 1w) >= 1"#, p),
        "You have no purchases with category “stoves” in the last week; we look for at least 1"
    );
    assert_eq!(
        sentence("last(newsletter_click) within 14d", p),
        "Your last click in our newsletter was on 2026-11-22, within the last 2 weeks"
    );
}

#[test]
fn times_and_other_segments_read_as_sentences() {
    let p = r#"{"attributes": {"signup_at": "2026-10-25T08:00:00Z", "budget": 20}}"#;
    assert_eq!(
        sentence("signup_at within 30d", p),
        "Your sign-up was on 2026-10-25, within the last 30 days"
    );
    assert_eq!(
        sentence("days_since(signup_at) > 365", p),
        "Your sign-up was 29 days ago; we look for more than 365"
    );
    assert_eq!(sentence(r#"segment("other")"#, p), "You are among people with a budget");
    assert_eq!(sentence("signup_at exists", "{}"), "You have not told us your sign-up");
}

#[test]
fn and_or_not_nest_with_the_rule_one_click_away() {
    let w = words(
        r#"budget >= 100 or not any(purchase, 90d)"#,
        None,
        r#"{"events": [{"name": "purchase", "at": "2026-11-20T00:00:00Z", "props": {"category": "tents"}}]}"#,
    );
    assert!(!w.holds);
    let r = &w.reasons[0];
    assert_eq!(r.text, "None of these applies to you:");
    assert_eq!(r.rule, "budget >= 100 or not any(purchase, 90d)");
    assert_eq!(
        r.because[0].text,
        "You have not told us your budget for gear; we look for at least 100"
    );
    assert_eq!(r.because[0].rule, "budget >= 100");
    assert_eq!(r.because[1].text, "This should not apply to you, but it does:");
    assert_eq!(r.because[1].because[0].text, "You have 1 purchase in the last 90 days");
}
