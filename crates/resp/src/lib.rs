//! resp (placeholder; the resp helper writes this file)
pub mod reply;
pub use reply::{Protocol, Reply};
