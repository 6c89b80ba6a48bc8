//! [`Mechanism`] in the compact form (see [`crate::compact`]): every realised parameter,
//! bit for bit, so a device runs exactly what the verifier planned.

use super::{ItemMechanism, Mechanism, Oracle};
use crate::compact::{Reader, Writer};
use crate::prelude::*;
use crate::privacy::coin::Coin;

const ORACLES: [Oracle; 4] = [Oracle::Grr, Oracle::Oue, Oracle::Olh, Oracle::Ss];

impl Mechanism {
    /// Appends the compact form: the totals first, then the items' byte length and the items,
    /// so that a reader that only evaluates ([`Mechanism::read_compact_totals`]) skips them.
    pub fn write_compact(&self, w: &mut Writer) {
        w.uint(u64::from(self.segments));
        w.uint(u64::from(self.per_report));
        w.float(self.eps_report);
        w.float(self.eps_lifetime);
        w.uint(u64::from(self.answer_bytes));
        let mut items = Writer::default();
        items.len(self.items.len());
        for it in &self.items {
            items.len(ORACLES.iter().position(|&o| o == it.oracle).unwrap_or(0));
            items.uint(u64::from(it.domain));
            items.uint(it.memo.numerator());
            items.uint(it.inst.numerator());
            items.uint(u64::from(it.omega));
            items.uint(u64::from(it.g));
            for x in [it.p, it.q, it.eps_report, it.eps_memo] {
                items.float(x);
            }
        }
        w.len(items.bytes.len());
        w.raw(&items.bytes);
    }

    /// The totals as stored, checked for shape only; the items are skipped (the mechanism has
    /// none). For the runtime, which evaluates and never reports: it shows ε and checks it
    /// against the site's caps, and the report module, which spends it, reads the mechanism
    /// whole ([`Mechanism::read_compact`]) and refuses totals that are not its items'.
    pub fn read_compact_totals(r: &mut Reader<'_>) -> Mechanism {
        let (segments, per_report, eps_report, eps_lifetime, answer_bytes) = totals(r);
        let n = r.count();
        r.raw(n);
        Mechanism {
            items: Vec::new(),
            segments,
            per_report,
            eps_report,
            eps_lifetime,
            answer_bytes,
        }
    }

    /// Reads the compact form with its figures as stored, checking only its shape (see
    /// [`Runnable::from_compact_for_evaluation`](crate::campaign::Runnable::from_compact_for_evaluation)):
    /// never for spending ε.
    pub fn read_compact_as_stored(r: &mut Reader<'_>) -> Mechanism {
        let (segments, per_report, eps_report, eps_lifetime, answer_bytes) = totals(r);
        let n = r.count();
        let start = r.position();
        let items = r.list(|r| {
            let oracle = ORACLES[r.len(ORACLES.len() - 1)];
            let domain: u16 = r.small();
            let memo = Coin::from_numerator(r.uint());
            let inst = Coin::from_numerator(r.uint());
            let omega: u16 = r.small();
            let g: u16 = r.small();
            let [p, q, eps_report, eps_memo] = [r.float(), r.float(), r.float(), r.float()];
            if !(2..=128).contains(&domain) {
                r.fail("mechanism parameters a plan produces");
            }
            ItemMechanism { oracle, domain, memo, inst, omega, g, p, q, eps_report, eps_memo }
        });
        if r.position() != start + n {
            r.fail("items of the stated length");
        }
        if usize::from(segments) > items.len() || usize::from(per_report) > items.len() {
            r.fail("a mechanism a plan produces");
        }
        Mechanism { items, segments, per_report, eps_report, eps_lifetime, answer_bytes }
    }

    /// Reads the compact form, checking the invariants the report path relies on. The
    /// figures are recomputed from the coins ([`ItemMechanism::from_coins`]), never taken
    /// from the bytes: stored figures that differ from the coins' are a failure, and so is
    /// a mechanism that is not an honest channel ([`Mechanism::check`]). Failures are
    /// recorded in `r` (see [`Reader`]); the mechanism is meaningless unless `r` finishes
    /// without one.
    pub fn read_compact(r: &mut Reader<'_>) -> Mechanism {
        // Figures written by this build from the same coins; a difference beyond the
        // rounding of `ln` between std and libm means the bytes were not made by a plan.
        let same = |stored: f64, derived: f64| (stored - derived).abs() <= 2e-9;
        let stored = Mechanism::read_compact_as_stored(r);
        let mut items = Vec::with_capacity(stored.items.len());
        for s in &stored.items {
            let it = ItemMechanism::from_coins(s.oracle, s.domain, s.memo, s.inst, s.omega, s.g);
            let pairs = [
                (s.p, it.p),
                (s.q, it.q),
                (s.eps_report, it.eps_report),
                (s.eps_memo, it.eps_memo),
            ];
            if it.check().is_err() || !pairs.iter().all(|&(a, b)| same(a, b)) {
                r.fail("an honest item mechanism whose figures are its coins'");
            }
            items.push(it);
        }
        let max = u16::try_from(items.len()).unwrap_or(u16::MAX).max(1);
        let mech = Mechanism::assemble(items, stored.segments, stored.per_report.clamp(1, max));
        if stored.answer_bytes != mech.answer_bytes
            || !same(stored.eps_report, mech.eps_report)
            || !same(stored.eps_lifetime, mech.eps_lifetime)
            || mech.check().is_err()
        {
            r.fail("a mechanism a plan produces, its totals its items'");
        }
        mech
    }
}

/// The totals at the start of the compact form, checked for shape.
fn totals(r: &mut Reader<'_>) -> (u16, u16, f64, f64, u16) {
    let segments: u16 = r.small();
    let per_report: u16 = r.small();
    let eps_report = r.float();
    let eps_lifetime = r.float();
    let answer_bytes: u16 = r.small();
    if per_report == 0 || answer_bytes == 0 || answer_bytes > 16 {
        r.fail("a mechanism a plan produces");
    }
    (segments, per_report, eps_report, eps_lifetime, answer_bytes)
}
