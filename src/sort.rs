//! Heapsort, for the few sorts on the browser runtime's paths (a report's sampled items, a set
//! attribute's words, a JS object's keys). The standard library's sorts are faster on large
//! inputs and several kilobytes of wasm each; these inputs are small, and heapsort keeps
//! O(n log n) for the large ones a page could pass. Not stable: every caller sorts values whose
//! equal elements are identical (or, for object keys, absent).

/// Sorts `v` so that no element is `less` than one before it.
pub fn heapsort_by<T>(v: &mut [T], mut less: impl FnMut(&T, &T) -> bool) {
    // Restores the max-heap property below `root` within `v[..end]`.
    let mut sift_down = |v: &mut [T], mut root: usize, end: usize| loop {
        let mut child = 2 * root + 1;
        if child >= end {
            break;
        }
        if child + 1 < end && less(&v[child], &v[child + 1]) {
            child += 1;
        }
        if !less(&v[root], &v[child]) {
            break;
        }
        v.swap(root, child);
        root = child;
    };
    let n = v.len();
    for root in (0..n / 2).rev() {
        sift_down(v, root, n);
    }
    for end in (1..n).rev() {
        v.swap(0, end);
        sift_down(v, 0, end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn sorts_as_the_standard_library_does(mut v in proptest::collection::vec(any::<u16>(), 0..200)) {
            let mut want = v.clone();
            want.sort_unstable();
            heapsort_by(&mut v, |a, b| a < b);
            prop_assert_eq!(v, want);
        }

        #[test]
        fn sorts_strings(mut v in proptest::collection::vec(".{0,6}", 0..50)) {
            let mut want = v.clone();
            want.sort();
            heapsort_by(&mut v, |a: &String, b: &String| a < b);
            prop_assert_eq!(v, want);
        }
    }
}
