//! The state machine definition `statemachine/zagg.asl.json` against the Rust event types:
//! the payloads it builds deserialize into the events the Lambdas take, its defaults are the
//! library's, every retry is for a transient error only, and every state is reachable.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use zagg::events::{
    ConsolidateEvent, ExecutionInput, ProcessEvent, ResolveEvent, TemplateEvent, DEFAULT_AOI,
    DEFAULT_MAX_CONCURRENCY, DEFAULT_TOLERATED_FAILURE_PERCENTAGE,
};

const PLACEHOLDERS: [&str; 6] = [
    "CatalogFunctionArn",
    "TemplateFunctionArn",
    "ProcessFunctionArn",
    "ConsolidateFunctionArn",
    "ResultsBucket",
    "ResultsPrefix",
];

fn definition() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/statemachine/zagg.asl.json");
    let text = std::fs::read_to_string(path).expect("read the ASL");
    serde_json::from_str(&text).expect("the ASL is JSON")
}

/// Every state of the definition, nested ones included, by name.
fn states(v: &Value, out: &mut Vec<(String, Value)>) {
    if let Some(map) = v.get("States").and_then(Value::as_object) {
        for (name, state) in map {
            out.push((name.clone(), state.clone()));
            for b in state
                .get("Branches")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                states(b, out);
            }
            if let Some(p) = state.get("ItemProcessor") {
                states(p, out);
            }
        }
    }
}

fn all_states() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    states(&definition(), &mut out);
    out
}

fn state(name: &str) -> Value {
    all_states()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("no state {name}"))
}

/// A payload template of the ASL filled in: `"k.$": path` → a value for that path.
fn fill(template: &Value, values: &dyn Fn(&str) -> Value) -> Value {
    let mut out = serde_json::Map::new();
    for (k, v) in template.as_object().expect("payload object") {
        match k.strip_suffix(".$") {
            Some(key) => {
                out.insert(key.to_string(), values(v.as_str().expect("a path")));
            }
            None => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

#[test]
fn defaults_are_the_librarys() {
    let d = &state("Defaults")["Parameters"]["defaults"];
    assert_eq!(d["aoi"], json!(DEFAULT_AOI));
    assert_eq!(d["config"], json!(zagg::config::DEFAULT_CONFIG));
    assert_eq!(d["access"], json!("s3"));
    assert_eq!(d["max_concurrency"], json!(DEFAULT_MAX_CONCURRENCY));
    assert_eq!(
        d["tolerated_failure_percentage"],
        json!(DEFAULT_TOLERATED_FAILURE_PERCENTAGE)
    );
    // The merged input is a valid execution input (the catalog step validates it).
    let mut merged = d.clone();
    merged["cycle"] = json!(22);
    merged["store"] = json!("s3://b/c22.zarr");
    let _: ExecutionInput = serde_json::from_value(merged.clone()).expect("merged input parses");
    // The resolve step gets it whole.
    let r = fill(&state("Resolve")["Parameters"]["Payload"], &|p| match p {
        "$" => merged.clone(),
        other => panic!("unexpected path {other}"),
    });
    let _: ResolveEvent = serde_json::from_value(r).expect("resolve event");
    assert_eq!(
        state("Resolve")["ResultSelector"]["input.$"],
        "$.Payload.input"
    );
    assert_eq!(state("Resolved")["OutputPath"], "$.input");
    assert_eq!(
        state("AlreadyComplete")["Choices"][0]["Next"],
        "NothingToDo"
    );
}

#[test]
fn payloads_are_the_lambda_events() {
    let template = &state("Template")["Parameters"]["Payload"];
    let t = fill(template, &|p| match p {
        "$.store" => json!("s3://b/c22.zarr"),
        "$.config" => json!("atl06"),
        other => panic!("unexpected path {other}"),
    });
    let _: TemplateEvent = serde_json::from_value(t).expect("template event");

    let selector = &state("Shards")["ItemSelector"];
    let item = json!({"shard": 41066, "morton": -5112333, "parent_order": 6,
                      "granules": [{"s3": "s3://x/a.h5", "https": null, "id": "a.h5"}]});
    let p = fill(selector, &|p| match p {
        "$$.Execution.Name" => json!("zagg-c22-0123456789ab"),
        "$.store" => json!("s3://b/c22.zarr"),
        "$.config" => json!("atl06"),
        "$.access" => json!("s3"),
        other => {
            let field = other
                .strip_prefix("$$.Map.Item.Value.")
                .unwrap_or_else(|| panic!("unexpected path {other}"));
            item[field].clone()
        }
    });
    let e: ProcessEvent = serde_json::from_value(p).expect("process event");
    assert_eq!(e.run.as_deref(), Some("zagg-c22-0123456789ab"));

    let payload = &state("Consolidate")["Parameters"]["Payload"];
    for map in [
        json!({"result_manifest": "s3://r/map/1/manifest.json", "error": null}),
        json!({"result_manifest": null, "error": {"Error": "States.ExceedToleratedFailureThreshold", "Cause": "x"}}),
    ] {
        let c = fill(payload, &|p| match p {
            "$.store" => json!("s3://b/c22.zarr"),
            "$.config" => json!("atl06"),
            "$$.Execution.Name" => json!("zagg-c22-0123456789ab"),
            "$.prepared.catalog.catalog.url" => json!("s3://b/c22.zarr/catalog.json"),
            "$.prepared.catalog.cycle" => json!(22),
            "$.tolerated_failure_percentage" => json!(5.0),
            "$.map.result_manifest" => map["result_manifest"].clone(),
            "$.map.error" => map["error"].clone(),
            other => panic!("unexpected path {other}"),
        });
        let _: ConsolidateEvent = serde_json::from_value(c).expect("consolidate event");
    }
    // The Map's two exits and the no-shard path all set both fields consolidate reads.
    for name in ["NoShards", "MapFailed"] {
        let p = state(name)["Parameters"].clone();
        assert!(p.get("result_manifest").is_some(), "{name}");
        assert!(
            p.get("error").is_some() || p.get("error.$").is_some(),
            "{name}"
        );
    }
    let sel = &state("Shards")["ResultSelector"];
    assert!(sel.get("result_manifest.$").is_some() && sel.get("error").is_some());
}

#[test]
fn retries_are_for_transient_errors_only() {
    let mut tasks = 0;
    for (name, s) in all_states() {
        if s["Type"] != "Task" {
            continue;
        }
        tasks += 1;
        let retries = s["Retry"].as_array().expect("every task retries");
        let errors: BTreeSet<&str> = retries
            .iter()
            .flat_map(|r| r["ErrorEquals"].as_array().expect("ErrorEquals"))
            .filter_map(Value::as_str)
            .collect();
        for e in ["Zagg.Transient", "Lambda.TooManyRequestsException"] {
            assert!(errors.contains(e), "{name} does not retry {e}");
        }
        for e in [
            "Zagg.BadInput",
            "Zagg.Internal",
            "States.ALL",
            "States.TaskFailed",
        ] {
            assert!(!errors.contains(e), "{name} retries {e}");
        }
        for r in retries {
            assert_eq!(r["JitterStrategy"], "FULL", "{name}: {r}");
            let attempts = r["MaxAttempts"].as_u64().expect("MaxAttempts");
            assert!((1..=8).contains(&attempts), "{name}: {r}");
            if attempts > 1 {
                assert!(
                    r["BackoffRate"].as_f64().expect("BackoffRate") >= 2.0,
                    "{name}: {r}"
                );
                assert!(r["MaxDelaySeconds"].as_u64().is_some(), "{name}: {r}");
            }
        }
    }
    assert_eq!(tasks, 5, "resolve, catalog, template, process, consolidate");
}

#[test]
fn the_map_reads_the_catalog_and_writes_results() {
    let m = state("Shards");
    assert_eq!(m["ItemProcessor"]["ProcessorConfig"]["Mode"], "DISTRIBUTED");
    assert_eq!(m["ItemReader"]["ReaderConfig"]["InputType"], "JSON");
    assert_eq!(m["ItemReader"]["Resource"], "arn:aws:states:::s3:getObject");
    assert_eq!(
        m["ResultWriter"]["Resource"],
        "arn:aws:states:::s3:putObject"
    );
    assert!(m["MaxConcurrencyPath"].is_string());
    assert!(m["ToleratedFailurePercentagePath"].is_string());
    let catch = m["Catch"].as_array().expect("the Map catches");
    assert_eq!(catch[0]["Next"], "MapFailed");
}

#[test]
fn states_are_reachable_and_placeholders_known() {
    let def = definition();
    let text = serde_json::to_string(&def).expect("serialise");
    let mut rest = text.as_str();
    while let Some(i) = rest.find("${") {
        let end = rest[i..].find('}').expect("closed placeholder") + i;
        let name = &rest[i + 2..end];
        assert!(PLACEHOLDERS.contains(&name), "unknown placeholder {name}");
        rest = &rest[end..];
    }
    for p in PLACEHOLDERS {
        assert!(text.contains(&format!("${{{p}}}")), "{p} unused");
    }
    let all = all_states();
    let names: BTreeSet<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    let mut targets: BTreeSet<String> = BTreeSet::new();
    for (_, s) in &all {
        for key in ["Next", "Default"] {
            if let Some(t) = s.get(key).and_then(Value::as_str) {
                targets.insert(t.to_string());
            }
        }
        for c in s
            .get("Choices")
            .or_else(|| s.get("Catch"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            targets.insert(c["Next"].as_str().expect("Next").to_string());
        }
    }
    for t in &targets {
        assert!(names.contains(t.as_str()), "Next {t} is not a state");
    }
    for (name, s) in &all {
        let start = ["Defaults", "Catalog", "Template", "Process"].contains(&name.as_str());
        let terminal =
            s.get("End") == Some(&json!(true)) || s["Type"] == "Succeed" || s["Type"] == "Fail";
        assert!(start || targets.contains(name), "{name} is not reachable");
        assert!(
            terminal || s.get("Next").is_some() || s["Type"] == "Choice",
            "{name} leads nowhere"
        );
    }
}
