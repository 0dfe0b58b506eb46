//! An estimate of what a run cost on AWS, from what its shards report: Lambda GB-seconds and
//! invocations, S3 requests and Step Functions state transitions, at list prices.
//!
//! The prices are the published us-west-2 list prices (Lambda on arm64, S3 Standard, Step
//! Functions Standard workflows) without free tier; they are constants here so that a report
//! says which prices it used. Data transfer within us-west-2 is free and not counted.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// List prices used by an estimate, US dollars.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    /// Lambda (arm64) per GB-second.
    pub lambda_gb_second: f64,
    /// Lambda per request.
    pub lambda_request: f64,
    /// S3 GET (and HEAD) per request.
    pub s3_get: f64,
    /// S3 PUT (and LIST) per request.
    pub s3_put: f64,
    /// Step Functions Standard per state transition.
    pub state_transition: f64,
}

/// us-west-2 list prices.
pub const US_WEST_2: Prices = Prices {
    lambda_gb_second: 0.000_013_333_4,
    lambda_request: 0.000_000_2,
    s3_get: 0.000_000_4,
    s3_put: 0.000_005,
    state_transition: 0.000_025,
};

/// Memory assumed for a shard whose result does not say (run outside Lambda), MB.
pub const ASSUMED_MEMORY_MB: u32 = 2048;

/// State transitions of one Map item (its child execution: start, the process task, end).
const TRANSITIONS_PER_ITEM: u64 = 3;

/// State transitions of the rest of an execution (defaults, prepare, map, consolidate, …).
const TRANSITIONS_PER_RUN: u64 = 12;

/// What a run used, and what that cost at [`Prices`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CostEstimate {
    /// Process Lambda GB-seconds (wall seconds × memory).
    pub lambda_gb_seconds: f64,
    /// Lambda invocations (every recorded attempt, plus catalog, template, consolidate).
    pub lambda_invocations: u64,
    /// S3 GET requests for granules.
    pub s3_get_requests: u64,
    /// S3 PUT requests for chunks and records.
    pub s3_put_requests: u64,
    /// Step Functions state transitions (estimated from the number of items and attempts).
    pub state_transitions: u64,
    /// Lambda compute + requests, USD.
    pub lambda_usd: f64,
    /// S3 requests, USD.
    pub s3_usd: f64,
    /// Step Functions, USD.
    pub step_functions_usd: f64,
    /// Total, USD.
    pub total_usd: f64,
    /// The prices used.
    pub prices: Prices,
}

/// What the shards of a run used.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// Σ shard wall seconds × memory GB.
    pub gb_seconds: f64,
    /// Process attempts (at least one per shard).
    pub attempts: u64,
    /// Granule read requests.
    pub get_requests: u64,
    /// Chunk objects written.
    pub chunks_written: u64,
    /// Map items.
    pub items: u64,
}

impl Usage {
    /// Add one shard that ran `seconds` in `memory_mb` (else [`ASSUMED_MEMORY_MB`]).
    pub fn add_shard(&mut self, seconds: f64, memory_mb: Option<u32>) {
        let mb = memory_mb.unwrap_or(ASSUMED_MEMORY_MB);
        self.gb_seconds += seconds.max(0.0) * f64::from(mb) / 1024.0;
    }
}

impl CostEstimate {
    /// The estimate for `usage` at `prices`.
    #[must_use]
    pub fn new(usage: &Usage, prices: Prices) -> Self {
        let lambda_invocations = usage.attempts + 3;
        // Each attempt also writes its shard record.
        let s3_put_requests = usage.chunks_written + usage.attempts;
        let state_transitions =
            TRANSITIONS_PER_RUN + usage.items * TRANSITIONS_PER_ITEM + usage.attempts;
        let lambda_usd = usage.gb_seconds * prices.lambda_gb_second
            + lambda_invocations as f64 * prices.lambda_request;
        let s3_usd =
            usage.get_requests as f64 * prices.s3_get + s3_put_requests as f64 * prices.s3_put;
        let step_functions_usd = state_transitions as f64 * prices.state_transition;
        Self {
            lambda_gb_seconds: usage.gb_seconds,
            lambda_invocations,
            s3_get_requests: usage.get_requests,
            s3_put_requests,
            state_transitions,
            lambda_usd,
            s3_usd,
            step_functions_usd,
            total_usd: lambda_usd + s3_usd + step_functions_usd,
            prices,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cycle_sized_run_costs_what_the_prices_say() {
        // 1334 shards of 60 s at 2048 MB, 300 GETs and 63 chunks each, no retries.
        let mut u = Usage {
            attempts: 1334,
            get_requests: 1334 * 300,
            chunks_written: 1334 * 63,
            items: 1334,
            ..Usage::default()
        };
        for _ in 0..1334 {
            u.add_shard(60.0, Some(2048));
        }
        let c = CostEstimate::new(&u, US_WEST_2);
        assert!((c.lambda_gb_seconds - 1334.0 * 120.0).abs() < 1e-6);
        // 160,080 GB-s × 0.0000133334 = 2.134 USD, + 1337 requests.
        assert!((c.lambda_usd - (160_080.0 * 0.000_013_333_4 + 1337.0 * 2e-7)).abs() < 1e-9);
        assert_eq!(c.s3_put_requests, 1334 * 64);
        assert_eq!(c.state_transitions, 12 + 1334 * 4);
        let total = c.lambda_usd + c.s3_usd + c.step_functions_usd;
        assert!((c.total_usd - total).abs() < 1e-12);
        assert!(c.total_usd > 2.0 && c.total_usd < 4.0, "{c:?}");
    }

    #[test]
    fn unknown_memory_is_assumed() {
        let mut u = Usage::default();
        u.add_shard(10.0, None);
        assert!((u.gb_seconds - 20.0).abs() < 1e-12);
        u.add_shard(-1.0, Some(1024));
        assert!((u.gb_seconds - 20.0).abs() < 1e-12);
    }
}
