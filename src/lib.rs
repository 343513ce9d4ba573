//! minimax-mock: a mock server and contract checker for MiniMax ("Hailuo")
//! video generation as served by API gateways.
//!
//! Data flows one way: request → [`server`] → [`tasks`] → [`lifecycle`] →
//! [`render`] → bytes. [`contract`] holds the documented schemas and examples.

pub mod artifact;
pub mod cli;
pub mod clock;
pub mod contract;
pub mod control;
pub mod faults;
pub mod journal;
pub mod jsonpos;
pub mod lifecycle;
pub mod mock_server;
pub mod render;
pub mod scenarios;
pub mod server;
pub mod state;
pub mod tasks;
pub mod validate;
pub mod video;

pub use mock_server::MockServer;

/// The README's Rust examples are compiled and run by `cargo test`, so the
/// documentation cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
