//! The integration tests, as one binary: one link instead of one per file
//! (as cargo and rust-analyzer do), so `cargo test` spends its time testing.
//! A module per area; the shared harness is in `common`.

mod common;

mod callback_faults;
mod cli;
mod clients;
mod control;
mod dashboard;
mod dialects;
mod http;
mod jepsen;
mod layout;
mod lifecycle;
mod limits;
mod live;
mod metrics;
mod namespaces;
mod openai;
mod openapi;
mod properties;
mod proxy;
mod readme;
mod security;
mod state;
mod store;
mod v1;
mod v2;
mod validate;
