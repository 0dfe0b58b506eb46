//! Which chunks of a beam can hold a shard's rows, found without decoding every latitude
//! chunk.
//!
//! Within one granule a beam's ground track covers less than a fourteenth of an orbit, so its
//! latitude, row after row, changes direction at most once (at the orbit's extreme latitude,
//! ±88°, for the granules that turn around a pole). Under that property the latitudes
//! between two decoded chunks are bounded by the chunks' facing values: between the end of a
//! descending chunk and the start of a later descending chunk they lie between the two
//! values; across a turn they lie on one side of the larger (or smaller) one. A chunk whose
//! bound misses the shard's latitude band cannot hold a shard row and is never decoded.
//!
//! The search decodes the first and last chunks, then splits the remaining intervals where
//! the band may be, guessing the split by linear interpolation of latitude along the rows
//! (the track is nearly linear over a granule), until every chunk is either decoded or
//! excluded by a bound. Every decoded chunk is checked against the property (at most one
//! change of direction over all the decoded values, with a 1 m hysteresis against noise);
//! when a beam breaks it the selection falls back to every chunk, which is what a full read
//! would give. Longitude plays no part: a chunk inside the band is a candidate, and its rows
//! are hashed.

use std::collections::BTreeMap;

/// Latitude tolerance, degrees (about 1 cm): margins on bounds and the band.
const TOL: f64 = 1e-7;

/// Reversals smaller than this (degrees, about 1 m) are noise, not a change of direction.
const HYSTERESIS: f64 = 1e-5;

/// The latitudes of a beam, chunk by chunk.
pub trait LatitudeChunks {
    /// The error of a chunk read.
    type Error;
    /// Rows of the beam.
    fn rows(&self) -> u64;
    /// Rows per chunk (the last chunk may be shorter).
    fn chunk_rows(&self) -> u64;
    /// The latitudes (degrees) of chunk `index`.
    ///
    /// # Errors
    /// When the chunk cannot be read.
    fn chunk(&mut self, index: u64) -> Result<Vec<f64>, Self::Error>;
}

/// The candidate chunks of a beam and the latitudes decoded to find them.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// Chunks that may hold rows in the band, ascending.
    pub candidates: Vec<u64>,
    /// Latitudes of the decoded chunks, by chunk (every candidate is decoded).
    pub latitudes: BTreeMap<u64, Vec<f64>>,
    /// Chunks decoded.
    pub decoded: u64,
    /// The beam broke the one-turn property: every chunk is a candidate.
    pub fell_back: bool,
}

/// Direction of latitude along rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Up,
    Down,
    /// Not enough movement to tell.
    Flat,
}

/// What a decoded chunk tells: its valid values' range, its first and last valid values, the
/// direction at its start and end, and its internal changes of direction.
#[derive(Debug, Clone, Copy)]
struct Info {
    first: f64,
    last: f64,
    min: f64,
    max: f64,
    start: Dir,
    end: Dir,
    turns: u32,
}

/// Directions of a run of values with hysteresis: the direction at the start, at the end, and
/// the number of changes. `None` when no value is valid.
fn describe(values: &[f64]) -> Option<Info> {
    let mut valid = values
        .iter()
        .copied()
        .filter(|v| v.is_finite() && v.abs() <= 90.0);
    let first = valid.next()?;
    let (mut min, mut max, mut last) = (first, first, first);
    // The running extreme since the last change, and the current direction.
    let (mut pivot, mut dir) = (first, Dir::Flat);
    let (mut start, mut turns) = (Dir::Flat, 0);
    for v in valid {
        min = min.min(v);
        max = max.max(v);
        last = v;
        match dir {
            Dir::Flat => {
                if v > pivot + HYSTERESIS {
                    dir = Dir::Up;
                } else if v < pivot - HYSTERESIS {
                    dir = Dir::Down;
                }
                if dir != Dir::Flat {
                    start = dir;
                    pivot = v;
                }
            }
            Dir::Up => {
                if v > pivot {
                    pivot = v;
                } else if v < pivot - HYSTERESIS {
                    dir = Dir::Down;
                    pivot = v;
                    turns += 1;
                }
            }
            Dir::Down => {
                if v < pivot {
                    pivot = v;
                } else if v > pivot + HYSTERESIS {
                    dir = Dir::Up;
                    pivot = v;
                    turns += 1;
                }
            }
        }
    }
    Some(Info {
        first,
        last,
        min,
        max,
        start,
        end: dir,
        turns,
    })
}

/// The chunks of `beam` that may hold rows whose latitude lies in `band` (degrees,
/// inclusive, in the beam's own latitude: for WGS84 hashing, the shard's band converted to
/// geodetic latitude, see [`crate::grid::CellBounds::latitude_band`]).
///
/// # Errors
/// The first chunk read that fails.
pub fn candidate_chunks<C: LatitudeChunks>(
    beam: &mut C,
    band: (f64, f64),
) -> Result<Selection, C::Error> {
    let rows = beam.rows();
    let per = beam.chunk_rows().max(1);
    let count = rows.div_ceil(per);
    let mut sel = Selection {
        candidates: Vec::new(),
        latitudes: BTreeMap::new(),
        decoded: 0,
        fell_back: false,
    };
    if count == 0 {
        return Ok(sel);
    }
    let (lo, hi) = (band.0 - TOL, band.1 + TOL);
    let mut infos: BTreeMap<u64, Option<Info>> = BTreeMap::new();
    let mut decode = |i: u64,
                      sel: &mut Selection,
                      infos: &mut BTreeMap<u64, Option<Info>>|
     -> Result<(), C::Error> {
        if let std::collections::btree_map::Entry::Vacant(e) = infos.entry(i) {
            let values = beam.chunk(i)?;
            e.insert(describe(&values));
            sel.latitudes.insert(i, values);
            sel.decoded += 1;
        }
        Ok(())
    };
    decode(0, &mut sel, &mut infos)?;
    decode(count - 1, &mut sel, &mut infos)?;
    // Intervals (i, j) of undecoded chunks between decoded chunks i and j.
    let mut stack = vec![(0, count - 1)];
    while let Some((i, j)) = stack.pop() {
        if j <= i + 1 {
            continue;
        }
        let (Some(a), Some(b)) = (infos[&i], infos[&j]) else {
            // A chunk without a valid latitude bounds nothing: look inside.
            let m = i + (j - i) / 2;
            decode(m, &mut sel, &mut infos)?;
            stack.push((i, m));
            stack.push((m, j));
            continue;
        };
        let (va, vb) = (a.last, b.first);
        let range = match (a.end, b.start) {
            (Dir::Up, Dir::Up) | (Dir::Down, Dir::Down) => Some((va.min(vb), va.max(vb))),
            // A minimum between: nothing above the larger end.
            (Dir::Down, Dir::Up) => Some((f64::NEG_INFINITY, va.max(vb))),
            // A maximum between: nothing below the smaller end.
            (Dir::Up, Dir::Down) => Some((va.min(vb), f64::INFINITY)),
            _ => None,
        };
        if let Some((rmin, rmax)) = range {
            if rmax + TOL < lo || rmin - TOL > hi {
                continue;
            }
        }
        // Split where the band is expected (linear along the rows), else in the middle.
        let (ra, rb) = ((i + 1) * per - 1, j * per);
        let mut m = i + (j - i) / 2;
        if matches!(range, Some((x, y)) if x.is_finite() && y.is_finite()) && (vb - va).abs() > TOL
        {
            let target =
                ((lo.max(va.min(vb)) + hi.min(va.max(vb))) / 2.0).clamp(va.min(vb), va.max(vb));
            let r = ra as f64 + (target - va) / (vb - va) * (rb - ra) as f64;
            if r.is_finite() {
                m = ((r.max(0.0) as u64) / per).clamp(i + 1, j - 1);
            }
        }
        decode(m, &mut sel, &mut infos)?;
        stack.push((i, m));
        stack.push((m, j));
    }
    // The one-turn property over what was decoded, in row order.
    let mut changes = 0;
    let mut dir = Dir::Flat;
    for info in infos.values().flatten() {
        // Changes inside the chunk, then between the previous chunk's end and its start.
        changes += info.turns;
        if info.start != Dir::Flat {
            if dir != Dir::Flat && info.start != dir {
                changes += 1;
            }
            dir = info.end;
        }
    }
    // Between decoded chunks, the facing values must agree with the directions.
    let decoded: Vec<(u64, Info)> = infos
        .iter()
        .filter_map(|(&k, v)| v.map(|v| (k, v)))
        .collect();
    for w in decoded.windows(2) {
        let ((_, a), (_, b)) = (w[0], w[1]);
        let bad = match (a.end, b.start) {
            (Dir::Up, Dir::Up) => b.first < a.last - HYSTERESIS,
            (Dir::Down, Dir::Down) => b.first > a.last + HYSTERESIS,
            _ => false,
        };
        if bad {
            changes += 2;
        }
    }
    if changes > 1 {
        sel.fell_back = true;
        for i in 0..count {
            decode(i, &mut sel, &mut infos)?;
        }
        sel.candidates = (0..count).collect();
        return Ok(sel);
    }
    sel.candidates = infos
        .iter()
        .filter(|(_, info)| info.is_some_and(|x| x.max >= lo && x.min <= hi))
        .map(|(&k, _)| k)
        .collect();
    Ok(sel)
}

#[cfg(test)]
mod tests;
