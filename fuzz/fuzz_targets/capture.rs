//! A capture file, whatever its kind (JSON, NDJSON, HAR, `curl -i`), judged
//! as `validate` judges a file held in memory, then rendered in every report
//! format. Must never panic; the JSON report stays one JSON object a line.
//!
//! The first byte chooses the file-name hint (`.ndjson`), `--strict` and the
//! `--schema`; the rest is the file.

#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use minimax_mock::contract::{self, Contract};
use minimax_mock::validate::report::{self, Format};
use minimax_mock::validate::{Judge, Summary};

const SCHEMAS: [&str; 8] = [
    contract::QUERY_RESPONSE,
    contract::ERROR,
    contract::SUBMIT_RESPONSE,
    contract::NATIVE_QUERY_RESPONSE,
    contract::FILES_RETRIEVE_RESPONSE,
    contract::V2_QUERY_RESPONSE,
    contract::CALLBACK_UPDATE,
    contract::SUBMIT_REQUEST,
];

/// Every (schema, strict) judge, compiled once.
fn judges() -> &'static [Judge<'static>] {
    static JUDGES: OnceLock<Vec<Judge<'static>>> = OnceLock::new();
    JUDGES.get_or_init(|| {
        // A static, not a leaked Box: LeakSanitizer reports the latter at exit.
        static CONTRACT: OnceLock<Contract> = OnceLock::new();
        let contract = CONTRACT.get_or_init(Contract::embedded);
        SCHEMAS
            .iter()
            .flat_map(|s| [false, true].map(|strict| Judge::new(contract, s, strict).expect("a shipped schema")))
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, bytes)) = data.split_first() else {
        return;
    };
    let lines_hint = flags & 1 != 0;
    let judges = judges();
    let judge = &judges[usize::from(flags >> 1) % judges.len()];
    let file: Arc<str> = "capture.txt".into();
    let events = judge.judge_file(&file, bytes, lines_hint);
    let mut summary = Summary::default();
    for event in &events {
        summary.add(event);
    }
    for format in [Format::Human, Format::Json, Format::Junit, Format::Github] {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        {
            let mut r = report::new(format, &mut out, &mut err, true);
            for event in &events {
                r.event(event).expect("writing to a Vec cannot fail");
            }
            r.finish(&summary).expect("writing to a Vec cannot fail");
        }
        if format == Format::Json {
            for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                let v: serde_json::Value = serde_json::from_slice(line).expect("the JSON report writes JSON lines");
                assert!(v.is_object(), "{v}");
            }
        }
    }
});
