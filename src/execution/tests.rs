//! Unit tests: run identity and names, input checks, ARNs, and start/status against an
//! in-memory Step Functions.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::json;

use super::*;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn request() -> RunRequest {
    RunRequest::new("s3://zagg-out/c22.zarr", "22")
}

fn name_of(r: &RunRequest) -> String {
    plan_start(r, now()).unwrap().name
}

const SM: &str = "arn:aws:states:us-west-2:123456789012:stateMachine:zagg";

fn sm() -> StateMachineArn {
    SM.parse().unwrap()
}

#[test]
fn names_are_deterministic_and_valid() {
    let a = name_of(&request());
    assert_eq!(a, name_of(&request()));
    assert!(a.starts_with("zagg-c22-"), "{a}");
    assert_eq!(a.len(), "zagg-c22-".len() + DIGEST_HEX_LEN);
    assert!(is_valid_name(&a));
    assert!(a["zagg-c22-".len()..]
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    // The canonical text is fixed: a change of it must be deliberate (bump IDENTITY_VERSION).
    let identity = plan_start(&request(), now()).unwrap().identity;
    assert_eq!(
        identity.canonical(),
        "zagg-run/1\ncycle=22\nconfig=\"atl06\"\naoi=\"basins\"\nstore=\"s3://zagg-out/c22.zarr\"\nproduct_version=\"007\"\n"
    );
    // The README's example name.
    assert_eq!(
        name_of(&RunRequest::new("s3://zagg-out/c22.zarr", "22")),
        "zagg-c22-2ef067f6cb09"
    );
    let small = RunRequest::new("s3://b/p", "3");
    assert!(name_of(&small).starts_with("zagg-c03-"));
    assert!(is_valid_name(&attempt_name(&a, MAX_ATTEMPTS)));
}

#[test]
fn names_change_with_what_decides_the_result() {
    let base = name_of(&request());
    let mut variants = vec![];
    let mut r = request();
    r.cycle = "21".into();
    variants.push(r);
    let mut r = request();
    r.config = "s3://zagg-out/configs/other.yaml".into();
    variants.push(r);
    let mut r = request();
    r.aoi = "https://example.org/region.geojson".into();
    variants.push(r);
    let mut r = request();
    r.store = "s3://zagg-out/other.zarr".into();
    variants.push(r);
    let mut r = request();
    r.product_version = Some("006".into());
    variants.push(r);
    let mut names: Vec<String> = variants.iter().map(name_of).collect();
    names.push(base.clone());
    names.sort();
    names.dedup();
    assert_eq!(names.len(), variants.len() + 1, "{names:?}");
}

#[test]
fn names_ignore_what_does_not_change_the_result() {
    let base = name_of(&request());
    let mut r = request();
    r.max_concurrency = Some(50);
    r.tolerated_failure_percentage = Some(5.0);
    r.access = AccessInput::Https;
    r.catalog_prefix = Some("s3://zagg-out/catalogs/c22".into());
    assert_eq!(name_of(&r), base);
    // Defaults spelled out, and a trailing slash on the store, are the same run.
    let mut r = request();
    r.product_version = Some(DEFAULT_PRODUCT_VERSION.into());
    r.store = "s3://zagg-out/c22.zarr/".into();
    assert_eq!(name_of(&r), base);
}

#[test]
fn latest_complete_is_resolved_so_name_and_input_agree() {
    let mut r = request();
    r.cycle = "latest-complete".into();
    let plan = plan_start(&r, now()).unwrap();
    let expected = crate::cycle::latest_complete(now()).unwrap();
    assert_eq!(plan.input.cycle, CycleInput::Number(expected));
    assert_eq!(plan.identity.cycle, expected);
    let mut by_number = request();
    by_number.cycle = expected.to_string();
    assert_eq!(plan.name, name_of(&by_number));
    // Before the end of cycle 1 there is none.
    let early = DateTime::parse_from_rfc3339("2018-10-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let err = plan_start(&r, early).unwrap_err().to_string();
    assert!(
        err.contains("latest-complete") && err.contains("no complete cycle"),
        "{err}"
    );
}

#[test]
fn a_store_per_cycle_is_filled_in_before_naming() {
    let mut r = request();
    r.cycle = "22".into();
    let explicit = plan_start(&r, now()).unwrap();
    r.store = explicit.input.store.replace("22", "{cycle}");
    assert!(r.store.contains("{cycle}"), "{}", r.store);
    let templated = plan_start(&r, now()).unwrap();
    assert_eq!(templated.input.store, explicit.input.store);
    assert_eq!(templated.name, explicit.name);
}

#[test]
fn rerun_names() {
    assert_eq!(attempt_name("zagg-c22-abc", 1), "zagg-c22-abc");
    assert_eq!(attempt_name("zagg-c22-abc", 2), "zagg-c22-abc-r2");
    assert_eq!(attempt_name("zagg-c22-abc", 17), "zagg-c22-abc-r17");
    assert!(!is_valid_name(""));
    assert!(!is_valid_name(&"a".repeat(81)));
    assert!(is_valid_name(&"a".repeat(80)));
    assert!(!is_valid_name("zagg c22"));
    assert!(!is_valid_name("zagg:c22"));
}

#[test]
fn bad_inputs_name_the_input() {
    type Change = Box<dyn Fn(&mut RunRequest)>;
    let cases: Vec<(Change, &[&str])> = vec![
        (
            Box::new(|r| r.cycle = "0".into()),
            &["cycle \"0\"", "out of range"],
        ),
        (
            Box::new(|r| r.cycle = "100".into()),
            &["cycle \"100\"", "1 to 99"],
        ),
        (
            Box::new(|r| r.cycle = "last".into()),
            &["cycle \"last\"", "latest-complete"],
        ),
        (
            Box::new(|r| r.store = "out.zarr".into()),
            &["store \"out.zarr\"", "s3://"],
        ),
        (
            Box::new(|r| r.store = "s3:///x".into()),
            &["store", "no bucket"],
        ),
        (
            Box::new(|r| r.config = "my.yaml".into()),
            &["config \"my.yaml\"", "atl06", "s3://"],
        ),
        (
            Box::new(|r| r.config = "s3://b".into()),
            &["config", "s3://bucket/key.yaml"],
        ),
        (
            Box::new(|r| r.aoi = "region.geojson".into()),
            &["aoi \"region.geojson\"", "basins"],
        ),
        (
            Box::new(|r| r.product_version = Some(String::new())),
            &["product_version", "007"],
        ),
        (
            Box::new(|r| r.catalog_prefix = Some("c22".into())),
            &["catalog_prefix \"c22\""],
        ),
        (
            Box::new(|r| r.max_concurrency = Some(0)),
            &["max_concurrency \"0\"", "1-10000"],
        ),
        (
            Box::new(|r| r.max_concurrency = Some(10_001)),
            &["max_concurrency"],
        ),
        (
            Box::new(|r| r.tolerated_failure_percentage = Some(101.0)),
            &["tolerated_failure_percentage \"101\"", "0-100"],
        ),
        (
            Box::new(|r| r.tolerated_failure_percentage = Some(f64::NAN)),
            &["tolerated_failure_percentage"],
        ),
    ];
    for (change, expected) in cases {
        let mut r = request();
        change(&mut r);
        let err = plan_start(&r, now()).unwrap_err().to_string();
        for e in expected {
            assert!(err.contains(e), "{err:?} lacks {e:?}");
        }
    }
}

#[test]
fn the_input_reads_back_and_validates_like_the_lambdas_read_it() {
    let mut r = request();
    r.max_concurrency = Some(200);
    r.tolerated_failure_percentage = Some(5.0);
    r.config = "s3://zagg-out/configs/c.yaml".into();
    r.aoi = "https://example.org/a.geojson".into();
    let plan = plan_start(&r, now()).unwrap();
    let text = input_json(&plan.input).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v,
        json!({"cycle": 22, "aoi": "https://example.org/a.geojson",
               "config": "s3://zagg-out/configs/c.yaml", "store": "s3://zagg-out/c22.zarr",
               "access": "s3", "max_concurrency": 200, "tolerated_failure_percentage": 5.0})
    );
    // Step Functions (and moto) want a float tolerance: it stays one in the JSON text.
    assert!(
        text.contains("\"tolerated_failure_percentage\":5.0"),
        "{text}"
    );
}

#[test]
fn arns() {
    let s = sm();
    assert_eq!(s.region, "us-west-2");
    assert_eq!(s.to_string(), SM);
    let e = s.execution_arn("zagg-c22-abc");
    assert_eq!(
        e.to_string(),
        "arn:aws:states:us-west-2:123456789012:execution:zagg:zagg-c22-abc"
    );
    assert_eq!(e.to_string().parse::<ExecutionArn>().unwrap(), e);
    assert_eq!(
        e.console_url().unwrap(),
        "https://us-west-2.console.aws.amazon.com/states/home?region=us-west-2#/v2/executions/details/arn:aws:states:us-west-2:123456789012:execution:zagg:zagg-c22-abc"
    );
    for (bad, says) in [
        ("zagg", "expected arn:"),
        (
            "arn:aws:states:us-west-2:123456789012:execution:zagg:x",
            "a `execution` ARN",
        ),
        (
            "arn:aws:states:us-west-2:1234:stateMachine:zagg",
            "12 digits",
        ),
        (
            "arn:aws:states:us-west-2:123456789012:stateMachine:zagg:3",
            "version or alias",
        ),
        (
            "arn:aws:lambda:us-west-2:123456789012:stateMachine:zagg",
            "expected arn:",
        ),
    ] {
        let err = bad.parse::<StateMachineArn>().unwrap_err().to_string();
        assert!(err.contains(says) && err.contains(bad), "{err}");
    }
    for bad in [
        "nope",
        SM,
        "arn:aws:states:us-west-2:123456789012:execution:zagg:",
        "arn:aws:states:us-west-2:123456789012:execution:zagg",
    ] {
        let err = bad.parse::<ExecutionArn>().unwrap_err().to_string();
        assert!(err.starts_with("execution ARN"), "{err}");
    }
    assert!(matches!(
        state_machine_arn(None, None),
        Err(ExecutionError::NoStateMachine)
    ));
    assert!(state_machine_arn(Some(" "), None).is_err());
    assert_eq!(state_machine_arn(None, Some(SM)).unwrap(), s);
    let other = "arn:aws-cn:states:cn-north-1:123456789012:stateMachine:z";
    let flag_wins = state_machine_arn(Some(other), Some(SM)).unwrap();
    assert_eq!(flag_wins.partition, "aws-cn");
    assert!(flag_wins
        .execution_arn("x")
        .console_url()
        .unwrap()
        .starts_with("https://cn-north-1.console.amazonaws.cn/"));
}

#[test]
fn dry_run_text_shows_the_aws_cli_call() {
    let plan = plan_start(&request(), now()).unwrap();
    let text = plan.to_text(Some(&sm()), true).unwrap();
    assert!(text.contains(&format!("name   {}", plan.name)), "{text}");
    assert!(text.contains("-r2"), "{text}");
    assert!(text.contains(&format!(
        "aws stepfunctions start-execution --state-machine-arn {SM} --name {} --input '{{\"cycle\":22,",
        plan.name
    )), "{text}");
    let unknown = plan.aws_cli(None, 2).unwrap();
    assert!(unknown.contains("\"$ZAGG_STATE_MACHINE_ARN\""), "{unknown}");
    assert!(
        unknown.contains(&format!("--name {}-r2 ", plan.name)),
        "{unknown}"
    );
}

/// An in-memory Step Functions: executions by ARN; `race` makes the next start answer
/// `ExecutionAlreadyExists` after recording the execution (as a concurrent start would).
#[derive(Default)]
struct Fake {
    executions: Mutex<BTreeMap<String, ExecutionDescription>>,
    map_runs: Mutex<BTreeMap<String, Vec<MapRunStatus>>>,
    race: Mutex<bool>,
    calls: Mutex<Vec<String>>,
}

impl Fake {
    fn add(&self, arn: &ExecutionArn, status: &str) {
        self.executions.lock().unwrap().insert(
            arn.to_string(),
            ExecutionDescription {
                execution_arn: arn.to_string(),
                name: arn.name.clone(),
                state_machine_arn: SM.into(),
                status: status.into(),
                start_date: "2026-11-01T00:00:00Z".into(),
                stop_date: None,
                error: None,
                cause: None,
                input: None,
                output: None,
            },
        );
    }
}

#[async_trait::async_trait]
impl StepFunctions for Fake {
    async fn describe_execution(
        &self,
        arn: &ExecutionArn,
    ) -> Result<Option<ExecutionDescription>, ExecutionError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("describe {}", arn.name));
        Ok(self
            .executions
            .lock()
            .unwrap()
            .get(&arn.to_string())
            .cloned())
    }

    async fn start_execution(
        &self,
        state_machine: &StateMachineArn,
        name: &str,
        input: &str,
    ) -> Result<StartOutcome, ExecutionError> {
        self.calls.lock().unwrap().push(format!("start {name}"));
        let arn = state_machine.execution_arn(name);
        if std::mem::take(&mut *self.race.lock().unwrap()) {
            self.add(&arn, "RUNNING");
            return Ok(StartOutcome::AlreadyExists);
        }
        if self
            .executions
            .lock()
            .unwrap()
            .contains_key(&arn.to_string())
        {
            return Ok(StartOutcome::AlreadyExists);
        }
        self.add(&arn, "RUNNING");
        if let Some(e) = self.executions.lock().unwrap().get_mut(&arn.to_string()) {
            e.input = Some(input.to_string());
        }
        Ok(StartOutcome::Started {
            execution_arn: arn.to_string(),
            start_date: "2026-11-01T00:00:00Z".into(),
        })
    }

    async fn list_map_runs(&self, execution: &ExecutionArn) -> Result<Vec<String>, ExecutionError> {
        Ok(self
            .map_runs
            .lock()
            .unwrap()
            .get(&execution.to_string())
            .map(|runs| runs.iter().map(|r| r.map_run_arn.clone()).collect())
            .unwrap_or_default())
    }

    async fn describe_map_run(&self, map_run_arn: &str) -> Result<MapRunStatus, ExecutionError> {
        self.map_runs
            .lock()
            .unwrap()
            .values()
            .flatten()
            .find(|r| r.map_run_arn == map_run_arn)
            .cloned()
            .ok_or_else(|| ExecutionError::Aws {
                operation: "DescribeMapRun",
                target: map_run_arn.into(),
                message: "ResourceNotFound".into(),
            })
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn a_second_start_is_refused_and_rerun_takes_the_next_suffix() {
    let fake = Fake::default();
    let plan = plan_start(&request(), now()).unwrap();
    let first = block_on(start_run(&fake, &sm(), &plan, false)).unwrap();
    assert_eq!(first.name, plan.name);
    assert_eq!(first.attempt, 1);
    assert!(first.console_url.is_some());
    assert!(first.to_text().contains(&first.execution_arn));

    let err = block_on(start_run(&fake, &sm(), &plan, false)).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, ExecutionError::AlreadyStarted { .. }),
        "{text}"
    );
    assert!(text.contains(&first.execution_arn), "{text}");
    assert!(
        text.contains("RUNNING") && text.contains("2026-11-01T00:00:00Z"),
        "{text}"
    );
    assert!(
        text.contains("zagg status") && text.contains("--rerun"),
        "{text}"
    );
    assert!(text.contains(&format!("{}-r2", plan.name)), "{text}");

    let second = block_on(start_run(&fake, &sm(), &plan, true)).unwrap();
    assert_eq!(second.name, format!("{}-r2", plan.name));
    assert_eq!(second.attempt, 2);
    let third = block_on(start_run(&fake, &sm(), &plan, true)).unwrap();
    assert_eq!(third.name, format!("{}-r3", plan.name));
    // Now a plain start names the latest attempt.
    let text = block_on(start_run(&fake, &sm(), &plan, false))
        .unwrap_err()
        .to_string();
    assert!(
        text.contains(&third.execution_arn) && text.contains("-r4"),
        "{text}"
    );
    // A concurrency change is the same run.
    let mut r = request();
    r.max_concurrency = Some(7);
    let same = plan_start(&r, now()).unwrap();
    assert!(block_on(start_run(&fake, &sm(), &same, false)).is_err());
    // --rerun on a run never started starts its first attempt.
    let mut r = request();
    r.cycle = "21".into();
    let fresh = plan_start(&r, now()).unwrap();
    assert_eq!(
        block_on(start_run(&fake, &sm(), &fresh, true))
            .unwrap()
            .attempt,
        1
    );
}

#[test]
fn a_lost_race_is_refused_like_an_existing_execution() {
    let fake = Fake::default();
    *fake.race.lock().unwrap() = true;
    let plan = plan_start(&request(), now()).unwrap();
    let err = block_on(start_run(&fake, &sm(), &plan, false)).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, ExecutionError::AlreadyStarted { .. }),
        "{text}"
    );
    assert!(
        text.contains(&plan.name) && text.contains("RUNNING"),
        "{text}"
    );
}

#[test]
fn status_shows_the_execution_its_map_run_and_the_summary() {
    let fake = Fake::default();
    let plan = plan_start(&request(), now()).unwrap();
    let err = block_on(run_status(&fake, &sm(), &plan))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&plan.name) && err.contains("zagg start"),
        "{err}"
    );
    let missing = sm().execution_arn("nope");
    let err = block_on(status(&fake, &missing)).unwrap_err().to_string();
    assert!(
        err.contains("does not exist") && err.contains(":nope"),
        "{err}"
    );

    let started = block_on(start_run(&fake, &sm(), &plan, false)).unwrap();
    let arn: ExecutionArn = started.execution_arn.parse().unwrap();
    let output = json!({"catalog": {"shards": 3}, "consolidate": {"version": "0.1.0",
        "store": "s3://zagg-out/c22.zarr", "report": "s3://zagg-out/c22.zarr/run.json",
        "shards": 3, "shards_ok": 2, "shards_empty": 0, "shards_failed": 1, "failed": [],
        "observations": 1000, "cells": 40, "granules_failed": 0, "requests": 12, "bytes": 4096,
        "shard_seconds": 1.5}});
    if let Some(e) = fake.executions.lock().unwrap().get_mut(&arn.to_string()) {
        e.status = "SUCCEEDED".into();
        e.stop_date = Some("2026-11-01T01:02:03Z".into());
        e.output = Some(output.to_string());
    }
    let counts = MapRunCounts {
        pending: 0,
        running: 0,
        succeeded: 2,
        failed: 1,
        timed_out: 0,
        aborted: 0,
        total: 3,
        results_written: 3,
    };
    fake.map_runs.lock().unwrap().insert(
        arn.to_string(),
        vec![MapRunStatus {
            map_run_arn: format!("{SM}/ShardMap:abc").replace("stateMachine", "mapRun"),
            status: "SUCCEEDED".into(),
            start_date: "2026-11-01T00:01:00Z".into(),
            stop_date: Some("2026-11-01T01:00:00Z".into()),
            max_concurrency: 200,
            tolerated_failure_percentage: 5.0,
            tolerated_failure_count: 0,
            items: counts,
            executions: counts,
        }],
    );
    let report = block_on(status(&fake, &arn)).unwrap();
    assert_eq!(report.execution.status, "SUCCEEDED");
    let summary = report.summary.clone().unwrap();
    assert_eq!(summary["shards_failed"], json!(1));
    assert!(!summary.contains_key("failed") && !summary.contains_key("version"));
    let text = report.to_text(now());
    for expected in [
        "status         SUCCEEDED",
        "after 1h 02m 03s",
        "map run        SUCCEEDED",
        "succeeded",
        "timed out",
        "shards_failed   1",
        "report          s3://zagg-out/c22.zarr/run.json",
    ] {
        assert!(text.contains(expected), "{expected:?} not in\n{text}");
    }
    let items = text
        .lines()
        .find(|l| l.trim_start().starts_with("items"))
        .unwrap();
    let numbers: Vec<&str> = items.split_whitespace().skip(1).collect();
    assert_eq!(numbers, ["0", "0", "2", "1", "0", "0", "3"]);
    let v = serde_json::to_value(&report).unwrap();
    assert_eq!(v["status"], "SUCCEEDED");
    assert_eq!(v["map_runs"][0]["items"]["failed"], 1);
    assert_eq!(v["output"]["consolidate"]["cells"], 40);

    // By run: the latest attempt, with the list of attempts.
    block_on(start_run(&fake, &sm(), &plan, true)).unwrap();
    let by_run = block_on(run_status(&fake, &sm(), &plan)).unwrap();
    assert_eq!(by_run.execution.name, format!("{}-r2", plan.name));
    assert_eq!(by_run.attempt, Some(2));
    assert_eq!(by_run.attempts.len(), 2);
    let text = by_run.to_text(now());
    assert!(
        text.contains("(attempt 2 of 2)") && text.contains("map runs       none yet"),
        "{text}"
    );
    assert!(text.contains("running for"), "{text}");
}

#[test]
fn summary_is_found_at_the_top_or_nested() {
    let top = json!({"shards": 1, "shards_ok": 1, "failed": []});
    assert_eq!(find_summary(&top).unwrap()["shards"], json!(1));
    let nested = json!({"result": {"Payload": {"shards_ok": 4}}});
    assert_eq!(find_summary(&nested).unwrap()["shards_ok"], json!(4));
    assert!(find_summary(&json!({"a": {"b": {"c": {"d": {"shards_ok": 1}}}}})).is_none());
    assert!(find_summary(&json!("text")).is_none());
}
