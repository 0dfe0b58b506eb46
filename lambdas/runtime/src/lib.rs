//! The `lambda_runtime` glue shared by zagg's four Lambda binaries: each binary's `main` is
//! one call to [`serve`] with its stage. Failures reach Step Functions with a stable
//! `errorType` (`Zagg.Transient`, `Zagg.BadInput`, …; see `zagg::lambda`).

use std::sync::Arc;

use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent};
use serde_json::Value;
use zagg::lambda::{handle, Services, Stage};

/// Serve one stage until the Lambda runtime stops.
///
/// # Errors
/// When the async runtime cannot start or the Lambda runtime API fails.
pub fn serve(stage: Stage) -> Result<(), Error> {
    // RUST_LOG or AWS_LAMBDA_LOG_LEVEL; JSON lines when AWS_LAMBDA_LOG_FORMAT=JSON.
    lambda_runtime::tracing::init_default_subscriber();
    // Built once per container and kept warm. Owned here, outside the runtime: the cloud
    // clients hold their own I/O runtime, which must not be dropped in async code.
    let services = Arc::new(Services::from_env());
    let shared = services.clone();
    let handler = service_fn(move |event: LambdaEvent<Value>| {
        let services = shared.clone();
        async move {
            // The library blocks (rayon, its own I/O runtime): keep it off the async workers.
            let result =
                tokio::task::spawn_blocking(move || handle(stage, &services, event.payload)).await;
            match result {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(e)) => Err(Diagnostic {
                    error_type: e.error_type().to_string(),
                    error_message: e.message,
                }),
                Err(join) => Err(Diagnostic {
                    error_type: "Zagg.Internal".to_string(),
                    error_message: format!("the {} stage panicked: {join}", stage.name()),
                }),
            }
        }
    });
    let runtime = tokio::runtime::Runtime::new()?;
    let result = runtime.block_on(lambda_runtime::run(handler));
    drop(runtime);
    drop(services);
    result
}
