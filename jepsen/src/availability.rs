//! Availability during faults: a report, not a verdict (some faults legitimately stop a shard,
//! e.g. killing a majority of its replicas). For each fault window of the nemesis log, the
//! outcomes of the operations invoked at least `settle` seconds after the window began: by
//! then a shard whose majority still works together should have a leader again, and the
//! proxy should be sending it new commands. A pure function over the history.

use serde::Serialize;

use crate::history::{pair, Record, Type};
use crate::liveness::is_liveness_op;
use crate::plot::FaultWindow;

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct WindowAvailability {
    pub label: String,
    pub start_s: f64,
    pub end_s: Option<f64>,
    /// Operations invoked at least `settle` into the window (and before its end).
    pub ok: usize,
    pub fail: usize,
    pub unknown: usize,
}

pub fn availability(
    history: &[Record],
    windows: &[FaultWindow],
    settle_s: f64,
) -> Vec<WindowAvailability> {
    let (ops, _) = pair(history);
    windows
        .iter()
        .map(|w| {
            let mut a = WindowAvailability {
                label: w.label.clone(),
                start_s: w.start,
                end_s: w.end,
                ..WindowAvailability::default()
            };
            let from = w.start + settle_s;
            let to = w.end.unwrap_or(f64::INFINITY);
            for o in ops.iter().filter(|o| !is_liveness_op(&o.invoke.f)) {
                let t = o.invoke.time_ns as f64 / 1e9;
                if t < from || t >= to {
                    continue;
                }
                match o.outcome() {
                    Type::Ok => a.ok += 1,
                    Type::Fail => a.fail += 1,
                    _ => a.unknown += 1,
                }
            }
            a
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Value;
    use crate::plot::FaultKind;

    fn rec(index: u64, ms: u64, process: u64, kind: Type) -> Record {
        Record {
            index,
            time_ns: ms * 1_000_000,
            process,
            kind,
            f: "xadd".into(),
            key: "s0".into(),
            value: Value::None,
            node: None,
            error: None,
        }
    }

    #[test]
    fn counts_only_operations_invoked_after_the_window_settled() {
        let h = vec![
            rec(0, 1_000, 1, Type::Invoke),
            rec(1, 1_100, 1, Type::Ok),
            rec(2, 3_500, 2, Type::Invoke),
            rec(3, 3_600, 2, Type::Ok),
            rec(4, 3_700, 3, Type::Invoke),
            rec(5, 4_700, 3, Type::Info),
            rec(6, 6_000, 4, Type::Invoke),
            rec(7, 6_100, 4, Type::Ok),
        ];
        let w = FaultWindow {
            kind: FaultKind::Pause,
            start: 1.0,
            end: Some(5.0),
            label: "SIGSTOP node 1".into(),
        };
        let a = availability(&h, &[w], 2.0);
        assert_eq!((a[0].ok, a[0].fail, a[0].unknown), (1, 0, 1));
    }
}
