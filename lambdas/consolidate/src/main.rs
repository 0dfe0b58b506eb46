//! The consolidate stage of zagg as an AWS Lambda: a thin binary over [`zagg::lambda::consolidate`],
//! served by the shared glue in `lambdas/runtime`.

fn main() -> Result<(), lambda_runtime::Error> {
    zagg_lambda_runtime::serve(zagg::lambda::Stage::Consolidate)
}
