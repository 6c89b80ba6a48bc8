//! The compact binary form of what a device runs: a verified campaign ([`Runnable`]), the data
//! map ([`Schema`]) and the device state ([`DeviceState`]).
//!
//! The collector and the CLI compile a campaign to a [`Runnable`] and serve these bytes; a
//! device hashes them ([`content_id`]: the campaign's `config_id`, the data map's `schema_id`),
//! decodes them as untrusted input and checks what it will run (`docs/compiled.md`). Each form
//! starts with a tag whose last byte is its version; a build reads every version of the device
//! state it ever wrote (a device state is the visitor's privacy budget), while a campaign or data
//! map of another version is refused with the offset and what was expected, never a panic, and
//! fetched anew.
//!
//! Integers are LEB128 (signed ones zigzag-encoded), floats little-endian IEEE 754, strings a
//! length and UTF-8 bytes.
//!
//! [`Runnable`]: crate::campaign::Runnable
//! [`DeviceState`]: crate::privacy::ledger::DeviceState
//! [`Schema`]: crate::schema::Schema

use crate::prelude::*;

use core::fmt;

/// Why compact bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactError {
    /// Byte offset where decoding stopped.
    pub at: usize,
    /// What was expected there.
    pub expected: &'static str,
}

impl CompactError {
    /// The message, as `Display` writes it; built without `core::fmt` (see [`crate::text`]).
    pub fn message(&self) -> String {
        crate::text::cat(&[
            "compact data: byte ",
            &crate::text::uint(self.at),
            ": expected ",
            self.expected,
        ])
    }
}

impl fmt::Display for CompactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl core::error::Error for CompactError {}

/// The content id of a compact form: the lowercase hex of the first 16 bytes of its SHA-256.
/// A campaign's `config_id` and a data map's `schema_id` are this of their compact bytes.
pub fn content_id(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(32);
    for b in &digest[..16] {
        for nibble in [b >> 4, b & 15] {
            out.push(char::from(b"0123456789abcdef"[usize::from(nibble)]));
        }
    }
    out
}

/// Appends compact values to a byte vector.
#[derive(Debug, Default)]
pub struct Writer {
    /// The bytes so far.
    pub bytes: Vec<u8>,
}

impl Writer {
    /// An unsigned integer.
    pub fn uint(&mut self, mut v: u64) {
        loop {
            #[allow(clippy::cast_possible_truncation, reason = "seven bits at a time")]
            let low = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.bytes.push(low);
                return;
            }
            self.bytes.push(low | 0x80);
        }
    }

    /// A signed integer.
    pub fn int(&mut self, v: i64) {
        #[allow(clippy::cast_sign_loss, reason = "zigzag encoding")]
        self.uint(((v << 1) ^ (v >> 63)) as u64);
    }

    /// A float, bit for bit.
    pub fn float(&mut self, v: f64) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    /// A string.
    pub fn str(&mut self, s: &str) {
        self.uint(s.len() as u64);
        self.bytes.extend_from_slice(s.as_bytes());
    }

    /// A length or index.
    pub fn len(&mut self, n: usize) {
        self.uint(n as u64);
    }

    /// Raw bytes of a length both sides know.
    pub fn raw(&mut self, b: &[u8]) {
        self.bytes.extend_from_slice(b);
    }
}

/// Reads compact values, refusing anything malformed.
///
/// The first failure is remembered and every read after it gives a default value (0, an empty
/// string, an empty list) without consuming input, so that decoders read straight through
/// without an early return at every step, and [`Reader::finish`] reports that first failure.
/// A decoder must not act on what it read before `finish` accepts it; the defaults only keep
/// it going, and lengths stay bounded by the input.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    failed: Option<CompactError>,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, pos: 0, failed: None }
    }

    /// Records a failure at the current offset, unless one was recorded before.
    pub fn fail(&mut self, expected: &'static str) {
        if self.failed.is_none() {
            self.failed = Some(CompactError { at: self.pos, expected });
        }
    }

    /// Whether nothing failed so far.
    pub fn ok(&self) -> bool {
        self.failed.is_none()
    }

    /// The leading tag of a compact form; `what` names the form when the tag is another.
    pub fn tag(&mut self, tag: &[u8], what: &'static str) {
        let at = self.pos;
        if self.raw(tag.len()) != tag && self.ok() {
            self.failed = Some(CompactError { at, expected: what });
        }
    }

    /// The length of a list: at most what the remaining bytes could hold.
    pub fn count(&mut self) -> usize {
        self.len(self.bytes.len() - self.pos)
    }

    /// An unsigned integer (at most 64 bits).
    pub fn uint(&mut self) -> u64 {
        let mut v = 0u64;
        let mut pos = self.pos;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.bytes.get(pos).filter(|_| self.ok()) else { break };
            pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                self.pos = pos;
                return v;
            }
        }
        self.fail("an integer");
        0
    }

    /// A signed integer.
    pub fn int(&mut self) -> i64 {
        let z = self.uint();
        #[allow(clippy::cast_possible_wrap, reason = "zigzag decoding")]
        let v = (z >> 1) as i64 ^ -((z & 1) as i64);
        v
    }

    /// A flag, 0 or 1.
    pub fn flag(&mut self) -> bool {
        match self.uint() {
            0 => false,
            1 => true,
            _ => {
                self.fail("0 or 1");
                false
            }
        }
    }

    /// An integer that must fit `T` (a `u16` index, a `u8` tag).
    pub fn small<T: TryFrom<u64> + Default>(&mut self) -> T {
        let v = self.uint();
        self.small_of(v)
    }

    /// `v`, which must fit `T`: for values read as part of a larger one.
    pub fn small_of<T: TryFrom<u64> + Default>(&mut self, v: u64) -> T {
        T::try_from(v).unwrap_or_else(|_| {
            self.fail("a smaller integer");
            T::default()
        })
    }

    /// One of `all` (not empty), by its index.
    pub fn one_of<T: Copy>(&mut self, all: &[T]) -> T {
        let i = self.len(all.len() - 1);
        all[i]
    }

    /// A length or index, at most `max`; 0 once anything failed.
    pub fn len(&mut self, max: usize) -> usize {
        let v = self.uint();
        match usize::try_from(v) {
            Ok(n) if n <= max => n,
            _ => {
                self.fail("a length in range");
                0
            }
        }
    }

    /// A float.
    pub fn float(&mut self) -> f64 {
        let mut a = [0u8; 8];
        let b = self.raw(8);
        if b.len() == 8 {
            a.copy_from_slice(b);
        }
        f64::from_le_bytes(a)
    }

    /// A string.
    pub fn str(&mut self) -> String {
        let n = self.count();
        let b = self.raw(n);
        match core::str::from_utf8(b) {
            Ok(s) => s.to_owned(),
            Err(_) => {
                self.fail("UTF-8 text");
                String::new()
            }
        }
    }

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// `n` raw bytes (none once anything failed).
    pub fn raw(&mut self, n: usize) -> &'a [u8] {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len() && self.ok());
        let Some(end) = end else {
            self.fail("more bytes");
            return &[];
        };
        let b = &self.bytes[self.pos..end];
        self.pos = end;
        b
    }

    /// A list: its length (at most what the remaining bytes could hold), then `item` per entry.
    pub fn list<T>(&mut self, mut item: impl FnMut(&mut Reader<'a>) -> T) -> Vec<T> {
        let n = self.count();
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(item(self));
        }
        out
    }

    /// The first failure, if any, else `Ok` when every byte was read.
    ///
    /// # Errors
    /// The first failure, or bytes left over.
    pub fn finish(mut self) -> Result<(), CompactError> {
        if self.pos != self.bytes.len() {
            self.fail("the end of the data");
        }
        self.failed.map_or(Ok(()), Err)
    }

    /// As [`Reader::finish`] without the check for left-over bytes: for a decoder that reads
    /// only the start of its input.
    ///
    /// # Errors
    /// The first failure.
    pub fn done(self) -> Result<(), CompactError> {
        self.failed.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn integers_floats_and_strings_round_trip() {
        let mut w = Writer::default();
        let ints = [0i64, 1, -1, 63, -64, 64, i64::MAX, i64::MIN];
        for &i in &ints {
            w.int(i);
        }
        w.uint(u64::MAX);
        w.float(-0.1);
        w.str("héllo");
        let mut r = Reader::new(&w.bytes);
        for &i in &ints {
            assert_eq!(r.int(), i);
        }
        assert_eq!(r.uint(), u64::MAX);
        assert_eq!(r.float().to_bits(), (-0.1f64).to_bits());
        assert_eq!(r.str(), "héllo");
        r.finish().unwrap();
    }

    #[test]
    fn truncated_and_oversized_input_is_refused_with_its_offset() {
        let mut w = Writer::default();
        w.str("abc");
        let failure = |read: fn(&mut Reader<'_>), bytes: &[u8]| {
            let mut r = Reader::new(bytes);
            read(&mut r);
            r.finish().unwrap_err()
        };
        let e = failure(
            |r| {
                let _ = r.str();
            },
            &w.bytes[..2],
        );
        assert_eq!(e, CompactError { at: 1, expected: "a length in range" });
        assert_eq!(
            failure(
                |r| {
                    let _ = r.raw(4);
                },
                &[1, 2, 3]
            )
            .expected,
            "more bytes"
        );
        assert_eq!(
            failure(
                |r| {
                    let _ = r.uint();
                },
                &[0xff; 11]
            )
            .at,
            0
        );
        assert_eq!(
            failure(
                |r| {
                    let _ = r.small::<u8>();
                },
                &[0x80, 0x02]
            )
            .expected,
            "a smaller integer"
        );
        assert_eq!(
            failure(
                |r| {
                    let _ = r.list(Reader::uint);
                },
                &[5, 0]
            )
            .expected,
            "a length in range"
        );
        assert_eq!(
            failure(
                |r| {
                    let _ = r.uint();
                },
                &[1, 2]
            )
            .at,
            1
        );
    }

    #[test]
    fn the_first_failure_is_kept_and_later_reads_give_defaults() {
        let mut r = Reader::new(&[0x80]);
        assert_eq!(r.uint(), 0);
        // Nothing more is consumed or reported after the first failure.
        assert_eq!(r.str(), "");
        assert_eq!(r.len(10), 0);
        assert!(r.raw(0).is_empty());
        r.fail("something else");
        assert_eq!(r.finish().unwrap_err(), CompactError { at: 0, expected: "an integer" });
    }
}
