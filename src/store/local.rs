//! A local-directory store whose writes are atomic: every value is written whole to a
//! temporary file and renamed over its key, so a process killed mid-write (or a full disk)
//! leaves either the old value or the new one, never a partial chunk or metadata document.
//!
//! Temporary files live under [`TEMP_DIR`] at the store root, one directory per process
//! (`.zagg-tmp/<pid>/`), so they never appear inside an array. Opening the store removes the
//! directories of processes that no longer run (what a killed run left behind); a running
//! process's directory is removed when its store handles are dropped.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use zarrs::filesystem::FilesystemStore;
use zarrs::storage::byte_range::ByteRangeIterator;
use zarrs::storage::{
    AtomicRenameStorageTraits, Bytes, ListableStorageTraits, MaybeBytesIterator,
    OffsetBytesIterator, ReadableStorageTraits, StorageError, StoreKey, StoreKeys,
    StoreKeysPrefixes, StorePrefix, WritableStorageTraits,
};

/// Directory (at the store root) of the temporary files of unfinished writes.
pub const TEMP_DIR: &str = ".zagg-tmp";

/// A [`FilesystemStore`] with atomic whole-value writes (see the module docs).
pub(crate) struct AtomicFilesystem {
    inner: FilesystemStore,
    root: PathBuf,
    /// `.zagg-tmp/<pid>` below the root, as a key prefix.
    temp_prefix: String,
    /// Its path, removed on drop.
    temp_path: PathBuf,
    next: AtomicU64,
}

impl AtomicFilesystem {
    /// Open `root` (created if needed), after removing temporary files that processes no
    /// longer running left behind.
    ///
    /// # Errors
    /// The message of the filesystem error when the directory cannot be created or opened.
    pub(crate) fn new(root: &Path) -> Result<Self, String> {
        let inner = FilesystemStore::new(root).map_err(|e| e.to_string())?;
        sweep_stale(&root.join(TEMP_DIR));
        let pid = std::process::id();
        Ok(Self {
            inner,
            root: root.to_path_buf(),
            temp_prefix: format!("{TEMP_DIR}/{pid}"),
            temp_path: root.join(TEMP_DIR).join(pid.to_string()),
            next: AtomicU64::new(0),
        })
    }

    fn temp_key(&self) -> Result<StoreKey, StorageError> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        StoreKey::new(format!("{}/{n}", self.temp_prefix))
            .map_err(|e| StorageError::Other(e.to_string()))
    }
}

impl Drop for AtomicFilesystem {
    fn drop(&mut self) {
        // Only empty directories: a write still under way in another handle keeps its file.
        let _ = std::fs::remove_dir(&self.temp_path);
        if let Some(parent) = self.temp_path.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

/// Whether the process `pid` is running (Linux: `/proc/<pid>` exists). Elsewhere every
/// process is assumed to run, so nothing of another process is ever removed.
fn running(pid: u32) -> bool {
    let proc = Path::new("/proc");
    if proc.join("self").exists() {
        proc.join(pid.to_string()).exists()
    } else {
        true
    }
}

/// Remove the temporary directories of processes that no longer run.
fn sweep_stale(temp_root: &Path) {
    let Ok(entries) = std::fs::read_dir(temp_root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !running(pid) {
            match std::fs::remove_dir_all(entry.path()) {
                Ok(()) => tracing::info!(
                    path = %entry.path().display(),
                    "removed the unfinished writes of a process that stopped"
                ),
                Err(e) => tracing::warn!(
                    path = %entry.path().display(),
                    error = %e,
                    "cannot remove the unfinished writes of a stopped process"
                ),
            }
        }
    }
    let _ = std::fs::remove_dir(temp_root);
}

/// Whether a key is one of the temporary files (never listed).
fn is_temp(key: &StoreKey) -> bool {
    key.as_str()
        .split('/')
        .next()
        .is_some_and(|first| first == TEMP_DIR)
}

impl ReadableStorageTraits for AtomicFilesystem {
    fn get_partial_many<'a>(
        &'a self,
        key: &StoreKey,
        byte_ranges: ByteRangeIterator<'a>,
    ) -> Result<MaybeBytesIterator<'a>, StorageError> {
        self.inner.get_partial_many(key, byte_ranges)
    }

    fn size_key(&self, key: &StoreKey) -> Result<Option<u64>, StorageError> {
        self.inner.size_key(key)
    }

    fn supports_get_partial(&self) -> bool {
        self.inner.supports_get_partial()
    }
}

impl WritableStorageTraits for AtomicFilesystem {
    fn set(&self, key: &StoreKey, value: Bytes) -> Result<(), StorageError> {
        // Written directly (the temporary name is this process's alone, so no lock is
        // needed) and not synced: the rename is what makes a killed process harmless.
        let temp = self.temp_key()?;
        let temp_path = self.root.join(temp.as_str());
        let write = || -> std::io::Result<()> {
            if !self.temp_path.is_dir() {
                std::fs::create_dir_all(&self.temp_path)?;
            }
            std::fs::write(&temp_path, &value)?;
            // The rename needs the key's directory.
            if let Some(parent) = self.root.join(key.as_str()).parent() {
                std::fs::create_dir_all(parent)?;
            }
            Ok(())
        };
        if let Err(e) = write() {
            let _ = std::fs::remove_file(&temp_path);
            return Err(e.into());
        }
        if let Err(e) = self.inner.rename(&temp, key) {
            let _ = std::fs::remove_file(&temp_path);
            return Err(e);
        }
        Ok(())
    }

    fn set_partial_many(
        &self,
        key: &StoreKey,
        offset_values: OffsetBytesIterator,
    ) -> Result<(), StorageError> {
        // Never used: `supports_set_partial` is false, so zarrs writes whole values. Kept
        // atomic anyway: read, patch, write whole.
        let mut value = self.inner.get(key)?.map(|b| b.to_vec()).unwrap_or_default();
        for (offset, bytes) in offset_values {
            let start = usize::try_from(offset).map_err(|e| StorageError::Other(e.to_string()))?;
            let end = start + bytes.len();
            if value.len() < end {
                value.resize(end, 0);
            }
            value[start..end].copy_from_slice(&bytes);
        }
        self.set(key, Bytes::from(value))
    }

    fn erase(&self, key: &StoreKey) -> Result<(), StorageError> {
        self.inner.erase(key)
    }

    fn erase_prefix(&self, prefix: &StorePrefix) -> Result<(), StorageError> {
        self.inner.erase_prefix(prefix)
    }

    fn supports_set_partial(&self) -> bool {
        false
    }
}

impl ListableStorageTraits for AtomicFilesystem {
    fn list(&self) -> Result<StoreKeys, StorageError> {
        let mut keys = self.inner.list()?;
        keys.retain(|k| !is_temp(k));
        Ok(keys)
    }

    fn list_prefix(&self, prefix: &StorePrefix) -> Result<StoreKeys, StorageError> {
        let mut keys = self.inner.list_prefix(prefix)?;
        keys.retain(|k| !is_temp(k));
        Ok(keys)
    }

    fn list_dir(&self, prefix: &StorePrefix) -> Result<StoreKeysPrefixes, StorageError> {
        let listed = self.inner.list_dir(prefix)?;
        if !prefix.as_str().is_empty() {
            return Ok(listed);
        }
        let keys: Vec<StoreKey> = listed
            .keys()
            .iter()
            .filter(|k| !is_temp(k))
            .cloned()
            .collect();
        let prefixes: Vec<StorePrefix> = listed
            .prefixes()
            .iter()
            .filter(|p| p.as_str().trim_end_matches('/') != TEMP_DIR)
            .cloned()
            .collect();
        Ok(StoreKeysPrefixes::new(keys, prefixes))
    }

    fn size_prefix(&self, prefix: &StorePrefix) -> Result<u64, StorageError> {
        self.inner.size_prefix(prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> StoreKey {
        StoreKey::new(s).expect("key")
    }

    #[test]
    fn writes_replace_whole_values_and_leave_no_temporary_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = AtomicFilesystem::new(dir.path()).expect("open");
        store
            .set(&key("12/h_mean/c/7"), Bytes::from_static(b"first value"))
            .expect("set");
        store
            .set(&key("12/h_mean/c/7"), Bytes::from_static(b"second"))
            .expect("set");
        assert_eq!(
            store.get(&key("12/h_mean/c/7")).expect("get").as_deref(),
            Some(&b"second"[..])
        );
        assert_eq!(store.list().expect("list"), vec![key("12/h_mean/c/7")]);
        drop(store);
        assert!(
            !dir.path().join(TEMP_DIR).exists(),
            "the temporary directory is removed when the store is dropped"
        );
    }

    #[test]
    fn leftovers_of_a_stopped_process_are_removed_and_never_listed() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A process that cannot be running (pid beyond Linux's maximum) left a partial file.
        let stale = dir.path().join(TEMP_DIR).join("4294967294");
        std::fs::create_dir_all(&stale).expect("mkdir");
        std::fs::write(stale.join("0"), b"partial").expect("write");
        // The live process's own directory with a file in flight is listed by nobody either.
        let store = AtomicFilesystem::new(dir.path()).expect("open");
        if Path::new("/proc/self").exists() {
            assert!(!stale.exists(), "stale temporary files removed");
        }
        store
            .inner
            .set(&store.temp_key().expect("temp"), Bytes::from_static(b"x"))
            .expect("set");
        store
            .set(&key("zarr.json"), Bytes::from_static(b"{}"))
            .expect("set");
        assert_eq!(store.list().expect("list"), vec![key("zarr.json")]);
        let root = store.list_dir(&StorePrefix::root()).expect("list_dir");
        assert_eq!(root.keys(), &vec![key("zarr.json")]);
        assert!(root.prefixes().is_empty(), "{:?}", root.prefixes());
    }

    #[test]
    fn partial_writes_are_whole_writes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = AtomicFilesystem::new(dir.path()).expect("open");
        store
            .set(&key("a"), Bytes::from_static(b"abcdef"))
            .expect("set");
        store
            .set_partial_many(
                &key("a"),
                Box::new([(2u64, Bytes::from_static(b"XY"))].into_iter()),
            )
            .expect("partial");
        assert_eq!(
            store.get(&key("a")).expect("get").as_deref(),
            Some(&b"abXYef"[..])
        );
    }
}
