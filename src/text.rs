//! Building messages without `core::fmt`. The browser's runtime module builds every message it
//! can throw (profile errors, compact data refused) with these, so that it carries no
//! formatting machinery; the native build's `Display` impls use the same functions, so both
//! say exactly the same words.

use crate::prelude::*;

/// The parts, concatenated.
pub fn cat(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    parts.iter().for_each(|p| s.push_str(p));
    s
}

/// The decimal digits of `m`.
fn digits(mut m: u64) -> String {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        #[allow(clippy::cast_possible_truncation, reason = "one decimal digit")]
        let d = (m % 10) as u8;
        buf[i] = b'0' + d;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    buf[i..].iter().map(|&d| char::from(d)).collect()
}

/// `n` in decimal.
pub fn int(n: i64) -> String {
    padded(n, 0)
}

/// `n` in decimal (lengths, limits, offsets).
pub fn uint(n: usize) -> String {
    digits(n as u64)
}

/// `n` in decimal, zero-padded to at least `width` characters (sign included), as
/// `format!("{n:0width$}")`: dates and times.
pub fn padded(n: i64, width: usize) -> String {
    let digits = digits(n.unsigned_abs());
    let zeros = width.saturating_sub(digits.len() + usize::from(n < 0));
    let mut s = String::with_capacity(zeros + digits.len() + 1);
    if n < 0 {
        s.push('-');
    }
    (0..zeros).for_each(|_| s.push('0'));
    s.push_str(&digits);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn int_is_display(n in any::<i64>()) {
            prop_assert_eq!(int(n), n.to_string());
        }

        #[test]
        fn uint_is_display(n in any::<u32>()) {
            prop_assert_eq!(uint(n as usize), n.to_string());
        }

        #[test]
        fn padded_is_format(n in any::<i64>(), width in 0usize..24) {
            prop_assert_eq!(padded(n, width), format!("{n:0width$}"));
        }
    }

    #[test]
    fn extremes_and_parts() {
        assert_eq!(int(i64::MIN), i64::MIN.to_string());
        assert_eq!(int(0), "0");
        assert_eq!(cat(&["a", "", "bc"]), "abc");
        assert_eq!(cat(&[]), "");
    }
}
