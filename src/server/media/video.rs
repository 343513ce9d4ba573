//! The video behind every download link: short H.264 clips (a test pattern
//! with a running timer and its frame size written on it) that browsers
//! play, so a frontend can show the result of a task. There is one clip per
//! frame size the mock reports, in a [`Library`]; `--fixtures DIR` may bring
//! its own (`video/{W}x{H}.mp4` for one size, `video/output.mp4` for all).
//!
//! Range requests are answered (a `<video>` element seeks with them), and a
//! link past its `Expires` is refused as the real bucket refuses it.

use std::fmt;
use std::path::Path;

use bytes::Bytes;

/// The built-in clips, (width, height, MP4), one per frame size the mock
/// reports: the v1 resolutions, then MiniMax-H3's 768P, MiniMax-H3-Max's
/// 480P and 2K, each at 21:9, 16:9, 4:3, 1:1, 3:4 and 9:16 (v2's 768P and
/// 480P sides are divisible by 32: 1344x768, not v1's 1366x768).
/// Made by `fixtures/video/make.sh`, which lists the same sizes.
pub const BUILT_IN: &[(u32, u32, &[u8])] = &[
    (912, 512, include_bytes!("../../../fixtures/video/912x512.mp4")),
    (1280, 720, include_bytes!("../../../fixtures/video/1280x720.mp4")),
    (1366, 768, include_bytes!("../../../fixtures/video/1366x768.mp4")),
    (1920, 1080, include_bytes!("../../../fixtures/video/1920x1080.mp4")),
    (1472, 640, include_bytes!("../../../fixtures/video/1472x640.mp4")),
    (1344, 768, include_bytes!("../../../fixtures/video/1344x768.mp4")),
    (1024, 768, include_bytes!("../../../fixtures/video/1024x768.mp4")),
    (768, 768, include_bytes!("../../../fixtures/video/768x768.mp4")),
    (768, 1024, include_bytes!("../../../fixtures/video/768x1024.mp4")),
    (768, 1344, include_bytes!("../../../fixtures/video/768x1344.mp4")),
    (960, 416, include_bytes!("../../../fixtures/video/960x416.mp4")),
    (832, 480, include_bytes!("../../../fixtures/video/832x480.mp4")),
    (640, 480, include_bytes!("../../../fixtures/video/640x480.mp4")),
    (480, 480, include_bytes!("../../../fixtures/video/480x480.mp4")),
    (480, 640, include_bytes!("../../../fixtures/video/480x640.mp4")),
    (480, 832, include_bytes!("../../../fixtures/video/480x832.mp4")),
    (3360, 1440, include_bytes!("../../../fixtures/video/3360x1440.mp4")),
    (2560, 1440, include_bytes!("../../../fixtures/video/2560x1440.mp4")),
    (1920, 1440, include_bytes!("../../../fixtures/video/1920x1440.mp4")),
    (1440, 1440, include_bytes!("../../../fixtures/video/1440x1440.mp4")),
    (1440, 1920, include_bytes!("../../../fixtures/video/1440x1920.mp4")),
    (1440, 2560, include_bytes!("../../../fixtures/video/1440x2560.mp4")),
];

/// Where a fixtures folder keeps a clip that replaces every size.
pub const FIXTURE_PATH: &str = "video/output.mp4";

/// The frame size download links serve until they are routed by the task's
/// frame size: 768P, the documented example's 1366x768.
pub const SERVED_SIZE: (u32, u32) = (1366, 768);

/// Where a fixtures folder keeps the clip of one frame size.
pub fn fixture_path(width: u32, height: u32) -> String {
    format!("video/{width}x{height}.mp4")
}

/// Aspect ratios closer than this (as `|ln(a / b)|`, about 1 %) count as the
/// same when looking for the nearest clip: 1366x768 and 912x512 are 16:9 as
/// much as 1920x1080 is.
const SAME_ASPECT: f64 = 0.01;

/// A clip for each frame size: the built-in ones, some or all replaced by a
/// fixtures folder's.
#[derive(Clone)]
pub struct Library {
    /// In [`BUILT_IN`]'s order, which breaks ties in [`Library::clip`].
    clips: Vec<(u32, u32, Bytes)>,
}

impl Library {
    /// The built-in clips only.
    pub fn built_in() -> Self {
        Self {
            clips: BUILT_IN
                .iter()
                .map(|&(w, h, mp4)| (w, h, Bytes::from_static(mp4)))
                .collect(),
        }
    }

    /// The built-in clips, replaced by those `fixtures` brings: its
    /// `video/output.mp4` replaces every size, then a `video/{W}x{H}.mp4`
    /// replaces its own (the more specific file wins when both are there).
    /// Only the sizes of [`BUILT_IN`] are looked for. A file that is there
    /// but cannot be read is an error naming it.
    pub fn load(fixtures: Option<&Path>) -> std::io::Result<Self> {
        let mut library = Self::built_in();
        let Some(dir) = fixtures else {
            return Ok(library);
        };
        if let Some(all) = read_if_there(&dir.join(FIXTURE_PATH))? {
            for clip in &mut library.clips {
                clip.2 = all.clone();
            }
        }
        for clip in &mut library.clips {
            if let Some(one) = read_if_there(&dir.join(fixture_path(clip.0, clip.1)))? {
                clip.2 = one;
            }
        }
        Ok(library)
    }

    /// The clip of `width` x `height`. A size without its own clip gets the
    /// nearest one by aspect ratio, then by area, so that a frame size the
    /// mock does not know yet (a new resolution or ratio) still plays, in
    /// the right shape where one is close, rather than failing the download.
    ///
    /// Both are compared as `|ln(a / b)|`: twice too wide is as far as twice
    /// too narrow, and twice the area as far as half of it. Aspect ratios
    /// within about 1 % of the nearest count as equal, so the area decides
    /// among 16:9 sizes that are off by a pixel; a remaining tie goes to the
    /// earlier entry of [`BUILT_IN`]. A zero side counts as one pixel.
    pub fn clip(&self, width: u32, height: u32) -> Bytes {
        if let Some((_, _, mp4)) = self.clips.iter().find(|c| (c.0, c.1) == (width, height)) {
            return mp4.clone();
        }
        let (w, h) = (f64::from(width.max(1)), f64::from(height.max(1)));
        let aspect = |cw: u32, ch: u32| (f64::from(cw) / f64::from(ch) / (w / h)).ln().abs();
        let area = |cw: u32, ch: u32| (f64::from(cw) * f64::from(ch) / (w * h)).ln().abs();
        let nearest_aspect = self
            .clips
            .iter()
            .map(|c| aspect(c.0, c.1))
            .fold(f64::INFINITY, f64::min);
        self.clips
            .iter()
            .filter(|c| aspect(c.0, c.1) <= nearest_aspect + SAME_ASPECT)
            .min_by(|a, b| area(a.0, a.1).total_cmp(&area(b.0, b.1)))
            .map(|c| c.2.clone())
            .expect("the library has every built-in size")
    }

    /// The frame sizes that have their own clip, in [`BUILT_IN`]'s order.
    pub fn sizes(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.clips.iter().map(|c| (c.0, c.1))
    }
}

impl Default for Library {
    fn default() -> Self {
        Self::built_in()
    }
}

impl fmt::Debug for Library {
    /// The sizes and lengths, not the bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.clips.iter().map(|(w, h, mp4)| (format!("{w}x{h}"), mp4.len())))
            .finish()
    }
}

/// The file's bytes, `None` if there is no such file.
fn read_if_there(path: &Path) -> std::io::Result<Option<Bytes>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(Bytes::from(bytes))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(std::io::Error::new(
            e.kind(),
            format!("{}: cannot read: {e}", path.display()),
        )),
    }
}

/// What a `Range` header asks of a body of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// No usable single range: send it all (200).
    Whole,
    /// Bytes `start..=end` (206).
    Part { start: u64, end: u64 },
    /// Outside the body (416).
    Unsatisfiable,
}

/// Parses `bytes=A-B`, `bytes=A-` and `bytes=-N`. Several ranges, or a
/// header that does not parse, get the whole body, as RFC 9110 allows.
pub fn parse_range(header: Option<&str>, len: u64) -> Range {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Range::Whole;
    };
    if spec.contains(',') {
        return Range::Whole;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Range::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    let parsed = match (first.parse::<u64>(), last.parse::<u64>()) {
        (Ok(start), Ok(end)) if start <= end => Some((start, end.min(len.saturating_sub(1)))),
        (Ok(start), Err(_)) if last.is_empty() => Some((start, len.saturating_sub(1))),
        (Err(_), Ok(suffix)) if first.is_empty() => {
            if suffix == 0 {
                return Range::Unsatisfiable;
            }
            Some((len.saturating_sub(suffix), len.saturating_sub(1)))
        }
        _ => None,
    };
    match parsed {
        None => Range::Whole,
        Some((start, _)) if start >= len => Range::Unsatisfiable,
        Some((start, end)) => Range::Part { start, end },
    }
}

/// The `Expires` of a signed link, in Unix seconds: `None` without one,
/// `Some(Err(value))` when it is not a number of seconds.
pub fn expires(query: Option<&str>) -> Option<Result<u64, String>> {
    let value = query?.split('&').find_map(|pair| pair.strip_prefix("Expires="))?;
    Some(value.parse().map_err(|_| value.to_owned()))
}

/// The frame size a download path names: its `{W}x{H}` folder (the link
/// carries it, so serving needs no task lookup). Links without one (from
/// before clips per size) get [`SERVED_SIZE`].
pub fn frame_of_path(path: &str) -> (u32, u32) {
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    decoded
        .split('/')
        .rev()
        .skip(1)
        .take(1)
        .find_map(|folder| {
            let (w, h) = folder.split_once('x')?;
            Some((w.parse().ok()?, h.parse().ok()?))
        })
        .unwrap_or(SERVED_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 100), Range::Whole);
        assert_eq!(parse_range(Some("bytes=0-9"), 100), Range::Part { start: 0, end: 9 });
        assert_eq!(parse_range(Some("bytes=90-"), 100), Range::Part { start: 90, end: 99 });
        assert_eq!(parse_range(Some("bytes=-10"), 100), Range::Part { start: 90, end: 99 });
        assert_eq!(
            parse_range(Some("bytes=50-500"), 100),
            Range::Part { start: 50, end: 99 }
        );
        assert_eq!(parse_range(Some("bytes=100-"), 100), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 100), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100), Range::Whole);
        assert_eq!(parse_range(Some("bytes=9-1"), 100), Range::Whole);
        assert_eq!(parse_range(Some("items=0-1"), 100), Range::Whole);
    }

    /// The boxes in `data`, type and payload, in order (ISO/IEC 14496-12: a
    /// 32-bit size, or 1 and a 64-bit size after the type, or 0 for "to the
    /// end"; then the type). Stops at the first box that does not fit.
    fn boxes(data: &[u8]) -> Vec<([u8; 4], &[u8])> {
        let mut out = Vec::new();
        let mut rest = data;
        while rest.len() >= 8 {
            let (header, size) = match u32::from_be_bytes(rest[..4].try_into().unwrap()) {
                0 => (8, rest.len()),
                1 => match rest.get(8..16) {
                    Some(wide) => (16, u64::from_be_bytes(wide.try_into().unwrap()) as usize),
                    None => break,
                },
                n => (8, n as usize),
            };
            if size < header || size > rest.len() {
                break;
            }
            out.push((rest[4..8].try_into().unwrap(), &rest[header..size]));
            rest = &rest[size..];
        }
        out
    }

    /// The payload of the first box of type `kind` among the boxes in `data`.
    fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
        boxes(data)
            .into_iter()
            .find(|(k, _)| k == kind)
            .map(|(_, payload)| payload)
    }

    /// Down a path of boxes.
    fn descend<'a>(data: &'a [u8], path: &[&[u8; 4]]) -> Option<&'a [u8]> {
        path.iter().try_fold(data, |inside, kind| child(inside, kind))
    }

    /// (tkhd width, tkhd height, avc1 width, avc1 height) of the first track.
    fn frame_size(mp4: &[u8]) -> (u32, u32, u16, u16) {
        let tkhd = descend(mp4, &[b"moov", b"trak", b"tkhd"]).expect("moov/trak/tkhd");
        // The last 8 bytes: width and height, 16.16 fixed point.
        let fixed = |at: usize| u32::from_be_bytes(tkhd[at..at + 4].try_into().unwrap()) >> 16;
        let (tw, th) = (fixed(tkhd.len() - 8), fixed(tkhd.len() - 4));
        let stsd = descend(mp4, &[b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd"])
            .expect("moov/trak/mdia/minf/stbl/stsd");
        // stsd: version and flags, entry count, then the sample entries.
        let avc1 = child(&stsd[8..], b"avc1").expect("an avc1 (H.264) sample entry");
        // avc1: 6 reserved, data reference index, 16 predefined/reserved, then width and height.
        let short = |at: usize| u16::from_be_bytes(avc1[at..at + 2].try_into().unwrap());
        (tw, th, short(24), short(26))
    }

    #[test]
    fn every_built_in_clip_is_an_h264_mp4_of_its_frame_size() {
        for &(w, h, mp4) in BUILT_IN {
            assert_eq!(&mp4[4..8], b"ftyp", "{w}x{h}");
            assert_eq!(frame_size(mp4), (w, h, w as u16, h as u16), "{w}x{h}");
            let top: Vec<[u8; 4]> = boxes(mp4).into_iter().map(|(kind, _)| kind).collect();
            let at = |kind: &[u8; 4]| top.iter().position(|k| k == kind);
            assert!(
                at(b"moov").unwrap() < at(b"mdat").unwrap(),
                "{w}x{h}: moov must come before mdat (faststart), so a browser plays while downloading"
            );
        }
        let mut sizes: Vec<_> = BUILT_IN.iter().map(|&(w, h, _)| (w, h)).collect();
        sizes.sort();
        sizes.dedup();
        assert_eq!(sizes.len(), BUILT_IN.len(), "a frame size listed twice");
    }

    #[test]
    fn the_mp4_reader_sees_what_it_should() {
        // A box of 8 + 4 bytes, one of 16 + 0 bytes (64-bit size), one to the end.
        let mut data = vec![0, 0, 0, 12, b'a', b'b', b'c', b'd', 1, 2, 3, 4];
        data.extend([0, 0, 0, 1, b'w', b'i', b'd', b'e', 0, 0, 0, 0, 0, 0, 0, 16]);
        data.extend([0, 0, 0, 0, b'l', b'a', b's', b't', 9]);
        assert_eq!(child(&data, b"abcd"), Some(&[1, 2, 3, 4][..]));
        assert_eq!(child(&data, b"wide"), Some(&[][..]));
        assert_eq!(child(&data, b"last"), Some(&[9][..]));
        assert_eq!(child(&data, b"none"), None);
        let kinds: Vec<[u8; 4]> = boxes(&data).into_iter().map(|(kind, _)| kind).collect();
        assert_eq!(kinds, vec![*b"abcd", *b"wide", *b"last"]);
        // A box longer than what is left ends the list.
        assert_eq!(boxes(&[0, 0, 0, 99, b'c', b'u', b't', b'!', 0]).len(), 0);
    }

    /// Which built-in clip `clip` is, by its bytes, or the bytes themselves
    /// when short (a test's own fixture): a readable assertion either way.
    fn which(clip: Bytes) -> String {
        match BUILT_IN.iter().find(|c| c.2 == clip.as_ref()) {
            Some((w, h, _)) => format!("{w}x{h}"),
            None if clip.len() < 16 => String::from_utf8_lossy(&clip).into_owned(),
            None => format!("{} unknown bytes", clip.len()),
        }
    }

    #[test]
    fn clip_gives_the_exact_size_or_the_nearest_by_aspect_then_area() {
        let library = Library::built_in();
        for &(w, h, mp4) in BUILT_IN {
            assert!(library.clip(w, h) == mp4, "{w}x{h}");
        }
        assert_eq!(library.sizes().count(), BUILT_IN.len());
        for ((w, h), want) in [
            // 16:9 larger than any: the largest 16:9.
            ((3840, 2160), (2560, 1440)),
            // 16:9 smaller than any: 512P, as 16:9 as 1920x1080 within 1 %.
            ((640, 360), (912, 512)),
            // 9:16 exactly is 2K's; v2's 768P portrait (768x1344, 4:7) is a little wider.
            ((1080, 1920), (1440, 2560)),
            ((700, 1225), (768, 1344)),
            // 2:1 is nearer 16:9 than 21:9; 2 Mpx is nearest 1920x1080.
            ((2000, 1000), (1920, 1080)),
            // 21:9 and wider: the nearest aspect, then the area.
            ((1460, 640), (1472, 640)),
            ((8000, 2000), (3360, 1440)),
            // Square, a little off.
            ((1000, 1001), (768, 768)),
            ((1300, 1300), (1440, 1440)),
            // 3:2 is between 4:3 and 16:9, nearer 4:3.
            ((1500, 1000), (1920, 1440)),
            // Nothing at all: a pixel, square: the smallest square.
            ((0, 0), (480, 480)),
            ((u32::MAX, u32::MAX), (1440, 1440)),
        ] {
            assert_eq!(
                which(library.clip(w, h)),
                format!("{}x{}", want.0, want.1),
                "for {w}x{h}"
            );
        }
    }

    /// A fixtures folder of its own for one test.
    fn fixtures(name: &str, files: &[(&str, &[u8])]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("minimax-mock-video-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("video")).unwrap();
        for (path, bytes) in files {
            std::fs::write(dir.join(path), bytes).unwrap();
        }
        dir
    }

    #[test]
    fn a_fixtures_folder_replaces_one_size_or_all() {
        let load = |name: &str, files: &[(&str, &[u8])]| {
            let dir = fixtures(name, files);
            let library = Library::load(Some(&dir)).unwrap();
            std::fs::remove_dir_all(&dir).unwrap();
            library
        };
        assert_eq!(which(Library::load(None).unwrap().clip(1366, 768)), "1366x768");
        assert_eq!(which(load("none", &[]).clip(912, 512)), "912x512");

        let library = load("one", &[("video/768x1344.mp4", b"one")]);
        assert_eq!(which(library.clip(768, 1344)), "one");
        assert_eq!(which(library.clip(700, 1225)), "one", "the nearest is the replaced one");
        assert_eq!(which(library.clip(1366, 768)), "1366x768");
        assert_eq!(which(library.clip(1440, 2560)), "1440x2560");

        let library = load("all", &[(FIXTURE_PATH, b"all")]);
        for &(w, h, _) in BUILT_IN {
            assert_eq!(which(library.clip(w, h)), "all", "{w}x{h}");
        }
        assert_eq!(which(library.clip(640, 480)), "all");

        let library = load("both", &[(FIXTURE_PATH, b"all"), ("video/1920x1080.mp4", b"one")]);
        assert_eq!(which(library.clip(1920, 1080)), "one", "the more specific file wins");
        assert_eq!(which(library.clip(1280, 720)), "all");

        // Only the sizes of the table are looked for.
        let library = load("stray", &[("video/700x500.mp4", b"stray")]);
        assert_eq!(which(library.clip(700, 500)), "640x480");
    }

    #[test]
    fn a_fixture_clip_that_cannot_be_read_is_an_error_naming_it() {
        let dir = fixtures("unreadable", &[]);
        // A folder where the file should be: there, but not readable as one.
        std::fs::create_dir_all(dir.join("video/1280x720.mp4")).unwrap();
        let err = Library::load(Some(&dir)).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(err.to_string().contains("1280x720.mp4: cannot read"), "{err}");
    }

    #[test]
    fn library_debug_shows_sizes_not_bytes() {
        let debug = format!("{:?}", Library::built_in());
        assert!(debug.starts_with("{\"912x512\": "), "{debug}");
        assert!(debug.len() < 1000, "{debug}");
    }

    #[test]
    fn expiry_is_read_from_the_link() {
        assert_eq!(
            expires(Some("Expires=1756485886&OSSAccessKeyId=x")).and_then(Result::ok),
            Some(1_756_485_886)
        );
        assert_eq!(expires(Some("a=1")), None);
        assert_eq!(expires(Some("Expires=null")), Some(Err("null".to_owned())));
        assert_eq!(expires(None), None);
    }
}
