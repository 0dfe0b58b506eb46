//! The read plan of a remote granule: what to fetch for each of the HDF5 reader's reads.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::future::try_join_all;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};

use super::{describe_error, is_transient, Cloud, TruncatedObject};
use crate::granule::{ByteSource, GranuleError, ReadSession};

/// A granule in S3 or behind HTTP(S): a location and a client, nothing fetched.
pub struct RemoteObject {
    pub(super) name: String,
    pub(super) cloud: Arc<Cloud>,
    pub(super) client: Arc<dyn ObjectStore>,
    pub(super) path: ObjectPath,
}

impl fmt::Debug for RemoteObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteObject")
            .field("name", &self.name)
            .finish()
    }
}

impl ByteSource for RemoteObject {
    fn name(&self) -> &str {
        &self.name
    }

    fn session(&self) -> Result<Arc<dyn ReadSession>, GranuleError> {
        let open_err = |e: object_store::Error| {
            let message = describe_error(&e);
            let granule = self.name.clone();
            if is_transient(&e) {
                GranuleError::Unavailable { granule, message }
            } else {
                GranuleError::Open { granule, message }
            }
        };
        let reader = self
            .cloud
            .block_on(RangeReader::start(
                self.name.clone(),
                self.cloud.clone(),
                self.client.clone(),
                self.path.clone(),
            ))
            .map_err(open_err)?;
        Ok(Arc::new(reader))
    }
}

/// One reading of a remote granule, and its read plan.
///
/// Fetched bytes are kept as non-overlapping segments. A read that is not fully held fetches
/// its gaps, each extended by a read-ahead window: `min_fetch` after a jump, doubled (up to
/// `max_fetch`) while reads continue where the last fetch ended. The HDF5 reader's many small
/// metadata reads thus cost few requests, and a dataset read chunk after chunk (latitude,
/// longitude, a shard's row range) turns into a few large requests, while chunks that are
/// not needed are skipped.
struct RangeReader {
    name: String,
    cloud: Arc<Cloud>,
    client: Arc<dyn ObjectStore>,
    path: ObjectPath,
    len: u64,
    state: Mutex<ReadState>,
}

#[derive(Default)]
struct ReadState {
    /// Fetched bytes by start offset, non-overlapping.
    segments: BTreeMap<u64, Bytes>,
    /// End of the last fetch and the current read-ahead window.
    last_end: u64,
    window: u64,
    requests: u64,
    bytes: u64,
    /// A fetch failed for a reason that may pass (see [`is_transient`]).
    unavailable: bool,
}

impl ReadState {
    /// The parts of `start..end` not held, in order.
    fn gaps(&self, start: u64, end: u64) -> Vec<Range<u64>> {
        let mut gaps = Vec::new();
        let mut at = start;
        if let Some((&s, b)) = self.segments.range(..=start).next_back() {
            at = at.max(s + b.len() as u64);
        }
        for (&s, b) in self.segments.range(start..end) {
            if s > at {
                gaps.push(at..s);
            }
            at = at.max(s + b.len() as u64);
        }
        if at < end {
            gaps.push(at..end);
        }
        gaps
    }

    /// Start of the first segment after `offset` (where a fetch must stop).
    fn next_start(&self, offset: u64) -> Option<u64> {
        self.segments.range(offset + 1..).next().map(|(&s, _)| s)
    }

    /// Copy `start..end`, which must be held, into a vector.
    fn copy(&self, start: u64, end: u64) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity((end - start) as usize);
        let mut at = start;
        let first = self
            .segments
            .range(..=start)
            .next_back()
            .map_or(start, |(&s, _)| s);
        for (&s, b) in self.segments.range(first..end) {
            let seg_end = s + b.len() as u64;
            if seg_end <= at {
                continue;
            }
            if s > at {
                return None;
            }
            let take_end = seg_end.min(end);
            out.extend_from_slice(&b[(at - s) as usize..(take_end - s) as usize]);
            at = take_end;
            if at == end {
                break;
            }
        }
        (at == end).then_some(out)
    }
}

impl fmt::Debug for RangeReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RangeReader")
            .field("name", &self.name)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl RangeReader {
    /// The speculative first read (`min_fetch` bytes from the start, where the superblock and
    /// root group are), which also tells the object's size.
    async fn start(
        name: String,
        cloud: Arc<Cloud>,
        client: Arc<dyn ObjectStore>,
        path: ObjectPath,
    ) -> Result<Self, object_store::Error> {
        let first = cloud.options.min_fetch;
        let _permit = cloud.in_flight.clone().acquire_owned().await;
        let options = GetOptions {
            range: Some(GetRange::Bounded(0..first)),
            ..GetOptions::default()
        };
        let result = client.get_opts(&path, options).await?;
        let len = result.meta.size;
        let bytes = result.bytes().await?;
        let expected = len.min(first);
        if (bytes.len() as u64) < expected {
            return Err(truncated(&path, 0, expected, bytes.len()));
        }
        let mut state = ReadState {
            last_end: bytes.len() as u64,
            window: cloud.options.min_fetch,
            requests: 1,
            bytes: bytes.len() as u64,
            ..ReadState::default()
        };
        if !bytes.is_empty() {
            state.segments.insert(0, bytes);
        }
        Ok(Self {
            name,
            cloud,
            client,
            path,
            len,
            state: Mutex::new(state),
        })
    }

    /// Fetch what `start..end` lacks, with read-ahead; concurrent when there are several gaps.
    async fn fetch(&self, start: u64, end: u64) -> Result<(), object_store::Error> {
        let (min, max) = (self.cloud.options.min_fetch, self.cloud.options.max_fetch);
        let ranges: Vec<Range<u64>> = {
            let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let gaps = st.gaps(start, end);
            let Some(first) = gaps.first() else {
                return Ok(());
            };
            st.window = if first.start == st.last_end {
                (st.window * 2).clamp(min, max)
            } else {
                min
            };
            let window = st.window;
            let mut ranges = Vec::with_capacity(gaps.len());
            for (i, g) in gaps.iter().enumerate() {
                let mut fetch_end = g.end;
                if i + 1 == gaps.len() {
                    // Read ahead past the last gap, up to the next held segment.
                    let ahead = (g.start + window).min(self.len);
                    let stop = st.next_start(g.start).unwrap_or(self.len);
                    fetch_end = fetch_end.max(ahead.min(stop));
                }
                ranges.push(g.start..fetch_end);
            }
            ranges
        };
        let fetches = ranges.into_iter().map(|r| async move {
            let _permit = self.cloud.in_flight.clone().acquire_owned().await;
            let bytes = self.client.get_range(&self.path, r.clone()).await?;
            if (bytes.len() as u64) < r.end - r.start {
                return Err(truncated(&self.path, r.start, r.end - r.start, bytes.len()));
            }
            Ok::<_, object_store::Error>((r, bytes))
        });
        let fetched = try_join_all(fetches).await?;
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for (r, bytes) in fetched {
            st.requests += 1;
            st.bytes += bytes.len() as u64;
            st.last_end = st.last_end.max(r.end);
            // Another thread may have filled part of the range meanwhile: keep only new bytes.
            for gap in st.gaps(r.start, r.end) {
                let piece =
                    bytes.slice((gap.start - r.start) as usize..(gap.end - r.start) as usize);
                st.segments.insert(gap.start, piece);
            }
        }
        Ok(())
    }
}

fn truncated(path: &ObjectPath, offset: u64, expected: u64, got: usize) -> object_store::Error {
    object_store::Error::Generic {
        store: "zagg",
        source: Box::new(TruncatedObject(format!(
            "truncated object {path}: expected {expected} bytes at offset {offset}, got {got}"
        ))),
    }
}

impl ReadSession for RangeReader {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        let end = offset
            .checked_add(len as u64)
            .filter(|&e| e <= self.len)
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!(
                        "range {offset}+{len} past the end of {} ({} bytes)",
                        self.name, self.len
                    ),
                )
            })?;
        if len == 0 {
            return Ok(Vec::new());
        }
        self.cloud.block_on(self.fetch(offset, end)).map_err(|e| {
            if is_transient(&e) {
                let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
                st.unavailable = true;
            }
            std::io::Error::other(describe_error(&e))
        })?;
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.copy(offset, end).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "{}: truncated: bytes {offset}..{end} missing after fetch",
                    self.name
                ),
            )
        })
    }

    fn io(&self) -> Option<(u64, u64)> {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        Some((st.requests, st.bytes))
    }

    fn unavailable(&self) -> bool {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .unavailable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Segments inserted through `gaps` never overlap, and any covered range copies back
        /// exactly the file's bytes; `gaps` is exactly the uncovered part.
        #[test]
        fn read_state_segments(fetches in proptest::collection::vec((0u64..4000, 1u64..600), 0..30),
                               reads in proptest::collection::vec((0u64..4000, 1u64..900), 1..30)) {
            let file: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
            let bytes = Bytes::from(file.clone());
            let mut st = ReadState::default();
            for (start, len) in fetches {
                let end = (start + len).min(file.len() as u64);
                for gap in st.gaps(start, end) {
                    st.segments.insert(gap.start, bytes.slice(gap.start as usize..gap.end as usize));
                }
            }
            let mut last_end = 0;
            for (&s, b) in &st.segments {
                proptest::prop_assert!(s >= last_end, "overlap at {}", s);
                last_end = s + b.len() as u64;
            }
            for (start, len) in reads {
                let end = (start + len).min(file.len() as u64);
                let gaps = st.gaps(start, end);
                let missing: u64 = gaps.iter().map(|g| g.end - g.start).sum();
                match st.copy(start, end) {
                    Some(out) => {
                        proptest::prop_assert!(gaps.is_empty());
                        proptest::prop_assert_eq!(&out[..], &file[start as usize..end as usize]);
                    }
                    None => proptest::prop_assert!(missing > 0),
                }
                for g in &gaps {
                    proptest::prop_assert!(g.start >= start && g.end <= end && g.start < g.end);
                }
            }
        }
    }
}
