//! ICESat-2 orbital cycles: cycle numbers ↔ approximate dates, and cycles of granule names.
//!
//! A cycle (1387 reference ground tracks) lasts about 90.82 days, not 91. SPEC §6 gives the
//! fitted start of cycle `c` as `2018-09-28T16:20Z + (c − 1) · 90.8193 d` (cycle 22 starts
//! 2023-12-18 ≈ 21:14 UTC). These dates are approximate: the authoritative cycle of a granule
//! is the `cc` field of its name (`ATL06_YYYYMMDDhhmmss_ttttccnn_rrr_vv.h5`), and the dates are
//! only used to narrow a query with a temporal window that has a safety margin.
//!
//! The original Python zagg used `2018-10-13 + 91·(c − 1)` days, by date only, which starts
//! cycle 22 on 2024-01-06 and so misses the first ~19 days of the cycle
//! ([`original_start_date`] is kept to test exactly that).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

/// Fitted cycle length, in days.
pub const CYCLE_DAYS: f64 = 90.8193;

/// Default margin added on both sides of a cycle's fitted dates when narrowing a query, in days.
pub const DEFAULT_MARGIN_DAYS: f64 = 1.0;

/// Text accepted for "the last cycle whose fitted end has passed".
pub const LATEST_COMPLETE: &str = "latest-complete";

/// Fitted start of cycle 1: 2018-09-28T16:20:00Z.
#[must_use]
pub fn epoch() -> DateTime<Utc> {
    // A valid constant date: `single()` cannot be None for UTC.
    Utc.with_ymd_and_hms(2018, 9, 28, 16, 20, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Errors of cycle arithmetic and parsing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CycleError {
    /// Cycle 0 or a cycle so large that its date is out of range.
    #[error("cycle {cycle} is out of range (cycles are numbered from 1 to 99)")]
    OutOfRange {
        /// The cycle asked for.
        cycle: u32,
    },
    /// No cycle has ended yet at the given time.
    #[error("no complete cycle before {now}")]
    NoneComplete {
        /// The reference time (RFC 3339).
        now: String,
    },
    /// Text that is neither a cycle number nor `latest-complete`.
    #[error("cycle {text:?}: expected a number 1-99 or \"{LATEST_COMPLETE}\"")]
    Unparsable {
        /// The text given.
        text: String,
    },
    /// A negative or non-finite margin.
    #[error("temporal margin {days} days: must be a finite number ≥ 0")]
    BadMargin {
        /// The margin, in days.
        days: f64,
    },
}

/// Largest cycle number: the granule name has two digits for it.
pub const MAX_CYCLE: u32 = 99;

fn days(d: f64) -> Duration {
    // Milliseconds are plenty for dates that are approximate to hours.
    Duration::milliseconds((d * 86_400_000.0).round() as i64)
}

/// Fitted start of `cycle` (UTC).
///
/// # Errors
/// [`CycleError::OutOfRange`] for cycle 0 or above [`MAX_CYCLE`] + 1 (the end of cycle 99 is
/// the start of "cycle 100").
pub fn cycle_start(cycle: u32) -> Result<DateTime<Utc>, CycleError> {
    if cycle == 0 || cycle > MAX_CYCLE + 1 {
        return Err(CycleError::OutOfRange { cycle });
    }
    Ok(epoch() + days(f64::from(cycle - 1) * CYCLE_DAYS))
}

/// Fitted end of `cycle` (UTC): the start of the next one.
///
/// # Errors
/// [`CycleError::OutOfRange`] for cycle 0 or above [`MAX_CYCLE`].
pub fn cycle_end(cycle: u32) -> Result<DateTime<Utc>, CycleError> {
    if cycle == 0 || cycle > MAX_CYCLE {
        return Err(CycleError::OutOfRange { cycle });
    }
    cycle_start(cycle + 1)
}

/// The cycle whose fitted dates contain `t`, or `None` before the start of cycle 1.
#[must_use]
pub fn cycle_at(t: DateTime<Utc>) -> Option<u32> {
    let elapsed = (t - epoch()).num_milliseconds() as f64 / 86_400_000.0;
    if elapsed < 0.0 {
        return None;
    }
    let mut c = (elapsed / CYCLE_DAYS).floor() as u32 + 1;
    // Guard the floor against rounding at a boundary: start(c) ≤ t < start(c + 1).
    while c > 1 && cycle_start(c).is_ok_and(|s| s > t) {
        c -= 1;
    }
    while cycle_start(c + 1).is_ok_and(|s| s <= t) {
        c += 1;
    }
    Some(c)
}

/// The last cycle whose fitted end is at or before `now`: "the cycle that just ended".
///
/// Granules reach CMR some time after acquisition, so a schedule that asks for this right at
/// the end of a cycle sees the end of the cycle incomplete; run it a few weeks later or re-run.
///
/// # Errors
/// [`CycleError::NoneComplete`] before the end of cycle 1.
pub fn latest_complete(now: DateTime<Utc>) -> Result<u32, CycleError> {
    match cycle_at(now) {
        Some(c) if c >= 2 => Ok((c - 1).min(MAX_CYCLE)),
        _ => Err(CycleError::NoneComplete {
            now: now.to_rfc3339(),
        }),
    }
}

/// A cycle as asked for: a number or "the latest complete one".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CycleSpec {
    /// This cycle.
    Number(u32),
    /// The last cycle whose fitted end has passed, resolved against the current time.
    LatestComplete,
}

impl FromStr for CycleSpec {
    type Err = CycleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t == LATEST_COMPLETE {
            return Ok(Self::LatestComplete);
        }
        match t.parse::<u32>() {
            Ok(c) if (1..=MAX_CYCLE).contains(&c) => Ok(Self::Number(c)),
            Ok(c) => Err(CycleError::OutOfRange { cycle: c }),
            Err(_) => Err(CycleError::Unparsable {
                text: s.to_string(),
            }),
        }
    }
}

impl fmt::Display for CycleSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(c) => write!(f, "{c}"),
            Self::LatestComplete => f.write_str(LATEST_COMPLETE),
        }
    }
}

impl CycleSpec {
    /// The cycle number, resolving `latest-complete` against `now`.
    ///
    /// # Errors
    /// [`CycleError::NoneComplete`] when no cycle has ended at `now`.
    pub fn resolve(self, now: DateTime<Utc>) -> Result<u32, CycleError> {
        match self {
            Self::Number(c) => Ok(c),
            Self::LatestComplete => latest_complete(now),
        }
    }
}

/// A closed time interval, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Start.
    pub start: DateTime<Utc>,
    /// End.
    pub end: DateTime<Utc>,
}

/// The fitted dates of `cycle` widened by `margin_days` (days, ≥ 0) on both sides.
///
/// # Errors
/// [`CycleError::OutOfRange`] for a cycle outside 1–99, [`CycleError::BadMargin`] for a
/// negative or non-finite margin.
pub fn window(cycle: u32, margin_days: f64) -> Result<Window, CycleError> {
    if !margin_days.is_finite() || margin_days < 0.0 {
        return Err(CycleError::BadMargin { days: margin_days });
    }
    let m = days(margin_days);
    Ok(Window {
        start: cycle_start(cycle)? - m,
        end: cycle_end(cycle)? + m,
    })
}

/// The start date the original Python zagg used for `cycle`: `2018-10-13 + 91·(c − 1)` days.
/// Kept only to show (in tests) what it missed.
#[must_use]
pub fn original_start_date(cycle: u32) -> Option<NaiveDate> {
    let base = NaiveDate::from_ymd_opt(2018, 10, 13)?;
    base.checked_add_signed(Duration::days(91 * i64::from(cycle.checked_sub(1)?)))
}

/// The fields of an ICESat-2 granule name `PROD_YYYYMMDDhhmmss_ttttccnn_rrr_vv[.h5]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GranuleName {
    /// Product, e.g. `ATL06`.
    pub product: String,
    /// Acquisition start time (UTC).
    pub time: DateTime<Utc>,
    /// Reference ground track, 1–1387.
    pub rgt: u16,
    /// Cycle.
    pub cycle: u32,
    /// Granule region, 1–14.
    pub region: u8,
    /// Release, e.g. `007`.
    pub release: String,
    /// Version, e.g. `01`.
    pub version: String,
}

impl GranuleName {
    /// Parse a granule name (a bare name or the last component of a path or URL).
    /// Returns `None` for anything that does not have the ICESat-2 shape.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        let base = name.rsplit('/').next().unwrap_or(name);
        let base = base.strip_suffix(".h5").unwrap_or(base);
        let mut parts = base.split('_');
        let product = parts.next()?;
        let stamp = parts.next()?;
        let track = parts.next()?;
        let release = parts.next()?;
        let version = parts.next()?;
        if parts.next().is_some()
            || stamp.len() != 14
            || track.len() != 8
            || !track.bytes().all(|b| b.is_ascii_digit())
            || product.is_empty()
        {
            return None;
        }
        let time = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%d%H%M%S")
            .ok()?
            .and_utc();
        Some(Self {
            product: product.to_string(),
            time,
            rgt: track[0..4].parse().ok()?,
            cycle: track[4..6].parse().ok()?,
            region: track[6..8].parse().ok()?,
            release: release.to_string(),
            version: version.to_string(),
        })
    }
}

/// The CMR `readable_granule_name` pattern of a cycle's granules of `product`:
/// `ATL06_*_????CC??_*` (`?` one character, `*` any run).
#[must_use]
pub fn name_pattern(product: &str, cycle: u32) -> String {
    format!("{product}_*_????{cycle:02}??_*")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn cycle_22_starts_on_2023_12_18_evening() {
        let s = cycle_start(22).unwrap();
        // SPEC §6: cycle 22 starts 2023-12-18 ~21:14 UTC; the fit gives ~21:16.
        assert!(
            s > utc("2023-12-18T21:00:00Z") && s < utc("2023-12-18T21:30:00Z"),
            "{s}"
        );
        let e = cycle_end(22).unwrap();
        assert_eq!(e, cycle_start(23).unwrap());
        let len = (e - s).num_milliseconds() as f64 / 86_400_000.0;
        assert!((len - CYCLE_DAYS).abs() < 1e-6);
        assert_eq!(cycle_start(1).unwrap(), epoch());
        assert!(cycle_start(0).is_err());
        assert!(cycle_end(100).is_err());
    }

    #[test]
    fn the_original_missed_the_start_of_the_cycle() {
        // The original's cycle 22 started on 2024-01-06, 19 days after the real start.
        let orig = original_start_date(22).unwrap();
        assert_eq!(orig, NaiveDate::from_ymd_opt(2024, 1, 6).unwrap());
        let first_granule = GranuleName::parse("ATL06_20231218213017_00012211_007_01.h5").unwrap();
        assert_eq!(first_granule.cycle, 22);
        assert!(
            first_granule.time.date_naive() < orig,
            "the original missed it"
        );
        let w = window(22, DEFAULT_MARGIN_DAYS).unwrap();
        assert!(w.start <= first_granule.time && first_granule.time <= w.end);
        assert_eq!(cycle_at(first_granule.time), Some(22));
    }

    #[test]
    fn latest_complete_is_the_cycle_that_just_ended() {
        let start23 = cycle_start(23).unwrap();
        assert_eq!(latest_complete(start23).unwrap(), 22);
        assert_eq!(latest_complete(start23 - Duration::seconds(1)).unwrap(), 21);
        // Cycle 23 ends on 2024-06-17 ~12:35.
        assert_eq!(latest_complete(utc("2024-06-15T00:00:00Z")).unwrap(), 22);
        assert_eq!(latest_complete(utc("2024-06-18T00:00:00Z")).unwrap(), 23);
        assert!(latest_complete(utc("2018-12-01T00:00:00Z")).is_err());
        assert!(latest_complete(utc("2000-01-01T00:00:00Z")).is_err());
        let now = utc("2024-07-01T00:00:00Z");
        assert_eq!(
            "latest-complete".parse::<CycleSpec>().unwrap().resolve(now),
            Ok(23)
        );
        assert_eq!("22".parse::<CycleSpec>().unwrap().resolve(now), Ok(22));
        assert!("0".parse::<CycleSpec>().is_err());
        assert!("100".parse::<CycleSpec>().is_err());
        assert!("last".parse::<CycleSpec>().is_err());
    }

    #[test]
    fn granule_names() {
        let g = GranuleName::parse(
            "s3://bucket/ATLAS/ATL06/007/2024/01/22/ATL06_20240122041137_02782212_007_01.h5",
        )
        .unwrap();
        assert_eq!(g.product, "ATL06");
        assert_eq!(g.rgt, 278);
        assert_eq!(g.cycle, 22);
        assert_eq!(g.region, 12);
        assert_eq!(g.release, "007");
        assert_eq!(g.version, "01");
        assert_eq!(g.time, utc("2024-01-22T04:11:37Z"));
        for bad in [
            "ATL06_2024012204113_02782212_007_01.h5",
            "ATL06_20240122041137_0278221_007_01.h5",
            "ATL06_20240122041137_0278x212_007_01.h5",
            "ATL06_20241322041137_02782212_007_01.h5",
            "ATL06_20240122041137_02782212_007.h5",
            "readme.txt",
        ] {
            assert_eq!(GranuleName::parse(bad), None, "{bad}");
        }
        assert_eq!(name_pattern("ATL06", 3), "ATL06_*_????03??_*");
    }

    proptest! {
        #[test]
        fn cycle_at_inverts_the_fit(c in 1..=MAX_CYCLE, frac in 0.0..1.0_f64) {
            let s = cycle_start(c).unwrap();
            let e = cycle_end(c).unwrap();
            let t = s + Duration::milliseconds(((e - s).num_milliseconds() as f64 * frac) as i64);
            prop_assert_eq!(cycle_at(t), Some(c));
            prop_assert_eq!(cycle_at(s), Some(c));
            prop_assert_eq!(cycle_at(s - Duration::milliseconds(1)), (c > 1).then(|| c - 1));
        }
    }
}
