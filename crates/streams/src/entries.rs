//! entries commands (being written).

use bytes::Bytes;
use resp::Reply;

use crate::db::Db;
use crate::engine::{Block, Ctx, Prepared};

#[derive(Debug, Clone, PartialEq)]
pub enum Cmd {}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {}

pub fn parse(_name: &[u8], _args: &[Bytes]) -> Option<Result<Cmd, Reply>> {
    None
}

pub fn prepare(cmd: &Cmd, _db: &Db, _ctx: &Ctx) -> Prepared {
    match *cmd {}
}

pub fn block(cmd: &Cmd) -> Option<Block> {
    match *cmd {}
}

pub fn apply(_db: &mut Db, op: &Op) -> Reply {
    match *op {}
}

pub fn pin_for_block(cmd: &mut Cmd, _db: &Db) {
    match *cmd {}
}
