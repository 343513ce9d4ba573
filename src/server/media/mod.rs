//! What a finished task's links serve: the clip library (`video`) and the
//! download route with its expiring links (`download`).
//!
//! May use `http`, `store` and `lifecycle`; nothing here knows an API's
//! body shapes.

pub mod download;
pub mod video;

pub use video::Library;
