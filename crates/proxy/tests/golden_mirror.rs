//! The engine's golden tests (`crates/streams/tests/golden/*.rs`: entries, consumer groups,
//! keyspace) run with every command also sent through the proxy of a 3-node, 3-shard
//! cluster: each reply from the cluster must equal the engine's, byte for byte (see
//! `mirror/mod.rs` for what is compared and when a test's commands cannot be).

#[path = "../../server/tests/common/wire.rs"]
mod wire;

#[path = "shared/cluster.rs"]
mod shared;

#[path = "mirror/mod.rs"]
mod common;

#[path = "../../streams/tests/golden/entries.rs"]
mod entries;

#[path = "../../streams/tests/golden/groups.rs"]
mod groups;

#[path = "../../streams/tests/golden/keyspace.rs"]
mod keyspace;
