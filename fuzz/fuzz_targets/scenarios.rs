//! A scenarios file, loaded as `--scenarios` loads it: a bad file is an
//! error, never a panic; every scenario of a good one keeps the lifecycle's
//! promises, renders bodies that validate on every surface, and survives the
//! state file's round trip (`steps_json` back through the loader).

#![no_main]

mod common;

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use minimax_mock::lifecycle::scenarios::{steps_json, Catalog, ScenarioSpec, Subject};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(catalog) = Catalog::from_text("scenarios.json", text) else {
        return;
    };
    let builtin = Catalog::builtin();
    for scenario in catalog.scenarios() {
        if builtin.get(scenario.name()).is_some_and(|b| b == scenario) {
            continue;
        }
        common::check_lifecycle(scenario);
        for t in common::probe_times(scenario) {
            for p in [0, 1, 3] {
                let m = scenario.at(t, p);
                common::check_bodies("42", 1_756_453_472_000, m, false);
                common::check_bodies("42", 1_756_453_472_000, m, true);
            }
        }
        // What `--state` saves must load back as the same scenario.
        let spec: ScenarioSpec = serde_json::from_value(serde_json::json!({ "steps": steps_json(scenario) }))
            .expect("steps_json writes the scenarios-file format");
        let back = spec
            .build(scenario.name())
            .unwrap_or_else(|e| panic!("saved steps do not load: {e}"));
        assert_eq!(back.steps(), scenario.steps(), "the round trip changed the steps");
    }
    // Rules are globs on what a client sends: any text goes.
    let probe = text.get(..text.len().min(64)).unwrap_or("");
    let _ = catalog.rule_matching(&Subject {
        task_id: probe,
        model: Some(probe),
        prompt: Some(probe),
    });
    let _ = catalog.default_scenario().at(Duration::from_secs(1), 1);
});
