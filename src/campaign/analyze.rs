//! Compiling a campaign, in steps: the structure (limits, ids, groups), every rule compiled
//! into one program, the segments ordered so each follows those it references (cycles
//! refused), then the runnable assembled with its mechanism and identities.

use crate::prelude::*;

use super::identity::memo_ids;
use super::{is_valid_id, Campaign, CompiledCampaign, Finding, Head, Runnable, Severity};
use crate::diag::caret_snippet;
use crate::limits::Limits;
use crate::privacy::mechanism::MechanismError;
use crate::rules::compile::{compile, CompiledRule};
use crate::rules::ir::{NodeId, Program};
use crate::rules::{parse, RuleError};
use crate::schema::Schema;

fn finding_at(code: &'static str, rule_id: &str, source: &str, err: &RuleError) -> Finding {
    let lc = err.position(source);
    Finding {
        code,
        severity: Severity::Error,
        segment: Some(rule_id.to_owned()),
        line: Some(lc.line),
        column: Some(lc.column),
        message: err.kind.to_string(),
        snippet: Some(caret_snippet(source, err.span)),
    }
}

fn plain(code: &'static str, segment: Option<String>, message: String) -> Finding {
    Finding {
        code,
        severity: Severity::Error,
        segment,
        line: None,
        column: None,
        message,
        snippet: None,
    }
}

/// Structural checks and compilation; returns the compiled campaign when every rule compiled.
pub(crate) fn analyze(
    c: &Campaign,
    schema: &Schema,
    limits: &Limits,
) -> (Option<CompiledCampaign>, Vec<Finding>) {
    let findings = check_structure(c, limits);
    if !findings.is_empty() {
        return (None, findings);
    }
    let rules = match compile_rules(c, schema, limits) {
        Ok(r) => r,
        Err(findings) => return (None, findings),
    };
    let order = match order_segments(&rules) {
        Ok(o) => o,
        Err(findings) => return (None, findings),
    };
    match assemble(c, schema, rules, order) {
        Ok(compiled) => (Some(compiled), Vec::new()),
        Err(finding) => (None, vec![finding]),
    }
}

/// Every rule of a campaign compiled into one program.
struct CompiledRules {
    segment_ids: Vec<String>,
    program: Program,
    infos: Vec<CompiledRule>,
    sources: Vec<String>,
}

/// The campaign's limits, ids (valid, unique) and groups (not empty, cases unique).
fn check_structure(c: &Campaign, limits: &Limits) -> Vec<Finding> {
    let mut findings = Vec::new();
    if c.segments.len() > limits.segments_max {
        findings.push(plain(
            "too-many-segments",
            None,
            format!(
                "campaign has {} segments; the limit is {}",
                c.segments.len(),
                limits.segments_max
            ),
        ));
    }
    if c.groups.len() > limits.groups_max {
        findings.push(plain(
            "too-many-groups",
            None,
            format!("campaign has {} groups; the limit is {}", c.groups.len(), limits.groups_max),
        ));
    }
    let mut seen = alloc::collections::BTreeSet::new();
    let items =
        c.segments.iter().map(|s| s.id.as_str()).chain(c.groups.iter().map(|g| g.id.as_str()));
    for id in items {
        if !is_valid_id(id, limits) {
            findings.push(plain(
                "bad-id",
                Some(id.to_owned()),
                format!(
                    "'{id}' is not an id; use up to {} letters, digits, '_' or '-'",
                    limits.ident_bytes_max
                ),
            ));
        } else if !seen.insert(id) {
            findings.push(plain(
                "duplicate-id",
                Some(id.to_owned()),
                format!("'{id}' is defined more than once; segment and group ids must be unique"),
            ));
        }
    }
    for g in &c.groups {
        if g.cases.is_empty() {
            findings.push(plain(
                "empty-group",
                Some(g.id.clone()),
                "group has no cases; add at least one".into(),
            ));
        }
        if g.cases.len() > limits.group_cases_max {
            findings.push(plain(
                "too-many-cases",
                Some(g.id.clone()),
                format!(
                    "group has {} cases; the limit is {}",
                    g.cases.len(),
                    limits.group_cases_max
                ),
            ));
        }
        let mut seen = alloc::collections::BTreeSet::new();
        for case in &g.cases {
            let full = format!("{}/{}", g.id, case.id);
            if !is_valid_id(&case.id, limits) {
                findings.push(plain(
                    "bad-id",
                    Some(full),
                    format!("'{}' is not a case id", case.id),
                ));
            } else if !seen.insert(case.id.as_str()) {
                findings.push(plain(
                    "duplicate-id",
                    Some(full),
                    format!("case '{}' appears twice in group '{}'", case.id, g.id),
                ));
            }
        }
    }
    findings
}

/// Parses and compiles every rule (segments first, then every group's cases) into one program.
fn compile_rules(
    c: &Campaign,
    schema: &Schema,
    limits: &Limits,
) -> Result<CompiledRules, Vec<Finding>> {
    let mut findings = Vec::new();
    let segment_ids: Vec<String> = c.segments.iter().map(|s| s.id.clone()).collect();
    let mut program = Program::default();
    let mut infos = Vec::new();
    let mut sources = Vec::new();
    let rules = c.rules();
    for (index, (_, rule_id, text)) in rules.iter().enumerate() {
        sources.push((*text).to_owned());
        let rule = u16::try_from(index).unwrap_or(u16::MAX);
        let result = parse(text, limits)
            .and_then(|ast| compile(&ast, rule, schema, &segment_ids, &mut program, limits));
        match result {
            Ok(info) => infos.push(info),
            Err(e) => findings.push(finding_at(e.kind.code(), rule_id, text, &e)),
        }
    }
    if findings.is_empty() {
        Ok(CompiledRules { segment_ids, program, infos, sources })
    } else {
        Err(findings)
    }
}

/// The segments in an order where each comes after the segments it references (an iterative
/// depth-first search); a cycle is refused with its path.
fn order_segments(rules: &CompiledRules) -> Result<Vec<u16>, Vec<Finding>> {
    let CompiledRules { segment_ids, infos, sources, .. } = rules;
    let mut findings = Vec::new();
    // Order segments so each comes after those it references; refuse cycles.
    let n = segment_ids.len();
    let mut state = vec![0u8; n]; // 0 new, 1 on stack, 2 done
    let mut order = Vec::with_capacity(n);
    for start in 0..n {
        if state[start] != 0 {
            continue;
        }
        // Iterative DFS: (node, next edge index).
        let mut stack = vec![(start, 0usize)];
        state[start] = 1;
        while let Some(&mut (node, ref mut edge)) = stack.last_mut() {
            let refs = &infos[node].segment_refs;
            if let Some(&(next, span)) = refs.get(*edge) {
                *edge += 1;
                let next = usize::from(next);
                match state[next] {
                    0 => {
                        state[next] = 1;
                        stack.push((next, 0));
                    }
                    1 => {
                        let from = stack.iter().position(|&(s, _)| s == next).unwrap_or(0);
                        let mut path: Vec<&str> =
                            stack[from..].iter().map(|&(s, _)| segment_ids[s].as_str()).collect();
                        path.push(&segment_ids[next]);
                        let err = RuleError::new(
                            crate::rules::RuleErrorKind::SegmentCycle { path: path.join(" -> ") },
                            span,
                        );
                        findings.push(finding_at(
                            "segment-cycle",
                            &segment_ids[node],
                            &sources[node],
                            &err,
                        ));
                    }
                    _ => {}
                }
            } else {
                state[node] = 2;
                order.push(u16::try_from(node).unwrap_or(u16::MAX));
                stack.pop();
            }
        }
    }
    if findings.is_empty() {
        Ok(order)
    } else {
        Err(findings)
    }
}

/// The runnable campaign: group roots, the planned mechanism, `config_id` and the items'
/// answer identities.
fn assemble(
    c: &Campaign,
    schema: &Schema,
    rules: CompiledRules,
    order: Vec<u16>,
) -> Result<CompiledCampaign, Finding> {
    let CompiledRules { segment_ids, program, infos, sources } = rules;
    let n = segment_ids.len();
    let mut groups: Vec<Vec<NodeId>> = Vec::with_capacity(c.groups.len());
    let mut next = n;
    for g in &c.groups {
        groups.push(infos[next..next + g.cases.len()].iter().map(|i| i.root).collect());
        next += g.cases.len();
    }
    let mechanism = match c.plan_mechanism() {
        Ok(m) => Some(m),
        Err(MechanismError::Empty) => None,
        Err(e) => {
            return Err(plain("epsilon-unsupported", None, e.to_string()));
        }
    };
    let memo_ids = mechanism.as_ref().map_or_else(Vec::new, |m| memo_ids(c, &infos, m));
    let refs = |info: &CompiledRule| !info.segment_refs.is_empty();
    let (segment_infos, case_infos) = infos.split_at(segment_ids.len());
    let mut case_infos = case_infos.iter();
    let groups: Vec<_> = c
        .groups
        .iter()
        .zip(groups)
        .map(|(g, roots)| {
            let infos: Vec<_> = case_infos.by_ref().take(roots.len()).collect();
            let cases = g.cases.iter().map(|c| c.id.clone()).zip(roots).collect();
            ((g.id.clone(), cases), infos.into_iter().any(refs))
        })
        .collect();
    let (groups, group_refs) = groups.into_iter().unzip();
    let mut covers: Vec<String> = c.review.iter().flat_map(|r| r.covers.iter().cloned()).collect();
    covers.sort_unstable();
    covers.dedup();
    let mut run = Runnable {
        head: Head {
            id: c.id.clone(),
            config_id: String::new(),
            epoch_secs: c.epoch.secs(),
            purpose: c.purpose.clone(),
            schema_id: schema.id(),
            covers,
            memo_ids,
        },
        program,
        roots: segment_infos.iter().map(|i| i.root).collect(),
        segment_refs: segment_infos.iter().map(refs).collect(),
        segment_ids,
        order,
        groups,
        group_refs,
        mechanism,
    };
    run.head.config_id = crate::compact::content_id(&run.to_compact());
    let compiled = CompiledCampaign { campaign: c.clone(), sources, rule_info: infos, run };
    Ok(compiled)
}
