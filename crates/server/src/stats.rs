//! Command and connection statistics for INFO (`commandstats`, `errorstats`,
//! `latencystats`, `stats`). A plain struct owned by the executor thread: no locks, no atomics.
//!
//! ```text
//!  executor ──record_call / record_rejected / record_connection──▶ Stats ──▶ INFO
//!                                          CONFIG RESETSTAT ──reset──▶
//! ```

use std::collections::BTreeMap;

/// Most distinct error codes tracked; past it error stats stop growing (as Redis, which then
/// keeps only `ERRORSTATS_DISABLED` until CONFIG RESETSTAT).
pub const MAX_ERROR_CODES: usize = 128;

/// The error code Redis counts for an error line: its first word (looked for within the
/// first 31 bytes), or `ERR` when there is none.
pub fn error_code(line: &[u8]) -> &[u8] {
    let window = &line[..line.len().min(31)];
    match window.iter().position(|b| *b == b' ') {
        Some(0) | None => b"ERR",
        Some(n) => &line[..n],
    }
}

/// Per-command counters (one `cmdstat_<name>` line).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
    /// Latency histogram of the calls (for `latencystats`).
    pub latency: LatencyHistogram,
}

/// A log-linear latency histogram in microseconds: exact below 64 µs, then 32 buckets per
/// power of two (at most ~3% error), like a small HDR histogram.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LatencyHistogram {
    counts: Vec<u64>,
    total: u64,
}

const LINEAR_BUCKETS: u64 = 64;
const SUB_BUCKET_BITS: u32 = 5;

impl LatencyHistogram {
    fn bucket(usec: u64) -> usize {
        if usec < LINEAR_BUCKETS {
            return usec as usize;
        }
        // usec >= 64: its top 6 bits select a sub-bucket within its power of two.
        let exp = 63 - usec.leading_zeros() - SUB_BUCKET_BITS; // >= 1
        let mantissa = (usec >> exp) - (1 << SUB_BUCKET_BITS); // 0..32
        (LINEAR_BUCKETS + u64::from(exp - 1) * (1 << SUB_BUCKET_BITS) + mantissa) as usize
    }

    /// The highest value that falls in bucket `b`.
    fn bucket_high(b: usize) -> u64 {
        let b = b as u64;
        if b < LINEAR_BUCKETS {
            return b;
        }
        let rel = b - LINEAR_BUCKETS;
        let exp = rel / (1 << SUB_BUCKET_BITS) + 1;
        let mantissa = rel % (1 << SUB_BUCKET_BITS) + (1 << SUB_BUCKET_BITS);
        let high = (u128::from(mantissa + 1) << exp) - 1;
        u64::try_from(high).unwrap_or(u64::MAX)
    }

    pub fn record(&mut self, usec: u64) {
        let b = Self::bucket(usec);
        if self.counts.len() <= b {
            self.counts.resize(b + 1, 0);
        }
        self.counts[b] += 1;
        self.total += 1;
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    /// The latency (µs, the high end of its bucket) at or below which `pct` percent of the
    /// calls fall; 0 when nothing was recorded.
    pub fn percentile(&self, pct: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let wanted = ((pct / 100.0) * self.total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (b, n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= wanted {
                return Self::bucket_high(b);
            }
        }
        Self::bucket_high(self.counts.len().saturating_sub(1))
    }
}

/// Statistics since start or the last CONFIG RESETSTAT.
#[derive(Debug, Default)]
pub struct Stats {
    commands: BTreeMap<String, CommandStat>,
    errors: BTreeMap<Vec<u8>, u64>,
    errors_enabled_off: bool,
    /// Commands that ran (`total_commands_processed`).
    pub total_commands_processed: u64,
    /// Error replies sent (`total_error_replies`), rejected commands included.
    pub total_error_replies: u64,
    /// Connections accepted (`total_connections_received`).
    pub total_connections_received: u64,
    /// Connections refused by maxclients (`rejected_connections`).
    pub rejected_connections: u64,
}

impl Stats {
    /// Updates the counters of `name`, allocating its name only on its first use.
    fn update_command(&mut self, name: &str, f: impl FnOnce(&mut CommandStat)) {
        if let Some(c) = self.commands.get_mut(name) {
            f(c);
            return;
        }
        let mut c = CommandStat::default();
        f(&mut c);
        self.commands.insert(name.to_string(), c);
    }

    fn count_error(&mut self, line: &[u8]) {
        self.total_error_replies += 1;
        if self.errors_enabled_off {
            return;
        }
        let code = error_code(line);
        if let Some(n) = self.errors.get_mut(code) {
            *n += 1;
            return;
        }
        if self.errors.len() >= MAX_ERROR_CODES {
            self.errors.clear();
            self.errors.insert(b"ERRORSTATS_DISABLED".to_vec(), 1);
            self.errors_enabled_off = true;
            return;
        }
        self.errors.insert(code.to_vec(), 1);
    }

    /// A command that ran, in `usec` microseconds; `failed_error` is its error reply line
    /// (without the `-`) if it failed.
    pub fn record_call(&mut self, stat_name: &str, usec: u64, failed_error: Option<&[u8]>) {
        self.total_commands_processed += 1;
        self.update_command(stat_name, |c| {
            c.calls += 1;
            c.usec += usec;
            c.latency.record(usec);
            if failed_error.is_some() {
                c.failed_calls += 1;
            }
        });
        if let Some(line) = failed_error {
            self.count_error(line);
        }
    }

    /// A command rejected before running (unknown command, arity, NOAUTH, EXECABORT, ...):
    /// counted against the command when there is one, and in the error stats.
    pub fn record_rejected(&mut self, stat_name: Option<&str>, error: &[u8]) {
        if let Some(name) = stat_name {
            self.update_command(name, |c| c.rejected_calls += 1);
        }
        self.count_error(error);
    }

    /// An accepted connection.
    pub fn record_connection(&mut self) {
        self.total_connections_received += 1;
    }

    /// A connection refused (maxclients).
    pub fn record_rejected_connection(&mut self) {
        self.rejected_connections += 1;
    }

    /// CONFIG RESETSTAT: every counter back to zero, error stats enabled again.
    pub fn reset(&mut self) {
        *self = Stats::default();
    }

    /// Per-command counters by full name (`xadd`, `xgroup|create`), in name order.
    pub fn commands(&self) -> impl Iterator<Item = (&str, &CommandStat)> {
        self.commands.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Counters of one command, if it was called or rejected.
    pub fn command_stat(&self, name: &str) -> Option<&CommandStat> {
        self.commands.get(name)
    }

    /// Error replies by code (`ERR`, `NOGROUP`, ...), in code order.
    pub fn errors(&self) -> impl Iterator<Item = (&[u8], u64)> {
        self.errors.iter().map(|(k, v)| (k.as_slice(), *v))
    }

    /// How many error replies carried `code`.
    pub fn error_count(&self, code: &[u8]) -> u64 {
        self.errors.get(code).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_as_redis() {
        assert_eq!(error_code(b"ERR syntax error"), b"ERR");
        assert_eq!(error_code(b"NOGROUP No such key"), b"NOGROUP");
        assert_eq!(error_code(b"WRONGTYPE Operation"), b"WRONGTYPE");
        assert_eq!(error_code(b"NOSPACEATALL"), b"ERR");
        assert_eq!(error_code(b""), b"ERR");
        assert_eq!(error_code(b" leading"), b"ERR");
        // The code must end within 31 bytes.
        let long = [b"A".repeat(40), b" x".to_vec()].concat();
        assert_eq!(error_code(&long), b"ERR");
        let edge = [b"B".repeat(30), b" x".to_vec()].concat();
        assert_eq!(error_code(&edge), &edge[..30]);
    }

    #[test]
    fn calls_failures_rejections() {
        let mut s = Stats::default();
        s.record_call("xgroup|create", 10, None);
        s.record_call(
            "xgroup|create",
            30,
            Some(b"BUSYGROUP Consumer Group name already exists"),
        );
        s.record_rejected(
            Some("xadd"),
            b"ERR wrong number of arguments for 'xadd' command",
        );
        s.record_rejected(
            None,
            b"ERR unknown command 'foo', with args beginning with: ",
        );
        let c = s.command_stat("xgroup|create").expect("recorded");
        assert_eq!(
            (c.calls, c.usec, c.failed_calls, c.rejected_calls),
            (2, 40, 1, 0)
        );
        let x = s.command_stat("xadd").expect("recorded");
        assert_eq!((x.calls, x.rejected_calls), (0, 1));
        assert_eq!(s.error_count(b"BUSYGROUP"), 1);
        assert_eq!(s.error_count(b"ERR"), 2);
        assert_eq!(s.total_error_replies, 3);
        assert_eq!(s.total_commands_processed, 2);
        s.reset();
        assert!(s.commands().next().is_none());
        assert!(s.errors().next().is_none());
        assert_eq!(s.total_error_replies, 0);
    }

    #[test]
    fn error_stats_stop_growing_past_the_limit() {
        let mut s = Stats::default();
        for i in 0..MAX_ERROR_CODES {
            s.record_rejected(None, format!("E{i} x").as_bytes());
        }
        assert_eq!(s.errors().count(), MAX_ERROR_CODES);
        s.record_rejected(None, b"ONEMORE x");
        let all: Vec<_> = s.errors().collect();
        assert_eq!(all, vec![(&b"ERRORSTATS_DISABLED"[..], 1)]);
        s.record_rejected(None, b"OTHER x");
        assert_eq!(s.errors().count(), 1);
        assert_eq!(s.total_error_replies, MAX_ERROR_CODES as u64 + 2);
        s.reset();
        s.record_rejected(None, b"NOGROUP x");
        assert_eq!(s.error_count(b"NOGROUP"), 1);
    }

    #[test]
    fn histogram_buckets_cover_values() {
        for v in [
            0u64,
            1,
            63,
            64,
            65,
            100,
            1000,
            123_456,
            u64::MAX / 2,
            u64::MAX,
        ] {
            let b = LatencyHistogram::bucket(v);
            assert!(LatencyHistogram::bucket_high(b) >= v, "value {v}");
            if b > 0 {
                assert!(LatencyHistogram::bucket_high(b - 1) < v, "value {v}");
            }
        }
    }

    #[test]
    fn histogram_percentiles() {
        let mut h = LatencyHistogram::default();
        assert_eq!(h.percentile(50.0), 0);
        for v in 1..=100u64 {
            h.record(v);
        }
        assert_eq!(h.count(), 100);
        assert_eq!(h.percentile(50.0), 50);
        let p99 = h.percentile(99.0);
        assert!((99..=101).contains(&p99), "{p99}");
        assert!(h.percentile(100.0) >= 100);
    }
}
