//! # placement: where keys live in an xraft cluster
//!
//! Owns key → hash slot (Redis Cluster's CRC16 mod 16384, honouring `{hash tags}`), slot →
//! Raft group (the [`SlotTable`], computed once with `hashring` when the cluster is created
//! and then stored, never recomputed: a hasher or ring change in a later build must not move
//! slots of a running cluster), and group → replicas on nodes with a preferred leader
//! ([`ClusterMap`]). Pure: no I/O, no tokio, no sled, no Raft.
//!
//! ```text
//!  key ──crc16 (hash tag)──▶ slot 0..16383 ──SlotTable──▶ group ──ClusterMap──▶ replicas, leader
//! ```
//!
//! The cluster map is durable configuration: every node stores the same encoded map in its
//! data directory on first start and refuses to start with a different one.

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};

use bincode::Options;
use serde::{Deserialize, Serialize};

/// Redis Cluster's slot count.
pub const SLOT_COUNT: u16 = 16384;
/// Virtual nodes per group on the hash ring.
pub const VNODES_PER_GROUP: u32 = 64;
/// Most groups a cluster may have.
pub const MAX_GROUPS: u32 = 1024;
/// Encoded map format version.
pub const MAP_FORMAT_VERSION: u8 = 1;
const MAP_MAGIC: &[u8; 4] = b"XRCM";

/// CRC16-CCITT (XModem), as Redis Cluster's `crc16.c`.
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= (b as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The hash slot of `key`, as Redis Cluster's `keyHashSlot`: if the key has a `{` followed
/// later by a `}` with at least one byte between them, only those bytes are hashed.
pub fn key_slot(key: &[u8]) -> u16 {
    let tagged = key.iter().position(|&b| b == b'{').and_then(|open| {
        let rest = &key[open + 1..];
        rest.iter()
            .position(|&b| b == b'}')
            .filter(|&close| close > 0)
            .map(|close| &rest[..close])
    });
    crc16(tagged.unwrap_or(key)) & (SLOT_COUNT - 1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GroupId(pub u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(pub u64);

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlacementError {
    #[error("group count must be 1..={MAX_GROUPS}, got {0}")]
    GroupCount(u32),
    #[error("replication must be 1..=nodes ({nodes}), got {replication}")]
    Replication { replication: usize, nodes: usize },
    #[error("invalid cluster map: {0}")]
    Invalid(String),
    #[error("cluster map encoding: {0}")]
    Encoding(String),
}

/// A virtual node of a group on the ring; hashes raw bytes in one defined way (std `Hash`
/// of `str` and `[u8]` add length prefixes that differ).
#[derive(Clone, Copy, PartialEq, Eq)]
struct VNode {
    group: GroupId,
    index: u32,
}

impl Hash for VNode {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(&self.group.0.to_be_bytes());
        state.write(&self.index.to_be_bytes());
    }
}

struct SlotKey(u16);

impl Hash for SlotKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(&self.0.to_be_bytes());
    }
}

/// Slot → group, for all 16384 slots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotTable {
    slots: Vec<GroupId>,
}

impl SlotTable {
    /// Spreads the slots over `groups` with a consistent-hash ring (hashring's SipHash with
    /// fixed keys: the same input gives the same table in every process).
    pub fn with_hashring(groups: &[GroupId]) -> SlotTable {
        let mut ring = hashring::HashRing::new();
        for &group in groups {
            for index in 0..VNODES_PER_GROUP {
                ring.add(VNode { group, index });
            }
        }
        let slots = (0..SLOT_COUNT)
            .map(|s| ring.get(&SlotKey(s)).map_or(GroupId(0), |v| v.group))
            .collect();
        SlotTable { slots }
    }

    pub fn slot_group(&self, slot: u16) -> GroupId {
        self.slots[(slot & (SLOT_COUNT - 1)) as usize]
    }

    pub fn key_group(&self, key: &[u8]) -> GroupId {
        self.slot_group(key_slot(key))
    }

    /// How many slots `group` owns.
    pub fn slots_of(&self, group: GroupId) -> usize {
        self.slots.iter().filter(|g| **g == group).count()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// `host:port` of the node's gRPC server (Raft and broker services).
    pub addr: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSpec {
    pub replicas: Vec<NodeId>,
    pub preferred_leader: NodeId,
}

/// The durable description of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMap {
    pub version: u64,
    pub nodes: BTreeMap<NodeId, NodeInfo>,
    pub groups: BTreeMap<GroupId, GroupSpec>,
    pub slots: SlotTable,
}

impl ClusterMap {
    /// Places `group_count` groups of `replication` replicas on `nodes`: group g's replicas
    /// are the `replication` nodes starting at position g (mod n) in node order, its
    /// preferred leader the first of them, so replicas and leaders spread evenly.
    pub fn plan(
        nodes: BTreeMap<NodeId, NodeInfo>,
        group_count: u32,
        replication: usize,
    ) -> Result<ClusterMap, PlacementError> {
        if group_count == 0 || group_count > MAX_GROUPS {
            return Err(PlacementError::GroupCount(group_count));
        }
        if replication == 0 || replication > nodes.len() {
            return Err(PlacementError::Replication {
                replication,
                nodes: nodes.len(),
            });
        }
        let ids: Vec<NodeId> = nodes.keys().copied().collect();
        let groups: BTreeMap<GroupId, GroupSpec> = (0..group_count)
            .map(|g| {
                let replicas: Vec<NodeId> = (0..replication)
                    .map(|r| ids[(g as usize + r) % ids.len()])
                    .collect();
                (
                    GroupId(g),
                    GroupSpec {
                        preferred_leader: replicas[0],
                        replicas,
                    },
                )
            })
            .collect();
        let group_ids: Vec<GroupId> = groups.keys().copied().collect();
        let map = ClusterMap {
            version: 1,
            nodes,
            groups,
            slots: SlotTable::with_hashring(&group_ids),
        };
        map.validate()?;
        Ok(map)
    }

    pub fn group_of_key(&self, key: &[u8]) -> GroupId {
        self.slots.key_group(key)
    }

    pub fn group(&self, g: GroupId) -> Option<&GroupSpec> {
        self.groups.get(&g)
    }

    pub fn node(&self, n: NodeId) -> Option<&NodeInfo> {
        self.nodes.get(&n)
    }

    /// Groups with a replica on `node`.
    pub fn groups_on(&self, node: NodeId) -> Vec<GroupId> {
        self.groups
            .iter()
            .filter(|(_, s)| s.replicas.contains(&node))
            .map(|(g, _)| *g)
            .collect()
    }

    /// Checks internal consistency.
    pub fn validate(&self) -> Result<(), PlacementError> {
        let bad = |m: String| Err(PlacementError::Invalid(m));
        if self.groups.is_empty() {
            return bad("no groups".into());
        }
        for (g, spec) in &self.groups {
            if spec.replicas.is_empty() {
                return bad(format!("group {g} has no replicas"));
            }
            for (i, r) in spec.replicas.iter().enumerate() {
                if !self.nodes.contains_key(r) {
                    return bad(format!("group {g}: replica on unknown node {r}"));
                }
                if spec.replicas[..i].contains(r) {
                    return bad(format!("group {g}: node {r} twice"));
                }
            }
            if !spec.replicas.contains(&spec.preferred_leader) {
                return bad(format!("group {g}: preferred leader is not a replica"));
            }
        }
        if self.slots.slots.len() != SLOT_COUNT as usize {
            return bad(format!("{} slots", self.slots.slots.len()));
        }
        if let Some(g) = self
            .slots
            .slots
            .iter()
            .find(|g| !self.groups.contains_key(g))
        {
            return bad(format!("a slot maps to unknown group {g}"));
        }
        Ok(())
    }

    /// Durable encoding: magic, version, bincode body, CRC64 of all that.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = MAP_MAGIC.to_vec();
        out.push(MAP_FORMAT_VERSION);
        if let Err(e) = options().serialize_into(&mut out, self) {
            panic!("cluster map encoding failed: {e}");
        }
        let crc = crc64::crc64(0, &out);
        out.extend_from_slice(&crc.to_be_bytes());
        out
    }

    pub fn decode(buf: &[u8]) -> Result<ClusterMap, PlacementError> {
        let err = |m: &str| PlacementError::Encoding(m.to_string());
        if buf.len() < MAP_MAGIC.len() + 1 + 8 {
            return Err(err("too short"));
        }
        let (body, crc) = buf.split_at(buf.len() - 8);
        let crc = u64::from_be_bytes(crc.try_into().map_err(|_| err("crc"))?);
        if crc64::crc64(0, body) != crc {
            return Err(err("checksum mismatch"));
        }
        if &body[..4] != MAP_MAGIC {
            return Err(err("not a cluster map"));
        }
        if body[4] != MAP_FORMAT_VERSION {
            return Err(PlacementError::Encoding(format!(
                "unsupported version {}",
                body[4]
            )));
        }
        let mut rest = &body[5..];
        let map: ClusterMap = options()
            .deserialize_from(&mut rest)
            .map_err(|e| PlacementError::Encoding(e.to_string()))?;
        if !rest.is_empty() {
            return Err(err("trailing bytes"));
        }
        map.validate()?;
        Ok(map)
    }
}

fn options() -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_big_endian()
        .with_limit(16 * 1024 * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn slots_match_redis_cluster() {
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(
            key_slot(b"{user1000}.following"),
            key_slot(b"{user1000}.followers")
        );
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") & 16383);
        assert_eq!(key_slot(b"foo{{bar}}zap"), crc16(b"{bar") & 16383);
        assert_eq!(key_slot(b"foo{bar}{zap}"), key_slot(b"bar"));
        assert_eq!(key_slot(b"{"), crc16(b"{") & 16383);
        assert_eq!(key_slot(b""), 0);
    }

    fn nodes(n: u64) -> BTreeMap<NodeId, NodeInfo> {
        (1..=n)
            .map(|i| {
                (
                    NodeId(i),
                    NodeInfo {
                        addr: format!("127.0.0.1:{}", 7000 + i),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn slots_spread_over_groups() {
        for groups in [4u32, 8, 16] {
            let ids: Vec<GroupId> = (0..groups).map(GroupId).collect();
            let t = SlotTable::with_hashring(&ids);
            let fair = SLOT_COUNT as f64 / groups as f64;
            let counts: Vec<usize> = ids.iter().map(|g| t.slots_of(*g)).collect();
            println!("{groups} groups: slots per group {counts:?}");
            for c in counts {
                assert!(
                    (c as f64) > 0.5 * fair && (c as f64) < 1.5 * fair,
                    "{c} vs fair {fair}"
                );
            }
            assert_eq!(t, SlotTable::with_hashring(&ids), "deterministic");
        }
    }

    #[test]
    fn replicas_and_leaders_spread() {
        let m = ClusterMap::plan(nodes(3), 6, 3).unwrap();
        for n in 1..=3 {
            let leads = m
                .groups
                .values()
                .filter(|s| s.preferred_leader == NodeId(n))
                .count();
            assert_eq!(leads, 2);
            assert_eq!(m.groups_on(NodeId(n)).len(), 6);
        }
        let m5 = ClusterMap::plan(nodes(5), 10, 3).unwrap();
        for n in 1..=5 {
            assert_eq!(m5.groups_on(NodeId(n)).len(), 6);
        }
        assert!(ClusterMap::plan(nodes(2), 3, 3).is_err());
        assert!(ClusterMap::plan(nodes(3), 0, 3).is_err());
        assert!(ClusterMap::plan(nodes(3), 3, 0).is_err());
    }

    #[test]
    fn encoding_round_trips_and_detects_corruption() {
        let m = ClusterMap::plan(nodes(3), 4, 3).unwrap();
        let buf = m.encode();
        assert_eq!(ClusterMap::decode(&buf).unwrap(), m);
        for i in (0..buf.len()).step_by(7) {
            let mut b = buf.clone();
            b[i] ^= 0x40;
            assert!(ClusterMap::decode(&b).is_err(), "flip at {i}");
        }
        assert!(ClusterMap::decode(&buf[..buf.len() - 1]).is_err());
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = ClusterMap::decode(&bytes);
        }
    }
}
