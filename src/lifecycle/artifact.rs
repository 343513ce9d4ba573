//! The generated result of a task: file id, size, download-link parts.
//!
//! Made with `fake` from a ChaCha8 generator keyed by `--seed` and the task
//! id: ChaCha's output is fixed by its specification, so the same seed and
//! task id give the same bytes on every run and every machine.

use fake::rand::rngs::ChaCha8Rng;
use fake::rand::SeedableRng;
use fake::{Fake, Faker, StringFaker};

/// A requested resolution and the frame size MiniMax renders for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolution {
    /// As requested: `768P`.
    pub label: &'static str,
    pub width: u32,
    pub height: u32,
}

impl Resolution {
    /// 768P is 1366x768 (the documented example), 1080P is 1920x1080.
    pub fn from_label(label: &str) -> Option<Self> {
        let (label, width, height) = match label {
            "512P" => ("512P", 912, 512),
            "720P" => ("720P", 1280, 720),
            "768P" => ("768P", 1366, 768),
            "1080P" => ("1080P", 1920, 1080),
            _ => return None,
        };
        Some(Self { label, width, height })
    }

    /// A v2 (MiniMax-H3, MiniMax-H3-Max) frame: `480P`, `768P` or `2K` at
    /// an aspect ratio; `adaptive` follows the first frame image, which the
    /// mock does not read, so it is 16:9 (see docs/apis.md).
    ///
    /// `2K`: the short side is 1440 and the long side follows the ratio
    /// (2560x1440 at 16:9). `768P` and `480P` follow what MiniMax's
    /// regeneration page says a 768P output is (sides divisible by 32, at
    /// most 768x1344 pixels; 1344x768 at 16:9, as measured by a third
    /// party), 480P scaled down from it: see [`Resolution::v2_budget`].
    pub fn for_v2(label: &str, ratio: &str) -> Option<Self> {
        let (label, short) = match label {
            "480P" => ("480P", 480),
            "768P" => ("768P", 768),
            "2K" => ("2K", 1440),
            _ => return None,
        };
        let (w, h): (u32, u32) = match ratio {
            "21:9" => (21, 9),
            "16:9" | "adaptive" => (16, 9),
            "4:3" => (4, 3),
            "1:1" => (1, 1),
            "3:4" => (3, 4),
            "9:16" => (9, 16),
            _ => return None,
        };
        let (a, b) = (w.max(h), w.min(h));
        let (long, short) = if label == "2K" {
            // The long side, rounded to an even number as H.264 needs.
            ((short * a / b + 1) & !1, short)
        } else {
            Self::v2_budget(short, a, b)
        };
        let (width, height) = if w >= h { (long, short) } else { (short, long) };
        Some(Self { label, width, height })
    }

    /// (long, short) sides of a `768P` or `480P` frame at the ratio `a:b`
    /// (a ≥ b): both divisible by 32, within an area of `short` × 1.75
    /// `short` (768x1344, or 480x840 for 480P). The short side is `short`
    /// and the long side the ratio's, rounded down to a multiple of 32;
    /// while that is over the area, the short side steps down by 32. So
    /// 16:9 is 1344x768, 4:3 1024x768, 1:1 768x768 and 21:9 1472x640.
    fn v2_budget(short: u32, a: u32, b: u32) -> (u32, u32) {
        let area = short * short * 7 / 4;
        let mut side = short;
        loop {
            let long = (side * a / b) / 32 * 32;
            if long * side <= area || side <= 32 {
                return (long.max(side), side);
            }
            side -= 32;
        }
    }

    /// MiniMax's default when a request names no resolution: 768P for the
    /// Hailuo models, 720P for the others (T2V-01, T2V-01-Director, the
    /// I2V-01 models, S2V-01).
    pub fn default_for_model(model: &str) -> &'static str {
        match model {
            "T2V-01" | "T2V-01-Director" | "I2V-01" | "I2V-01-Director" | "I2V-01-live" | "S2V-01" => "720P",
            _ => "768P",
        }
    }
}

/// A v2 model. Both render the same way; they differ in what a request
/// may ask (resolutions, durations, inputs: `server::api::v2_rules`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum V2Model {
    #[default]
    H3,
    H3Max,
}

impl V2Model {
    pub const ALL: [V2Model; 2] = [V2Model::H3, V2Model::H3Max];

    pub fn as_str(self) -> &'static str {
        match self {
            V2Model::H3 => "MiniMax-H3",
            V2Model::H3Max => "MiniMax-H3-Max",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }
}

/// Which v2 endpoint made a task (`task_type`): `/v2/video_generation`
/// or `/v2/video_regeneration`. (`h3_context_ir` makes text, not video:
/// the mock does not serve it.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TaskType {
    #[default]
    Generation,
    Regeneration,
}

impl TaskType {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskType::Generation => "generation",
            TaskType::Regeneration => "regeneration",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [TaskType::Generation, TaskType::Regeneration]
            .into_iter()
            .find(|t| t.as_str() == name)
    }
}

/// What a v2 task was asked for beyond its frame and length: model, task
/// type and how many images, reference videos and reference audios came
/// with it (for `usage`). A byte each: a million tasks stay small.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct V2Request {
    pub model: V2Model,
    pub task_type: TaskType,
    /// first_frame + last_frame + reference_image items.
    pub images: u8,
    /// reference_video items.
    pub videos: u8,
    /// reference_audio items.
    pub audios: u8,
}

/// The media the mock never downloads count as this many seconds each: the
/// shortest clip MiniMax takes.
pub const ASSUMED_CLIP_SECONDS: u32 = 2;

/// A finished v2 video task's `usage`, as the reference documents it.
/// MiniMax does not publish how it converts to tokens; the rates here fit
/// its two examples (2K 16:9, 5 s: 260,390 output tokens generated, 97,645
/// regenerated; one image and 6 s of audio: 13,500 input tokens) and scale
/// with the frame's area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V2Usage {
    pub total_seconds: u32,
    pub input_seconds: u32,
    pub output_seconds: u32,
    pub input_image_count: u32,
    /// Absent without reference audio.
    pub input_audio_seconds: Option<u32>,
    pub total_tokens: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl V2Usage {
    /// Output tokens a second of 2K 16:9 (2560x1440) costs, generated and regenerated.
    const GENERATED_PER_SECOND: u64 = 52_078;
    const REGENERATED_PER_SECOND: u64 = 19_529;
    /// Input tokens an image, and a second of reference video or audio.
    const PER_IMAGE: u64 = 4_500;
    const PER_INPUT_SECOND: u64 = 1_500;

    pub fn of(request: &V2Request, resolution: Resolution, duration_s: u32) -> Self {
        let regenerated = request.task_type == TaskType::Regeneration;
        // A regeneration's base video is not counted (the reference's example: 0).
        let (images, videos, audios) = if regenerated {
            (0, 0, 0)
        } else {
            (
                u32::from(request.images),
                u32::from(request.videos),
                u32::from(request.audios),
            )
        };
        let input_seconds = videos * ASSUMED_CLIP_SECONDS;
        let audio_seconds = audios * ASSUMED_CLIP_SECONDS;
        let rate = if regenerated {
            Self::REGENERATED_PER_SECOND
        } else {
            Self::GENERATED_PER_SECOND
        };
        let area = u64::from(resolution.width) * u64::from(resolution.height);
        let completion_tokens = u64::from(duration_s) * rate * area / (2560 * 1440);
        let prompt_tokens =
            u64::from(images) * Self::PER_IMAGE + u64::from(input_seconds + audio_seconds) * Self::PER_INPUT_SECOND;
        Self {
            total_seconds: input_seconds + duration_s,
            input_seconds,
            output_seconds: duration_s,
            input_image_count: images,
            input_audio_seconds: (audios > 0).then_some(audio_seconds),
            total_tokens: prompt_tokens + completion_tokens,
            prompt_tokens,
            completion_tokens,
        }
    }
}

/// What the task produced, as the file service would describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub file_id: u64,
    /// `file_id` as the string the gateway shows in `data.file_id` and `fail_reason`.
    pub file_id_text: String,
    pub bytes: u64,
    pub filename: &'static str,
    pub resolution: Resolution,
    /// The object's unique folder, like the real bucket's UUID.
    pub object_id: String,
    /// Seconds between the task finishing and the file record's `created_at`.
    pub created_delay: u64,
    pub access_key: [String; 2],
    pub signature: [String; 2],
}

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// FNV-1a: tiny and stable across platforms and Rust versions, unlike `DefaultHasher`.
pub fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        hash ^= 0xff;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// A generator for `task_id` under `seed`.
pub fn rng_for(seed: u64, key: &str) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(stable_hash(&[&seed.to_le_bytes(), key.as_bytes()]))
}

/// A MiniMax-style numeric id (15 digits, like `306792606023824`).
pub fn numeric_id(rng: &mut ChaCha8Rng) -> u64 {
    (300_000_000_000_000..400_000_000_000_000u64).fake_with_rng(rng)
}

impl Artifact {
    /// The file id [`Artifact::generate`] gives `task_id`, without the rest:
    /// the store indexes tasks by it before any artifact is made.
    pub fn file_id_of(seed: u64, task_id: &str) -> u64 {
        numeric_id(&mut rng_for(seed, task_id))
    }

    /// The artifact of `task_id`, for a video of `duration_s` seconds.
    pub fn generate(seed: u64, task_id: &str, resolution: Resolution, duration_s: u32) -> Self {
        let mut rng = rng_for(seed, task_id);
        let file_id = numeric_id(&mut rng);
        // About 0.45 bytes per pixel-second of H.264 at MiniMax's bitrates.
        let pixels = u64::from(resolution.width) * u64::from(resolution.height) * u64::from(duration_s.max(1));
        let bytes = pixels * (35..55u64).fake_with_rng::<u64, _>(&mut rng) / 100;
        let (hi, lo): (u64, u64) = (Faker.fake_with_rng(&mut rng), Faker.fake_with_rng(&mut rng));
        let uuid = format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            hi >> 32,
            (hi >> 16) & 0xffff,
            hi & 0x0fff,
            ((lo >> 48) & 0x3fff) | 0x8000,
            lo & 0xffff_ffff_ffff
        );
        let mut key = || {
            format!(
                "LTAI5t{}",
                StringFaker::with(ALNUM.as_bytes().to_vec(), 18).fake_with_rng::<String, _>(&mut rng)
            )
        };
        let access_key = [key(), key()];
        let mut signature = || {
            format!(
                "{}=",
                StringFaker::with(B64.as_bytes().to_vec(), 27).fake_with_rng::<String, _>(&mut rng)
            )
        };
        let signature = [signature(), signature()];
        Self {
            file_id,
            file_id_text: file_id.to_string(),
            bytes,
            filename: "output.mp4",
            resolution,
            object_id: uuid,
            created_delay: (1..40u64).fake_with_rng(&mut rng),
            access_key,
            signature,
        }
    }
}

/// `YYYY-MM-DD` (UTC) of a Unix time, for the object path.
pub fn utc_date(unix_secs: i64) -> String {
    // Howard Hinnant's days-to-civil algorithm.
    let z = unix_secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_and_id_give_the_same_artifact() {
        let r = Resolution::from_label("768P").unwrap();
        let a = Artifact::generate(7, "abc", r, 6);
        assert_eq!(a, Artifact::generate(7, "abc", r, 6));
        assert_ne!(a, Artifact::generate(8, "abc", r, 6));
        assert_ne!(a.file_id, Artifact::generate(7, "abd", r, 6).file_id);
        assert_eq!(a.file_id_text.len(), 15);
        assert_eq!(a.object_id.len(), 36);
        assert!(a.access_key[0].starts_with("LTAI5t") && a.access_key[0].len() == 24);
        assert_ne!(a.access_key[0], a.access_key[1]);
        assert!((2_000_000..6_000_000).contains(&a.bytes), "{}", a.bytes);
    }

    #[test]
    fn pinned_output_is_stable_across_machines() {
        // If this changes, every --seed recording users have changes: treat as a break.
        let a = Artifact::generate(42, "306792606023824", Resolution::from_label("1080P").unwrap(), 6);
        assert_eq!((a.resolution.width, a.resolution.height), (1920, 1080));
        insta::assert_debug_snapshot!(a);
    }

    #[test]
    fn v2_frames_follow_resolution_and_ratio() {
        let size = |l, r| Resolution::for_v2(l, r).map(|r| (r.width, r.height));
        // 768P: sides divisible by 32, at most 768x1344 pixels.
        assert_eq!(size("768P", "16:9"), Some((1344, 768)));
        assert_eq!(size("768P", "adaptive"), Some((1344, 768)));
        assert_eq!(size("768P", "9:16"), Some((768, 1344)));
        assert_eq!(size("768P", "21:9"), Some((1472, 640)));
        assert_eq!(size("768P", "4:3"), Some((1024, 768)));
        assert_eq!(size("768P", "3:4"), Some((768, 1024)));
        assert_eq!(size("768P", "1:1"), Some((768, 768)));
        // 480P: the same rule, at most 480x840.
        assert_eq!(size("480P", "16:9"), Some((832, 480)));
        assert_eq!(size("480P", "9:16"), Some((480, 832)));
        assert_eq!(size("480P", "21:9"), Some((960, 416)));
        assert_eq!(size("480P", "4:3"), Some((640, 480)));
        assert_eq!(size("480P", "1:1"), Some((480, 480)));
        for label in ["480P", "768P"] {
            let short = if label == "480P" { 480 } else { 768 };
            for ratio in ["21:9", "16:9", "4:3", "1:1", "3:4", "9:16"] {
                let (w, h) = size(label, ratio).unwrap();
                assert!(w % 32 == 0 && h % 32 == 0, "{label} {ratio}: {w}x{h}");
                assert!(w * h <= short * short * 7 / 4, "{label} {ratio}: {w}x{h}");
            }
        }
        assert_eq!(size("2K", "1:1"), Some((1440, 1440)));
        assert_eq!(size("2K", "16:9"), Some((2560, 1440)));
        assert_eq!(size("2K", "3:4"), Some((1440, 1920)));
        assert_eq!(size("2K", "21:9"), Some((3360, 1440)));
        assert_eq!(size("1080P", "16:9"), None);
        assert_eq!(size("2K", "2:1"), None);
        // v1's 768P stays the documented example's.
        assert_eq!(
            Resolution::from_label("768P").map(|r| (r.width, r.height)),
            Some((1366, 768))
        );
    }

    #[test]
    fn v2_usage_fits_the_reference_examples() {
        let two_k = Resolution::for_v2("2K", "16:9").unwrap();
        // The query page's example: one image, 6 s of reference audio, 5 s of 2K.
        let request = V2Request {
            images: 1,
            audios: 3,
            ..V2Request::default()
        };
        let usage = V2Usage::of(&request, two_k, 5);
        assert_eq!((usage.completion_tokens, usage.prompt_tokens), (260_390, 13_500));
        assert_eq!(usage.total_tokens, 273_890);
        assert_eq!(usage.input_audio_seconds, Some(6));
        assert_eq!(
            (usage.total_seconds, usage.input_seconds, usage.output_seconds),
            (5, 0, 5)
        );
        // The regeneration example.
        let request = V2Request {
            task_type: TaskType::Regeneration,
            ..V2Request::default()
        };
        let usage = V2Usage::of(&request, two_k, 5);
        assert_eq!((usage.total_tokens, usage.prompt_tokens), (97_645, 0));
        assert_eq!((usage.input_image_count, usage.input_audio_seconds), (0, None));
        // Reference videos count as seconds of input.
        let request = V2Request {
            videos: 2,
            ..V2Request::default()
        };
        let usage = V2Usage::of(&request, Resolution::for_v2("768P", "16:9").unwrap(), 6);
        assert_eq!((usage.total_seconds, usage.input_seconds), (10, 4));
        assert_eq!(V2Model::parse("MiniMax-H3-Max"), Some(V2Model::H3Max));
        assert_eq!(TaskType::parse("regeneration"), Some(TaskType::Regeneration));
    }

    #[test]
    fn dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(1_756_453_535), "2025-08-29");
        assert_eq!(utc_date(951_782_400), "2000-02-29");
    }
}
