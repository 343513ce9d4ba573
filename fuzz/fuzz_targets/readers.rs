//! The readers below `validate`, each against what it promises:
//! `detect` never panics and calls nothing blank `Json`; `parse_http`'s body
//! is the end of its input and starts on the line it says; NDJSON judged in
//! two chunks split at a line end (as `run` streams large files) gives the
//! same events as judged whole, one per non-blank line.

#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use minimax_mock::contract::{self, Contract};
use minimax_mock::validate::{detect, parse_http, Event, Judge, Kind};

fn judge() -> &'static Judge<'static> {
    static JUDGE: OnceLock<Judge<'static>> = OnceLock::new();
    JUDGE.get_or_init(|| {
        // A static, not a leaked Box: LeakSanitizer reports the latter at exit.
        static CONTRACT: OnceLock<Contract> = OnceLock::new();
        let contract = CONTRACT.get_or_init(Contract::embedded);
        Judge::new(contract, contract::QUERY_RESPONSE, false).expect("a shipped schema")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, text)) = data.split_first() else {
        return;
    };

    // Detection: blank input is Empty, whatever the hint.
    for hint in [false, true] {
        let kind = detect(text, hint);
        let blank = text
            .strip_prefix(b"\xEF\xBB\xBF")
            .unwrap_or(text)
            .iter()
            .all(u8::is_ascii_whitespace);
        assert_eq!(kind == Kind::Empty, blank, "{kind:?}");
    }

    // curl -i: the body is the input's tail, starting on body_line.
    if let Ok(r) = parse_http(text) {
        assert!((100..600).contains(&r.status));
        assert!(text.ends_with(r.body));
        let before = &text[..text.len() - r.body.len()];
        let newlines = before.iter().filter(|&&b| b == b'\n').count();
        assert_eq!(r.body_line, newlines + 1, "body_line");
    } else if let Err((line, _)) = parse_http(text) {
        let lines = text.iter().filter(|&&b| b == b'\n').count() + 1;
        assert!(line >= 1 && line <= lines + 1, "error line {line} of {lines}");
    }

    // NDJSON: whole or in two chunks, the same events, one a non-blank line.
    let judge = judge();
    let file: Arc<str> = "x.ndjson".into();
    let mut whole = Vec::new();
    judge.judge_lines(&file, 1, text, &mut whole);
    let non_blank = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.strip_suffix(b"\r").unwrap_or(l).iter().all(u8::is_ascii_whitespace))
        .count();
    assert_eq!(whole.len(), non_blank);
    let cut = usize::from(split) * text.len() / 256;
    if let Some(i) = text[cut..].iter().position(|&b| b == b'\n') {
        let (head, tail) = text.split_at(cut + i + 1);
        let first_line = head.iter().filter(|&&b| b == b'\n').count() + 1;
        let mut chunked = Vec::new();
        judge.judge_lines(&file, 1, head, &mut chunked);
        judge.judge_lines(&file, first_line, tail, &mut chunked);
        assert_eq!(describe(&whole), describe(&chunked));
    }
});

fn describe(events: &[Event]) -> Vec<String> {
    events.iter().map(|e| format!("{e:?}")).collect()
}
