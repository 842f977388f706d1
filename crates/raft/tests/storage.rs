//! The replica storage against openraft's conformance suite, and restarts.

use std::sync::Arc;

use bytes::Bytes;
use openraft::storage::{RaftLogStorage, RaftStateMachine};
use openraft::testing::{StoreBuilder, Suite};
use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId, RaftLogReader};
use raft::types::StorageError;
use raft::{open_replica, LogStore, Proposal, StateMachine, TypeConfig};
use storage::StoreOptions;
use streams::{Ctx, Db, Prepared};

fn opts() -> StoreOptions {
    StoreOptions {
        cache_capacity_bytes: 8 * 1024 * 1024,
        fsync: true,
    }
}

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for Builder {
    async fn build(&self) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let (log, sm) = open_replica(dir.path(), opts()).expect("open replica");
        Ok((dir, log, sm))
    }
}

#[test]
fn openraft_storage_conformance_suite() {
    Suite::test_all(Builder).expect("suite");
}

/// Prepares `lines` on `db` (applying each write to it, as the leader's working copy does)
/// and returns the encoded proposal.
fn proposal(db: &mut Db, now_ms: u64, lines: &[&str]) -> Proposal {
    let ctx = Ctx {
        now_ms,
        node_max_entries: 100,
    };
    let mut ops = Vec::new();
    for line in lines {
        let args: Vec<Bytes> = line
            .split_whitespace()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect();
        let cmd = streams::parse(&args).expect("engine").expect("parses");
        if let Prepared::Write(op) = cmd.prepare(db, &ctx) {
            streams::apply(db, &op);
            ops.push(op);
        }
    }
    let mut out = Vec::new();
    streams::codec::encode_ops(now_ms, &ops, &mut out);
    Proposal(Bytes::from(out))
}

fn entry(index: u64, p: Proposal) -> Entry<TypeConfig> {
    Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
        payload: EntryPayload::Normal(p),
    }
}

fn snapshot_bytes(sm: &StateMachine) -> Vec<u8> {
    let mut out = Vec::new();
    sm.shared()
        .with_db(|db| streams::codec::encode_db(db, &mut out));
    out
}

#[tokio::test]
async fn applied_state_survives_a_restart_and_apply_continues() {
    let dir = tempfile::tempdir().unwrap();
    let mut leader = Db::new();
    let p1 = proposal(
        &mut leader,
        1000,
        &["XADD s * a 1", "XADD s * b 2", "XGROUP CREATE s g 0"],
    );
    let p2 = proposal(
        &mut leader,
        2000,
        &["XREADGROUP GROUP g alice STREAMS s >", "XACK s g 1000-0"],
    );
    let p3 = proposal(&mut leader, 3000, &["XADD s * c 3"]);
    let p1_again = p1.clone();
    let before;
    {
        let (_log, mut sm) = open_replica(dir.path(), opts()).unwrap();
        let out = sm
            .apply(vec![entry(1, p1.clone()), entry(2, p2.clone())])
            .await
            .unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].0.len(), 3);
        assert_eq!(
            out[0].0[0],
            resp::Reply::Bulk(Bytes::from_static(b"1000-0"))
        );
        before = snapshot_bytes(&sm);
        let shared = sm.shared();
        assert_eq!(shared.applied_index(), 2);
        drop(sm);
        drop(shared);
    }
    let (_log, mut sm) = open_replica(dir.path(), opts()).unwrap();
    // The store commits applied entries in groups: a reopened replica may be behind, never
    // ahead, and re-applying the log from there (as openraft does) restores the state.
    let (applied, _) = sm.applied_state().await.unwrap();
    let applied = applied.map_or(0, |l| l.index);
    assert!(applied <= 2, "applied {applied}");
    let replay: Vec<_> = [(1, p1_again), (2, p2)]
        .into_iter()
        .filter(|(i, _)| *i > applied)
        .map(|(i, p)| entry(i, p))
        .collect();
    sm.apply(replay).await.unwrap();
    assert_eq!(snapshot_bytes(&sm), before, "state after reopen and replay");
    sm.apply(vec![entry(3, p3)]).await.unwrap();
    let mut expected = Vec::new();
    streams::codec::encode_db(&leader, &mut expected);
    assert_eq!(
        snapshot_bytes(&sm),
        expected,
        "replica equals the leader's working copy"
    );
}

#[tokio::test]
async fn appends_and_votes_are_durable_once_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mut leader = Db::new();
    let entries: Vec<_> = (1..=20)
        .map(|i| entry(i, proposal(&mut leader, 1000 + i, &["XADD s * f v"])))
        .collect();
    {
        let (mut log, _sm) = open_replica(dir.path(), opts()).unwrap();
        log.save_vote(&openraft::Vote::new(7, 3)).await.unwrap();
        // Appended through openraft's test callback (fires after the sync).
        openraft::storage::RaftLogStorageExt::blocking_append(&mut log, entries.clone())
            .await
            .unwrap();
    }
    let (mut log, _sm) = open_replica(dir.path(), opts()).unwrap();
    assert_eq!(
        log.read_vote().await.unwrap(),
        Some(openraft::Vote::new(7, 3))
    );
    let got = log.try_get_log_entries(1..=20).await.unwrap();
    assert_eq!(got.len(), 20);
    let state = log.get_log_state().await.unwrap();
    assert_eq!(state.last_log_id.map(|l| l.index), Some(20));
}

#[tokio::test]
async fn snapshot_installs_on_a_fresh_replica_and_survives_reopen() {
    let src_dir = tempfile::tempdir().unwrap();
    let dst_dir = tempfile::tempdir().unwrap();
    let mut leader = Db::new();
    let (_l, mut src) = open_replica(src_dir.path(), opts()).unwrap();
    let mut es = Vec::new();
    for i in 1..=30u64 {
        es.push(entry(
            i,
            proposal(
                &mut leader,
                1000 * i,
                &["XADD s MAXLEN ~ 10 * f v", "XADD {t}x * g w"],
            ),
        ));
    }
    src.apply(es).await.unwrap();
    let mut builder = src.get_snapshot_builder().await;
    let snap = openraft::RaftSnapshotBuilder::build_snapshot(&mut builder)
        .await
        .unwrap();
    let meta = snap.meta.clone();
    let expected = snapshot_bytes(&src);
    {
        let (_l2, mut dst) = open_replica(dst_dir.path(), opts()).unwrap();
        dst.install_snapshot(&meta, snap.snapshot).await.unwrap();
        assert_eq!(snapshot_bytes(&dst), expected);
        let cur = dst.get_current_snapshot().await.unwrap().expect("current");
        assert_eq!(cur.meta.last_log_id, meta.last_log_id);
    }
    let (_l3, mut dst) = open_replica(dst_dir.path(), opts()).unwrap();
    assert_eq!(snapshot_bytes(&dst), expected);
    let (applied, _) = dst.applied_state().await.unwrap();
    assert_eq!(applied, meta.last_log_id);
    let _ = Arc::new(());
}

/// Applied entries reach the store in groups: after `SM_COMMIT_ENTRIES` entries (or when a
/// snapshot is built) a reopened replica starts from there, and what it re-applies from the
/// log leaves it exactly where it was.
#[tokio::test]
async fn applied_entries_reach_the_store_in_groups_and_before_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let mut leader = Db::new();
    let n = raft::SM_COMMIT_ENTRIES + 5;
    let entries: Vec<_> = (1..=n)
        .map(|i| {
            entry(
                i,
                proposal(&mut leader, 1000 + i, &["XADD s * f v", "XADD t * g w"]),
            )
        })
        .collect();
    let expected;
    {
        let (_log, mut sm) = open_replica(dir.path(), opts()).unwrap();
        for e in &entries {
            sm.apply(vec![e.clone()]).await.unwrap();
        }
        expected = snapshot_bytes(&sm);
    }
    let applied = {
        let (_log, mut sm) = open_replica(dir.path(), opts()).unwrap();
        let (applied, _) = sm.applied_state().await.unwrap();
        let applied = applied.map_or(0, |l| l.index);
        assert!(
            applied >= raft::SM_COMMIT_ENTRIES && applied <= n,
            "applied {applied} of {n}"
        );
        let replay: Vec<_> = entries
            .iter()
            .filter(|e| e.log_id.index > applied)
            .cloned()
            .collect();
        sm.apply(replay).await.unwrap();
        assert_eq!(snapshot_bytes(&sm), expected, "after reopen and replay");
        let mut builder = sm.get_snapshot_builder().await;
        openraft::RaftSnapshotBuilder::build_snapshot(&mut builder)
            .await
            .unwrap();
        applied
    };
    // Building the snapshot committed everything applied.
    let (_log, mut sm) = open_replica(dir.path(), opts()).unwrap();
    let (now, _) = sm.applied_state().await.unwrap();
    assert_eq!(
        now.map(|l| l.index),
        Some(n),
        "was {applied} before the snapshot"
    );
    assert_eq!(snapshot_bytes(&sm), expected, "after the snapshot");
}
