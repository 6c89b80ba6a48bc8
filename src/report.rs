//! The report, wire format version 1 (docs/report.md).
//!
//! ```json
//! {"v": 1, "campaign": "spring-2027", "config_id": "<hash>", "epoch": 20481,
//!  "nonce": "<128 random bits, base64url>", "mechanism": "segment-sampling",
//!  "payload": "<base64url>"}
//! ```
//!
//! The payload is `per_report` slots, each a big-endian `u16` item index followed by the item's
//! answer in `answer_bytes` little-endian bytes (GRR value; OUE/SS bit mask; OLH `a`, `b`, `y`
//! packed as in [`Slot`]), items in increasing order. Its length depends only on the campaign.
//! Decoding is strict: every field is checked and each failure has its own error.

use crate::prelude::*;

use core::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::privacy::coin::Randomness;
use crate::privacy::mechanism::{Mechanism, Slot};

/// The only wire version.
pub const VERSION: u8 = 1;
/// The mechanism name every version-1 report carries.
pub const MECHANISM: &str = "segment-sampling";
/// Bytes of a nonce.
pub const NONCE_BYTES: usize = 16;

/// A report as sent (all fields are public by design: this is what leaves the device).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Wire version.
    pub v: u8,
    /// Campaign id.
    pub campaign: String,
    /// Campaign content hash.
    pub config_id: String,
    /// Epoch number: `floor(unix seconds / epoch length)`.
    pub epoch: u64,
    /// 128 random bits, base64url without padding (22 characters).
    pub nonce: String,
    /// Always [`MECHANISM`] in version 1.
    pub mechanism: String,
    /// The randomised answers, base64url without padding.
    pub payload: String,
}

/// A report whose every field checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// Epoch number.
    pub epoch: u64,
    /// The nonce's bytes.
    pub nonce: [u8; NONCE_BYTES],
    /// The answers, items increasing.
    pub slots: Vec<Slot>,
}

/// Why a report was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReportError {
    /// Not JSON of the report's shape.
    Syntax(String),
    /// A version other than 1.
    Version(u8),
    /// A campaign other than the one decoding.
    Campaign(String),
    /// A `config_id` other than the campaign's current one.
    ConfigId(String),
    /// A mechanism name other than [`MECHANISM`].
    Mechanism(String),
    /// The nonce is not 16 bytes of base64url.
    Nonce,
    /// The payload is not base64url.
    Base64,
    /// The payload has the wrong length.
    Length {
        /// Bytes expected.
        expected: usize,
        /// Bytes found.
        found: usize,
    },
    /// An item index outside the campaign.
    ItemRange(u16),
    /// Items repeated or out of order.
    ItemOrder,
    /// An answer the item's mechanism cannot produce.
    Answer(u16),
}

impl ReportError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ReportError::Syntax(_) => "report-syntax",
            ReportError::Version(_) => "unsupported-version",
            ReportError::Campaign(_) => "unknown-campaign",
            ReportError::ConfigId(_) => "stale-config",
            ReportError::Mechanism(_) => "wrong-mechanism",
            ReportError::Nonce => "bad-nonce",
            ReportError::Base64 => "bad-base64",
            ReportError::Length { .. } => "wrong-length",
            ReportError::ItemRange(_) => "item-out-of-range",
            ReportError::ItemOrder => "item-order",
            ReportError::Answer(_) => "bad-answer",
        }
    }
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportError::Syntax(m) => write!(f, "report is not valid: {m}"),
            ReportError::Version(v) => {
                write!(f, "report version {v} is not supported; expected {VERSION}")
            }
            ReportError::Campaign(c) => write!(f, "report is for campaign '{c}', not this one"),
            ReportError::ConfigId(c) => {
                write!(f, "report is for configuration '{c}', which is not the campaign's current one; reload the campaign")
            }
            ReportError::Mechanism(m) => {
                write!(f, "mechanism '{m}' is not supported; expected '{MECHANISM}'")
            }
            ReportError::Nonce => {
                f.write_str("nonce must be 16 bytes in base64url without padding (22 characters)")
            }
            ReportError::Base64 => f.write_str("payload is not base64url without padding"),
            ReportError::Length { expected, found } => {
                write!(f, "payload is {found} bytes; this campaign's reports have {expected}")
            }
            ReportError::ItemRange(i) => {
                write!(f, "payload names item {i}, which the campaign does not have")
            }
            ReportError::ItemOrder => f.write_str("payload items must be distinct and increasing"),
            ReportError::Answer(i) => {
                write!(f, "payload has an answer for item {i} that its mechanism cannot produce")
            }
        }
    }
}

impl core::error::Error for ReportError {}

/// `bytes` in base64url without padding (RFC 4648 §5), as the `base64` crate's `URL_SAFE_NO_PAD`
/// writes it; by hand, because the crate's general engine is 3 KB of the browser's runtime
/// module. Decoding stays with the crate.
pub fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        // A chunk of k bytes gives k + 1 characters.
        for i in 0..=chunk.len() {
            let six = (n >> (18 - 6 * i)) & 63;
            out.push(char::from(ALPHABET[six as usize]));
        }
    }
    out
}

/// Appends `,"key":"value"` with the value escaped as JSON (serde_json's escapes).
fn push_field(out: &mut String, key: &str, value: &str) {
    out.push_str(",\"");
    out.push_str(key);
    out.push_str("\":\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c < ' ' => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let b = c as u8;
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 15)]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Encodes `slots` into a version-1 report with a fresh nonce from `rng`.
pub fn encode(
    campaign: &str,
    config_id: &str,
    epoch: u64,
    mechanism: &Mechanism,
    slots: &[Slot],
    rng: &mut impl Randomness,
) -> Report {
    let mut nonce = [0u8; NONCE_BYTES];
    rng.fill(&mut nonce);
    let width = usize::from(mechanism.answer_bytes());
    let mut payload = Vec::with_capacity(mechanism.payload_bytes());
    for slot in slots {
        payload.extend_from_slice(&slot.item.to_be_bytes());
        payload.extend_from_slice(&slot.out.to_le_bytes()[..width]);
    }
    debug_assert_eq!(
        payload.len(),
        mechanism.payload_bytes(),
        "a report's length depends only on the campaign"
    );
    Report {
        v: VERSION,
        campaign: campaign.to_owned(),
        config_id: config_id.to_owned(),
        epoch,
        nonce: base64url(&nonce),
        mechanism: MECHANISM.to_owned(),
        payload: base64url(&payload),
    }
}

impl Report {
    /// The report as the compact JSON text that is sent: the same bytes as serde_json's
    /// output, written by hand so the browser's runtime module needs no JSON printer.
    pub fn to_json_text(&self) -> String {
        let mut out = String::with_capacity(96 + self.payload.len());
        out.push_str("{\"v\":");
        out.push_str(&self.v.to_string());
        for (key, value) in [("campaign", &self.campaign), ("config_id", &self.config_id)] {
            push_field(&mut out, key, value);
        }
        out.push_str(",\"epoch\":");
        out.push_str(&self.epoch.to_string());
        for (key, value) in
            [("nonce", &self.nonce), ("mechanism", &self.mechanism), ("payload", &self.payload)]
        {
            push_field(&mut out, key, value);
        }
        out.push('}');
        out
    }

    /// Parses a report from JSON text.
    ///
    /// # Errors
    /// When the text is not a JSON report.
    pub fn from_json(text: &str) -> Result<Report, ReportError> {
        serde_json::from_str(text).map_err(|e| ReportError::Syntax(e.to_string()))
    }

    /// Checks every field against the campaign and its mechanism and decodes the payload.
    ///
    /// # Errors
    /// The first field that does not check out.
    pub fn decode(
        &self,
        campaign: &str,
        config_id: &str,
        mechanism: &Mechanism,
    ) -> Result<Decoded, ReportError> {
        if self.v != VERSION {
            return Err(ReportError::Version(self.v));
        }
        if self.campaign != campaign {
            return Err(ReportError::Campaign(self.campaign.clone()));
        }
        if self.config_id != config_id {
            return Err(ReportError::ConfigId(self.config_id.clone()));
        }
        if self.mechanism != MECHANISM {
            return Err(ReportError::Mechanism(self.mechanism.clone()));
        }
        let nonce: [u8; NONCE_BYTES] = match URL_SAFE_NO_PAD.decode(&self.nonce) {
            Ok(b) if self.nonce.len() == 22 => b.try_into().map_err(|_| ReportError::Nonce)?,
            _ => return Err(ReportError::Nonce),
        };
        let expected = mechanism.payload_bytes();
        // Refuse oversized text before decoding it.
        if self.payload.len() > expected.div_ceil(3) * 4 {
            return Err(ReportError::Length { expected, found: self.payload.len() * 3 / 4 });
        }
        let bytes = URL_SAFE_NO_PAD.decode(&self.payload).map_err(|_| ReportError::Base64)?;
        if bytes.len() != expected {
            return Err(ReportError::Length { expected, found: bytes.len() });
        }
        let width = usize::from(mechanism.answer_bytes());
        let mut slots = Vec::with_capacity(usize::from(mechanism.per_report()));
        let mut last: Option<u16> = None;
        for chunk in bytes.chunks_exact(2 + width) {
            let item = u16::from_be_bytes([chunk[0], chunk[1]]);
            let Some(def) = mechanism.items().get(usize::from(item)) else {
                return Err(ReportError::ItemRange(item));
            };
            if last.is_some_and(|l| l >= item) {
                return Err(ReportError::ItemOrder);
            }
            last = Some(item);
            let mut le = [0u8; 16];
            le[..width].copy_from_slice(&chunk[2..]);
            let out = u128::from_le_bytes(le);
            if !def.is_valid(out) {
                return Err(ReportError::Answer(item));
            }
            slots.push(Slot { item, out });
        }
        Ok(Decoded { epoch: self.epoch, nonce, slots })
    }
}
