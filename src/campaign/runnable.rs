//! What a device runs of a verified campaign: the compiled rules, the evaluation order and the
//! report mechanism, without the rule texts, descriptions and governance data that only
//! compiling, linting and explaining need.
//!
//! Every [`CompiledCampaign`](super::CompiledCampaign) holds one; the browser's runtime module
//! receives one in the [compact form](crate::compact) from the verifier module and evaluates and
//! reports with exactly the code the verifier would.

use crate::prelude::*;

use crate::compact::{CompactError, Reader, Writer};
use crate::limits::Limits;
use crate::privacy::mechanism::Mechanism;
use crate::profile::Profile;
use crate::rules::eval::{eval, Env};
use crate::rules::ir::{Node, NodeId, Program};
use crate::time::UnixSecs;

use super::Membership;

/// Leading bytes of a compiled campaign: `dpc` and the format version (docs/compiled.md).
const TAG: &[u8; 4] = b"dpc\x01";

/// What every report of a campaign carries or depends on besides the answers, and what a device
/// checks before it runs the campaign: the campaign id, its `config_id`, the epoch length, the
/// purpose, the data map it was compiled against and the sensitive data its review approved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub(super) id: String,
    /// The [`content_id`](crate::compact::content_id) of the compact form; empty where the
    /// bytes were read for evaluation only (the runtime, which reports nothing).
    pub(super) config_id: String,
    pub(super) epoch_secs: i64,
    pub(super) purpose: String,
    /// The `schema_id` of the data map whose attribute and event ids the program uses.
    pub(super) schema_id: String,
    /// The sensitive attributes and events the campaign's `[review]` approved, sorted.
    pub(super) covers: Vec<String>,
    /// Per report item, the identity of its permanent answers (see the campaign module's
    /// `memo_ids`); empty when there is nothing to report.
    pub(super) memo_ids: Vec<[u8; 16]>,
}

impl Head {
    /// Campaign id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The content hash every report carries.
    pub fn config_id(&self) -> &str {
        &self.config_id
    }

    /// Epoch length in seconds.
    pub fn epoch_secs(&self) -> i64 {
        self.epoch_secs
    }

    /// The purpose the campaign's data is used for.
    pub fn purpose(&self) -> &str {
        &self.purpose
    }

    /// The `schema_id` of the data map the campaign was compiled against.
    pub fn schema_id(&self) -> &str {
        &self.schema_id
    }

    /// The sensitive attributes and events the campaign's review approved, sorted.
    pub fn covers(&self) -> &[String] {
        &self.covers
    }

    /// Per report item, the identity of its permanent answers: items of different campaign
    /// versions with the same identity draw the same permanent answers on a device.
    pub fn memo_ids(&self) -> &[[u8; 16]] {
        &self.memo_ids
    }
}

/// A campaign ready to evaluate and report.
#[derive(Debug, Clone, PartialEq)]
pub struct Runnable {
    pub(super) head: Head,
    pub(super) program: Program,
    pub(super) segment_ids: Vec<String>,
    /// Per segment, the root of its rule.
    pub(super) roots: Vec<NodeId>,
    /// Per segment, whether its rule references other segments.
    pub(super) segment_refs: Vec<bool>,
    /// Evaluation order of segments: every segment after those it references.
    pub(super) order: Vec<u16>,
    /// Per group: its id and, per case, the case id and its rule's root.
    pub(super) groups: Vec<(String, Vec<(String, NodeId)>)>,
    /// Per group, whether any case references a segment.
    pub(super) group_refs: Vec<bool>,
    /// The report mechanism; `None` when the campaign has nothing to report.
    pub(super) mechanism: Option<Mechanism>,
}

impl Runnable {
    /// Campaign id.
    pub fn id(&self) -> &str {
        &self.head.id
    }

    /// The content hash every report carries: the [`content_id`](crate::compact::content_id)
    /// of [`Runnable::to_compact`]. Empty for a campaign read with
    /// [`Runnable::from_compact_for_evaluation`], which does not hash.
    pub fn config_id(&self) -> &str {
        &self.head.config_id
    }

    /// Epoch length in seconds.
    pub fn epoch_secs(&self) -> i64 {
        self.head.epoch_secs
    }

    /// The purpose the campaign's data is used for.
    pub fn purpose(&self) -> &str {
        &self.head.purpose
    }

    /// Id, `config_id` and epoch length: what [`DeviceState::report_with`] needs besides the
    /// mechanism.
    ///
    /// [`DeviceState::report_with`]: crate::privacy::ledger::DeviceState::report_with
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// The report mechanism (`None` when there is nothing to report).
    pub fn mechanism(&self) -> Option<&Mechanism> {
        self.mechanism.as_ref()
    }

    /// Segment ids, in campaign order.
    pub fn segment_ids(&self) -> &[String] {
        &self.segment_ids
    }

    /// The index of segment `id`.
    pub fn segment_index(&self, id: &str) -> Option<usize> {
        self.segment_ids.iter().position(|s| s == id)
    }

    /// Group ids with their case ids, in campaign order.
    pub fn groups(&self) -> impl Iterator<Item = (&str, impl Iterator<Item = &str>)> {
        self.groups.iter().map(|(g, cases)| (g.as_str(), cases.iter().map(|(c, _)| c.as_str())))
    }

    /// An empty membership of the right shape, to pass to [`Runnable::evaluate_into`].
    pub fn new_membership(&self) -> Membership {
        Membership {
            segments: vec![false; self.segment_ids.len()],
            groups: vec![None; self.groups.len()],
        }
    }

    /// Evaluates every segment and group for `profile` at `now`.
    pub fn evaluate(&self, profile: &Profile, now: UnixSecs) -> Membership {
        let mut m = self.new_membership();
        self.evaluate_into(profile, now, &mut m);
        m
    }

    /// As [`Runnable::evaluate`], into `out`; allocates only when `out` has the wrong shape.
    pub fn evaluate_into(&self, profile: &Profile, now: UnixSecs, out: &mut Membership) {
        out.segments.resize(self.segment_ids.len(), false);
        out.groups.resize(self.groups.len(), None);
        for &i in &self.order {
            let i = usize::from(i);
            let Some(&root) = self.roots.get(i) else { continue };
            let env = Env { profile, now, segments: &out.segments };
            out.segments[i] = eval(&self.program, &env, root, None).truth();
        }
        let env = Env { profile, now, segments: &out.segments };
        for (slot, (_, cases)) in out.groups.iter_mut().zip(&self.groups) {
            *slot = cases
                .iter()
                .position(|&(_, root)| eval(&self.program, &env, root, None).truth())
                .and_then(|i| u16::try_from(i).ok());
        }
    }

    /// Each item's value in `m` (segments first, then groups, the encoding of
    /// [`Runnable::item_truth`] and of the browser runtime's `evaluate`): 0 or 1 for a segment,
    /// for a group the index of the first case that holds, or the number of cases ("none").
    pub fn item_values<'a>(&'a self, m: &'a Membership) -> impl Iterator<Item = u16> + 'a {
        let none =
            self.groups.iter().map(|(_, cases)| u16::try_from(cases.len()).unwrap_or(u16::MAX));
        m.segments
            .iter()
            .map(|&b| u16::from(b))
            .chain(m.groups.iter().zip(none).map(|(g, none)| g.unwrap_or(none)))
    }

    /// Whether `profile` is in segment `index` at `now`, evaluating only that segment and the
    /// segments it references (`None` when there is no such segment). `scratch` holds the
    /// referenced segments' results; it allocates only when it has the wrong shape.
    pub fn evaluate_segment(
        &self,
        profile: &Profile,
        now: UnixSecs,
        index: usize,
        scratch: &mut Membership,
    ) -> Option<bool> {
        let &root = self.roots.get(index)?;
        if self.segment_refs.get(index).copied().unwrap_or(false) {
            // References are resolved in evaluation order; the whole pass is the simple way.
            self.evaluate_into(profile, now, scratch);
            return scratch.segments.get(index).copied();
        }
        let env = Env { profile, now, segments: &[] };
        Some(eval(&self.program, &env, root, None).truth())
    }

    /// The true value of report item `item` (segments first, then groups, as in
    /// [`Membership::item_values`](crate::campaign::Membership::item_values)): 0/1 for a segment, the first case that holds (or the number of
    /// cases, "none") for a group. Evaluates only that item and what it references, so a report
    /// that samples a few items of a large campaign evaluates only those. `None` when there is
    /// no such item.
    pub fn item_truth(
        &self,
        profile: &Profile,
        now: UnixSecs,
        item: usize,
        scratch: &mut Membership,
    ) -> Option<u16> {
        let segments = self.segment_ids.len();
        if item < segments {
            return self.evaluate_segment(profile, now, item, scratch).map(u16::from);
        }
        let g = item - segments;
        let (_, cases) = self.groups.get(g)?;
        // "none" is the value after the cases; an exhaustive group has no such value, and its
        // last case always holds, so `none` is never returned for it.
        let none = u16::try_from(cases.len()).unwrap_or(u16::MAX);
        if self.group_refs.get(g).copied().unwrap_or(false) {
            self.evaluate_into(profile, now, scratch);
            return Some(scratch.groups.get(g).copied().flatten().unwrap_or(none));
        }
        let env = Env { profile, now, segments: &[] };
        let hit = cases.iter().position(|&(_, root)| eval(&self.program, &env, root, None).truth());
        Some(hit.and_then(|i| u16::try_from(i).ok()).unwrap_or(none))
    }

    /// The compact form (see [`crate::compact`] and docs/compiled.md), whose
    /// [`content_id`](crate::compact::content_id) is the `config_id`. The head and the
    /// mechanism come first, so that [`Runnable::read_head`] can read what a report needs
    /// without the rules.
    pub fn to_compact(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.raw(TAG);
        w.str(&self.head.id);
        w.int(self.head.epoch_secs);
        w.str(&self.head.purpose);
        w.str(&self.head.schema_id);
        w.len(self.head.covers.len());
        self.head.covers.iter().for_each(|c| w.str(c));
        w.len(self.head.memo_ids.len());
        for id in &self.head.memo_ids {
            w.raw(id);
        }
        match &self.mechanism {
            None => w.uint(0),
            Some(m) => {
                w.uint(1);
                m.write_compact(&mut w);
            }
        }
        self.program.write_compact(&mut w);
        w.len(self.segment_ids.len());
        for ((id, &root), &refs) in self.segment_ids.iter().zip(&self.roots).zip(&self.segment_refs)
        {
            w.str(id);
            w.uint(u64::from(root));
            w.uint(u64::from(refs));
        }
        w.len(self.order.len());
        self.order.iter().for_each(|&i| w.uint(u64::from(i)));
        w.len(self.groups.len());
        for ((id, cases), &refs) in self.groups.iter().zip(&self.group_refs) {
            w.str(id);
            w.uint(u64::from(refs));
            w.len(cases.len());
            for (case, root) in cases {
                w.str(case);
                w.uint(u64::from(*root));
            }
        }
        w.bytes
    }

    /// Reads the head and the mechanism at the start of the compact form and ignores the
    /// rest: what making a report needs (the browser's report module, which evaluates
    /// nothing). The mechanism is checked as in [`Runnable::from_compact`], except against the
    /// campaign's segments and groups, which this does not read: the caller checks the answers
    /// it passes against the mechanism's items.
    ///
    /// # Errors
    /// On anything malformed, with the byte offset.
    pub fn read_head(bytes: &[u8]) -> Result<(Head, Option<Mechanism>), CompactError> {
        let mut r = Reader::new(bytes);
        let (mut head, mechanism) = read_head::<true>(&mut r);
        r.done()?;
        head.config_id = crate::compact::content_id(bytes);
        Ok((head, mechanism))
    }

    /// Reads the compact form. The bytes come from this build's verifier through the page's
    /// storage, so they are checked as untrusted: every index in range, every child before its
    /// parent, the segment order a permutation, the mechanism's shape the campaign's.
    ///
    /// # Errors
    /// On anything malformed, with the byte offset.
    pub fn from_compact(bytes: &[u8], limits: &Limits) -> Result<Runnable, CompactError> {
        Runnable::decode::<true>(bytes, limits)
    }

    /// As [`Runnable::from_compact`], with the mechanism's figures read as stored rather than
    /// recomputed from its coins: for the browser's runtime module, which evaluates and never
    /// reports. Where ε is spent (the report module reads campaigns with
    /// [`Runnable::read_head`], and [`DeviceState::report_with`] checks the mechanism again),
    /// the figures are always the coins'; this keeps `ln` and the checks out of what every
    /// page loads.
    ///
    /// [`DeviceState::report_with`]: crate::privacy::ledger::DeviceState::report_with
    ///
    /// # Errors
    /// As [`Runnable::from_compact`].
    pub fn from_compact_for_evaluation(
        bytes: &[u8],
        limits: &Limits,
    ) -> Result<Runnable, CompactError> {
        Runnable::decode::<false>(bytes, limits)
    }

    // Generic, so that the runtime's build holds only the unverified decoder.
    fn decode<const VERIFY: bool>(bytes: &[u8], limits: &Limits) -> Result<Runnable, CompactError> {
        let verify = VERIFY;
        let mut r = Reader::new(bytes);
        let (mut head, mechanism) = read_head::<VERIFY>(&mut r);
        if verify {
            head.config_id = crate::compact::content_id(bytes);
        }
        let rules = limits.segments_max + limits.groups_max * limits.group_cases_max;
        // A rule's tree is at most `rule_depth_max` deep; `where` filters add a level each.
        let depth = 2 * limits.rule_depth_max + 2;
        let program = Program::read_compact(&mut r, limits.rule_nodes_max * rules, depth);
        let nodes = program.len();
        let root = |r: &mut Reader<'_>| -> NodeId {
            let n = r.len(nodes);
            if n == nodes {
                r.fail("a node of the program");
            }
            u32::try_from(n).unwrap_or(0)
        };
        let n = r.count();
        let (mut segment_ids, mut roots, mut segment_refs) =
            (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        for _ in 0..n {
            segment_ids.push(r.str());
            roots.push(root(&mut r));
            segment_refs.push(r.flag());
        }
        let order: Vec<u16> = r.list(Reader::small);
        let mut seen = vec![false; n];
        for &i in &order {
            match seen.get_mut(usize::from(i)) {
                Some(s) if !*s => *s = true,
                _ => r.fail("an order of the segments"),
            }
        }
        if seen.contains(&false) {
            r.fail("an order of every segment");
        }
        let n = r.count();
        let (mut groups, mut group_refs) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for _ in 0..n {
            let id = r.str();
            group_refs.push(r.flag());
            groups.push((id, r.list(|r| (r.str(), root(r)))));
        }
        // The runtime (`verify` off) never reports: the mechanism's shape matters where reports
        // are made, which read campaigns verified.
        if let Some(m) = mechanism.as_ref().filter(|_| verify) {
            let segments = segment_ids.len();
            let shape_ok = usize::from(m.segments()) == segments
                && m.items().len() == segments + groups.len()
                && m.items().iter().skip(segments).zip(&groups).all(|(it, (_, cases))| {
                    // "none" is a value unless the last case always holds.
                    let always = cases.last().is_some_and(|&(_, root)| {
                        matches!(program.node(root), Some(Node::Bool(true)))
                    });
                    let none = usize::from(it.domain()) == cases.len() + 1;
                    none || (always && usize::from(it.domain()) == cases.len())
                })
                && m.items().iter().take(segments).all(|it| it.domain() == 2);
            if !shape_ok {
                r.fail("a mechanism with one item per segment and group");
            }
        }
        r.finish()?;
        Ok(Runnable {
            head,
            program,
            segment_ids,
            roots,
            segment_refs,
            order,
            groups,
            group_refs,
            mechanism,
        })
    }
}

fn read_head<const VERIFY: bool>(r: &mut Reader<'_>) -> (Head, Option<Mechanism>) {
    let verify = VERIFY;
    r.tag(TAG, "a compiled campaign of format 1 (\"dpc\" 1)");
    let id = r.str();
    let epoch_secs = r.int();
    if epoch_secs <= 0 {
        r.fail("a positive epoch length");
    }
    let purpose = r.str();
    let schema_id = r.str();
    let covers: Vec<String> = r.list(Reader::str);
    let memo_ids = if verify {
        r.list(|r| {
            let mut id = [0u8; 16];
            let b = r.raw(16);
            if b.len() == 16 {
                id.copy_from_slice(b);
            }
            id
        })
    } else {
        // The runtime never reports: skip the identities.
        let n = r.count();
        r.raw(n.saturating_mul(16));
        Vec::new()
    };
    let mechanism = match (r.flag(), verify) {
        (false, _) => None,
        (true, true) => Some(Mechanism::read_compact(r)),
        (true, false) => Some(Mechanism::read_compact_totals(r)),
    };
    if verify && memo_ids.len() != mechanism.as_ref().map_or(0, |m| m.items().len()) {
        r.fail("one permanent-answer identity per report item");
    }
    let config_id = String::new();
    (Head { id, config_id, epoch_secs, purpose, schema_id, covers, memo_ids }, mechanism)
}
