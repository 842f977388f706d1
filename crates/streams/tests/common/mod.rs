//! Shared helpers for the engine's golden tests (see [`engine`]), with no mirror: commands
//! run on the engine only.
#![allow(dead_code)]

mod engine;

pub use engine::*;

use bytes::Bytes;
use resp::Reply;
use streams::{Ctx, Db};

/// Nothing to remember before a command.
pub struct Before;

pub fn mirror_before(_db: &Db, _ctx: &Ctx, _args: &[Bytes]) -> Before {
    Before
}

/// Commands are not mirrored anywhere.
pub fn mirror(_db: &Db, _before: Before, _ctx: &Ctx, _args: &[Bytes], _reply: &Reply) {}
