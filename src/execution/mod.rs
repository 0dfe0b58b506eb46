//! Executions of the deployed state machine: what `zagg start` and `zagg status` do.
//!
//! A **run** is what decides the result: the cycle (`latest-complete` resolved to its number
//! when the run is started), the config, the AOI, the store and the ATL06 product version
//! ([`RunIdentity`]). Concurrency, the tolerated failure percentage, the granule access
//! (`s3`/`https`) and where the catalog goes change how a run goes, not what it writes, so they
//! are not part of it.
//!
//! The execution of a run has a deterministic name, `zagg-c22-<12 hex>` (the first 12 hex
//! digits of the SHA-256 of the run identity, [`RunIdentity::execution_name`]), so that
//! starting the same run twice is refused instead of duplicated: [`start_run`] looks the name
//! up first (`DescribeExecution`) and refuses when it exists; a `StartExecution` that loses a
//! race answers `ExecutionAlreadyExists`, which is refused the same way. A fresh attempt at a
//! run (`--rerun`) takes the first unused of `NAME-r2`, `NAME-r3`, … ([`attempt_name`]).
//!
//! The Step Functions calls go through the [`StepFunctions`] trait: [`AwsStepFunctions`] is
//! the AWS SDK client (region and credentials from the standard AWS configuration chain,
//! `AWS_ENDPOINT_URL` for a local server), and the unit tests use an in-memory one.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::cycle::{CycleError, CycleSpec, MAX_CYCLE};
use crate::events::{AccessInput, CycleInput, ExecutionInput, DEFAULT_AOI};

mod aws;
mod status;

pub use aws::AwsStepFunctions;
pub use status::{
    find_summary, run_status, status, MapRunCounts, MapRunStatus, StatusReport, SUMMARY_FIELDS,
};

/// Environment variable read for the state machine ARN when `--state-machine` is not given
/// (by [`state_machine_arn`], called by `zagg start` and `zagg status`).
pub const STATE_MACHINE_ENV: &str = "ZAGG_STATE_MACHINE_ARN";

/// Version tag of the canonical run identity: changing what identifies a run changes it, so
/// old and new names never collide.
pub const IDENTITY_VERSION: &str = "zagg-run/1";

/// Hex digits of the identity digest in an execution name.
pub const DIGEST_HEX_LEN: usize = 12;

/// Longest execution name Step Functions accepts.
pub const MAX_NAME_LEN: usize = 80;

/// Most attempts at one run (`NAME`, `NAME-r2`, … `NAME-r99`).
pub const MAX_ATTEMPTS: u32 = 99;

/// Default ATL06 product version of a run that gives none (the CMR collection version).
pub const DEFAULT_PRODUCT_VERSION: &str = crate::cmr::DEFAULT_VERSION;

/// Largest `max_concurrency` of the execution input (its JSON Schema's range).
pub const MAX_CONCURRENCY: u32 = 10_000;

/// Errors of starting and following executions. Each message names the input and the problem.
#[derive(Debug, thiserror::Error)]
pub enum ExecutionError {
    /// The cycle is not a number 1–99 or `latest-complete`, or `latest-complete` has no
    /// cycle yet.
    #[error("cycle {text:?}: {source}")]
    Cycle {
        /// The cycle as given.
        text: String,
        /// Why it is not usable.
        source: CycleError,
    },
    /// A run parameter the execution could not use (store, config, AOI, …).
    #[error("{field} {value:?}: {problem}")]
    Invalid {
        /// The parameter (`store`, `config`, `aoi`, `product_version`, …).
        field: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The execution input does not survive a round trip through its JSON form.
    #[error("execution input: {0}")]
    Input(String),
    /// Neither `--state-machine` nor `ZAGG_STATE_MACHINE_ARN` gives the state machine.
    #[error(
        "no state machine: give --state-machine ARN or set {STATE_MACHINE_ENV} \
         (arn:PARTITION:states:REGION:ACCOUNT:stateMachine:NAME)"
    )]
    NoStateMachine,
    /// Text that is not a state machine ARN.
    #[error("state machine ARN {arn:?}: {problem}")]
    StateMachineArn {
        /// The text given.
        arn: String,
        /// What is wrong with it.
        problem: String,
    },
    /// Text that is not an execution ARN.
    #[error("execution ARN {arn:?}: {problem}")]
    ExecutionArn {
        /// The text given.
        arn: String,
        /// What is wrong with it.
        problem: String,
    },
    /// No execution has this ARN.
    #[error("execution {arn} does not exist (DescribeExecution: ExecutionDoesNotExist)")]
    NotFound {
        /// The execution ARN.
        arn: String,
    },
    /// No execution of this run exists under the state machine.
    #[error(
        "no execution of this run: {name} does not exist under state machine {state_machine} \
         (start it with `zagg start` and the same --store, --cycle, --config, --aoi and \
         --product-version)"
    )]
    NoRun {
        /// The run's execution name.
        name: String,
        /// The state machine ARN.
        state_machine: String,
    },
    /// The run already has an execution: starting it again is refused.
    #[error(
        "refused: this run was already started as execution {name} ({status}, started {start_date})\n  \
         arn:                 {arn}\n  \
         see it:              zagg status {arn}\n  \
         start a new attempt: the same command with --rerun (starts {next})"
    )]
    AlreadyStarted {
        /// Name of the run's latest execution.
        name: String,
        /// Its ARN.
        arn: String,
        /// Its status (`RUNNING`, `SUCCEEDED`, …; `unknown` when it could not be read).
        status: String,
        /// Its start date (RFC 3339; `unknown` when it could not be read).
        start_date: String,
        /// The name `--rerun` would start.
        next: String,
    },
    /// Every attempt name of the run is taken.
    #[error("run {base} already has {MAX_ATTEMPTS} attempts ({base} … {base}-r{MAX_ATTEMPTS})")]
    AttemptsExhausted {
        /// The run's base execution name.
        base: String,
    },
    /// A Step Functions call failed.
    #[error("{operation} {target}: {message}")]
    Aws {
        /// The API operation (`DescribeExecution`, `StartExecution`, …).
        operation: &'static str,
        /// What it was called on (an ARN).
        target: String,
        /// The service's error code and message, or the client's error chain.
        message: String,
    },
}

fn invalid(field: &'static str, value: &str, problem: impl Into<String>) -> ExecutionError {
    ExecutionError::Invalid {
        field,
        value: value.to_string(),
        problem: problem.into(),
    }
}

/// What `zagg start` is asked to run: the execution input before validation, with the cycle as
/// text (`22` or `latest-complete`).
#[derive(Debug, Clone, PartialEq)]
pub struct RunRequest {
    /// Cycle: a number 1–99 or `latest-complete`.
    pub cycle: String,
    /// Output store, `s3://bucket/prefix`.
    pub store: String,
    /// AOI: `basins` or a GeoJSON `http(s)://` URL.
    pub aoi: String,
    /// Config: a built-in name or an `s3://` YAML location.
    pub config: String,
    /// ATL06 version (default [`DEFAULT_PRODUCT_VERSION`]).
    pub product_version: Option<String>,
    /// Where `catalog.json` goes (`s3://…`; default the store).
    pub catalog_prefix: Option<String>,
    /// Which granule URL the process Lambda reads.
    pub access: AccessInput,
    /// Distributed Map concurrency cap, 1–10000.
    pub max_concurrency: Option<u32>,
    /// Failed shards tolerated by the Map, percent (0–100).
    pub tolerated_failure_percentage: Option<f64>,
}

impl RunRequest {
    /// A request for `cycle` into `store` with every other parameter at its default.
    #[must_use]
    pub fn new(store: &str, cycle: &str) -> Self {
        Self {
            cycle: cycle.to_string(),
            store: store.to_string(),
            aoi: DEFAULT_AOI.to_string(),
            config: crate::config::DEFAULT_CONFIG.to_string(),
            product_version: None,
            catalog_prefix: None,
            access: AccessInput::default(),
            max_concurrency: None,
            tolerated_failure_percentage: None,
        }
    }
}

/// An `s3://bucket[/prefix]` location without trailing slashes.
fn s3_location(field: &'static str, value: &str) -> Result<String, ExecutionError> {
    let Some(rest) = value.strip_prefix("s3://") else {
        return Err(invalid(
            field,
            value,
            "expected s3://bucket/prefix: the Lambdas cannot reach a local path",
        ));
    };
    let bucket = rest.split('/').next().unwrap_or_default();
    if bucket.is_empty() {
        return Err(invalid(field, value, "no bucket name after s3://"));
    }
    if value.chars().any(char::is_whitespace) {
        return Err(invalid(field, value, "contains white space"));
    }
    Ok(value.trim_end_matches('/').to_string())
}

/// Check the parameters of a run and build its execution input, with `latest-complete`
/// resolved against `now` so that the input and the execution name agree on the cycle.
///
/// # Errors
/// [`ExecutionError::Cycle`] for a cycle outside 1–99 or unparsable, or `latest-complete`
/// before any cycle ended; [`ExecutionError::Invalid`] for a store or catalog prefix that is
/// not `s3://bucket/…`, a config that is neither a built-in name nor `s3://…`, an AOI that is
/// neither `basins` nor an `http(s)://` URL, an empty or odd product version, a concurrency
/// outside 1–10000 or a tolerated percentage outside 0–100; [`ExecutionError::Input`] when
/// the input does not survive a round trip through its JSON form.
pub fn build_input(
    request: &RunRequest,
    now: DateTime<Utc>,
) -> Result<ExecutionInput, ExecutionError> {
    let cycle_error = |source| ExecutionError::Cycle {
        text: request.cycle.clone(),
        source,
    };
    let cycle = request
        .cycle
        .parse::<CycleSpec>()
        .and_then(|spec| spec.resolve(now))
        .map_err(cycle_error)?;
    if !(1..=MAX_CYCLE).contains(&cycle) {
        return Err(cycle_error(CycleError::OutOfRange { cycle }));
    }
    let store = s3_location("store", &request.store)?;
    let catalog_prefix = request
        .catalog_prefix
        .as_deref()
        .map(|p| s3_location("catalog_prefix", p))
        .transpose()?;
    let config = request.config.trim().to_string();
    let builtin = crate::config::BUILTIN_CONFIGS
        .iter()
        .any(|(name, _)| *name == config);
    if !builtin {
        if config.starts_with("s3://") {
            s3_location("config", &config)?;
            if config.trim_end_matches('/').matches('/').count() < 3 {
                return Err(invalid("config", &config, "expected s3://bucket/key.yaml"));
            }
        } else {
            let names: Vec<&str> = crate::config::BUILTIN_CONFIGS
                .iter()
                .map(|(n, _)| *n)
                .collect();
            return Err(invalid(
                "config",
                &config,
                format!(
                    "not a built-in config ({}) nor an s3:// YAML location: the Lambdas cannot \
                     read a local file, upload it to S3 and give its s3:// URL",
                    names.join(", ")
                ),
            ));
        }
    }
    let aoi = request.aoi.trim().to_string();
    if aoi != crate::aoi::BASINS && !(aoi.starts_with("https://") || aoi.starts_with("http://")) {
        return Err(invalid(
            "aoi",
            &aoi,
            "expected `basins` or a GeoJSON http(s):// URL: the Lambdas cannot read a local file",
        ));
    }
    if let Some(v) = &request.product_version {
        let ok = !v.is_empty()
            && v.len() <= 16
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !ok {
            return Err(invalid(
                "product_version",
                v,
                "expected a CMR collection version such as 007",
            ));
        }
    }
    if let Some(n) = request.max_concurrency {
        if !(1..=MAX_CONCURRENCY).contains(&n) {
            return Err(invalid(
                "max_concurrency",
                &n.to_string(),
                format!("must be 1-{MAX_CONCURRENCY}"),
            ));
        }
    }
    if let Some(p) = request.tolerated_failure_percentage {
        if !p.is_finite() || !(0.0..=100.0).contains(&p) {
            return Err(invalid(
                "tolerated_failure_percentage",
                &p.to_string(),
                "must be a number 0-100",
            ));
        }
    }
    let input = ExecutionInput {
        cycle: CycleInput::Number(cycle),
        aoi,
        config,
        store,
        product_version: request.product_version.clone(),
        catalog_prefix,
        access: request.access,
        max_concurrency: request.max_concurrency,
        tolerated_failure_percentage: request.tolerated_failure_percentage,
    }
    // `{cycle}` in the store (one store per cycle) is filled in now, so the name and the
    // input name the store that is written.
    .for_cycle(cycle);
    // What the state machine receives is the JSON: it must read back as the same input.
    let text = input_json(&input)?;
    let back: ExecutionInput = serde_json::from_str(&text)
        .map_err(|e| ExecutionError::Input(format!("does not read back: {e}")))?;
    if back != input {
        return Err(ExecutionError::Input(format!(
            "reads back differently: {text}"
        )));
    }
    Ok(input)
}

/// The execution input as the compact JSON text `StartExecution` sends.
///
/// # Errors
/// [`ExecutionError::Input`] if it cannot be serialised (not for inputs of [`build_input`]).
pub fn input_json(input: &ExecutionInput) -> Result<String, ExecutionError> {
    serde_json::to_string(input).map_err(|e| ExecutionError::Input(e.to_string()))
}

/// What identifies a run: the parameters that decide what it writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunIdentity {
    /// The cycle number.
    pub cycle: u32,
    /// The config (built-in name or `s3://` location).
    pub config: String,
    /// The AOI (`basins` or URL).
    pub aoi: String,
    /// The store, without trailing slashes.
    pub store: String,
    /// The product version ([`DEFAULT_PRODUCT_VERSION`] when the input gives none).
    pub product_version: String,
}

impl RunIdentity {
    /// The identity of the run an execution input describes.
    ///
    /// # Errors
    /// [`ExecutionError::Invalid`] when the input's cycle is still `latest-complete` (resolve
    /// it first: [`build_input`] does).
    pub fn of(input: &ExecutionInput) -> Result<Self, ExecutionError> {
        let CycleInput::Number(cycle) = input.cycle else {
            return Err(invalid(
                "cycle",
                crate::cycle::LATEST_COMPLETE,
                "must be resolved to a number to identify a run",
            ));
        };
        Ok(Self {
            cycle,
            config: input.config.clone(),
            aoi: input.aoi.clone(),
            store: input.store.trim_end_matches('/').to_string(),
            product_version: input
                .product_version
                .clone()
                .unwrap_or_else(|| DEFAULT_PRODUCT_VERSION.to_string()),
        })
    }

    /// The canonical text hashed into the name: [`IDENTITY_VERSION`], then one `key=value`
    /// line per field in a fixed order, each value a JSON string (or number).
    #[must_use]
    pub fn canonical(&self) -> String {
        let quoted = |s: &str| serde_json::Value::String(s.to_string()).to_string();
        format!(
            "{IDENTITY_VERSION}\ncycle={}\nconfig={}\naoi={}\nstore={}\nproduct_version={}\n",
            self.cycle,
            quoted(&self.config),
            quoted(&self.aoi),
            quoted(&self.store),
            quoted(&self.product_version)
        )
    }

    /// The first [`DIGEST_HEX_LEN`] hex digits of the SHA-256 of [`RunIdentity::canonical`].
    #[must_use]
    pub fn digest(&self) -> String {
        let hash = Sha256::digest(self.canonical().as_bytes());
        let mut hex = String::with_capacity(2 * hash.len());
        for byte in hash.iter() {
            hex.push_str(&format!("{byte:02x}"));
        }
        hex.truncate(DIGEST_HEX_LEN);
        hex
    }

    /// The execution name of the run's first attempt: `zagg-c22-0123456789ab`.
    #[must_use]
    pub fn execution_name(&self) -> String {
        format!("zagg-c{:02}-{}", self.cycle, self.digest())
    }
}

/// The name of attempt `attempt` (1-based) at the run whose first attempt is `base`: `base`
/// itself, then `base-r2`, `base-r3`, …
#[must_use]
pub fn attempt_name(base: &str, attempt: u32) -> String {
    if attempt <= 1 {
        base.to_string()
    } else {
        format!("{base}-r{attempt}")
    }
}

/// Whether `name` is a valid execution name: 1–80 characters of `A-Z a-z 0-9 _ -` (the
/// subset of the Step Functions rules that also keeps CloudWatch logging working).
#[must_use]
pub fn is_valid_name(name: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The fields common to state machine and execution ARNs.
fn arn_fields<'a>(arn: &'a str, kind: &str, parts: usize) -> Result<Vec<&'a str>, String> {
    let fields: Vec<&str> = arn.split(':').collect();
    let tail = if kind == "execution" {
        "STATE_MACHINE:NAME"
    } else {
        "NAME"
    };
    let shape = format!("expected arn:PARTITION:states:REGION:ACCOUNT:{kind}:{tail}");
    if fields.len() < 6 || fields[0] != "arn" || fields[2] != "states" {
        return Err(shape);
    }
    if fields[5] != kind {
        return Err(format!("this is a `{}` ARN; {shape}", fields[5]));
    }
    if fields.len() != parts {
        return Err(shape);
    }
    if fields[1].is_empty() || fields[3].is_empty() {
        return Err(format!("no partition or region, {shape}"));
    }
    if fields[4].len() != 12 || !fields[4].bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("account {:?} is not 12 digits", fields[4]));
    }
    if fields
        .iter()
        .any(|f| f.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        return Err("contains white space".into());
    }
    Ok(fields)
}

/// A state machine ARN, `arn:PARTITION:states:REGION:ACCOUNT:stateMachine:NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateMachineArn {
    /// `aws`, `aws-cn`, `aws-us-gov`, …
    pub partition: String,
    /// Region.
    pub region: String,
    /// Account id.
    pub account: String,
    /// State machine name.
    pub name: String,
}

impl FromStr for StateMachineArn {
    type Err = ExecutionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |problem: String| ExecutionError::StateMachineArn {
            arn: s.to_string(),
            problem,
        };
        let text = s.trim();
        if text.split(':').count() == 8 && text.contains(":stateMachine:") {
            return Err(bad(
                "a version or alias ARN: give the state machine's own ARN (without :VERSION or :ALIAS)"
                    .into(),
            ));
        }
        let f = arn_fields(text, "stateMachine", 7).map_err(bad)?;
        if f[6].is_empty() || f[6].len() > MAX_NAME_LEN || f[6].contains('/') {
            return Err(bad(format!("state machine name {:?} is not valid", f[6])));
        }
        Ok(Self {
            partition: f[1].into(),
            region: f[3].into(),
            account: f[4].into(),
            name: f[6].into(),
        })
    }
}

impl fmt::Display for StateMachineArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:states:{}:{}:stateMachine:{}",
            self.partition, self.region, self.account, self.name
        )
    }
}

impl StateMachineArn {
    /// The ARN of this state machine's execution `name`.
    #[must_use]
    pub fn execution_arn(&self, name: &str) -> ExecutionArn {
        ExecutionArn {
            partition: self.partition.clone(),
            region: self.region.clone(),
            account: self.account.clone(),
            state_machine: self.name.clone(),
            name: name.to_string(),
        }
    }
}

/// An execution ARN, `arn:PARTITION:states:REGION:ACCOUNT:execution:STATE_MACHINE:NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionArn {
    /// Partition.
    pub partition: String,
    /// Region.
    pub region: String,
    /// Account id.
    pub account: String,
    /// Name of the state machine (for a Map Run's child execution, `NAME/LABEL`).
    pub state_machine: String,
    /// Execution name.
    pub name: String,
}

impl FromStr for ExecutionArn {
    type Err = ExecutionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |problem: String| ExecutionError::ExecutionArn {
            arn: s.to_string(),
            problem,
        };
        let text = s.trim();
        let f = arn_fields(text, "execution", 8).map_err(bad)?;
        if f[6].is_empty() {
            return Err(bad("no state machine name".into()));
        }
        if f[7].is_empty() || f[7].len() > MAX_NAME_LEN {
            return Err(bad(format!(
                "execution name {:?} is not 1-80 characters",
                f[7]
            )));
        }
        Ok(Self {
            partition: f[1].into(),
            region: f[3].into(),
            account: f[4].into(),
            state_machine: f[6].into(),
            name: f[7].into(),
        })
    }
}

impl fmt::Display for ExecutionArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:states:{}:{}:execution:{}:{}",
            self.partition, self.region, self.account, self.state_machine, self.name
        )
    }
}

impl ExecutionArn {
    /// The AWS console page of the execution, for the partitions that have one.
    #[must_use]
    pub fn console_url(&self) -> Option<String> {
        let host = match self.partition.as_str() {
            "aws" => format!("{}.console.aws.amazon.com", self.region),
            "aws-cn" => format!("{}.console.amazonaws.cn", self.region),
            "aws-us-gov" => "console.amazonaws-us-gov.com".to_string(),
            _ => return None,
        };
        Some(format!(
            "https://{host}/states/home?region={}#/v2/executions/details/{self}",
            self.region
        ))
    }
}

/// The state machine: `flag` (`--state-machine`) if given, else `env` (the value of
/// [`STATE_MACHINE_ENV`], which the caller reads).
///
/// # Errors
/// [`ExecutionError::NoStateMachine`] when neither is given (or both are empty),
/// [`ExecutionError::StateMachineArn`] when the ARN is malformed.
pub fn state_machine_arn(
    flag: Option<&str>,
    env: Option<&str>,
) -> Result<StateMachineArn, ExecutionError> {
    let given = flag
        .filter(|s| !s.trim().is_empty())
        .or(env.filter(|s| !s.trim().is_empty()));
    given.ok_or(ExecutionError::NoStateMachine)?.parse()
}

/// One execution as `DescribeExecution` describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecutionDescription {
    /// Execution ARN.
    pub execution_arn: String,
    /// Execution name.
    pub name: String,
    /// State machine ARN.
    pub state_machine_arn: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`, `PENDING_REDRIVE`.
    pub status: String,
    /// Start date, RFC 3339.
    pub start_date: String,
    /// Stop date, RFC 3339, once stopped.
    pub stop_date: Option<String>,
    /// Error code of a failed execution.
    pub error: Option<String>,
    /// Error cause of a failed execution.
    pub cause: Option<String>,
    /// The input JSON text (serialised parsed, by [`StatusReport`]).
    #[serde(skip_serializing)]
    pub input: Option<String>,
    /// The output JSON text of a succeeded execution (serialised parsed, by [`StatusReport`]).
    #[serde(skip_serializing)]
    pub output: Option<String>,
}

/// What `StartExecution` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    /// Started (or, for the same name and input as a running execution, that execution).
    Started {
        /// The execution ARN.
        execution_arn: String,
        /// Its start date, RFC 3339.
        start_date: String,
    },
    /// `ExecutionAlreadyExists`: an execution of that name exists with another input or has
    /// stopped.
    AlreadyExists,
}

/// The Step Functions calls `zagg start` and `zagg status` make.
#[async_trait::async_trait]
pub trait StepFunctions: Send + Sync {
    /// `DescribeExecution`; `None` when the execution does not exist.
    ///
    /// # Errors
    /// [`ExecutionError::Aws`] for any other failure.
    async fn describe_execution(
        &self,
        arn: &ExecutionArn,
    ) -> Result<Option<ExecutionDescription>, ExecutionError>;

    /// `StartExecution` of `name` with `input` (JSON text).
    ///
    /// # Errors
    /// [`ExecutionError::Aws`] for any failure but `ExecutionAlreadyExists`.
    async fn start_execution(
        &self,
        state_machine: &StateMachineArn,
        name: &str,
        input: &str,
    ) -> Result<StartOutcome, ExecutionError>;

    /// `ListMapRuns` of an execution (every page): the Map Run ARNs.
    ///
    /// # Errors
    /// [`ExecutionError::Aws`].
    async fn list_map_runs(&self, execution: &ExecutionArn) -> Result<Vec<String>, ExecutionError>;

    /// `DescribeMapRun`.
    ///
    /// # Errors
    /// [`ExecutionError::Aws`].
    async fn describe_map_run(&self, map_run_arn: &str) -> Result<MapRunStatus, ExecutionError>;
}

/// The existing attempts at the run whose first attempt is named `base`, in order: `base`,
/// `base-r2`, … up to the first name that does not exist.
///
/// # Errors
/// [`ExecutionError::Aws`] when a `DescribeExecution` fails.
pub async fn find_attempts(
    api: &dyn StepFunctions,
    state_machine: &StateMachineArn,
    base: &str,
) -> Result<Vec<ExecutionDescription>, ExecutionError> {
    let mut found = Vec::new();
    for attempt in 1..=MAX_ATTEMPTS {
        let arn = state_machine.execution_arn(&attempt_name(base, attempt));
        match api.describe_execution(&arn).await? {
            Some(d) => found.push(d),
            None => break,
        }
    }
    Ok(found)
}

/// What [`plan_start`] prepares: the name of the run's first attempt and the input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StartPlan {
    /// The run's identity.
    pub identity: RunIdentity,
    /// The execution name of its first attempt (`--rerun` adds `-r2`, `-r3`, …).
    pub name: String,
    /// The execution input.
    pub input: ExecutionInput,
}

impl StartPlan {
    /// The equivalent AWS CLI call for attempt `attempt`, with `state_machine` (or
    /// `"$ZAGG_STATE_MACHINE_ARN"` when unknown).
    ///
    /// # Errors
    /// [`ExecutionError::Input`] if the input cannot be serialised.
    pub fn aws_cli(
        &self,
        state_machine: Option<&StateMachineArn>,
        attempt: u32,
    ) -> Result<String, ExecutionError> {
        let sm =
            state_machine.map_or_else(|| format!("\"${STATE_MACHINE_ENV}\""), |s| s.to_string());
        let input = input_json(&self.input)?.replace('\'', r"'\''");
        Ok(format!(
            "aws stepfunctions start-execution --state-machine-arn {sm} --name {} --input '{input}'",
            attempt_name(&self.name, attempt)
        ))
    }

    /// The `--dry-run` text: the name, the input and the equivalent AWS CLI call.
    ///
    /// # Errors
    /// [`ExecutionError::Input`] if the input cannot be serialised.
    pub fn to_text(
        &self,
        state_machine: Option<&StateMachineArn>,
        rerun: bool,
    ) -> Result<String, ExecutionError> {
        let pretty = serde_json::to_string_pretty(&self.input)
            .map_err(|e| ExecutionError::Input(e.to_string()))?;
        let mut text = String::from("# dry run, nothing sent\n");
        text.push_str(&format!("name   {}\n", self.name));
        if rerun {
            text.push_str(&format!(
                "       (--rerun: the first unused of {0}, {0}-r2, {0}-r3, … is started)\n",
                self.name
            ));
        }
        if let Some(sm) = state_machine {
            text.push_str(&format!("arn    {}\n", sm.execution_arn(&self.name)));
        }
        text.push_str(&format!("input  {pretty}\n"));
        text.push_str("# the same with the AWS CLI:\n");
        text.push_str(&self.aws_cli(state_machine, 1)?);
        text.push('\n');
        Ok(text)
    }
}

/// Validate a run request ([`build_input`]) and derive its execution name.
///
/// # Errors
/// As [`build_input`].
pub fn plan_start(request: &RunRequest, now: DateTime<Utc>) -> Result<StartPlan, ExecutionError> {
    let input = build_input(request, now)?;
    let identity = RunIdentity::of(&input)?;
    let name = identity.execution_name();
    if !is_valid_name(&attempt_name(&name, MAX_ATTEMPTS)) {
        return Err(ExecutionError::Input(format!(
            "execution name {name} breaks the Step Functions naming rules"
        )));
    }
    Ok(StartPlan {
        identity,
        name,
        input,
    })
}

/// An execution [`start_run`] started.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Started {
    /// Execution name.
    pub name: String,
    /// Attempt number (1 for the run's first execution).
    pub attempt: u32,
    /// Execution ARN.
    pub execution_arn: String,
    /// State machine ARN.
    pub state_machine_arn: String,
    /// Start date, RFC 3339.
    pub start_date: String,
    /// The AWS console page of the execution.
    pub console_url: Option<String>,
    /// The input sent.
    pub input: ExecutionInput,
}

impl Started {
    /// Human-readable lines: name, ARN, console page and how to follow it.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut text = format!("started  {} (attempt {})\n", self.name, self.attempt);
        text.push_str(&format!("arn      {}\n", self.execution_arn));
        if let Some(url) = &self.console_url {
            text.push_str(&format!("console  {url}\n"));
        }
        text.push_str(&format!("follow   zagg status {}\n", self.execution_arn));
        text
    }
}

fn refusal(
    state_machine: &StateMachineArn,
    base: &str,
    existing: Option<&ExecutionDescription>,
    name: &str,
    attempts: u32,
) -> ExecutionError {
    let unknown = || "unknown".to_string();
    ExecutionError::AlreadyStarted {
        name: name.to_string(),
        arn: existing.map_or_else(
            || state_machine.execution_arn(name).to_string(),
            |d| d.execution_arn.clone(),
        ),
        status: existing.map_or_else(unknown, |d| d.status.clone()),
        start_date: existing.map_or_else(unknown, |d| d.start_date.clone()),
        next: attempt_name(base, attempts + 1),
    }
}

/// Start the run of `plan` on `state_machine`, unless it was started before.
///
/// Without `rerun`, an existing execution of the run (any status) is refused with
/// [`ExecutionError::AlreadyStarted`], which names the latest attempt. With `rerun` the first
/// unused attempt name is started. A `StartExecution` answered `ExecutionAlreadyExists` (a
/// concurrent start of the same run) is refused the same way. Step Functions itself treats a
/// start with the name *and* input of a running execution as the same request and returns
/// that execution: two racing identical starts then both report it.
///
/// # Errors
/// [`ExecutionError::AlreadyStarted`], [`ExecutionError::AttemptsExhausted`],
/// [`ExecutionError::Aws`] when a call fails.
pub async fn start_run(
    api: &dyn StepFunctions,
    state_machine: &StateMachineArn,
    plan: &StartPlan,
    rerun: bool,
) -> Result<Started, ExecutionError> {
    let attempts = find_attempts(api, state_machine, &plan.name).await?;
    let count = u32::try_from(attempts.len()).unwrap_or(MAX_ATTEMPTS);
    if let Some(latest) = attempts.last() {
        if !rerun {
            return Err(refusal(
                state_machine,
                &plan.name,
                Some(latest),
                &latest.name,
                count,
            ));
        }
    }
    let attempt = count + 1;
    if attempt > MAX_ATTEMPTS {
        return Err(ExecutionError::AttemptsExhausted {
            base: plan.name.clone(),
        });
    }
    let name = attempt_name(&plan.name, attempt);
    let input = input_json(&plan.input)?;
    match api.start_execution(state_machine, &name, &input).await? {
        StartOutcome::Started {
            execution_arn,
            start_date,
        } => {
            let console_url = execution_arn
                .parse::<ExecutionArn>()
                .ok()
                .and_then(|a| a.console_url());
            Ok(Started {
                name,
                attempt,
                execution_arn,
                state_machine_arn: state_machine.to_string(),
                start_date,
                console_url,
                input: plan.input.clone(),
            })
        }
        StartOutcome::AlreadyExists => {
            let existing = api
                .describe_execution(&state_machine.execution_arn(&name))
                .await
                .ok()
                .flatten();
            Err(refusal(
                state_machine,
                &plan.name,
                existing.as_ref(),
                &name,
                attempt,
            ))
        }
    }
}

#[cfg(test)]
mod tests;
