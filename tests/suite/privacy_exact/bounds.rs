//! Exact likelihood ratios: the bound recomputed from the realised coins, the worst ratio
//! enumerated, and the check that the first never falls below the second.

use super::*;

/// The exact worst-case likelihood ratio of one item's answer, from its realised coins.
pub(super) fn item_ratio(item: &ItemMechanism) -> BigRational {
    let one = BigRational::one();
    let m = BigRational::from_integer(BigInt::from(item.domain()));
    let k = &m - &one;
    let p1 = dyadic(item.memo());
    let inst = dyadic(item.inst());
    match item.oracle() {
        Oracle::Grr => {
            let pc = &p1 * &inst + (&one - &p1) * (&one - &inst) / &k;
            let qc = (&one - &pc) / &k;
            pc / qc
        }
        Oracle::Oue => {
            let qc = &p1 * (&one - &inst) + (&one - &p1) * &inst;
            (&one - &qc) / qc
        }
        Oracle::Ss => {
            let q1 = (&one - &p1) / &k;
            let w = BigRational::from_integer(BigInt::from(item.omega()));
            let binom = |n: u16, r: u16| -> BigRational {
                (0..r).fold(one.clone(), |acc, i| {
                    acc * BigRational::new(BigInt::from(n - i), BigInt::from(i + 1))
                })
            };
            let (c1, c0) = (
                binom(item.domain() - 1, item.omega() - 1),
                binom(item.domain() - 1, item.omega()),
            );
            let t = &inst * c0 / ((&one - &inst) * c1);
            let a = &p1 + &q1 * (&w - &one);
            let b = &q1 * (&m - &w);
            let c = &q1 * &w;
            let d = &p1 + &q1 * (&m - &one - &w);
            let r = (a * &t + b) / (c * &t + d);
            // Below 1 the worst pair of outputs is the other way round.
            if r < one {
                one / r
            } else {
                r
            }
        }
        Oracle::Olh => {
            let g = BigRational::from_integer(BigInt::from(item.g()));
            &inst * (g - &one) / (&one - &inst)
        }
    }
}

/// The exact bound for `count` reports: the `per_report` costliest items, to the power of the
/// number of reports, but never more than the memoised answers' bound.
pub(super) fn claimed_ratio(mech: &Mechanism, count: usize) -> BigRational {
    let mut ratios: Vec<BigRational> = mech.items().iter().map(item_ratio).collect();
    ratios.sort_by(|a, b| b.cmp(a));
    let per_report: BigRational =
        ratios.iter().take(usize::from(mech.per_report())).cloned().product();
    let mut lifetime: Vec<BigRational> = mech
        .items()
        .iter()
        .map(|i| {
            let one = BigRational::one();
            let p1 = dyadic(i.memo());
            match i.oracle() {
                Oracle::Oue => (&one - &p1) / p1,
                _ => {
                    let k = BigRational::from_integer(BigInt::from(i.domain() - 1));
                    &p1 * k / (one - &p1)
                }
            }
        })
        .collect();
    lifetime.sort_by(|a, b| b.cmp(a));
    let lifetime: BigRational =
        lifetime.iter().take(usize::from(mech.per_report())).cloned().product();
    let composed = (0..count).fold(BigRational::one(), |acc, _| acc * &per_report);
    composed.min(lifetime)
}

/// The largest `P[y|x] / P[y|x']` over all outputs and input pairs.
pub(super) fn max_ratio(mech: &Mechanism, count: usize) -> BigRational {
    let mut hi: HashMap<Vec<String>, BigRational> = HashMap::new();
    let mut lo: HashMap<Vec<String>, BigRational> = HashMap::new();
    let xs = inputs(mech);
    for (n, x) in xs.iter().enumerate() {
        let dist = Explorer::enumerate(|e| reports(mech, x, count, e));
        for (y, p) in &dist {
            hi.entry(y.clone())
                .and_modify(|h| *h = h.clone().max(p.clone()))
                .or_insert_with(|| p.clone());
            match lo.get_mut(y) {
                Some(l) => *l = l.clone().min(p.clone()),
                None if n == 0 => {
                    lo.insert(y.clone(), p.clone());
                }
                None => {
                    lo.insert(y.clone(), BigRational::zero());
                }
            }
        }
        // Outputs seen before but impossible for this input have probability 0 here.
        for (y, l) in lo.iter_mut() {
            if !dist.contains_key(y) {
                *l = BigRational::zero();
            }
        }
    }
    hi.iter()
        .map(|(y, h)| {
            let l = &lo[y];
            assert!(!l.is_zero(), "output {y:?} is impossible for some input: infinite ratio");
            h / l
        })
        .max()
        .unwrap()
}

pub(super) fn check(name: &str, mech: &Mechanism, nominal_eps: f64, count: usize) {
    let bound = claimed_ratio(mech, count);
    let got = max_ratio(mech, count);
    assert!(
        got <= bound,
        "{name}: enumerated ratio {} exceeds the claimed {}",
        got.to_f64().unwrap(),
        bound.to_f64().unwrap()
    );
    let ln_bound = bound.to_f64().unwrap().ln();
    let reported = if count == 1 {
        mech.eps_report()
    } else {
        (mech.eps_report() * count as f64).min(mech.eps_lifetime())
    };
    assert!(reported + 1e-12 >= ln_bound, "{name}: reported ε {reported} below ln R = {ln_bound}");
    if count == 1 {
        assert!(
            mech.eps_report() <= nominal_eps + 1e-12,
            "{name}: realised ε {} above the campaign's {nominal_eps}",
            mech.eps_report()
        );
    }
    println!(
        "{name}: max ln ratio {:.6} <= ln R {ln_bound:.6}; reported ε {reported}",
        got.to_f64().unwrap().ln()
    );
}
