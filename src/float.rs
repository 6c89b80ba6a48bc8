//! The `f64` functions `core` lacks. With the `std` feature they are std's; without (the
//! browser's runtime module) they are `libm`'s. The runtime's own paths use only `floor` and
//! `fract`, which are exact either way; the planner and the estimator, which need `exp`, `ln`
//! and `sqrt`, run with std.

macro_rules! float_fns {
    ($($name:ident = libm::$libm:ident, $doc:literal;)*) => {$(
        #[doc = $doc]
        #[inline]
        pub fn $name(x: f64) -> f64 {
            #[cfg(feature = "std")]
            {
                x.$name()
            }
            #[cfg(not(feature = "std"))]
            {
                libm::$libm(x)
            }
        }
    )*};
}

float_fns! {
    exp = libm::exp, "e to the power `x`.";
    ln = libm::log, "The natural logarithm.";
    sqrt = libm::sqrt, "The square root.";
    floor = libm::floor, "The largest integer at most `x`.";
    ceil = libm::ceil, "The smallest integer at least `x`.";
    round = libm::round, "The nearest integer, halves away from zero.";
    trunc = libm::trunc, "The integer part.";
}

/// The fractional part, as `f64::fract`.
pub fn fract(x: f64) -> f64 {
    x - trunc(x)
}

#[cfg(test)]
mod tests {
    /// The libm functions the build without std takes agree with std's where the runtime
    /// uses them (exact operations), and to the last bits elsewhere on these inputs.
    #[test]
    fn libm_agrees_with_std() {
        let xs = [0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 1e-300, 3.75, -7.25, 1e15 + 0.5, 1e300];
        for x in xs {
            assert_eq!(libm::floor(x).to_bits(), x.floor().to_bits(), "floor {x}");
            assert_eq!(libm::ceil(x).to_bits(), x.ceil().to_bits(), "ceil {x}");
            assert_eq!(libm::trunc(x).to_bits(), x.trunc().to_bits(), "trunc {x}");
            assert_eq!(libm::round(x).to_bits(), x.round().to_bits(), "round {x}");
            assert_eq!(x - libm::trunc(x), x.fract(), "fract {x}");
        }
        for x in [0.1, 0.5, 1.0, 2.0, 4.0, 8.0] {
            assert!((libm::exp(x) - x.exp()).abs() <= f64::EPSILON * x.exp());
            assert!((libm::log(x) - x.ln()).abs() <= 4.0 * f64::EPSILON);
            assert!((libm::sqrt(x) - x.sqrt()).abs() <= f64::EPSILON * x.sqrt());
        }
    }
}
