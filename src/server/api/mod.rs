//! The API surfaces a client speaks, all answered from one task store: the
//! gateway's documented envelope (`gateway`), MiniMax's native v1 (`native`,
//! with the v1 submit both share in `submit`), MiniMax's v2 (`v2`:
//! create and query; `v2_tasks`: list, delete, regeneration; `v2_rules`:
//! what a v2 body may ask), and new-api's OpenAI-compatible video API
//! (`openai`).
//! `poll` is what every query does; `render` turns task state into each
//! surface's bytes, purely.
//!
//! Owns the wire formats of the APIs. May use `http`, `store`, `media`,
//! `callbacks` and the pure core (`lifecycle`, `contract`); never the
//! control plane, which drives tasks through the same store instead.

pub mod gateway;
pub mod native;
pub mod openai;
pub mod poll;
pub mod render;
pub mod submit;
pub mod v2;
pub mod v2_rules;
pub mod v2_tasks;
