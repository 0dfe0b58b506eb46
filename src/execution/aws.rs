//! [`StepFunctions`] over the AWS SDK (`aws-sdk-sfn`).

use aws_sdk_sfn::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sfn::primitives::{DateTime as AwsDateTime, DateTimeFormat};

use super::{
    ExecutionArn, ExecutionDescription, ExecutionError, MapRunCounts, MapRunStatus, StartOutcome,
    StateMachineArn, StepFunctions,
};

/// The Step Functions client of `zagg start` and `zagg status`.
#[derive(Debug, Clone)]
pub struct AwsStepFunctions {
    client: aws_sdk_sfn::Client,
}

impl AwsStepFunctions {
    /// A client configured by the standard AWS chain (environment, shared config and
    /// credentials files, container or instance credentials; `AWS_ENDPOINT_URL` or
    /// `AWS_ENDPOINT_URL_SFN` for another endpoint, e.g. a local moto server), for `region`:
    /// the region of the ARN it is used on, whatever region the chain names, since a state
    /// machine is reached only in its own region.
    pub async fn from_env(region: &str) -> Self {
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_string()))
            .load()
            .await;
        Self::from_client(aws_sdk_sfn::Client::new(&shared))
    }

    /// Wrap a client configured by the caller.
    #[must_use]
    pub fn from_client(client: aws_sdk_sfn::Client) -> Self {
        Self { client }
    }
}

/// A date as RFC 3339 text.
fn date_text(d: &AwsDateTime) -> String {
    d.fmt(DateTimeFormat::DateTime)
        .unwrap_or_else(|_| format!("{} s after the Unix epoch", d.secs()))
}

/// The service's error code and message, or the client's whole error chain.
fn message<E, R>(e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e.as_service_error() {
        Some(service) => format!(
            "{}: {}",
            service.code().unwrap_or("error"),
            service.message().unwrap_or("(no message)")
        ),
        None => DisplayErrorContext(e).to_string(),
    }
}

fn aws_error(operation: &'static str, target: &str, message: String) -> ExecutionError {
    ExecutionError::Aws {
        operation,
        target: target.to_string(),
        message,
    }
}

/// The SDK's item and execution counts of a Map Run: two types with the same accessors.
macro_rules! map_run_counts {
    ($c:expr) => {
        MapRunCounts {
            pending: $c.pending(),
            running: $c.running(),
            succeeded: $c.succeeded(),
            failed: $c.failed(),
            timed_out: $c.timed_out(),
            aborted: $c.aborted(),
            total: $c.total(),
            results_written: $c.results_written(),
        }
    };
}

#[async_trait::async_trait]
impl StepFunctions for AwsStepFunctions {
    async fn describe_execution(
        &self,
        arn: &ExecutionArn,
    ) -> Result<Option<ExecutionDescription>, ExecutionError> {
        let target = arn.to_string();
        let out = match self
            .client
            .describe_execution()
            .execution_arn(&target)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(aws_sdk_sfn::operation::describe_execution::DescribeExecutionError::is_execution_does_not_exist) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(aws_error("DescribeExecution", &target, message(&e))),
        };
        Ok(Some(ExecutionDescription {
            execution_arn: out.execution_arn().to_string(),
            name: out.name().unwrap_or(&arn.name).to_string(),
            state_machine_arn: out.state_machine_arn().to_string(),
            status: out.status().as_str().to_string(),
            start_date: date_text(out.start_date()),
            stop_date: out.stop_date().map(date_text),
            error: out.error().map(str::to_string),
            cause: out.cause().map(str::to_string),
            input: out.input().map(str::to_string),
            output: out.output().map(str::to_string),
        }))
    }

    async fn start_execution(
        &self,
        state_machine: &StateMachineArn,
        name: &str,
        input: &str,
    ) -> Result<StartOutcome, ExecutionError> {
        let target = state_machine.to_string();
        match self
            .client
            .start_execution()
            .state_machine_arn(&target)
            .name(name)
            .input(input)
            .send()
            .await
        {
            Ok(out) => Ok(StartOutcome::Started {
                execution_arn: out.execution_arn().to_string(),
                start_date: date_text(out.start_date()),
            }),
            Err(e)
                if e.as_service_error()
                    .is_some_and(aws_sdk_sfn::operation::start_execution::StartExecutionError::is_execution_already_exists) =>
            {
                Ok(StartOutcome::AlreadyExists)
            }
            Err(e) => Err(aws_error(
                "StartExecution",
                &format!("{target} (name {name})"),
                message(&e),
            )),
        }
    }

    async fn list_map_runs(&self, execution: &ExecutionArn) -> Result<Vec<String>, ExecutionError> {
        let target = execution.to_string();
        let mut arns = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .list_map_runs()
                .execution_arn(&target)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| aws_error("ListMapRuns", &target, message(&e)))?;
            arns.extend(out.map_runs().iter().map(|m| m.map_run_arn().to_string()));
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(arns)
    }

    async fn describe_map_run(&self, map_run_arn: &str) -> Result<MapRunStatus, ExecutionError> {
        let out = self
            .client
            .describe_map_run()
            .map_run_arn(map_run_arn)
            .send()
            .await
            .map_err(|e| aws_error("DescribeMapRun", map_run_arn, message(&e)))?;
        let items = out
            .item_counts()
            .map_or_else(MapRunCounts::default, |c| map_run_counts!(c));
        let executions = out
            .execution_counts()
            .map_or_else(MapRunCounts::default, |c| map_run_counts!(c));
        Ok(MapRunStatus {
            map_run_arn: out.map_run_arn().to_string(),
            status: out.status().as_str().to_string(),
            start_date: date_text(out.start_date()),
            stop_date: out.stop_date().map(date_text),
            max_concurrency: out.max_concurrency(),
            tolerated_failure_percentage: out.tolerated_failure_percentage(),
            tolerated_failure_count: out.tolerated_failure_count(),
            items,
            executions,
        })
    }
}
