//! `zagg start` and `zagg status` against Step Functions on a moto server (SPEC §8).
//!
//! These tests need the server: `scripts/test-all.sh` starts moto and runs them with
//! `ZAGG_TEST_S3_ENDPOINT=http://127.0.0.1:PORT cargo test --test sfn -- --ignored`. moto
//! does not run state machines by default (a Pass state is enough): executions stay
//! `RUNNING` and have no Map Run. One test switches moto's ASL interpreter on to follow a
//! Distributed Map to its end; the tests take turns ([`SERVER`]) since that switch is global.

use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use serde_json::Value;

const REGION: &str = "us-west-2";

fn endpoint() -> String {
    std::env::var("ZAGG_TEST_S3_ENDPOINT").expect(
        "ZAGG_TEST_S3_ENDPOINT must point at a moto server (scripts/test-all.sh starts one)",
    )
}

/// Held by each test that uses the server: one switches moto's interpreter on for a while.
static SERVER: Mutex<()> = Mutex::new(());

fn server() -> MutexGuard<'static, ()> {
    SERVER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn client() -> aws_sdk_sfn::Client {
    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .build();
    aws_sdk_sfn::Client::from_conf(config)
}

/// A name no earlier test run used on a long-lived server.
fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// A state machine with one Pass state; its ARN.
fn create_state_machine() -> String {
    create_state_machine_with(
        r#"{"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": true}}}"#,
    )
}

/// A state machine of this definition; its ARN.
fn create_state_machine_with(definition: &str) -> String {
    runtime().block_on(async {
        client()
            .create_state_machine()
            .name(unique("zagg-test"))
            .definition(definition)
            .role_arn("arn:aws:iam::123456789012:role/zagg-test")
            .send()
            .await
            .expect("CreateStateMachine")
            .state_machine_arn()
            .to_string()
    })
}

/// Run `zagg` with the moto endpoint and test credentials, nothing from the user's AWS setup.
fn zagg(args: &[&str], state_machine_env: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zagg"));
    cmd.args(args)
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("ZAGG_STATE_MACHINE_ARN");
    if let Some(arn) = state_machine_env {
        cmd.env("ZAGG_STATE_MACHINE_ARN", arn);
    }
    cmd.output().expect("run zagg")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "zagg failed: {}\n{}",
        text(&out.stderr),
        text(&out.stdout)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out.stdout)))
}

fn describe(arn: &str) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    runtime().block_on(async {
        client()
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .expect("DescribeExecution")
    })
}

#[test]
#[ignore = "needs a moto server: ZAGG_TEST_S3_ENDPOINT (scripts/test-all.sh)"]
fn start_is_refused_the_second_time_rerun_starts_a_new_attempt_and_status_finds_it() {
    let _server = server();
    let sm = create_state_machine();
    let store = format!("s3://zagg-sfn-test/{}.zarr", unique("c22"));
    let run = ["--store", store.as_str(), "--cycle", "22"];

    // First start.
    let args: Vec<&str> = [&["start"][..], &run, &["--state-machine", &sm, "--json"]].concat();
    let started = ok_json(&zagg(&args, None));
    let arn = started["execution_arn"]
        .as_str()
        .expect("execution_arn")
        .to_string();
    let name = started["name"].as_str().expect("name").to_string();
    assert!(name.starts_with("zagg-c22-") && name.len() == 21, "{name}");
    assert!(
        arn.ends_with(&format!(
            ":execution:{}:{name}",
            sm.rsplit(':').next().unwrap_or_default()
        )),
        "{arn}"
    );
    assert_eq!(started["attempt"], 1);
    let described = describe(&arn);
    assert_eq!(described.status().as_str(), "RUNNING");
    let input: Value = serde_json::from_str(described.input().expect("input")).expect("input JSON");
    assert_eq!(input["cycle"], 22);
    assert_eq!(input["store"], store.as_str());
    assert_eq!(input["aoi"], "basins");

    // The text output of a start names the ARN and a console page (here: a second run).
    let other_store = format!("{store}-text");
    let out = zagg(
        &[
            "start",
            "--store",
            &other_store,
            "--cycle",
            "22",
            "--state-machine",
            &sm,
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("arn      arn:aws:states:us-west-2:"),
        "{stdout}"
    );
    assert!(
        stdout.contains("console  https://us-west-2.console.aws.amazon.com/states/"),
        "{stdout}"
    );

    // Second identical start: refused, naming the existing execution. Concurrency does not
    // make another run.
    for extra in [&[][..], &["--max-concurrency", "10"][..]] {
        let args: Vec<&str> = [&["start"][..], &run, &["--state-machine", &sm], extra].concat();
        let out = zagg(&args, None);
        assert!(
            !out.status.success(),
            "a second start succeeded: {}",
            text(&out.stdout)
        );
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("refused") && stderr.contains(&arn),
            "{stderr}"
        );
        assert!(
            stderr.contains("RUNNING") && stderr.contains("--rerun"),
            "{stderr}"
        );
    }

    // --rerun: a new attempt, NAME-r2.
    let args: Vec<&str> = [
        &["start"][..],
        &run,
        &["--state-machine", &sm, "--rerun", "--json"],
    ]
    .concat();
    let rerun = ok_json(&zagg(&args, None));
    assert_eq!(rerun["name"], format!("{name}-r2"));
    assert_eq!(rerun["attempt"], 2);
    let rerun_arn = rerun["execution_arn"].as_str().expect("arn").to_string();
    assert_eq!(describe(&rerun_arn).status().as_str(), "RUNNING");

    // status ARN --json.
    let status = ok_json(&zagg(&["status", &arn, "--json"], None));
    assert_eq!(status["status"], "RUNNING");
    assert_eq!(status["execution_arn"], arn.as_str());
    assert_eq!(status["name"], name.as_str());
    assert!(
        status["map_runs"].as_array().is_some_and(Vec::is_empty),
        "{status}"
    );
    assert_eq!(status["input"]["store"], store.as_str(), "{status}");
    assert_eq!(status["input"]["cycle"], 22, "{status}");
    assert!(
        status["start_date"]
            .as_str()
            .is_some_and(|d| d.ends_with('Z')),
        "{status}"
    );

    // status by run (state machine from the environment): the latest attempt.
    let args: Vec<&str> = [&["status"][..], &run, &["--json"]].concat();
    let by_run = ok_json(&zagg(&args, Some(&sm)));
    assert_eq!(by_run["execution_arn"], rerun_arn.as_str());
    assert_eq!(by_run["attempt"], 2);
    assert_eq!(
        by_run["attempts"],
        serde_json::json!([name, format!("{name}-r2")])
    );

    // The human-readable status.
    let out = zagg(&["status", &arn], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for expected in [
        format!("execution      {name}"),
        "status         RUNNING".to_string(),
        format!("arn            {arn}"),
        "map runs       none yet".to_string(),
    ] {
        assert!(stdout.contains(&expected), "{expected:?} not in\n{stdout}");
    }
}

#[test]
#[ignore = "needs a moto server: ZAGG_TEST_S3_ENDPOINT (scripts/test-all.sh)"]
fn latest_complete_is_resolved_before_naming() {
    let _server = server();
    let sm = create_state_machine();
    let store = format!("s3://zagg-sfn-test/{}.zarr", unique("latest"));
    let started = ok_json(&zagg(
        &[
            "start",
            "--store",
            &store,
            "--cycle",
            "latest-complete",
            "--json",
        ],
        Some(&sm),
    ));
    let cycle = started["input"]["cycle"].as_u64().expect("a numeric cycle");
    let name = started["name"].as_str().expect("name");
    assert!(name.starts_with(&format!("zagg-c{cycle:02}-")), "{name}");
    let input: Value = serde_json::from_str(
        describe(started["execution_arn"].as_str().expect("arn"))
            .input()
            .expect("input"),
    )
    .expect("input JSON");
    assert_eq!(input["cycle"], cycle);
    // The same run by number is the same execution.
    let out = zagg(
        &["start", "--store", &store, "--cycle", &cycle.to_string()],
        Some(&sm),
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains(name), "{}", text(&out.stderr));
}

#[test]
#[ignore = "needs a moto server: ZAGG_TEST_S3_ENDPOINT (scripts/test-all.sh)"]
fn bad_arns_and_missing_executions_are_clear_errors() {
    let _server = server();
    let sm = create_state_machine();
    let fails = |args: &[&str], env: Option<&str>, expected: &[&str]| {
        let out = zagg(args, env);
        assert!(!out.status.success(), "{args:?} succeeded");
        let stderr = text(&out.stderr);
        for e in expected {
            assert!(stderr.contains(e), "{args:?}: {e:?} not in {stderr}");
        }
    };
    fails(
        &["status", "not-an-arn"],
        None,
        &["execution ARN \"not-an-arn\"", "arn:PARTITION:states"],
    );
    fails(&["status", &sm], None, &["a `stateMachine` ARN"]);
    let missing = format!("{}:nope", sm.replace(":stateMachine:", ":execution:"));
    fails(&["status", &missing], None, &["does not exist", &missing]);
    fails(
        &[
            "status",
            "--store",
            "s3://zagg-sfn-test/never.zarr",
            "--cycle",
            "22",
        ],
        Some(&sm),
        &["no execution of this run", "zagg start"],
    );
    fails(
        &[
            "start",
            "--store",
            "s3://zagg-sfn-test/x.zarr",
            "--cycle",
            "22",
        ],
        None,
        &["no state machine", "ZAGG_STATE_MACHINE_ARN"],
    );
    fails(
        &[
            "start",
            "--store",
            "s3://zagg-sfn-test/x.zarr",
            "--cycle",
            "22",
            "--state-machine",
            "zagg",
        ],
        None,
        &["state machine ARN \"zagg\""],
    );
    let unknown_sm = sm.replace(":stateMachine:", ":stateMachine:gone-");
    fails(
        &[
            "start",
            "--store",
            "s3://zagg-sfn-test/x.zarr",
            "--cycle",
            "22",
            "--state-machine",
            &unknown_sm,
        ],
        None,
        &["StartExecution", "StateMachineDoesNotExist"],
    );
    fails(
        &["start", "--store", "local.zarr", "--cycle", "22"],
        Some(&sm),
        &["store \"local.zarr\"", "s3://"],
    );
    fails(
        &["start", "--store", "s3://b/p", "--cycle", "100"],
        Some(&sm),
        &["cycle \"100\"", "1 to 99"],
    );
}

/// moto's ASL interpreter on (`POST /moto-api/config`) until dropped.
struct Interpreter;

impl Interpreter {
    fn set(on: bool) {
        let body = format!(r#"{{"stepfunctions": {{"execute_state_machine": {on}}}}}"#);
        let reply = reqwest::blocking::Client::new()
            .post(format!("{}/moto-api/config", endpoint()))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .expect("POST /moto-api/config");
        assert!(reply.status().is_success(), "{}", reply.status());
    }

    fn on() -> Self {
        Self::set(true);
        Self
    }
}

impl Drop for Interpreter {
    fn drop(&mut self) {
        Self::set(false);
    }
}

#[test]
#[ignore = "needs a moto server: ZAGG_TEST_S3_ENDPOINT (scripts/test-all.sh)"]
fn status_follows_the_map_run_and_shows_the_consolidate_summary() {
    let _server = server();
    // The pipeline's shape with Pass states: three shard items through a Distributed Map,
    // then a consolidate result.
    let definition = r#"{"StartAt": "Catalog", "States": {
        "Catalog": {"Type": "Pass", "Result": [1, 2, 3], "ResultPath": "$.items", "Next": "Shards"},
        "Shards": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
                   "ToleratedFailurePercentage": 20.0,
                   "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                                     "StartAt": "Process", "States": {"Process": {"Type": "Pass", "End": true}}},
                   "ResultPath": "$.results", "Next": "Consolidate"},
        "Consolidate": {"Type": "Pass", "End": true,
                        "Parameters": {"consolidate": {"store.$": "$.store", "shards": 3, "shards_ok": 3,
                                                       "shards_empty": 0, "shards_failed": 0,
                                                       "observations": 12345, "failed": []}}}}}"#;
    // moto keeps the state machines of its interpreter apart: create it once switched on.
    let _interpreter = Interpreter::on();
    let sm = create_state_machine_with(definition);
    let store = format!("s3://zagg-sfn-test/{}.zarr", unique("maprun"));
    let started = ok_json(&zagg(
        &["start", "--store", &store, "--cycle", "22", "--json"],
        Some(&sm),
    ));
    let arn = started["execution_arn"].as_str().expect("arn").to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        let status = ok_json(&zagg(&["status", &arn, "--json"], None));
        if status["status"] != "RUNNING" || Instant::now() > deadline {
            break status;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(status["status"], "SUCCEEDED", "{status:#}");
    let map_run = &status["map_runs"][0];
    assert_eq!(map_run["status"], "SUCCEEDED", "{status:#}");
    assert_eq!(map_run["max_concurrency"], 2);
    assert_eq!(map_run["tolerated_failure_percentage"], 20.0);
    for counts in ["items", "executions"] {
        assert_eq!(map_run[counts]["succeeded"], 3, "{status:#}");
        assert_eq!(map_run[counts]["total"], 3, "{status:#}");
        assert_eq!(map_run[counts]["failed"], 0, "{status:#}");
    }
    assert_eq!(status["summary"]["shards_ok"], 3, "{status:#}");
    assert_eq!(status["summary"]["store"], store.as_str());
    assert!(status["summary"].get("failed").is_none(), "{status:#}");
    assert_eq!(status["output"]["consolidate"]["observations"], 12345);
    assert!(status["stop_date"].is_string(), "{status:#}");

    let out = zagg(&["status", &arn], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("map run        SUCCEEDED arn:aws:states:"),
        "{stdout}"
    );
    let row = |label: &str| -> Vec<String> {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label} row in\n{stdout}"))
            .split_whitespace()
            .skip(1)
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        row("items"),
        ["0", "0", "3", "0", "0", "0", "3"],
        "{stdout}"
    );
    assert_eq!(
        row("executions"),
        ["0", "0", "3", "0", "0", "0", "3"],
        "{stdout}"
    );
    assert!(
        stdout.contains("result (consolidate)") && stdout.contains("observations    12345"),
        "{stdout}"
    );
}

#[test]
fn dry_run_sends_nothing() {
    // No server and no state machine needed: the AWS CLI call names the variable instead.
    let out = Command::new(env!("CARGO_BIN_EXE_zagg"))
        .args([
            "start",
            "--store",
            "s3://zagg-out/c22.zarr",
            "--cycle",
            "22",
            "--dry-run",
        ])
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env_remove("ZAGG_STATE_MACHINE_ARN")
        .output()
        .expect("run zagg");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("# dry run, nothing sent"), "{stdout}");
    assert!(stdout.contains("name   zagg-c22-"), "{stdout}");
    assert!(
        stdout.contains("\"store\": \"s3://zagg-out/c22.zarr\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("aws stepfunctions start-execution --state-machine-arn \"$ZAGG_STATE_MACHINE_ARN\" --name zagg-c22-"),
        "{stdout}"
    );
    // A state machine given but malformed is an error, even in a dry run.
    let out = Command::new(env!("CARGO_BIN_EXE_zagg"))
        .args([
            "start",
            "--store",
            "s3://zagg-out/c22.zarr",
            "--cycle",
            "22",
            "--dry-run",
        ])
        .args(["--state-machine", "zagg"])
        .output()
        .expect("run zagg");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("state machine ARN \"zagg\""),
        "{}",
        text(&out.stderr)
    );
}
