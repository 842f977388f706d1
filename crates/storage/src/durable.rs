//! What sled's `flush()` leaves undone, so that a completed [`crate::Store::sync`] survives a
//! power loss (see the crate docs for the investigation):
//! - sled writes its log with `pwrite` + `sync_file_range`, which neither flushes the disk's
//!   write cache nor persists the file size: we `fdatasync` the `db` file;
//! - sled writes pages larger than a quarter segment (~128 KiB by default) as separate files
//!   in `blobs/` and never fsyncs them (nor the directory): we fsync every blob file we have
//!   not synced yet, then the `blobs/` directory;
//! - sled writes `conf` and creates `blobs/` without fsync, and renames its recovery snapshot
//!   without syncing the directory: we fsync them (and the directories) once after opening.
//!
//! Listing `blobs/` on every commit would be wasteful, so a new listing is taken only when the
//! directory's modification time differs from the last one seen, or is so close to the last
//! listing that a creation within the same clock tick could have been missed.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::error::StorageError;

/// A listing taken this soon after the directory changed may have missed a change made in
/// the same timestamp tick (file times use a coarse clock), so the next check lists again.
const SAME_TICK_WINDOW: Duration = Duration::from_secs(1);

pub(crate) struct DiskSync {
    dir: PathBuf,
    blobs_dir: PathBuf,
    /// `blobs/`, open: its mtime is read with `fstat` on every sync, no path lookup.
    blobs_handle: File,
    db_file: Arc<File>,
    /// Blob files fsynced so far (still present at the last listing).
    synced_blobs: HashSet<OsString>,
    /// `blobs/` mtime at the last listing, and when that listing was taken.
    listed: Option<(SystemTime, SystemTime)>,
    /// New blob files were synced since the directories were last synced.
    dirs_dirty: bool,
    pub(crate) blob_files_synced_total: u64,
}

fn fsync_path(path: &Path) -> Result<(), StorageError> {
    let f = File::open(path).map_err(|e| StorageError::io("open", path, e))?;
    f.sync_all().map_err(|e| StorageError::io("fsync", path, e))
}

fn fdatasync(f: &File, path: &Path) -> Result<(), StorageError> {
    // SAFETY: fdatasync only reads the descriptor, which `f` keeps open.
    let ret = unsafe { libc::fdatasync(f.as_raw_fd()) };
    if ret == 0 {
        Ok(())
    } else {
        Err(StorageError::io(
            "fdatasync",
            path,
            std::io::Error::last_os_error(),
        ))
    }
}

impl DiskSync {
    pub(crate) fn open(dir: &Path) -> Result<DiskSync, StorageError> {
        let db_path = dir.join("db");
        let db_file = File::open(&db_path).map_err(|e| StorageError::io("open", &db_path, e))?;
        let blobs_dir = dir.join("blobs");
        let blobs_handle =
            File::open(&blobs_dir).map_err(|e| StorageError::io("open", &blobs_dir, e))?;
        Ok(DiskSync {
            dir: dir.to_path_buf(),
            blobs_dir,
            blobs_handle,
            db_file: Arc::new(db_file),
            synced_blobs: HashSet::new(),
            listed: None,
            dirs_dirty: false,
            blob_files_synced_total: 0,
        })
    }

    /// Once after opening: everything sled created or renamed without syncing.
    pub(crate) fn sync_after_open(&mut self) -> Result<(), StorageError> {
        let conf = self.dir.join("conf");
        if conf.exists() {
            fsync_path(&conf)?;
        }
        self.sync_new_blobs()?;
        fdatasync(&self.db_file, &self.dir.join("db"))?;
        fsync_path(&self.blobs_dir)?;
        fsync_path(&self.dir)?;
        if let Some(parent) = self.dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            fsync_path(parent)?;
        }
        self.dirs_dirty = false;
        Ok(())
    }

    /// Cheap check (one `fstat`) for new blob files; syncs them if there are any. Called
    /// after every commit so that a blob reaches the disk before sled's background flusher
    /// can make a log record pointing to it durable.
    pub(crate) fn sync_new_blobs_if_changed(&mut self) -> Result<(), StorageError> {
        let mtime = self
            .blobs_handle
            .metadata()
            .and_then(|m| m.modified())
            .map_err(|e| StorageError::io("stat", &self.blobs_dir, e))?;
        let unchanged = match self.listed {
            Some((seen, at)) => {
                seen == mtime && at.duration_since(mtime).is_ok_and(|d| d > SAME_TICK_WINDOW)
            }
            None => false,
        };
        if unchanged {
            return Ok(());
        }
        let listed_at = SystemTime::now();
        self.sync_new_blobs()?;
        self.listed = Some((mtime, listed_at));
        Ok(())
    }

    fn sync_new_blobs(&mut self) -> Result<(), StorageError> {
        let rd = std::fs::read_dir(&self.blobs_dir)
            .map_err(|e| StorageError::io("read_dir", &self.blobs_dir, e))?;
        let mut present = HashSet::new();
        for entry in rd {
            let entry = entry.map_err(|e| StorageError::io("read_dir", &self.blobs_dir, e))?;
            let name = entry.file_name();
            if !self.synced_blobs.contains(&name) {
                match File::open(entry.path()) {
                    Ok(f) => {
                        f.sync_all()
                            .map_err(|e| StorageError::io("fsync", entry.path(), e))?;
                        self.blob_files_synced_total += 1;
                        self.dirs_dirty = true;
                    }
                    // sled removes blobs of replaced pages concurrently.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(StorageError::io("open", entry.path(), e)),
                }
            }
            present.insert(name);
        }
        self.synced_blobs = present;
        Ok(())
    }

    /// The writer's half of a sync: syncs new blob files now and hands back what is left to
    /// do after sled's `flush()` (the `db` file, and `blobs/` if it has new files), which may
    /// run on another thread.
    pub(crate) fn begin_sync(&mut self) -> Result<DiskFlush, StorageError> {
        self.sync_new_blobs_if_changed()?;
        let blobs_dir = if self.dirs_dirty {
            self.dirs_dirty = false;
            Some(self.blobs_dir.clone())
        } else {
            None
        };
        Ok(DiskFlush {
            db_file: Arc::clone(&self.db_file),
            db_path: self.dir.join("db"),
            blobs_dir,
        })
    }
}

/// What a sync still has to do after sled's `flush()`.
pub(crate) struct DiskFlush {
    db_file: Arc<File>,
    db_path: PathBuf,
    /// `blobs/` gained files since the last sync: fsync the directory too.
    blobs_dir: Option<PathBuf>,
}

impl DiskFlush {
    /// Folds an earlier pending flush into this (later) one: one `fdatasync` covers both, but
    /// a directory sync either of them owes must still happen.
    pub(crate) fn absorb(&mut self, earlier: DiskFlush) {
        if self.blobs_dir.is_none() {
            self.blobs_dir = earlier.blobs_dir;
        }
    }

    pub(crate) fn finish(&self) -> Result<(), StorageError> {
        fdatasync(&self.db_file, &self.db_path)?;
        if let Some(dir) = &self.blobs_dir {
            fsync_path(dir)?;
        }
        Ok(())
    }
}
