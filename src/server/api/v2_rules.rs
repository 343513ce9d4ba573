//! What MiniMax's v2 reference asks of a body, both ways: what it requires
//! (`resolution`, `duration`, one non-empty text item, at most one first
//! and one last frame, the reference limits, frames and references apart)
//! and what it allows (`video_url` and `audio_url` references, `mm_file://`
//! and data URLs, a single image without a role as the first frame,
//! MiniMax-H3-Max at 480P, `extra`). Each refusal names its field.
//!
//! The same rules are in `schemas/v2_video_generation.request.schema.json`
//! and `schemas/v2_video_regeneration.request.schema.json`, which `validate`
//! judges with; the schema says *whether*, this module *why*, in words a
//! developer can act on. The tests hold both to the same bodies. Pure.

use serde_json::{Map, Value};

use crate::lifecycle::artifact::V2Model;
use crate::server::store::tasks::{v2_ratio, V2_RATIOS};

/// What a checked `POST /v2/video_generation` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    pub model: V2Model,
    pub resolution: &'static str,
    pub duration: u32,
    /// As the task reports it: the one asked for, `adaptive` for
    /// image-to-video (the reference ignores any other) and by default for
    /// reference-to-video.
    pub ratio: &'static str,
    pub images: u8,
    pub videos: u8,
    pub audios: u8,
    pub prompt: String,
    pub callback: Option<String>,
}

/// What a checked `POST /v2/video_regeneration` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Regeneration {
    /// `source_task_id`, or `None` for the `content` form (a `base_video`).
    pub source: Option<String>,
    pub prompt: Option<String>,
    pub callback: Option<String>,
}

/// A text item's longest `text`, in characters.
pub const MAX_TEXT: usize = 7000;
/// A regeneration text item's longest `text`.
pub const MAX_REGENERATION_TEXT: usize = 40_000;
/// The reference's limits on reference items.
pub const MAX_REFERENCE_IMAGES: usize = 9;
pub const MAX_REFERENCE_VIDEOS: usize = 3;
pub const MAX_REFERENCE_AUDIOS: usize = 3;
pub const MAX_REFERENCES: usize = 12;

/// The reference's wording when no text item has a prompt.
pub const NO_TEXT: &str = "content must include a non-empty text item (prompt is required)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Image,
    Video,
    Audio,
}

impl Kind {
    fn member(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Image => "image_url",
            Kind::Video => "video_url",
            Kind::Audio => "audio_url",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    FirstFrame,
    LastFrame,
    ReferenceImage,
    ReferenceVideo,
    ReferenceAudio,
    BaseVideo,
}

const ROLES: [(&str, Role); 6] = [
    ("first_frame", Role::FirstFrame),
    ("last_frame", Role::LastFrame),
    ("reference_image", Role::ReferenceImage),
    ("reference_video", Role::ReferenceVideo),
    ("reference_audio", Role::ReferenceAudio),
    ("base_video", Role::BaseVideo),
];

impl Role {
    fn name(self) -> &'static str {
        ROLES.iter().find(|(_, r)| *r == self).map_or("", |(n, _)| n)
    }

    /// The item type a role is for.
    fn kind(self) -> Kind {
        match self {
            Role::FirstFrame | Role::LastFrame | Role::ReferenceImage => Kind::Image,
            Role::ReferenceVideo | Role::BaseVideo => Kind::Video,
            Role::ReferenceAudio => Kind::Audio,
        }
    }

    fn is_reference(self) -> bool {
        matches!(self, Role::ReferenceImage | Role::ReferenceVideo | Role::ReferenceAudio)
    }
}

/// One content item, checked on its own.
#[derive(Debug, Clone, Copy)]
struct Item<'a> {
    index: usize,
    kind: Kind,
    role: Option<Role>,
    text: Option<&'a str>,
}

/// A JSON value's kind, for "must be X, found Y".
fn found(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn quoted(names: &[&str]) -> String {
    names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
}

/// Whether `url` is one of the forms the reference lists for `kind`: a
/// public http(s) URL, `mm_file://{file_id}`, or a data URL of its media
/// type (`<format>` in lower case; video only `mp4`).
fn url_form_ok(kind: Kind, url: &str) -> bool {
    let rest = |prefix: &str| url.strip_prefix(prefix).is_some_and(|r| !r.is_empty());
    if rest("http://") || rest("https://") || rest("mm_file://") {
        return true;
    }
    let media = match kind {
        Kind::Image => "image",
        Kind::Audio => "audio",
        Kind::Video => return url.starts_with("data:video/mp4;base64,"),
        Kind::Text => return false,
    };
    url.strip_prefix("data:")
        .and_then(|r| r.strip_prefix(media))
        .and_then(|r| r.strip_prefix('/'))
        .and_then(|r| r.split_once(";base64,"))
        .is_some_and(|(format, _)| {
            !format.is_empty()
                && format
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+.-".contains(&b))
        })
}

fn url_forms(kind: Kind) -> &'static str {
    match kind {
        Kind::Image => "an http(s) URL, mm_file://FILE_ID or data:image/<format>;base64,... (format in lower case)",
        Kind::Video => "an http(s) URL, mm_file://FILE_ID or data:video/mp4;base64,...",
        _ => "an http(s) URL, mm_file://FILE_ID or data:audio/<format>;base64,... (format in lower case)",
    }
}

/// One item of `content`; `regeneration` allows the `base_video` role.
fn item(index: usize, value: &Value, regeneration: bool) -> Result<Item<'_>, String> {
    let at = format!("content.{index}");
    let object = value
        .as_object()
        .ok_or_else(|| format!("{at}: must be an object with a \"type\", found {}", found(value)))?;
    let kinds = [Kind::Text, Kind::Image, Kind::Video, Kind::Audio];
    let names: Vec<&str> = kinds.iter().map(|k| k.member()).collect();
    let kind = match object.get("type") {
        None => return Err(format!("{at}.type: is required (one of {})", quoted(&names))),
        Some(Value::String(t)) => *kinds
            .iter()
            .find(|k| k.member() == t)
            .ok_or_else(|| format!("{at}.type: {t:?} is not one of {}", quoted(&names)))?,
        Some(other) => return Err(format!("{at}.type: must be a string, found {}", found(other))),
    };
    let role_names: Vec<&str> = ROLES
        .iter()
        .filter(|(_, r)| regeneration || *r != Role::BaseVideo)
        .map(|(n, _)| *n)
        .collect();
    let role = match object.get("role") {
        None => None,
        Some(Value::String(r)) => Some(
            ROLES
                .iter()
                .filter(|(n, _)| role_names.contains(n))
                .find(|(n, _)| n == r)
                .map(|(_, role)| *role)
                .ok_or_else(|| format!("{at}.role: {r:?} is not one of {}", quoted(&role_names)))?,
        ),
        Some(other) => return Err(format!("{at}.role: must be a string, found {}", found(other))),
    };
    let mut text = None;
    match kind {
        Kind::Text => match object.get("text") {
            None => return Err(format!("{at}.text: is required in a text item")),
            Some(Value::String(t)) => text = Some(t.as_str()),
            Some(other) => return Err(format!("{at}.text: must be a string, found {}", found(other))),
        },
        media => {
            let member = media.member();
            let url = match object.get(member) {
                None => {
                    return Err(format!(
                        "{at}.{member}: is required in a {member} item ({{\"url\": ...}})"
                    ))
                }
                Some(Value::Object(o)) => o.get("url"),
                Some(other) => {
                    return Err(format!(
                        "{at}.{member}: must be an object {{\"url\": ...}}, found {}",
                        found(other)
                    ))
                }
            };
            match url {
                None => return Err(format!("{at}.{member}.url: is required")),
                Some(Value::String(url)) if url_form_ok(media, url) => {}
                Some(Value::String(_)) => return Err(format!("{at}.{member}.url: must be {}", url_forms(media))),
                Some(other) => return Err(format!("{at}.{member}.url: must be a string, found {}", found(other))),
            }
            match role {
                Some(role) if role.kind() != media => {
                    return Err(format!(
                        "{at}.role: {:?} is for a {} item, not a {member} item",
                        role.name(),
                        role.kind().member()
                    ))
                }
                None if media != Kind::Image => {
                    let wanted = if media == Kind::Video {
                        "\"reference_video\""
                    } else {
                        "\"reference_audio\""
                    };
                    return Err(format!("{at}.role: is required in a {member} item ({wanted})"));
                }
                _ => {}
            }
        }
    }
    Ok(Item {
        index,
        kind,
        role,
        text,
    })
}

/// `content`, each item checked on its own.
fn items(body: &Map<String, Value>, regeneration: bool) -> Result<Vec<Item<'_>>, String> {
    let content = match body.get("content") {
        None => {
            return Err(if regeneration {
                "content: give source_task_id, or content with one video_url item of role \"base_video\"".to_owned()
            } else {
                format!("content: is required: an array with one text item ({NO_TEXT})")
            })
        }
        Some(Value::Array(items)) if items.is_empty() => return Err(format!("content: is empty; {NO_TEXT}")),
        Some(Value::Array(items)) => items,
        Some(other) => return Err(format!("content: must be an array of items, found {}", found(other))),
    };
    content
        .iter()
        .enumerate()
        .map(|(i, v)| item(i, v, regeneration))
        .collect()
}

/// A text item's length, in characters as the reference counts them.
fn check_length(item: &Item<'_>, max: usize) -> Result<(), String> {
    let chars = item.text.map_or(0, |t| t.chars().count());
    if chars > max {
        return Err(format!(
            "content.{}.text: {chars} characters; at most {max}",
            item.index
        ));
    }
    Ok(())
}

fn optional_callback(body: &Map<String, Value>) -> Result<Option<String>, String> {
    match body.get("callback_url") {
        None => Ok(None),
        Some(Value::String(url)) => Ok(Some(url.clone()).filter(|u| !u.is_empty())),
        Some(other) => Err(format!("callback_url: must be a string, found {}", found(other))),
    }
}

fn check_watermark(body: &Map<String, Value>) -> Result<(), String> {
    match body.get("aigc_watermark") {
        None | Some(Value::Bool(_)) => Ok(()),
        Some(other) => Err(format!("aigc_watermark: must be true or false, found {}", found(other))),
    }
}

/// A whole number of seconds, as JSON Schema's `integer` reads one (`5.0` too).
fn whole(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1e9)
            .map(|f| f as u64)
    })
}

/// The resolutions and durations a model takes.
fn table(model: V2Model) -> (&'static [&'static str], std::ops::RangeInclusive<u64>) {
    match model {
        V2Model::H3 => (&["768P", "2K"], 4..=15),
        V2Model::H3Max => (&["480P", "768P"], 5..=15),
    }
}

/// Checks a `POST /v2/video_generation` body (already JSON).
pub fn generation(doc: &Value) -> Result<Generation, String> {
    let body = doc
        .as_object()
        .ok_or_else(|| format!("body: must be a JSON object, found {}", found(doc)))?;
    let models = quoted(&V2Model::ALL.map(V2Model::as_str));
    let model = match body.get("model") {
        None => return Err(format!("model: is required (one of {models})")),
        Some(Value::String(m)) => V2Model::parse(m).ok_or_else(|| format!("model: {m:?} is not one of {models}"))?,
        Some(other) => return Err(format!("model: must be a string, found {}", found(other))),
    };
    let for_model = format!("for model {}", model.as_str());
    let items = items(body, false)?;

    let texts: Vec<&Item<'_>> = items.iter().filter(|i| i.kind == Kind::Text).collect();
    if texts.len() > 1 {
        return Err(format!(
            "content: one text item (the prompt) only; found {} (items {} and {})",
            texts.len(),
            texts[0].index,
            texts[1].index
        ));
    }
    let prompt = match texts.first() {
        Some(text) if text.text.is_some_and(|t| !t.trim().is_empty()) => {
            check_length(text, MAX_TEXT)?;
            text.text.unwrap_or_default().to_owned()
        }
        _ => return Err(NO_TEXT.to_owned()),
    };

    let images: Vec<&Item<'_>> = items.iter().filter(|i| i.kind == Kind::Image).collect();
    if images.len() > 1 {
        if let Some(bare) = images.iter().find(|i| i.role.is_none()) {
            return Err(format!(
                "content.{}.role: is required when content has more than one image_url item",
                bare.index
            ));
        }
    }
    // A single image without a role is the first frame.
    let role_of = |item: &Item<'_>| match (item.kind, item.role) {
        (Kind::Image, None) => Some(Role::FirstFrame),
        // A role on a text item means nothing.
        (Kind::Text, _) => None,
        (_, role) => role,
    };
    let count = |role: Role| items.iter().filter(|i| role_of(i) == Some(role)).count();
    for (role, max) in [
        (Role::FirstFrame, 1),
        (Role::LastFrame, 1),
        (Role::ReferenceImage, MAX_REFERENCE_IMAGES),
        (Role::ReferenceVideo, MAX_REFERENCE_VIDEOS),
        (Role::ReferenceAudio, MAX_REFERENCE_AUDIOS),
    ] {
        let n = count(role);
        if n > max {
            let what = match role.kind() {
                Kind::Image => "image",
                Kind::Video => "video",
                _ => "audio",
            };
            return Err(format!(
                "content: at most {max} {} {what}{}; found {n}",
                role.name(),
                if max > 1 { "s" } else { "" }
            ));
        }
    }
    let references: Vec<&Item<'_>> = items
        .iter()
        .filter(|i| role_of(i).is_some_and(Role::is_reference))
        .collect();
    if references.len() > MAX_REFERENCES {
        return Err(format!(
            "content: at most {MAX_REFERENCES} reference items in all; found {}",
            references.len()
        ));
    }
    let frames = count(Role::FirstFrame) + count(Role::LastFrame);
    if frames > 0 && !references.is_empty() {
        return Err(
            "content: first_frame / last_frame images cannot be mixed with reference_image, reference_video or \
             reference_audio items (image-to-video and reference-to-video are exclusive)"
                .to_owned(),
        );
    }
    if model == V2Model::H3Max {
        if let Some(reference) = references.first() {
            return Err(format!(
                "content.{}.role: {:?} is not for MiniMax-H3-Max, which makes text-to-video and image-to-video only",
                reference.index,
                role_of(reference).map_or("", Role::name)
            ));
        }
    }

    let (resolutions, durations) = table(model);
    let resolution = match body.get("resolution") {
        None => {
            return Err(format!(
                "resolution: is required (one of {} {for_model})",
                quoted(resolutions)
            ))
        }
        Some(Value::String(r)) => *resolutions
            .iter()
            .find(|known| *known == r)
            .ok_or_else(|| format!("resolution: {r:?} is not one of {} ({for_model})", quoted(resolutions)))?,
        Some(other) => return Err(format!("resolution: must be a string, found {}", found(other))),
    };
    let (low, high) = (durations.start(), durations.end());
    let duration = match body.get("duration") {
        None => return Err(format!("duration: is required ({low} to {high} seconds {for_model})")),
        Some(value) => match whole(value) {
            Some(d) if durations.contains(&d) => d as u32,
            Some(_) => {
                return Err(format!(
                    "duration: {value} is not between {low} and {high} seconds ({for_model})"
                ))
            }
            None => {
                return Err(format!(
                    "duration: must be a whole number of seconds from {low} to {high}, found {}",
                    if value.is_number() { "a fraction" } else { found(value) }
                ))
            }
        },
    };

    let asked = match body.get("ratio") {
        None => None,
        Some(Value::String(r)) => {
            Some(v2_ratio(r).ok_or_else(|| format!("ratio: {r:?} is not one of {}", quoted(&V2_RATIOS)))?)
        }
        Some(other) => return Err(format!("ratio: must be a string, found {}", found(other))),
    };
    let concrete = quoted(&V2_RATIOS[1..]);
    let ratio = if frames > 0 {
        // Image-to-video: the image decides; any ratio given is ignored.
        "adaptive"
    } else if !references.is_empty() {
        asked.unwrap_or("adaptive")
    } else {
        match asked {
            None => return Err(format!("ratio: is required with text alone (one of {concrete})")),
            Some("adaptive") => {
                return Err(format!(
                    "ratio: \"adaptive\" follows an image; with text alone give one of {concrete}"
                ))
            }
            Some(r) => r,
        }
    };

    match body.get("extra") {
        None => {}
        Some(Value::Object(extra)) => {
            for (key, value) in extra {
                if key != "prompt_expansion_mode" {
                    return Err(format!(
                        "extra.{key}: is not an option (extra takes prompt_expansion_mode only)"
                    ));
                }
                let modes = ["disabled", "balanced", "quality"];
                if !value.as_str().is_some_and(|m| modes.contains(&m)) {
                    return Err(format!(
                        "extra.prompt_expansion_mode: {value} is not one of {}",
                        quoted(&modes)
                    ));
                }
            }
        }
        Some(other) => return Err(format!("extra: must be an object, found {}", found(other))),
    }
    let callback = optional_callback(body)?;
    check_watermark(body)?;
    let count_u8 = |n: usize| u8::try_from(n).unwrap_or(u8::MAX);
    Ok(Generation {
        model,
        resolution,
        duration,
        ratio,
        images: count_u8(images.len()),
        videos: count_u8(count(Role::ReferenceVideo)),
        audios: count_u8(count(Role::ReferenceAudio)),
        prompt,
        callback,
    })
}

/// Checks a `POST /v2/video_regeneration` body (already JSON). Whether the
/// source task may be regenerated is the store's to say.
pub fn regeneration(doc: &Value) -> Result<Regeneration, String> {
    let body = doc
        .as_object()
        .ok_or_else(|| format!("body: must be a JSON object, found {}", found(doc)))?;
    match body.get("model") {
        None => return Err("model: is required (\"MiniMax-H3\")".to_owned()),
        Some(Value::String(m)) if m == "MiniMax-H3" => {}
        Some(Value::String(m)) => {
            return Err(format!(
                "model: {m:?} is not one of \"MiniMax-H3\" (regeneration makes a MiniMax-H3 768P output 2K)"
            ))
        }
        Some(other) => return Err(format!("model: must be a string, found {}", found(other))),
    }
    let (source, prompt) = match (body.get("source_task_id"), body.get("content")) {
        (Some(_), Some(_)) => {
            return Err(
                "source_task_id: give source_task_id or content (with one base_video item), not both".to_owned(),
            )
        }
        (Some(Value::String(id)), None) if !id.is_empty() => (Some(id.clone()), None),
        (Some(other), None) => {
            return Err(format!(
                "source_task_id: must be a task id (a non-empty string), found {}",
                if other.is_string() { "\"\"" } else { found(other) }
            ))
        }
        (None, _) => {
            let items = items(body, true)?;
            for item in items.iter().filter(|i| i.kind == Kind::Text) {
                check_length(item, MAX_REGENERATION_TEXT)?;
            }
            let base = items.iter().filter(|i| i.role == Some(Role::BaseVideo)).count();
            if base != 1 {
                return Err(format!(
                    "content: exactly one video_url item with role \"base_video\" (the 768P video to regenerate); found {base}"
                ));
            }
            let prompt = items.iter().find_map(|i| i.text).map(str::to_owned);
            (None, prompt)
        }
    };
    match body.get("resolution") {
        None => return Err("resolution: is required (\"2K\")".to_owned()),
        Some(Value::String(r)) if r == "2K" => {}
        Some(Value::String(r)) => {
            return Err(format!(
                "resolution: {r:?} is not one of \"2K\" (regeneration makes 2K)"
            ))
        }
        Some(other) => return Err(format!("resolution: must be a string, found {}", found(other))),
    }
    let callback = optional_callback(body)?;
    check_watermark(body)?;
    Ok(Regeneration {
        source,
        prompt,
        callback,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Contract;
    use serde_json::json;

    fn text(t: &str) -> Value {
        json!({"type": "text", "text": t})
    }

    fn image(role: Option<&str>) -> Value {
        let mut item = json!({"type": "image_url", "image_url": {"url": "https://example.com/a.png"}});
        if let Some(role) = role {
            item["role"] = json!(role);
        }
        item
    }

    fn media(kind: &str, role: &str) -> Value {
        json!({"type": kind, kind: {"url": "https://example.com/x"}, "role": role})
    }

    fn body(content: Vec<Value>) -> Value {
        json!({"model": "MiniMax-H3", "content": content, "resolution": "768P", "duration": 6})
    }

    fn with(mut doc: Value, key: &str, value: Value) -> Value {
        doc[key] = value;
        doc
    }

    fn without(mut doc: Value, key: &str) -> Value {
        doc.as_object_mut().unwrap().remove(key);
        doc
    }

    /// Bodies the reference takes, and what they ask for.
    fn accepted() -> Vec<(Value, &'static str)> {
        let t2v = with(body(vec![text("a cat")]), "ratio", json!("16:9"));
        vec![
            (t2v.clone(), "16:9"),
            (with(t2v.clone(), "resolution", json!("2K")), "16:9"),
            (with(t2v.clone(), "duration", json!(4)), "16:9"),
            (with(t2v.clone(), "duration", json!(15.0)), "16:9"),
            (
                with(t2v.clone(), "callback_url", json!("http://127.0.0.1:1/cb")),
                "16:9",
            ),
            (with(t2v.clone(), "aigc_watermark", json!(true)), "16:9"),
            // A single image without a role is the first frame; the ratio is ignored.
            (
                with(body(vec![text("a"), image(None)]), "ratio", json!("9:16")),
                "adaptive",
            ),
            (body(vec![text("a"), image(Some("last_frame"))]), "adaptive"),
            (
                body(vec![text("a"), image(Some("first_frame")), image(Some("last_frame"))]),
                "adaptive",
            ),
            // References: video and audio too, any mix up to 12; ratio optional.
            (
                body(vec![
                    text("a"),
                    media("video_url", "reference_video"),
                    media("audio_url", "reference_audio"),
                ]),
                "adaptive",
            ),
            (
                with(
                    body(vec![text("a"), image(Some("reference_image"))]),
                    "ratio",
                    json!("1:1"),
                ),
                "1:1",
            ),
            (
                body(
                    std::iter::once(text("a"))
                        .chain((0..9).map(|_| image(Some("reference_image"))))
                        .chain((0..3).map(|_| media("video_url", "reference_video")))
                        .collect(),
                ),
                "adaptive",
            ),
            // mm_file:// and data URLs.
            (
                body(vec![
                    text("a"),
                    json!({"type": "image_url", "image_url": {"url": "mm_file://12345"}}),
                ]),
                "adaptive",
            ),
            (
                body(vec![
                    text("a"),
                    json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}, "role": "first_frame"}),
                ]),
                "adaptive",
            ),
            (
                body(vec![
                    text("a"),
                    json!({"type": "video_url", "video_url": {"url": "data:video/mp4;base64,AAAA"}, "role": "reference_video"}),
                    json!({"type": "audio_url", "audio_url": {"url": "mm_file://9"}, "role": "reference_audio"}),
                ]),
                "adaptive",
            ),
            // 7000 characters (not bytes).
            (
                with(body(vec![text(&"猫".repeat(MAX_TEXT))]), "ratio", json!("21:9")),
                "21:9",
            ),
            // MiniMax-H3-Max: 480P and 768P, 5 to 15 s, extra.
            (
                json!({"model": "MiniMax-H3-Max", "content": [text("a")], "resolution": "480P", "duration": 5,
                       "ratio": "9:16", "extra": {"prompt_expansion_mode": "quality"}}),
                "9:16",
            ),
            (
                json!({"model": "MiniMax-H3-Max", "content": [text("a"), image(None)], "resolution": "768P", "duration": 15}),
                "adaptive",
            ),
            (with(t2v, "extra", json!({})), "16:9"),
        ]
    }

    /// Bodies the reference refuses, and the start of the refusal.
    fn refused() -> Vec<(Value, &'static str)> {
        let t2v = with(body(vec![text("a cat")]), "ratio", json!("16:9"));
        let max = |content: Vec<Value>| json!({"model": "MiniMax-H3-Max", "content": content, "resolution": "768P", "duration": 6, "ratio": "16:9"});
        vec![
            (json!([]), "body: must be a JSON object"),
            (without(t2v.clone(), "model"), "model: is required"),
            (
                with(t2v.clone(), "model", json!("MiniMax-H2")),
                "model: \"MiniMax-H2\" is not one of",
            ),
            (without(t2v.clone(), "resolution"), "resolution: is required"),
            (without(t2v.clone(), "duration"), "duration: is required"),
            (
                with(t2v.clone(), "resolution", json!("480P")),
                "resolution: \"480P\" is not one of \"768P\", \"2K\"",
            ),
            (with(t2v.clone(), "resolution", json!("1080P")), "resolution: \"1080P\""),
            (with(t2v.clone(), "duration", json!(16)), "duration: 16 is not"),
            (with(t2v.clone(), "duration", json!(3)), "duration: 3 is not"),
            (
                with(t2v.clone(), "duration", json!(5.5)),
                "duration: must be a whole number",
            ),
            (
                with(t2v.clone(), "duration", json!("5")),
                "duration: must be a whole number",
            ),
            (without(t2v.clone(), "content"), "content: is required"),
            (with(t2v.clone(), "content", json!([])), "content: is empty"),
            (
                with(t2v.clone(), "content", json!("a cat")),
                "content: must be an array",
            ),
            (with(t2v.clone(), "content", json!([1])), "content.0: must be an object"),
            (
                with(t2v.clone(), "content", json!([{"text": "x"}])),
                "content.0.type: is required",
            ),
            (
                with(t2v.clone(), "content", json!([{"type": "video"}])),
                "content.0.type: \"video\" is not one of",
            ),
            (
                with(t2v.clone(), "content", json!([{"type": "text"}])),
                "content.0.text: is required",
            ),
            // No text item, an empty one, two.
            (body(vec![image(None)]), NO_TEXT),
            (with(body(vec![text("  ")]), "ratio", json!("16:9")), NO_TEXT),
            (
                with(body(vec![text("a"), text("b")]), "ratio", json!("16:9")),
                "content: one text item (the prompt) only; found 2",
            ),
            (
                with(body(vec![text(&"x".repeat(MAX_TEXT + 1))]), "ratio", json!("16:9")),
                "content.0.text: 7001 characters; at most 7000",
            ),
            // Text alone: a concrete ratio.
            (body(vec![text("a")]), "ratio: is required with text alone"),
            (
                with(body(vec![text("a")]), "ratio", json!("adaptive")),
                "ratio: \"adaptive\" follows an image",
            ),
            (with(t2v.clone(), "ratio", json!("2:1")), "ratio: \"2:1\" is not one of"),
            // Frames.
            (
                body(vec![text("a"), image(Some("first_frame")), image(Some("first_frame"))]),
                "content: at most 1 first_frame image; found 2",
            ),
            (
                body(vec![text("a"), image(Some("last_frame")), image(Some("last_frame"))]),
                "content: at most 1 last_frame image; found 2",
            ),
            (
                body(vec![text("a"), image(None), image(Some("last_frame"))]),
                "content.1.role: is required when content has more than one image_url item",
            ),
            (
                body(vec![text("a"), image(Some("middle_frame"))]),
                "content.1.role: \"middle_frame\" is not one of",
            ),
            (
                body(vec![text("a"), image(Some("base_video"))]),
                "content.1.role: \"base_video\" is not one of",
            ),
            (
                body(vec![text("a"), image(Some("reference_video"))]),
                "content.1.role: \"reference_video\" is for a video_url item, not a image_url item",
            ),
            (
                body(vec![
                    text("a"),
                    json!({"type": "video_url", "video_url": {"url": "https://e.com/v.mp4"}}),
                ]),
                "content.1.role: is required in a video_url item",
            ),
            // References.
            (
                body(
                    std::iter::once(text("a"))
                        .chain((0..10).map(|_| image(Some("reference_image"))))
                        .collect(),
                ),
                "content: at most 9 reference_image images; found 10",
            ),
            (
                body(
                    std::iter::once(text("a"))
                        .chain((0..4).map(|_| media("video_url", "reference_video")))
                        .collect(),
                ),
                "content: at most 3 reference_video videos; found 4",
            ),
            (
                body(
                    std::iter::once(text("a"))
                        .chain((0..4).map(|_| media("audio_url", "reference_audio")))
                        .collect(),
                ),
                "content: at most 3 reference_audio audios; found 4",
            ),
            (
                body(
                    std::iter::once(text("a"))
                        .chain((0..9).map(|_| image(Some("reference_image"))))
                        .chain((0..2).map(|_| media("video_url", "reference_video")))
                        .chain((0..2).map(|_| media("audio_url", "reference_audio")))
                        .collect(),
                ),
                "content: at most 12 reference items in all; found 13",
            ),
            (
                body(vec![
                    text("a"),
                    image(Some("first_frame")),
                    image(Some("reference_image")),
                ]),
                "content: first_frame / last_frame images cannot be mixed",
            ),
            (
                body(vec![text("a"), image(None), media("audio_url", "reference_audio")]),
                "content: first_frame / last_frame images cannot be mixed",
            ),
            // URLs.
            (
                body(vec![
                    text("a"),
                    json!({"type": "image_url", "image_url": {"url": "ftp://e.com/a.png"}}),
                ]),
                "content.1.image_url.url: must be an http(s) URL, mm_file://",
            ),
            (
                body(vec![
                    text("a"),
                    json!({"type": "image_url", "image_url": {"url": "data:image/PNG;base64,x"}}),
                ]),
                "content.1.image_url.url: must be",
            ),
            (
                body(vec![
                    text("a"),
                    json!({"type": "video_url", "video_url": {"url": "data:video/mov;base64,x"}, "role": "reference_video"}),
                ]),
                "content.1.video_url.url: must be",
            ),
            (
                body(vec![text("a"), json!({"type": "image_url", "image_url": {}})]),
                "content.1.image_url.url: is required",
            ),
            (
                body(vec![text("a"), json!({"type": "audio_url", "role": "reference_audio"})]),
                "content.1.audio_url: is required",
            ),
            // MiniMax-H3-Max.
            (
                max(vec![text("a"), image(Some("reference_image"))]),
                "content.1.role: \"reference_image\" is not for MiniMax-H3-Max",
            ),
            (
                with(max(vec![text("a")]), "resolution", json!("2K")),
                "resolution: \"2K\" is not one of \"480P\", \"768P\" (for model MiniMax-H3-Max)",
            ),
            (
                with(max(vec![text("a")]), "duration", json!(4)),
                "duration: 4 is not between 5 and 15 seconds (for model MiniMax-H3-Max)",
            ),
            (
                with(
                    max(vec![text("a")]),
                    "extra",
                    json!({"prompt_expansion_mode": "balance"}),
                ),
                "extra.prompt_expansion_mode: \"balance\" is not one of",
            ),
            (
                with(
                    max(vec![text("a")]),
                    "extra",
                    json!({"prompt_expansion_mode": "quality", "seed": 1}),
                ),
                "extra.seed: is not an option",
            ),
            (
                with(max(vec![text("a")]), "extra", json!("quality")),
                "extra: must be an object",
            ),
            (
                with(t2v.clone(), "callback_url", json!(1)),
                "callback_url: must be a string",
            ),
            (
                with(t2v, "aigc_watermark", json!("no")),
                "aigc_watermark: must be true or false",
            ),
        ]
    }

    #[test]
    fn the_rules_take_what_the_reference_takes() {
        let schema = Contract::embedded();
        let schema = schema.v2_submit_request();
        for (doc, ratio) in accepted() {
            let asked = generation(&doc).unwrap_or_else(|e| panic!("{doc}: {e}"));
            assert_eq!(asked.ratio, ratio, "{doc}");
            assert!(
                schema.is_valid(&doc),
                "the schema refuses {doc}: {:?}",
                schema.violations(&doc)
            );
        }
    }

    #[test]
    fn the_rules_refuse_what_the_reference_refuses_naming_the_field() {
        let schema = Contract::embedded();
        let schema = schema.v2_submit_request();
        for (doc, message) in refused() {
            let refusal = generation(&doc).err().unwrap_or_else(|| panic!("accepted {doc}"));
            assert!(refusal.starts_with(message), "{doc}:\n  {refusal}\n  wanted {message}");
            assert!(
                !schema.is_valid(&doc),
                "the schema accepts {doc}, refused with {refusal}"
            );
        }
    }

    #[test]
    fn what_a_generation_asks_for() {
        let doc = json!({"model": "MiniMax-H3", "content": [
            text("  a cat  "), image(Some("reference_image")), image(Some("reference_image")),
            media("video_url", "reference_video"), media("audio_url", "reference_audio"),
        ], "resolution": "2K", "duration": 9, "callback_url": ""});
        let asked = generation(&doc).unwrap();
        assert_eq!(
            (
                asked.images,
                asked.videos,
                asked.audios,
                asked.duration,
                asked.resolution
            ),
            (2, 1, 1, 9, "2K")
        );
        assert_eq!((asked.prompt.as_str(), asked.callback), ("  a cat  ", None));
    }

    #[test]
    fn regeneration_bodies_both_ways() {
        let contract = Contract::embedded();
        let schema = contract.v2_regeneration_request();
        let base = json!({"type": "video_url", "video_url": {"url": "https://e.com/768p.mp4"}, "role": "base_video"});
        let by_id = json!({"model": "MiniMax-H3", "source_task_id": "424010985738629", "resolution": "2K"});
        let by_video = json!({"model": "MiniMax-H3", "content": [text("a"), image(Some("first_frame")), base.clone()], "resolution": "2K"});
        for doc in [
            by_id.clone(),
            with(by_id.clone(), "callback_url", json!("http://127.0.0.1:1/")),
            with(by_id.clone(), "aigc_watermark", json!(false)),
            by_video.clone(),
            json!({"model": "MiniMax-H3", "content": [base.clone()], "resolution": "2K"}),
        ] {
            regeneration(&doc).unwrap_or_else(|e| panic!("{doc}: {e}"));
            assert!(schema.is_valid(&doc), "{doc}: {:?}", schema.violations(&doc));
        }
        assert_eq!(regeneration(&by_id).unwrap().source.as_deref(), Some("424010985738629"));
        assert_eq!(regeneration(&by_video).unwrap().prompt.as_deref(), Some("a"));
        for (doc, message) in [
            (
                with(by_id.clone(), "content", json!([base.clone()])),
                "source_task_id: give source_task_id or content",
            ),
            (
                without(by_id.clone(), "source_task_id"),
                "content: give source_task_id, or content",
            ),
            (
                with(by_id.clone(), "source_task_id", json!("")),
                "source_task_id: must be a task id",
            ),
            (
                with(by_id.clone(), "source_task_id", json!(42)),
                "source_task_id: must be a task id",
            ),
            (
                with(by_id.clone(), "model", json!("MiniMax-H3-Max")),
                "model: \"MiniMax-H3-Max\" is not one of \"MiniMax-H3\"",
            ),
            (without(by_id.clone(), "model"), "model: is required"),
            (
                with(by_id.clone(), "resolution", json!("768P")),
                "resolution: \"768P\" is not one of \"2K\"",
            ),
            (without(by_id.clone(), "resolution"), "resolution: is required"),
            (
                with(by_video.clone(), "content", json!([text("a")])),
                "content: exactly one video_url item with role \"base_video\"",
            ),
            (
                with(by_video.clone(), "content", json!([base.clone(), base.clone()])),
                "content: exactly one video_url item with role \"base_video\" (the 768P video to regenerate); found 2",
            ),
            (
                with(
                    by_video.clone(),
                    "content",
                    json!([text(&"x".repeat(MAX_REGENERATION_TEXT + 1)), base.clone()]),
                ),
                "content.0.text: 40001 characters; at most 40000",
            ),
            (
                with(
                    by_video.clone(),
                    "content",
                    json!([image(Some("base_video")), base.clone()]),
                ),
                "content.0.role: \"base_video\" is for a video_url item",
            ),
            (
                with(by_id, "callback_url", json!(false)),
                "callback_url: must be a string",
            ),
        ] {
            let refusal = regeneration(&doc).err().unwrap_or_else(|| panic!("accepted {doc}"));
            assert!(refusal.starts_with(message), "{doc}:\n  {refusal}\n  wanted {message}");
            assert!(!schema.is_valid(&doc), "the schema accepts {doc}");
        }
    }
}
