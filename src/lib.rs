//! minimax-mock: a mock server and contract checker for MiniMax ("Hailuo")
//! video generation as served by API gateways.
//!
//! The subsystems, from the surface down (see `ARCHITECTURE.md`):
//! [`server`] (HTTP, the task store, the control API) and [`validate`]
//! (captures → verdicts) sit on [`lifecycle`] (pure: scenarios, steps,
//! faults, the clock, generated data) and [`contract`] (the documented
//! schemas and examples). Nothing lower reaches back up. [`proxy`] sits
//! beside `server`: it forwards to a real gateway and judges what comes back
//! with `validate`.

pub mod cli;
pub mod contract;
pub mod lifecycle;
pub mod mock_server;
pub mod proxy;
pub mod server;
pub mod validate;

pub use mock_server::{MockServer, Namespace};

/// The README's Rust examples are compiled and run by `cargo test`, so the
/// documentation cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// And so are those of the security page.
#[cfg(doctest)]
#[doc = include_str!("../docs/security.md")]
struct SecurityDoctests;
