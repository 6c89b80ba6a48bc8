//! Each report item's memo identity: which permanent answers a new version of a campaign may
//! keep. (The campaign's `config_id` is the content id of its compiled form, see
//! [`Runnable::to_compact`](super::Runnable::to_compact).)

use crate::prelude::*;

use sha2::{Digest, Sha256};

use super::Campaign;
use crate::limits::Limits;
use crate::privacy::mechanism::Mechanism;
use crate::rules::compile::CompiledRule;
use crate::rules::parse;

/// Per item, the identity of its permanent answers (see `docs/privacy.md`, "The lifetime
/// bound"): SHA-256 over `dpseg-memo-v1\0`, the campaign id, the item's meaning (its rules in
/// canonical form, or its group's cases in order, with every segment they reference, directly
/// or not, by id and rule) and its permanent layer (kind, number of values, memo coin), first 16
/// bytes. A new version of a campaign whose item means the same and draws the same permanent
/// answer keeps the identity, so devices keep their answers and are not charged again; renaming
/// the item itself does not change it.
pub(super) fn memo_ids(
    c: &Campaign,
    infos: &[CompiledRule],
    mechanism: &Mechanism,
) -> Vec<[u8; 16]> {
    let n = c.segments.len();
    let referenced = |start: &[usize]| -> Vec<usize> {
        let mut seen = vec![false; n];
        let mut stack: Vec<usize> = start.to_vec();
        while let Some(i) = stack.pop() {
            for &(r, _) in &infos[i].segment_refs {
                let r = usize::from(r);
                if r < n && !core::mem::replace(&mut seen[r], true) {
                    stack.push(r);
                }
            }
        }
        (0..n).filter(|&i| seen[i]).collect()
    };
    let mut next = n;
    let mut items: Vec<(Vec<String>, Vec<usize>)> =
        (0..n).map(|i| (vec![canonical_rule(&c.segments[i].rule)], referenced(&[i]))).collect();
    for g in &c.groups {
        let rules = g.cases.iter().map(|k| canonical_rule(&k.rule)).collect();
        let own: Vec<usize> = (next..next + g.cases.len()).collect();
        next += g.cases.len();
        items.push((rules, referenced(&own)));
    }
    items
        .iter()
        .zip(mechanism.items())
        .map(|((rules, refs), item)| {
            let mut h = Sha256::new();
            let mut field = |b: &[u8]| {
                h.update((b.len() as u64).to_be_bytes());
                h.update(b);
            };
            field(b"dpseg-memo-v1\0");
            field(c.id.as_bytes());
            for r in rules {
                field(r.as_bytes());
            }
            for &i in refs {
                field(c.segments[i].id.as_bytes());
                field(canonical_rule(&c.segments[i].rule).as_bytes());
            }
            let kind: &[u8] = if item.oracle() == crate::privacy::mechanism::Oracle::Oue {
                b"bits"
            } else {
                b"value"
            };
            field(kind);
            field(&item.domain().to_be_bytes());
            field(&item.memo().numerator().to_be_bytes());
            let d = h.finalize();
            let mut id = [0u8; 16];
            id.copy_from_slice(&d[..16]);
            id
        })
        .collect()
}

pub(super) fn canonical_rule(text: &str) -> String {
    // Rules reaching here parsed already; limits only matter for failures.
    parse(text, &Limits { rule_bytes_max: usize::MAX, ..Limits::default() })
        .map_or_else(|_| text.to_owned(), |e| e.to_string())
}
