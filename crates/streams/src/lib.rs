//! # streams: the deterministic Redis Streams engine
//!
//! Owns stream IDs, entries, the node layout, consumer groups, PELs and consumers, and the
//! semantics of every stream command (plus the minimal keyspace commands that make WRONGTYPE
//! and wake-up rules behave as in Redis). It parses a command, *prepares* it (resolving `*`
//! IDs, `~` trim points, deliveries and claims from the state and the caller's `now_ms`) and
//! *applies* the resolved [`Op`] deterministically, producing a protocol-neutral
//! [`resp::Reply`].
//!
//! It must never depend on a clock, randomness, the network, tokio, sled or Raft: time comes
//! in through [`Ctx::now_ms`], persistence goes out through [`Db::take_changes`].
//!
//! ```text
//!  server ──args──▶ parse ──▶ Command ──prepare(db, ctx)──▶ Op ──apply(db)──▶ Reply
//!                                                              │
//!                                      storage ◀── take_changes┘ (items to persist)
//! ```

pub mod codec;
pub mod db;
pub mod engine;
pub mod entries;
pub mod groups;
pub mod id;
pub mod keyspace;
pub mod stream;
pub mod watch;

pub use db::{Change, Db, Value, WrongType, ERR_WRONGTYPE};
pub use engine::{apply, execute, parse, Block, Command, Ctx, Op, Prepared};
pub use id::StreamId;
pub use stream::{Consumer, Fields, Group, Nack, Node, Stream, StreamChange, StreamMeta};
