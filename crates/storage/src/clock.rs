//! The broker's wall clock: the one place where stream semantics read the time of day.
//!
//! Stream IDs (`*`), delivery and idle times come from the wall clock of the leader, carried in
//! log entries (the engine itself never reads a clock). Every such read goes through
//! [`wall_clock_ms`]. It lives here because this is the lowest crate that the single-node
//! server, the Raft groups and the node all depend on (the engine below it is pure by design).
//!
//! With the cargo feature `fault-injection` (test builds only), the clock is shifted by a
//! process-wide signed offset in milliseconds, which the fault harness changes at run time to
//! jump a broker's clock forward or backward: see [`set_offset_ms`] and [`watch_offset_file`].
//! Without the feature the offset does not exist and [`wall_clock_ms`] is the system clock.
//!
//! With the cargo feature `test-clock` (tests only), a test can pin the clock to an exact
//! value ([`pin_ms`]); while pinned, [`wall_clock_ms`] and [`pinned_ms`] return it, and a
//! leader stamps exactly it into its entries. Without the feature [`pinned_ms`] is `None`.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch as the broker sees them (0 if the clock is before it).
/// With `fault-injection`, shifted by the injected offset (and still never below 0).
pub fn wall_clock_ms() -> u64 {
    if let Some(ms) = pinned_ms() {
        return ms;
    }
    let system_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    #[cfg(feature = "fault-injection")]
    {
        fault::shifted(system_ms, fault::offset_ms())
    }
    #[cfg(not(feature = "fault-injection"))]
    {
        system_ms
    }
}

/// The pinned test clock, if a test pinned it (always `None` without `test-clock`).
#[inline]
pub fn pinned_ms() -> Option<u64> {
    #[cfg(feature = "test-clock")]
    {
        pinned::get()
    }
    #[cfg(not(feature = "test-clock"))]
    {
        None
    }
}

#[cfg(feature = "test-clock")]
pub use pinned::pin_ms;

#[cfg(feature = "test-clock")]
mod pinned {
    use std::sync::atomic::{AtomicU64, Ordering};

    /// `u64::MAX`: not pinned.
    static PINNED_MS: AtomicU64 = AtomicU64::new(u64::MAX);

    /// Pins this process's wall clock to `ms` (`None` unpins it).
    pub fn pin_ms(ms: Option<u64>) {
        let raw = ms.map_or(u64::MAX, |m| m.min(u64::MAX - 1));
        PINNED_MS.store(raw, Ordering::SeqCst);
    }

    pub(super) fn get() -> Option<u64> {
        match PINNED_MS.load(Ordering::SeqCst) {
            u64::MAX => None,
            ms => Some(ms),
        }
    }
}

#[cfg(feature = "fault-injection")]
pub use fault::{offset_ms, set_offset_ms, watch_offset_file, OFFSET_FILE_NAME, WATCH_INTERVAL};

#[cfg(feature = "fault-injection")]
mod fault {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::time::Duration;

    /// Name of the file, in a broker's data directory, that holds the clock offset: one signed
    /// integer of milliseconds (e.g. `3600000` or `-7200000`). Absent or unparsable means 0.
    pub const OFFSET_FILE_NAME: &str = "fault-clock-offset-ms";
    /// How often [`watch_offset_file`] re-reads the file.
    pub const WATCH_INTERVAL: Duration = Duration::from_millis(100);

    /// The injected offset, signed milliseconds added to the system clock.
    static OFFSET_MS: AtomicI64 = AtomicI64::new(0);

    /// The offset currently added to the system clock.
    pub fn offset_ms() -> i64 {
        OFFSET_MS.load(Ordering::Relaxed)
    }

    /// Shifts this process's wall clock by `offset_ms` from now on (0 resets it).
    pub fn set_offset_ms(offset_ms: i64) {
        OFFSET_MS.store(offset_ms, Ordering::Relaxed);
    }

    pub(super) fn shifted(system_ms: u64, offset_ms: i64) -> u64 {
        let ms = i128::from(system_ms) + i128::from(offset_ms);
        ms.clamp(0, i128::from(u64::MAX)) as u64
    }

    /// The offset a file's contents give: a trimmed signed integer, else 0.
    fn parse_offset(contents: &str) -> i64 {
        contents.trim().parse().unwrap_or(0)
    }

    fn read_offset(path: &Path) -> i64 {
        std::fs::read_to_string(path).map_or(0, |s| parse_offset(&s))
    }

    /// Starts a background thread that re-reads `<dir>/fault-clock-offset-ms` every
    /// [`WATCH_INTERVAL`] for the life of the process and makes it the offset (absent or
    /// unparsable: 0), logging each change. The file is read once before this returns, so an
    /// offset written before start-up applies from the first entry on.
    pub fn watch_offset_file(dir: &Path) -> std::io::Result<()> {
        let path: PathBuf = dir.join(OFFSET_FILE_NAME);
        let mut current = read_offset(&path);
        set_offset_ms(current);
        tracing::warn!(
            path = %path.display(),
            offset_ms = current,
            "fault injection: the wall clock follows the offset in this file"
        );
        std::thread::Builder::new()
            .name("fault-clock".into())
            .spawn(move || loop {
                std::thread::sleep(WATCH_INTERVAL);
                let next = read_offset(&path);
                if next != current {
                    set_offset_ms(next);
                    tracing::info!(
                        offset_ms = next,
                        previous_offset_ms = current,
                        "fault injection: wall clock offset changed"
                    );
                    current = next;
                }
            })?;
        Ok(())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn shifted_clamps_at_both_ends() {
            assert_eq!(shifted(1_000, 500), 1_500);
            assert_eq!(shifted(1_000, -500), 500);
            assert_eq!(shifted(1_000, -5_000), 0);
            assert_eq!(shifted(u64::MAX - 1, 10), u64::MAX);
        }

        #[test]
        fn parse_offset_accepts_signed_integers_only() {
            assert_eq!(parse_offset("3600000\n"), 3_600_000);
            assert_eq!(parse_offset(" -7200000 "), -7_200_000);
            assert_eq!(parse_offset("+5"), 5);
            assert_eq!(parse_offset(""), 0);
            assert_eq!(parse_offset("1h"), 0);
        }
    }
}
