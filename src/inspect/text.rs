//! The human-readable form of an [`Inspection`] (`zagg inspect` without `--json`).

use std::fmt::Write as _;

use super::{Check, Inspection};
use crate::run::RUN_REPORT_KEY;

impl Inspection {
    /// The human-readable report: tables of orders and variables, failed checks, run summary.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "store        {} (zagg {}, {} hashing, shards at order {}{})",
            self.store,
            self.zagg_version.as_deref().unwrap_or("?"),
            self.ellipsoid,
            self.parent_order,
            if self.consolidated {
                ", consolidated"
            } else {
                ", NOT consolidated"
            }
        );
        let leaf = self.order_summaries.first();
        let _ = writeln!(
            s,
            "contents     {} shards, {} occupied cells, {} observations at order {}",
            leaf.map_or(0, |o| o.shards),
            leaf.map_or(0, |o| o.occupied_cells),
            leaf.map_or(0, |o| o.observations),
            leaf.map_or(0, |o| o.order),
        );
        s.push('\n');
        let _ = writeln!(
            s,
            "{:>5}  {:>9}  {:>6}  {:>14}  {:>12}",
            "order", "cell size", "shards", "occupied cells", "observations"
        );
        for o in &self.order_summaries {
            let _ = writeln!(
                s,
                "{:>5}  {:>9}  {:>6}  {:>14}  {:>12}",
                o.order,
                format_km(o.cell_km),
                o.shards,
                o.occupied_cells,
                o.observations
            );
        }
        s.push('\n');
        let _ = writeln!(s, "variables at order {}:", self.variables_order);
        let _ = writeln!(
            s,
            "{:<11} {:<8} {:<5} {:>12} {:>12} {:>8} {:>6}",
            "name", "type", "units", "min", "max", "NaN*", "chunks"
        );
        for v in &self.variables {
            let _ = writeln!(
                s,
                "{:<11} {:<8} {:<5} {:>12} {:>12} {:>8} {:>6}",
                v.name,
                v.data_type,
                v.units.as_deref().unwrap_or(""),
                v.min.map_or("-".into(), format_value),
                v.max.map_or("-".into(), format_value),
                v.nan_in_occupied,
                v.chunks
            );
        }
        let _ = writeln!(s, "(NaN*: NaN values in occupied cells; 0 expected)");
        s.push('\n');
        let failed: Vec<&Check> = self.checks.iter().filter(|c| !c.ok).collect();
        let _ = writeln!(
            s,
            "checks       {} passed, {} failed",
            self.checks.len() - failed.len(),
            failed.len()
        );
        for c in failed {
            let _ = writeln!(s, "  FAILED     {}: {}", c.name, c.detail);
        }
        s.push('\n');
        match &self.run {
            Some(run) => {
                let _ = writeln!(s, "last run ({RUN_REPORT_KEY}):");
                s.push_str(&run.summary());
                if run.shards_failed.is_empty() {
                    let _ = writeln!(s, "failed shards: none");
                }
            }
            None => {
                let _ = writeln!(
                    s,
                    "no {RUN_REPORT_KEY} (the store was not written by `zagg run`)"
                );
            }
        }
        s
    }
}

pub(super) fn format_km(km: f64) -> String {
    if km >= 10.0 {
        format!("{km:.0} km")
    } else {
        format!("{km:.1} km")
    }
}

pub(super) fn format_value(x: f64) -> String {
    if x == x.trunc() && x.abs() < 1e9 {
        format!("{x:.0}")
    } else if x.abs() >= 0.01 && x.abs() < 1e6 {
        format!("{x:.3}")
    } else {
        format!("{x:.4e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_shown_compactly() {
        assert_eq!(format_value(3.0), "3");
        assert_eq!(format_value(1234.5678), "1234.568");
        assert_eq!(format_value(1.5e-5), "1.5000e-5");
        assert_eq!(format_km(1.59), "1.6 km");
        assert_eq!(format_km(101.9), "102 km");
    }
}
