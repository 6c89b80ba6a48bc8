//! The compact binary form of what a device runs: a verified campaign ([`Runnable`]), the data
//! map ([`Schema`]) and the device state ([`DeviceState`]).
//!
//! The browser ships two modules (ARCHITECTURE "Two wasm modules"): the verifier (the whole
//! core) compiles and lints a campaign once per `config_id` and hands the small runtime these
//! bytes. The format is private to one build of dpseg — both sides are the same source — so it
//! has no versioning beyond a leading tag, and any malformed input is refused with the offset
//! and what was expected, never a panic.
//!
//! Integers are LEB128 (signed ones zigzag-encoded), floats little-endian IEEE 754, strings a
//! length and UTF-8 bytes.
//!
//! [`Runnable`]: crate::campaign::Runnable
//! [`DeviceState`]: crate::privacy::ledger::DeviceState
//! [`Schema`]: crate::schema::Schema

#[allow(unused_imports, reason = "the prelude std would bring")]
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
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, pos: 0 }
    }

    /// An error at the current offset.
    pub fn error(&self, expected: &'static str) -> CompactError {
        CompactError { at: self.pos, expected }
    }

    /// An unsigned integer.
    ///
    /// # Errors
    /// At the end of input or on more than 64 bits.
    pub fn uint(&mut self) -> Result<u64, CompactError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.bytes.get(self.pos).ok_or_else(|| self.error("an integer"))?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.error("an integer of at most 64 bits"))
    }

    /// A signed integer.
    ///
    /// # Errors
    /// As [`Reader::uint`].
    pub fn int(&mut self) -> Result<i64, CompactError> {
        let z = self.uint()?;
        #[allow(clippy::cast_possible_wrap, reason = "zigzag decoding")]
        Ok((z >> 1) as i64 ^ -((z & 1) as i64))
    }

    /// A flag, 0 or 1.
    ///
    /// # Errors
    /// As [`Reader::uint`], or for any other value.
    pub fn flag(&mut self) -> Result<bool, CompactError> {
        match self.uint()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(self.error("0 or 1")),
        }
    }

    /// An integer that must fit `T` (a `u16` index, a `u8` tag).
    ///
    /// # Errors
    /// As [`Reader::uint`], or when the value does not fit.
    pub fn small<T: TryFrom<u64>>(&mut self) -> Result<T, CompactError> {
        let v = self.uint()?;
        T::try_from(v).map_err(|_| self.error("a smaller integer"))
    }

    /// A length or index, at most `max`.
    ///
    /// # Errors
    /// As [`Reader::uint`], or when the value exceeds `max`.
    pub fn len(&mut self, max: usize) -> Result<usize, CompactError> {
        let v = self.uint()?;
        usize::try_from(v).ok().filter(|&n| n <= max).ok_or_else(|| self.error("a length in range"))
    }

    /// A float.
    ///
    /// # Errors
    /// At the end of input.
    pub fn float(&mut self) -> Result<f64, CompactError> {
        let b = self.raw(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_le_bytes(a))
    }

    /// A string.
    ///
    /// # Errors
    /// At the end of input or on invalid UTF-8.
    pub fn str(&mut self) -> Result<String, CompactError> {
        let n = self.len(self.bytes.len() - self.pos)?;
        let b = self.raw(n)?;
        core::str::from_utf8(b).map(str::to_owned).map_err(|_| self.error("UTF-8 text"))
    }

    /// `n` raw bytes.
    ///
    /// # Errors
    /// At the end of input.
    pub fn raw(&mut self, n: usize) -> Result<&'a [u8], CompactError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| self.error("more bytes"))?;
        let b = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(b)
    }

    /// A list: its length (at most what the remaining bytes could hold), then `item` per entry.
    ///
    /// # Errors
    /// As the items.
    pub fn list<T>(
        &mut self,
        mut item: impl FnMut(&mut Reader<'a>) -> Result<T, CompactError>,
    ) -> Result<Vec<T>, CompactError> {
        let n = self.len(self.bytes.len() - self.pos)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(item(self)?);
        }
        Ok(out)
    }

    /// Checks that every byte was read.
    ///
    /// # Errors
    /// When bytes are left over.
    pub fn finish(self) -> Result<(), CompactError> {
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(self.error("the end of the data"))
        }
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
            assert_eq!(r.int().unwrap(), i);
        }
        assert_eq!(r.uint().unwrap(), u64::MAX);
        assert_eq!(r.float().unwrap().to_bits(), (-0.1f64).to_bits());
        assert_eq!(r.str().unwrap(), "héllo");
        r.finish().unwrap();
    }

    #[test]
    fn truncated_and_oversized_input_is_refused_with_its_offset() {
        let mut w = Writer::default();
        w.str("abc");
        let cut = &w.bytes[..2];
        let e = Reader::new(cut).str().unwrap_err();
        assert_eq!(e, CompactError { at: 1, expected: "a length in range" });
        assert_eq!(Reader::new(&[1, 2, 3]).raw(4).unwrap_err().expected, "more bytes");
        assert!(Reader::new(&[0xff; 11]).uint().is_err());
        assert!(Reader::new(&[0x80, 0x02]).small::<u8>().is_err());
        let mut r = Reader::new(&[5, 0]);
        assert_eq!(r.list(Reader::uint).unwrap_err().expected, "a length in range");
        let mut r = Reader::new(&[1, 2]);
        r.uint().unwrap();
        assert_eq!(r.finish().unwrap_err().at, 1);
    }
}
