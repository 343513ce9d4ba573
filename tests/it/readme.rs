//! The documentation's promises that code can check: the example scenarios
//! file loads and defines what docs/scenarios.md says, that page shows it
//! verbatim, the scenario-file error it quotes is the loader's, every built-in
//! scenario is in its table, the flag tables of docs/flags.md match
//! `serve --help`, `validate --help`, `proxy --help` and `openapi --help`,
//! and docs/validate.md has a shape for every schema.

use std::path::Path;
use std::time::Duration;

use clap::CommandFactory as _;
use minimax_mock::lifecycle::faults::{Effect, Fault};
use minimax_mock::lifecycle::scenarios::Catalog;
use minimax_mock::lifecycle::{BaseResp, GatewayStatus, MinimaxStatus, Span};

const SCENARIOS: &str = include_str!("../../docs/scenarios.md");
const FLAGS: &str = include_str!("../../docs/flags.md");
const VALIDATE: &str = include_str!("../../docs/validate.md");
const EXAMPLE: &str = include_str!("../../examples/scenarios.json");

fn example() -> Catalog {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/scenarios.json");
    Catalog::from_file(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn ms(n: u64) -> Span {
    Span::For(Duration::from_millis(n))
}

/// (status, MiniMax status, progress, span) of every step of `name`.
fn outline(catalog: &Catalog, name: &str) -> Vec<(GatewayStatus, MinimaxStatus, (u8, u8), Span)> {
    let scenario = catalog.get(name).unwrap_or_else(|| panic!("no scenario {name}"));
    scenario
        .steps()
        .iter()
        .map(|s| (s.status, s.minimax, s.progress, s.span))
        .collect()
}

#[test]
fn example_scenarios_file_defines_its_scenarios_rules_and_default() {
    use GatewayStatus as G;
    use MinimaxStatus as M;
    let c = example();

    let names: Vec<&str> = c.names().collect();
    assert_eq!(
        names,
        [
            "busy",
            "fail",
            "fail-polls",
            "flaky",
            "instant",
            "openai-unknown",
            "quick",
            "rejected",
            "rough-delivery",
            "slow",
            "stalls",
            "success",
            "success-polls"
        ]
    );
    assert_eq!(c.default_scenario().name(), "quick");

    assert_eq!(
        outline(&c, "quick"),
        [
            (G::NotStart, M::Preparing, (0, 0), ms(200)),
            (G::Queued, M::Queueing, (20, 20), ms(800)),
            (G::InProgress, M::Processing, (30, 99), ms(2000)),
            (G::Success, M::Success, (100, 100), Span::Terminal),
        ]
    );

    assert_eq!(
        outline(&c, "rejected"),
        [
            (G::Queued, M::Queueing, (20, 20), Span::Polls(1)),
            (G::Failure, M::Fail, (100, 100), Span::Terminal),
        ]
    );
    let rejected = c.get("rejected").unwrap().steps().last().unwrap().clone();
    assert_eq!(rejected.fail_reason.as_deref(), Some("input sensitive"));
    assert_eq!(
        rejected.base_resp,
        BaseResp {
            status_code: 1026,
            status_msg: "input sensitive".to_owned()
        }
    );

    assert_eq!(
        outline(&c, "stalls"),
        [
            (G::Submitted, M::Preparing, (10, 10), Span::Polls(1)),
            (G::InProgress, M::Processing, (42, 42), Span::Polls(5)),
            (G::Failure, M::Fail, (100, 100), Span::Terminal),
        ]
    );
    let stalled = c.get("stalls").unwrap().steps().last().unwrap().clone();
    assert_eq!(stalled.fail_reason.as_deref(), Some("task timed out"));
    assert_eq!(stalled.base_resp.status_code, 1001);

    assert_eq!(
        outline(&c, "busy"),
        [
            (G::Submitted, M::Preparing, (10, 10), Span::Polls(2)),
            (G::InProgress, M::Processing, (30, 90), Span::Polls(3)),
            (G::Success, M::Success, (100, 100), Span::Terminal),
        ]
    );
    let faults: Vec<Option<Fault>> = c.get("busy").unwrap().steps().iter().map(|s| s.fault.clone()).collect();
    assert_eq!(
        faults,
        [
            Some(Fault {
                delay: None,
                effect: Some(Effect::Status {
                    code: 429,
                    retry_after: Some(2)
                }),
            }),
            Some(Fault {
                delay: Some((Duration::from_millis(200), Duration::from_secs(1))),
                effect: None,
            }),
            None,
        ]
    );

    let rule = |id: &str| c.rule_for(id).map(|s| s.name().to_owned());
    assert_eq!(rule("e2e-reject-1").as_deref(), Some("rejected"));
    assert_eq!(rule("e2e-fail-1").as_deref(), Some("fail-polls"));
    assert_eq!(rule("e2e-fail-12").as_deref(), Some("success-polls"));
    assert_eq!(rule("e2e-anything").as_deref(), Some("success-polls"));
    assert_eq!(rule("325075426377387"), None);
}

#[test]
fn scenarios_page_shows_the_example_file_verbatim() {
    assert!(
        section(SCENARIOS, "## The scenarios file").contains(&format!("```json\n{EXAMPLE}```")),
        "docs/scenarios.md must show examples/scenarios.json exactly, in a ```json block"
    );
}

#[test]
fn scenarios_page_quotes_the_loaders_own_error() {
    let bad = r#"{
  "scenarios": {
    "backwards": {
      "steps": [
        {"status": "IN_PROGRESS", "progress": 60, "polls": 1},
        {"status": "IN_PROGRESS", "progress": [40, 80], "polls": 1},
        {"status": "SUCCESS"}
      ]
    }
  }
}
"#;
    let error = Catalog::from_text("bad-scenarios.json", bad).unwrap_err().to_string();
    let page = section(SCENARIOS, "## The scenarios file");
    assert!(
        page.contains(bad),
        "docs/scenarios.md must show the bad file as tested here"
    );
    assert!(
        page.contains(&format!("minimax-mock: {error}\n")),
        "docs/scenarios.md must quote the error: {error}"
    );
}

/// The callback-fault mistake docs/scenarios.md shows is the one the
/// loader reports.
#[test]
fn the_callback_fault_error_in_the_docs_is_the_real_one() {
    let late = r#"{
  "scenarios": {
    "late": {
      "steps": [
        {"status": "NOT_START", "polls": 1},
        {"status": "SUBMITTED", "polls": 1, "callback": {"delay": "5s"}},
        {"status": "SUCCESS"}
      ]
    }
  }
}
"#;
    let error = Catalog::from_text("late.json", late).unwrap_err().to_string();
    let page = section(SCENARIOS, "## Callback faults");
    assert!(
        page.contains(late),
        "docs/scenarios.md must show late.json as tested here"
    );
    assert!(
        page.contains(&format!("minimax-mock: {error}\n")),
        "docs/scenarios.md must quote the error: {error}"
    );
}

#[test]
fn every_builtin_scenario_is_in_the_scenarios_table() {
    let table = section(SCENARIOS, "## Built in");
    for scenario in minimax_mock::lifecycle::scenarios::builtin() {
        let row = format!("\n| `{}` |", scenario.name());
        assert!(table.contains(&row), "docs/scenarios.md has no row {row:?}");
    }
}

/// The rows of a flag table for `subcommand`, as `--help` prints its flags:
/// `| `--name <VALUE>` | default | help |` (a `|` in a cell escaped).
fn flag_rows(subcommand: &str) -> Vec<String> {
    let cli = minimax_mock::cli::Cli::command();
    let sub = cli
        .find_subcommand(subcommand)
        .unwrap_or_else(|| panic!("a {subcommand} subcommand"));
    let mut rows = Vec::new();
    for arg in sub.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if long == "help" {
            continue;
        }
        let mut name = match arg.get_short() {
            Some(short) => format!("-{short}, --{long}"),
            None => format!("--{long}"),
        };
        let takes_values = arg.get_action().takes_values();
        for value in arg.get_value_names().filter(|_| takes_values).unwrap_or_default() {
            name.push_str(&format!(" <{value}>"));
        }
        // --help shows no default for a switch; the table says "off".
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| format!("`{}`", v.to_string_lossy()))
            .collect();
        let default = if !takes_values {
            "off".to_owned()
        } else if defaults.is_empty() {
            "none".to_owned()
        } else {
            defaults.join(", ")
        };
        let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        let cell = |text: &str| text.replace('|', "\\|");
        rows.push(format!("| `{}` | {} | {} |", cell(&name), cell(&default), cell(&help)));
    }
    rows
}

/// Every flag `SUBCOMMAND --help` prints has its row in the table under
/// `## SUBCOMMAND` of docs/flags.md, and the table has no other.
fn flag_table_matches_help(subcommand: &str) {
    let rows = flag_rows(subcommand);
    let table = section(FLAGS, &format!("## {subcommand}"));
    let missing: Vec<&String> = rows.iter().filter(|row| !table.contains(row.as_str())).collect();
    assert!(
        missing.is_empty(),
        "docs/flags.md lacks these {subcommand} rows:\n{missing:#?}"
    );
    let table_rows = table.lines().filter(|l| l.starts_with("| `-")).count();
    assert_eq!(
        table_rows,
        rows.len(),
        "the flag table has rows for flags {subcommand} does not have"
    );
}

#[test]
fn flag_table_matches_serve_help() {
    flag_table_matches_help("serve");
}

#[test]
fn flag_table_matches_validate_help() {
    flag_table_matches_help("validate");
}

#[test]
fn flag_table_matches_proxy_help() {
    flag_table_matches_help("proxy");
}

#[test]
fn flag_table_matches_openapi_help() {
    flag_table_matches_help("openapi");
}

#[test]
fn flag_table_matches_probe_help() {
    flag_table_matches_help("probe");
}

/// docs/validate.md tells how each contract is chosen: every shipped schema
/// has its row in the table of shapes, and the default is auto.
#[test]
fn validate_page_has_a_shape_for_every_schema() {
    let page = section(VALIDATE, "## How the contract is chosen");
    let contract = minimax_mock::contract::Contract::embedded();
    for name in contract.schema_names() {
        assert!(
            page.contains(&format!("| `{name}`")),
            "docs/validate.md has no row for {name} in its table of shapes"
        );
    }
    assert!(page.contains("With `--schema auto`, the default"));
    assert_eq!(minimax_mock::validate::AUTO, "auto");
}

/// The part of `page` from `heading` to the next heading of the same level.
fn section<'p>(page: &'p str, heading: &str) -> &'p str {
    let title = page.lines().next().unwrap_or_default();
    let start = page
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("the page {title:?} has no {heading:?}"));
    let rest = &page[start + 1..];
    let hashes = heading.split(' ').next().unwrap_or_default();
    let end = rest[heading.len()..]
        .find(&format!("\n{hashes} "))
        .map_or(rest.len(), |i| i + heading.len() + 1);
    &rest[..end]
}
