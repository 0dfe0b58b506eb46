//! The chunk search against the truth (every chunk that holds a row in the band), on ground
//! tracks of a 92° orbit: monotone, turning around either pole, with data gaps and noise; and
//! on sequences that break the one-turn property, which must fall back.

use proptest::prelude::*;

use super::*;

struct Beam {
    lat: Vec<f64>,
    per: u64,
    reads: u64,
}

impl LatitudeChunks for Beam {
    type Error = std::convert::Infallible;
    fn rows(&self) -> u64 {
        self.lat.len() as u64
    }
    fn chunk_rows(&self) -> u64 {
        self.per
    }
    fn chunk(&mut self, index: u64) -> Result<Vec<f64>, Self::Error> {
        self.reads += 1;
        let start = (index * self.per) as usize;
        let end = (start + self.per as usize).min(self.lat.len());
        Ok(self.lat[start..end].to_vec())
    }
}

/// Latitudes (degrees) of a 92°-inclination ground track from argument of latitude `u0`
/// (degrees), `rows` segments of 20 m, with runs of rows left out (gaps), plus noise.
fn track(u0: f64, rows: usize, gaps: &[(usize, usize)], noise: &[f64]) -> Vec<f64> {
    let inc = 92f64.to_radians();
    let step = (20.0 / 6_371_000.0f64).to_degrees();
    let mut out = Vec::with_capacity(rows);
    let mut seg = 0usize;
    while out.len() < rows {
        if let Some(&(_, len)) = gaps.iter().find(|(at, _)| *at == out.len()) {
            seg += len;
        }
        let u = (u0 + seg as f64 * step).to_radians();
        let lat = (inc.sin() * u.sin()).asin().to_degrees();
        let n = noise[out.len() % noise.len()];
        out.push(lat + n);
        seg += 1;
    }
    out
}

fn truth(lat: &[f64], per: u64, band: (f64, f64)) -> Vec<u64> {
    let mut chunks: Vec<u64> = lat
        .iter()
        .enumerate()
        .filter(|(_, &v)| v >= band.0 && v <= band.1)
        .map(|(i, _)| i as u64 / per)
        .collect();
    chunks.dedup();
    chunks
}

fn check(lat: Vec<f64>, per: u64, band: (f64, f64)) -> (Selection, u64) {
    let expected = truth(&lat, per, band);
    let mut beam = Beam { lat, per, reads: 0 };
    let sel = candidate_chunks(&mut beam, band).unwrap();
    for c in &expected {
        assert!(
            sel.candidates.contains(c),
            "chunk {c} holds rows in {band:?} but is not a candidate: {:?}",
            sel.candidates
        );
        assert!(sel.latitudes.contains_key(c));
    }
    assert_eq!(sel.decoded, beam.reads, "each chunk decoded once");
    (sel, beam.reads)
}

#[test]
fn a_descending_track_reads_few_chunks() {
    // 120,000 rows (2400 km) descending through 70°S, chunks of 10,000: a one-degree band.
    let lat = track(200.0, 120_000, &[], &[0.0]);
    let (lo, hi) = (lat[60_000] - 0.5, lat[60_000] + 0.5);
    let (sel, reads) = check(lat, 10_000, (lo.min(hi), lo.max(hi)));
    assert!(!sel.fell_back);
    assert!(sel.candidates.len() <= 2, "{:?}", sel.candidates);
    assert!(reads <= 6, "{reads} chunks decoded for a one-degree band");
}

#[test]
fn a_band_outside_the_track_reads_only_the_ends() {
    let lat = track(200.0, 120_000, &[], &[0.0]);
    let (sel, reads) = check(lat, 10_000, (10.0, 11.0));
    assert!(sel.candidates.is_empty());
    assert_eq!(reads, 2);
}

#[test]
fn a_track_turning_around_the_south_pole_is_found_on_both_sides() {
    // Around u = 270° (the southern extreme, −88°), crossing −80° twice.
    let lat = track(240.0, 300_000, &[(100_000, 5_000)], &[0.0, 3e-6, -2e-6]);
    let (sel, _) = check(lat.clone(), 10_000, (-80.5, -79.5));
    assert!(!sel.fell_back);
    let t = truth(&lat, 10_000, (-80.5, -79.5));
    assert!(t.first() != t.last(), "both crossings: {t:?}");
    // A band at the very turn.
    let (sel, _) = check(lat.clone(), 10_000, (-88.0, -87.9));
    assert!(!sel.fell_back);
    let (sel, _) = check(lat, 10_000, (-90.0, -87.99));
    assert!(!sel.candidates.is_empty());
}

#[test]
fn two_turns_fall_back_to_every_chunk() {
    // Down, up, down again: not a ground track of one granule.
    let mut lat: Vec<f64> = (0..30_000).map(|i| -60.0 - i as f64 * 1e-3).collect();
    lat.extend((0..30_000).map(|i| -90.0 + i as f64 * 1e-3));
    lat.extend((0..30_000).map(|i| -60.0 - i as f64 * 1e-3));
    let (sel, reads) = check(lat, 10_000, (-75.0, -74.0));
    assert!(sel.fell_back, "{sel:?}");
    assert_eq!(reads, 9);
    assert_eq!(sel.candidates, (0..9).collect::<Vec<_>>());
}

#[test]
fn invalid_latitudes_bound_nothing() {
    let mut lat = track(200.0, 50_000, &[], &[0.0]);
    for v in &mut lat[10_000..20_000] {
        *v = 3.4e38;
    }
    let band = (lat[25_000] - 0.05, lat[25_000] + 0.05);
    let (lo, hi) = (band.0.min(band.1), band.0.max(band.1));
    check(lat, 10_000, (lo, hi));
}

fn arb_track() -> impl Strategy<Value = Vec<f64>> {
    (
        0.0..360.0f64,
        1_000usize..80_000,
        prop::collection::vec((0usize..80_000, 1usize..20_000), 0..4),
        prop::collection::vec(-5e-6..5e-6f64, 1..5),
    )
        .prop_map(|(u0, rows, gaps, noise)| track(u0, rows, &gaps, &noise))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn no_row_in_the_band_is_ever_skipped(
        lat in arb_track(),
        per in prop::sample::select(vec![100u64, 1_000, 10_000]),
        centre in -90.0..90.0f64,
        width in 0.0..3.0f64,
        pick in prop::option::of(0.0..1.0f64),
    ) {
        // Half the bands are centred on a row of the track, so they are hit.
        let c = match pick {
            Some(p) => lat[((lat.len() - 1) as f64 * p) as usize],
            None => centre,
        };
        check(lat, per, (c - width / 2.0, c + width / 2.0));
    }
}
