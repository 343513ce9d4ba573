//! A state file, loaded as `--state` loads it at start-up: a bad file is an
//! error, never a panic; every restored task keeps the lifecycle's promises
//! and renders bodies that validate, at any mock time.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use minimax_mock::server::persist::state;
use minimax_mock::server::store::tasks::Surface;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let catalog = minimax_mock::lifecycle::scenarios::Catalog::builtin();
    let Ok(restored) = state::parse("state.json", text, 7, &catalog) else {
        return;
    };
    let clock = restored.clock.now;
    for task in &restored.tasks {
        common::check_lifecycle(&task.scenario);
        let s = task.submitted_at;
        for now in [0, s, s.saturating_add(1_000), clock, u64::MAX] {
            for polls in [0, task.polls(), u64::MAX] {
                let v2_task = task.request.surface == Surface::V2;
                common::check_view(&task.view(now, polls, "http://127.0.0.1:8080"), v2_task);
            }
        }
    }
});
