//! `resp` owns the Redis wire protocol: RESP2/RESP3 reply encoding, request parsing, and reply
//! decoding for clients and tests. It is a pure codec: bytes in, values out, no I/O.
//!
//! It must never depend on tokio or on any other xraft crate (only `bytes` and `thiserror`);
//! every other crate depends on it.
//!
//! ```text
//!   client bytes ──RequestParser──▶ Vec<Bytes> args ──▶ server / streams engine
//!                                                              │
//!   client bytes ◀──Reply::encode(Protocol)─── Reply ◀─────────┘
//!
//!   tests, bench and fault-test clients: encode_command ──▶ server ──▶ parse_frame ──▶ Frame
//! ```
//!
//! Behaviour follows Redis 7.2/8.0 byte for byte: error texts and limits of
//! `processMultibulkBuffer`/`processInlineBuffer`, inline splitting of `sdssplitargs`, and the
//! reply formats of `addReply*` (including `d2string` for doubles).
//!
//! | Module       | Owns                                                        |
//! |--------------|-------------------------------------------------------------|
//! | [`reply`]    | [`Reply`], [`Protocol`] (encoding lives in `encode.rs`)     |
//! | [`request`]  | [`RequestParser`], [`Limits`], [`parse_request`]            |
//! | [`inline`]   | [`split_args`]                                              |
//! | [`frame`]    | [`Frame`], [`parse_frame`]                                  |
//! | [`double`]   | [`write_double`]: Redis's text for a double                 |
//! | [`error`]    | [`ProtocolError`]                                           |

pub mod double;
mod encode;
pub mod error;
pub mod frame;
pub mod inline;
mod num;
pub mod reply;
pub mod request;

pub use double::{double_to_string, write_double};
pub use error::ProtocolError;
pub use frame::{parse_frame, Frame};
pub use inline::split_args;
pub use reply::{Protocol, Reply};
pub use request::{encode_command, parse_request, Limits, RequestLimits, RequestParser};
