//! The single-node broker's wire suites (`crates/server/tests/suite/*.rs`: connection,
//! blocking reads, transactions, the wire fuzzer) run unchanged through the proxy of a
//! 3-node, 3-shard cluster: the same commands must get the same bytes back.
//!
//! Each test starts its own cluster (`common::start_with`), so the files see the fresh,
//! empty broker they expect.

#[path = "../../server/tests/common/wire.rs"]
mod wire;

#[path = "shared/cluster.rs"]
mod shared;

mod common;

#[path = "../../server/tests/suite/connection.rs"]
mod connection;

#[path = "../../server/tests/suite/blocking.rs"]
mod blocking;

#[path = "../../server/tests/suite/transactions.rs"]
mod transactions;

#[path = "../../server/tests/suite/fuzz_wire.rs"]
mod fuzz_wire;
