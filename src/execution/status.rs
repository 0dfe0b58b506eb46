//! `zagg status`: an execution's state, its Map Run progress and the consolidate summary.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use super::{
    find_attempts, ExecutionArn, ExecutionDescription, ExecutionError, StartPlan, StateMachineArn,
    StepFunctions,
};

/// Item or child-execution counts of a Map Run (`DescribeMapRun`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MapRunCounts {
    /// Not started yet.
    pub pending: i64,
    /// Running.
    pub running: i64,
    /// Succeeded.
    pub succeeded: i64,
    /// Failed.
    pub failed: i64,
    /// Timed out.
    pub timed_out: i64,
    /// Aborted.
    pub aborted: i64,
    /// All of them.
    pub total: i64,
    /// Results written by the Map's `ResultWriter`.
    pub results_written: i64,
}

/// One Map Run of an execution (`DescribeMapRun`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MapRunStatus {
    /// Map Run ARN.
    pub map_run_arn: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `ABORTED`.
    pub status: String,
    /// Start date, RFC 3339.
    pub start_date: String,
    /// Stop date, RFC 3339.
    pub stop_date: Option<String>,
    /// Concurrency cap (0: none).
    pub max_concurrency: i32,
    /// Tolerated failed items, percent.
    pub tolerated_failure_percentage: f32,
    /// Tolerated failed items, count.
    pub tolerated_failure_count: i64,
    /// Item counts (one item per shard).
    pub items: MapRunCounts,
    /// Child workflow execution counts.
    pub executions: MapRunCounts,
}

/// The fields of the consolidate result shown as the run's summary.
pub const SUMMARY_FIELDS: &[&str] = &[
    "store",
    "report",
    "shards",
    "shards_ok",
    "shards_empty",
    "shards_failed",
    "observations",
    "cells",
    "granules_failed",
    "requests",
    "bytes",
    "shard_seconds",
];

/// What `zagg status` shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusReport {
    /// The execution.
    #[serde(flatten)]
    pub execution: ExecutionDescription,
    /// The attempt shown (1-based), when looked up by run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// Every attempt of the run (names, in order), when looked up by run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<String>,
    /// The AWS console page of the execution.
    pub console_url: Option<String>,
    /// The Map Runs (the Distributed Map over the shards).
    pub map_runs: Vec<MapRunStatus>,
    /// The execution input, parsed (a string when it is not JSON).
    pub input: Option<Value>,
    /// The execution output, parsed (a string when it is not JSON).
    pub output: Option<Value>,
    /// The consolidate summary fields ([`SUMMARY_FIELDS`]) found in the output.
    pub summary: Option<Map<String, Value>>,
}

/// The consolidate result in an execution output: the output itself or an object nested in
/// it (at most 3 levels deep) that has `shards_ok`; only its [`SUMMARY_FIELDS`] are kept.
#[must_use]
pub fn find_summary(output: &Value) -> Option<Map<String, Value>> {
    fn search(v: &Value, depth: u32) -> Option<&Map<String, Value>> {
        let obj = v.as_object()?;
        if obj.contains_key("shards_ok") {
            return Some(obj);
        }
        if depth == 0 {
            return None;
        }
        obj.values().find_map(|child| search(child, depth - 1))
    }
    let found = search(output, 3)?;
    Some(
        SUMMARY_FIELDS
            .iter()
            .filter_map(|k| found.get(*k).map(|v| ((*k).to_string(), v.clone())))
            .collect(),
    )
}

/// The status of the execution `arn`: `DescribeExecution`, then `ListMapRuns` and
/// `DescribeMapRun` of each.
///
/// # Errors
/// [`ExecutionError::NotFound`] when it does not exist, [`ExecutionError::Aws`] when a call
/// fails.
pub async fn status(
    api: &dyn StepFunctions,
    arn: &ExecutionArn,
) -> Result<StatusReport, ExecutionError> {
    let execution = api
        .describe_execution(arn)
        .await?
        .ok_or_else(|| ExecutionError::NotFound {
            arn: arn.to_string(),
        })?;
    report(api, arn, execution).await
}

async fn report(
    api: &dyn StepFunctions,
    arn: &ExecutionArn,
    execution: ExecutionDescription,
) -> Result<StatusReport, ExecutionError> {
    let mut map_runs = Vec::new();
    for map_run in api.list_map_runs(arn).await? {
        map_runs.push(api.describe_map_run(&map_run).await?);
    }
    let parse = |text: &str| {
        serde_json::from_str::<Value>(text).unwrap_or_else(|_| Value::String(text.to_string()))
    };
    let input = execution.input.as_deref().map(parse);
    let output = execution.output.as_deref().map(parse);
    let summary = output.as_ref().and_then(find_summary);
    Ok(StatusReport {
        console_url: arn.console_url(),
        execution,
        attempt: None,
        attempts: Vec::new(),
        map_runs,
        input,
        output,
        summary,
    })
}

/// The status of the latest attempt at the run of `plan` on `state_machine`.
///
/// # Errors
/// [`ExecutionError::NoRun`] when the run was never started there, [`ExecutionError::Aws`]
/// when a call fails.
pub async fn run_status(
    api: &dyn StepFunctions,
    state_machine: &StateMachineArn,
    plan: &StartPlan,
) -> Result<StatusReport, ExecutionError> {
    let attempts = find_attempts(api, state_machine, &plan.name).await?;
    let names: Vec<String> = attempts.iter().map(|a| a.name.clone()).collect();
    let count = u32::try_from(attempts.len()).unwrap_or(u32::MAX);
    let Some(latest) = attempts.into_iter().last() else {
        return Err(ExecutionError::NoRun {
            name: plan.name.clone(),
            state_machine: state_machine.to_string(),
        });
    };
    let arn = state_machine.execution_arn(&latest.name);
    let mut report = report(api, &arn, latest).await?;
    report.attempt = Some(count);
    report.attempts = names;
    Ok(report)
}

fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// `1h 02m 03s`, `4m 05s`, `6s`.
fn duration_text(seconds: i64) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if h > 0 {
        format!("{h}h {m:02}m {s:02}s")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

fn counts_row(label: &str, c: &MapRunCounts) -> String {
    format!(
        "  {label:<11}{:>9}{:>9}{:>11}{:>8}{:>11}{:>9}{:>9}\n",
        c.pending, c.running, c.succeeded, c.failed, c.timed_out, c.aborted, c.total
    )
}

impl StatusReport {
    /// The human-readable report: the execution, a table of each Map Run's counts, the
    /// summary of a succeeded run. `now` gives the elapsed time of a running execution.
    #[must_use]
    pub fn to_text(&self, now: DateTime<Utc>) -> String {
        let e = &self.execution;
        let mut t = String::new();
        let attempt = match (self.attempt, self.attempts.len()) {
            (Some(a), n) if n > 1 => format!(" (attempt {a} of {n})"),
            _ => String::new(),
        };
        let _ = writeln!(t, "execution      {}{attempt}", e.name);
        let _ = writeln!(t, "status         {}", e.status);
        let start = parse_date(&e.start_date);
        let stop = e.stop_date.as_deref().and_then(parse_date);
        let elapsed = start
            .map(|s| stop.unwrap_or(now) - s)
            .map(|d| duration_text(d.num_seconds().max(0)));
        let _ = writeln!(t, "started        {}", e.start_date);
        match (&e.stop_date, &elapsed) {
            (Some(s), Some(d)) => {
                let _ = writeln!(t, "stopped        {s} (after {d})");
            }
            (Some(s), None) => {
                let _ = writeln!(t, "stopped        {s}");
            }
            (None, Some(d)) => {
                let _ = writeln!(t, "stopped        - (running for {d})");
            }
            (None, None) => {
                let _ = writeln!(t, "stopped        -");
            }
        }
        let _ = writeln!(t, "arn            {}", e.execution_arn);
        let _ = writeln!(t, "state machine  {}", e.state_machine_arn);
        if let Some(url) = &self.console_url {
            let _ = writeln!(t, "console        {url}");
        }
        if let Some(error) = &e.error {
            let _ = writeln!(t, "error          {error}");
        }
        if let Some(cause) = &e.cause {
            let _ = writeln!(t, "cause          {cause}");
        }
        if self.map_runs.is_empty() {
            let none = if e.stop_date.is_some() {
                "none"
            } else {
                "none yet"
            };
            let _ = writeln!(t, "map runs       {none}");
        }
        for m in &self.map_runs {
            let _ = writeln!(t);
            let _ = writeln!(t, "map run        {} {}", m.status, m.map_run_arn);
            let _ = writeln!(
                t,
                "               max concurrency {}, tolerated failures {}% (count {})",
                m.max_concurrency, m.tolerated_failure_percentage, m.tolerated_failure_count
            );
            let _ = writeln!(
                t,
                "  {:<11}{:>9}{:>9}{:>11}{:>8}{:>11}{:>9}{:>9}",
                "", "pending", "running", "succeeded", "failed", "timed out", "aborted", "total"
            );
            t.push_str(&counts_row("items", &m.items));
            t.push_str(&counts_row("executions", &m.executions));
        }
        if let Some(summary) = &self.summary {
            let _ = writeln!(t);
            let _ = writeln!(t, "result (consolidate)");
            for (k, v) in summary {
                let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                let _ = writeln!(t, "  {k:<16}{v}");
            }
        } else if self.output.is_some() {
            let _ = writeln!(t, "output         (no consolidate summary; see --json)");
        }
        t
    }
}
