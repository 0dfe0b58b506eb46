//! Reading ATL06-shaped granules: HDF5 through the pure-Rust `hdf5-reader` crate, over any
//! [`ByteSource`] (a local file, bytes in memory, and later S3 or HTTPS ranges).
//!
//! A [`Granule`] reads whole 1-D datasets (latitude, longitude) and index ranges of the others,
//! converting numeric storage types to `f64`/`i64`. Every error names the granule and the
//! dataset; nothing here panics on a malformed file.

use std::fmt;
use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use hdf5_reader::{Datatype, Hdf5File, SliceInfo, SliceInfoElem, Storage, StorageBuffer};

/// Where a granule's bytes come from: a local file, bytes in memory, an S3 object, an HTTP(S)
/// URL. Cheap to hold; reading happens through a [`ReadSession`].
pub trait ByteSource: Send + Sync + fmt::Debug {
    /// A name for messages: a path or URL.
    fn name(&self) -> &str;
    /// Start reading. Remote sources fetch their first block here and keep what they fetch
    /// for as long as the session lives (one granule of one shard), no longer.
    ///
    /// # Errors
    /// [`GranuleError::Open`] when the source cannot be read (missing, denied, truncated).
    fn session(&self) -> Result<Arc<dyn ReadSession>, GranuleError>;
}

/// Random access to a granule's bytes while it is being read.
pub trait ReadSession: Send + Sync + fmt::Debug {
    /// Total length in bytes.
    fn len(&self) -> u64;
    /// Whether the object holds no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Read exactly `len` bytes at `offset`.
    ///
    /// # Errors
    /// An I/O error when the range cannot be read in full.
    fn read_at(&self, offset: u64, len: usize) -> std::io::Result<Vec<u8>>;
    /// `(requests, bytes)` this session sent over the network, when it counts them itself
    /// (remote sources); `None` for local ones, whose reads the granule counts.
    fn io(&self) -> Option<(u64, u64)> {
        None
    }
    /// Whether a read of this session failed for a reason that may pass (server errors,
    /// throttling, timeouts, connection failures, after the client's own retries): the
    /// granule is then [`GranuleError::Unavailable`], not bad.
    fn unavailable(&self) -> bool {
        false
    }
}

/// Largest decoded selection one dataset read may allocate, bytes (64 MiB: 8 M float64
/// rows, 40 times the longest ATL06 beam). A file declaring a larger extent is refused
/// before anything is allocated, never trusted.
pub const MAX_READ_BYTES: usize = 64 << 20;

/// Largest decoded chunk a read may allocate, bytes (16 MiB; ATL06 chunks are 80 kB).
pub const MAX_CHUNK_BYTES: usize = 16 << 20;

/// A granule in a local file, read with positional reads (no seeking, thread-safe).
///
/// The file is opened when a read session starts and closed when it ends, so a run over
/// thousands of granules never holds more open files than granules being read at once.
#[derive(Debug, Clone)]
pub struct LocalFile {
    inner: Arc<LocalInner>,
}

#[derive(Debug)]
struct LocalInner {
    path: PathBuf,
    name: String,
    len: u64,
}

/// One open file of a [`LocalFile`], for one read session.
#[derive(Debug)]
struct LocalSession {
    file: File,
    len: u64,
}

impl LocalFile {
    /// Check that a local file exists and is a regular file (it is opened when read).
    ///
    /// # Errors
    /// [`GranuleError::Open`] when the file cannot be opened or is a directory.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, GranuleError> {
        let path = path.as_ref().to_path_buf();
        let name = path.display().to_string();
        let io_err = |e: std::io::Error| GranuleError::Open {
            granule: name.clone(),
            message: e.to_string(),
        };
        // Opened once here so a missing or unreadable file is reported now, then closed.
        let file = File::open(&path).map_err(io_err)?;
        let meta = file.metadata().map_err(io_err)?;
        if !meta.is_file() {
            return Err(GranuleError::Open {
                granule: name,
                message: "not a regular file".into(),
            });
        }
        Ok(Self {
            inner: Arc::new(LocalInner {
                len: meta.len(),
                path,
                name,
            }),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }
}

impl ByteSource for LocalFile {
    fn name(&self) -> &str {
        &self.inner.name
    }
    fn session(&self) -> Result<Arc<dyn ReadSession>, GranuleError> {
        let file = File::open(&self.inner.path).map_err(|e| GranuleError::Open {
            granule: self.inner.name.clone(),
            message: e.to_string(),
        })?;
        Ok(Arc::new(LocalSession {
            file,
            len: self.inner.len,
        }))
    }
}

impl ReadSession for LocalSession {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&self, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        self.file.read_exact_at(&mut buf, offset)?;
        Ok(buf)
    }
}

/// Open a granule by location.
///
/// Today a local path (optionally `file://`); `s3://` and `https://` locations are reported as
/// not yet supported.
///
/// # Errors
/// [`GranuleError::Open`] when the location cannot be opened.
pub fn open_source(location: &str) -> Result<Arc<dyn ByteSource>, GranuleError> {
    if let Some((scheme, _)) = location.split_once("://") {
        if scheme != "file" {
            return Err(GranuleError::Open {
                granule: location.to_string(),
                message: format!("{scheme}:// granules are not supported yet"),
            });
        }
    }
    let path = location.strip_prefix("file://").unwrap_or(location);
    Ok(Arc::new(LocalFile::open(path)?))
}

/// A granule held in memory (the embedded demo data, tests).
#[derive(Debug, Clone)]
pub struct MemorySource {
    name: String,
    bytes: Arc<[u8]>,
}

impl MemorySource {
    /// Wrap bytes under a display name.
    pub fn new(name: impl Into<String>, bytes: impl Into<Arc<[u8]>>) -> Self {
        Self {
            name: name.into(),
            bytes: bytes.into(),
        }
    }
}

impl ByteSource for MemorySource {
    fn name(&self) -> &str {
        &self.name
    }
    fn session(&self) -> Result<Arc<dyn ReadSession>, GranuleError> {
        Ok(Arc::new(self.clone()))
    }
}

impl ReadSession for MemorySource {
    fn len(&self) -> u64 {
        self.bytes.len() as u64
    }
    fn read_at(&self, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        match start.checked_add(len) {
            Some(end) if end <= self.bytes.len() => Ok(self.bytes[start..end].to_vec()),
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "range {offset}+{len} past the end ({} bytes)",
                    self.bytes.len()
                ),
            )),
        }
    }
}

/// Requests and bytes read from one granule's source.
#[derive(Debug, Default)]
pub struct IoCounters {
    requests: AtomicU64,
    bytes: AtomicU64,
}

impl IoCounters {
    /// `(requests, bytes)` so far.
    pub fn snapshot(&self) -> (u64, u64) {
        (
            self.requests.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }
}

/// Adapts a [`ReadSession`] to the reader's storage trait and counts what it reads.
struct CountingStorage {
    source: Arc<dyn ReadSession>,
    counters: Arc<IoCounters>,
}

impl Storage for CountingStorage {
    fn len(&self) -> u64 {
        self.source.len()
    }

    fn read_range(&self, offset: u64, len: usize) -> hdf5_reader::error::Result<StorageBuffer> {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        tracing::trace!(offset, len, "granule read");
        let bytes = self.source.read_at(offset, len)?;
        self.counters
            .bytes
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(StorageBuffer::from_vec(bytes))
    }
}

/// Errors reading one granule. Each names the granule (and dataset where there is one).
#[derive(Debug, thiserror::Error)]
pub enum GranuleError {
    /// The granule could not be opened as an HDF5 file.
    #[error("granule {granule}: cannot open: {message}")]
    Open {
        /// Granule path or URL.
        granule: String,
        /// Cause.
        message: String,
    },
    /// The granule's host failed in a way that may pass (server errors, throttling, timeouts,
    /// connection failures that outlasted the retries). The granule is not known to be bad:
    /// a shard must be retried rather than written without it.
    #[error("granule {granule}: temporarily unavailable: {message}")]
    Unavailable {
        /// Granule path or URL.
        granule: String,
        /// Cause.
        message: String,
    },
    /// A dataset or group could not be read.
    #[error("granule {granule}: {object}: {message}")]
    Dataset {
        /// Granule path or URL.
        granule: String,
        /// Dataset or group path inside the granule.
        object: String,
        /// Cause.
        message: String,
    },
}

/// What a dataset lookup found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// The dataset exists.
    Present,
    /// The dataset or one of its parent groups does not exist.
    Absent,
}

/// An open granule.
pub struct Granule {
    name: String,
    file: Hdf5File,
    session: Arc<dyn ReadSession>,
    counters: Arc<IoCounters>,
}

impl fmt::Debug for Granule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Granule").field("name", &self.name).finish()
    }
}

fn is_not_found(err: &hdf5_reader::error::Error) -> bool {
    use hdf5_reader::error::Error as E;
    match err {
        E::GroupNotFound(_) | E::DatasetNotFound(_) => true,
        E::Context { source, .. } => is_not_found(source),
        _ => false,
    }
}

impl Granule {
    /// Open a granule: reads the superblock and root group.
    ///
    /// # Errors
    /// [`GranuleError::Open`] for an empty, truncated or non-HDF5 source.
    pub fn open(source: Arc<dyn ByteSource>) -> Result<Self, GranuleError> {
        let name = source.name().to_string();
        let session = source.session()?;
        if session.is_empty() {
            return Err(GranuleError::Open {
                granule: name,
                message: "the file is empty (0 bytes)".into(),
            });
        }
        let counters = Arc::new(IoCounters::default());
        let storage = Arc::new(CountingStorage {
            source: session.clone(),
            counters: counters.clone(),
        });
        let options = hdf5_reader::OpenOptions::default()
            .with_max_read_bytes(MAX_READ_BYTES)
            .with_max_chunk_bytes(MAX_CHUNK_BYTES);
        let file = Hdf5File::from_storage_with_options(storage, options)
            .and_then(|f| f.root_group().map(|_| f))
            .map_err(|e| GranuleError::Open {
                granule: name.clone(),
                message: e.to_string(),
            })?;
        Ok(Self {
            name,
            file,
            session,
            counters,
        })
    }

    /// The granule's name (path or URL).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `(requests, bytes)` read from the source so far: network requests for remote
    /// sources, reader requests for local ones.
    pub fn io(&self) -> (u64, u64) {
        self.session
            .io()
            .unwrap_or_else(|| self.counters.snapshot())
    }

    /// Whether a read failed because the granule's host did (see
    /// [`ReadSession::unavailable`]).
    #[must_use]
    pub fn unavailable(&self) -> bool {
        self.session.unavailable()
    }

    fn err(&self, dataset: &str, message: impl fmt::Display) -> GranuleError {
        GranuleError::Dataset {
            granule: self.name.clone(),
            object: dataset.to_string(),
            message: message.to_string(),
        }
    }

    /// Whether a group exists (e.g. a beam).
    ///
    /// # Errors
    /// [`GranuleError::Dataset`] when the lookup fails for a reason other than absence.
    pub fn has_group(&self, path: &str) -> Result<bool, GranuleError> {
        match self.file.group(path) {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(self.err(path, e)),
        }
    }

    fn dataset(&self, path: &str) -> Result<Option<hdf5_reader::Dataset>, GranuleError> {
        match self.file.dataset(path) {
            Ok(d) => Ok(Some(d)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(self.err(path, e)),
        }
    }

    fn dataset_1d(&self, path: &str) -> Result<hdf5_reader::Dataset, GranuleError> {
        let d = self
            .dataset(path)?
            .ok_or_else(|| self.err(path, "not found"))?;
        if d.ndim() != 1 {
            return Err(self.err(
                path,
                format!("expected a 1-D dataset, found shape {:?}", d.shape()),
            ));
        }
        Ok(d)
    }

    /// Whether a dataset exists.
    ///
    /// # Errors
    /// [`GranuleError::Dataset`] when the lookup fails for a reason other than absence.
    pub fn presence(&self, path: &str) -> Result<Presence, GranuleError> {
        Ok(match self.dataset(path)? {
            Some(_) => Presence::Present,
            None => Presence::Absent,
        })
    }

    /// Number of elements of a 1-D dataset.
    ///
    /// # Errors
    /// [`GranuleError::Dataset`] when missing, not 1-D, or longer than [`MAX_READ_BYTES`]
    /// allows reading (a file's extent is not trusted to size allocations).
    pub fn len_of(&self, path: &str) -> Result<u64, GranuleError> {
        let d = self.dataset_1d(path)?;
        let n = d.shape()[0];
        let element = d.raw_element_size().unwrap_or(1).max(1) as u64;
        let bytes = n.saturating_mul(element);
        if bytes > MAX_READ_BYTES as u64 {
            return Err(self.err(
                path,
                format!(
                    "declares {n} rows ({bytes} bytes), more than the {MAX_READ_BYTES}-byte \
                     read limit: not an ATL06 beam"
                ),
            ));
        }
        Ok(n)
    }

    /// Rows per chunk of a chunked 1-D dataset; `None` when it is stored contiguous or
    /// compact.
    ///
    /// # Errors
    /// [`GranuleError::Dataset`] when missing or not 1-D.
    pub fn chunk_rows(&self, path: &str) -> Result<Option<u64>, GranuleError> {
        let d = self.dataset_1d(path)?;
        Ok(d.chunks()
            .and_then(|c| c.first().copied())
            .map(u64::from)
            .filter(|&c| c > 0))
    }

    /// The dataset's `_FillValue` attribute, if it has one.
    ///
    /// # Errors
    /// [`GranuleError::Dataset`] when the dataset is missing or the attribute is not numeric.
    pub fn fill_value(&self, path: &str) -> Result<Option<f64>, GranuleError> {
        let d = self.dataset_1d(path)?;
        match d.attributes().into_iter().find(|a| a.name == "_FillValue") {
            None => Ok(None),
            Some(a) => a
                .read_as_f64()
                .map(Some)
                .map_err(|e| self.err(path, format!("attribute _FillValue: {e}"))),
        }
    }

    /// Read a floating-point 1-D dataset (float32 or float64) as f64, whole or a row range.
    ///
    /// # Errors
    /// [`GranuleError::Dataset`] when missing, not 1-D, not floating point, the range is past
    /// the end, or a chunk cannot be decoded.
    pub fn read_f64(&self, path: &str, rows: Option<Range<u64>>) -> Result<Vec<f64>, GranuleError> {
        let d = self.dataset_1d(path)?;
        let sel = self.selection(path, &d, rows)?;
        let map = |e: hdf5_reader::error::Error| self.err(path, e);
        match d.dtype() {
            Datatype::FloatingPoint { size: 4, .. } => {
                let a = d.read_slice::<f32>(&sel).map_err(map)?;
                Ok(a.iter().map(|&x| f64::from(x)).collect())
            }
            Datatype::FloatingPoint { size: 8, .. } => {
                let a = d.read_slice::<f64>(&sel).map_err(map)?;
                Ok(a.iter().copied().collect())
            }
            other => Err(self.err(
                path,
                format!(
                    "expected float32 or float64 values, found {}",
                    describe(other)
                ),
            )),
        }
    }

    /// Read an integer 1-D dataset (8 to 64 bits, signed or not) as i64, whole or a row range.
    ///
    /// # Errors
    /// As [`Granule::read_f64`], for integer instead of floating point.
    pub fn read_i64(&self, path: &str, rows: Option<Range<u64>>) -> Result<Vec<i64>, GranuleError> {
        let d = self.dataset_1d(path)?;
        let sel = self.selection(path, &d, rows)?;
        let map = |e: hdf5_reader::error::Error| self.err(path, e);
        macro_rules! read {
            ($t:ty) => {
                d.read_slice::<$t>(&sel)
                    .map_err(map)?
                    .iter()
                    .map(|&x| i64::from(x))
                    .collect()
            };
        }
        Ok(match d.dtype() {
            Datatype::FixedPoint {
                size: 1,
                signed: true,
                ..
            } => read!(i8),
            Datatype::FixedPoint {
                size: 1,
                signed: false,
                ..
            } => read!(u8),
            Datatype::FixedPoint {
                size: 2,
                signed: true,
                ..
            } => read!(i16),
            Datatype::FixedPoint {
                size: 2,
                signed: false,
                ..
            } => read!(u16),
            Datatype::FixedPoint {
                size: 4,
                signed: true,
                ..
            } => read!(i32),
            Datatype::FixedPoint {
                size: 4,
                signed: false,
                ..
            } => read!(u32),
            Datatype::FixedPoint {
                size: 8,
                signed: true,
                ..
            } => read!(i64),
            other => {
                return Err(self.err(
                    path,
                    format!("expected integer flags, found {}", describe(other)),
                ))
            }
        })
    }

    fn selection(
        &self,
        path: &str,
        d: &hdf5_reader::Dataset,
        rows: Option<Range<u64>>,
    ) -> Result<SliceInfo, GranuleError> {
        let n = d.shape()[0];
        let rows = rows.unwrap_or(0..n);
        if rows.start > rows.end || rows.end > n {
            return Err(self.err(
                path,
                format!(
                    "rows {}..{} are outside the dataset's {n} rows",
                    rows.start, rows.end
                ),
            ));
        }
        Ok(SliceInfo {
            selections: vec![SliceInfoElem::Slice {
                start: rows.start,
                end: rows.end,
                step: 1,
            }],
        })
    }
}

fn describe(dtype: &Datatype) -> String {
    match dtype {
        Datatype::FixedPoint { size, signed, .. } => {
            format!(
                "{}int{}",
                if *signed { "" } else { "u" },
                u32::from(*size) * 8
            )
        }
        Datatype::FloatingPoint { size, .. } => format!("float{}", u32::from(*size) * 8),
        Datatype::String { .. } => "a string type".into(),
        Datatype::Compound { .. } => "a compound type".into(),
        Datatype::Array { .. } => "an array type".into(),
        Datatype::Enum { .. } => "an enum type".into(),
        Datatype::VarLen { .. } => "a variable-length type".into(),
        _ => "an unsupported type".into(),
    }
}
