//! HAR: streamed entry by entry with serde's visitors, never loaded whole:
//! a browser export holds every request of a session, most of them not ours,
//! so memory stays bounded by one entry, not by the file.

use std::fmt;
use std::io;

use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{Endpoint, InputError, Skipped};
use crate::contract;

/// The parts of a HAR entry that matter here; the rest is skipped unread.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct HarEntry {
    pub request: HarRequest,
    pub response: HarResponse,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct HarRequest {
    pub method: String,
    pub url: String,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct HarResponse {
    pub status: i64,
    pub content: HarContent,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct HarContent {
    pub text: Option<String>,
    pub encoding: Option<String>,
}

pub(super) enum Fate {
    Judge(Endpoint, u16),
    Skip(fn(&mut Skipped) -> &mut usize),
}

pub(super) fn fate(entry: &HarEntry) -> Fate {
    let Some(endpoint) = Endpoint::of_url(&entry.request.url) else {
        return Fate::Skip(|s| &mut s.other_url);
    };
    let status = entry.response.status;
    if !endpoint.answers_json(u16::try_from(status).unwrap_or(0)) {
        // A video, as a download link's answer is.
        return Fate::Skip(|s| &mut s.other_url);
    }
    let judged_status = (200..300).contains(&status) || (400..600).contains(&status);
    if !entry.request.method.eq_ignore_ascii_case(endpoint.method()) || !judged_status {
        return Fate::Skip(|s| &mut s.not_a_response);
    }
    if entry.response.content.text.as_deref().is_none_or(str::is_empty) {
        return Fate::Skip(|s| &mut s.no_body);
    }
    Fate::Judge(endpoint, status as u16)
}

/// Calls `f` with each entry of `log.entries`, in order, as it is parsed.
/// `f` may stop the stream with an error message.
struct Root<'f, F>(&'f mut F, bool);

impl<'de, F: FnMut(usize, HarEntry) -> Result<(), String>> DeserializeSeed<'de> for Root<'_, F> {
    type Value = bool;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, F: FnMut(usize, HarEntry) -> Result<(), String>> Visitor<'de> for Root<'_, F> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.1 {
            "the HAR log object"
        } else {
            "a HAR file: {\"log\": ...}"
        })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let Root(f, log_level) = self;
        let mut found = false;
        while let Some(key) = map.next_key::<String>()? {
            match (log_level, key.as_str()) {
                (false, "log") => found |= map.next_value_seed(Root(&mut *f, true))?,
                (true, "entries") => {
                    map.next_value_seed(Entries(&mut *f))?;
                    found = true;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(found)
    }
}

struct Entries<'f, F>(&'f mut F);

impl<'de, F: FnMut(usize, HarEntry) -> Result<(), String>> DeserializeSeed<'de> for Entries<'_, F> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(usize, HarEntry) -> Result<(), String>> Visitor<'de> for Entries<'_, F> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of HAR entries")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while let Some(entry) = seq.next_element::<HarEntry>()? {
            (self.0)(index, entry).map_err(A::Error::custom)?;
            index += 1;
        }
        Ok(())
    }
}

/// Streams the entries of a HAR file to `f`.
pub(super) fn har_entries<'de, R: serde_json::de::Read<'de>>(
    file: &str,
    mut de: serde_json::Deserializer<R>,
    mut f: impl FnMut(usize, HarEntry) -> Result<(), String>,
) -> Result<(), InputError> {
    let bad = |e: serde_json::Error| {
        if e.is_io() {
            return InputError::Io {
                file: file.to_owned(),
                source: io::Error::other(e.to_string()),
            };
        }
        let reason = contract::strip_position(&e.to_string());
        if e.is_data() {
            InputError::BadHar {
                file: file.to_owned(),
                line: e.line(),
                column: e.column(),
                reason,
            }
        } else {
            InputError::NotJson {
                file: file.to_owned(),
                line: e.line(),
                column: e.column(),
                reason,
            }
        }
    };
    let found = Root(&mut f, false).deserialize(&mut de).map_err(bad)?;
    de.end().map_err(bad)?;
    if !found {
        return Err(InputError::BadHar {
            file: file.to_owned(),
            line: 1,
            column: 1,
            reason: "no log.entries array".to_owned(),
        });
    }
    Ok(())
}

/// A HAR entry worth judging.
pub(super) struct HarDoc {
    pub(super) index: usize,
    pub(super) endpoint: Endpoint,
    pub(super) status: u16,
    pub(super) url: String,
    pub(super) content: HarContent,
}

pub(super) fn har_doc(index: usize, endpoint: Endpoint, status: u16, entry: HarEntry) -> HarDoc {
    HarDoc {
        index,
        endpoint,
        status,
        url: entry.request.url,
        content: entry.response.content,
    }
}

/// Standard or URL-safe base64, padding optional, line breaks ignored
/// (HAR bodies; `serve --replay` reads them with it too).
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in text.as_bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            b'\r' | b'\n' | b' ' | b'\t' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_bodies_decode() {
        assert_eq!(base64_decode("eyJhIjoxfQ==").unwrap(), b"{\"a\":1}");
        assert_eq!(base64_decode("eyJhIjoxfQ").unwrap(), b"{\"a\":1}");
        assert!(base64_decode("e*").is_none());
    }
}
