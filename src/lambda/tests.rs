//! Unit tests of the error classification and the secret parsing.

use super::*;
use crate::credentials::EarthdataLogin;
use crate::store::StoreError;
use crate::web::WebError;

#[test]
fn error_type_names_are_stable() {
    let names: Vec<&str> = ErrorKind::ALL.iter().map(ErrorKind::error_type).collect();
    assert_eq!(
        names,
        [
            "Zagg.Transient",
            "Zagg.BadInput",
            "Zagg.GranulesUnreadable",
            "Zagg.Internal"
        ]
    );
}

#[test]
fn library_errors_map_to_kinds() {
    let status = |status| WebError::Status {
        url: "u".into(),
        status,
        attempts: 1,
        body: String::new(),
    };
    let k = |e: StageError| e.kind;
    assert_eq!(k(status(503).into()), ErrorKind::Transient);
    assert_eq!(k(status(429).into()), ErrorKind::Transient);
    assert_eq!(k(status(404).into()), ErrorKind::BadInput);
    let transport = WebError::Transport {
        url: "u".into(),
        attempts: 3,
        message: "timed out".into(),
    };
    assert_eq!(
        k(crate::cmr::CmrError::Http {
            page: 1,
            source: transport
        }
        .into()),
        ErrorKind::Transient
    );
    assert_eq!(
        k(crate::cmr::CmrError::Query("bad".into()).into()),
        ErrorKind::BadInput
    );
    let io = |action: &str| StoreError::Io {
        store: "s".into(),
        action: action.into(),
        message: "m".into(),
    };
    assert_eq!(k(io("write 12/h_mean").into()), ErrorKind::Transient);
    assert_eq!(k(io("parse zarr.json").into()), ErrorKind::Internal);
    let mismatch = StoreError::ConfigMismatch {
        store: "s".into(),
        message: "m".into(),
    };
    assert_eq!(k(mismatch.into()), ErrorKind::BadInput);
    let shard = crate::shard::ShardError::Store {
        shard: 7,
        source: io("write 12/count"),
    };
    let e = StageError::from(shard);
    assert_eq!(e.kind, ErrorKind::Transient);
    assert!(e.message.starts_with("shard 7: "), "{}", e.message);
    let bad_shard = crate::shard::ShardError::BadShard {
        shard: 1 << 40,
        order: 6,
        cells: 49152,
    };
    assert_eq!(k(bad_shard.into()), ErrorKind::BadInput);
    let config = crate::config::PipelineConfig::load("no-such-config.yaml").unwrap_err();
    assert_eq!(k(config.into()), ErrorKind::BadInput);
    assert_eq!(
        k(crate::cycle::CycleError::OutOfRange { cycle: 0 }.into()),
        ErrorKind::BadInput
    );
    assert_eq!(
        k(crate::source::CloudError::Runtime("x".into()).into()),
        ErrorKind::Internal
    );
    assert_eq!(
        k(crate::credentials::CredentialsError::NoLogin("h".into()).into()),
        ErrorKind::Internal
    );
}

#[test]
fn a_malformed_event_is_bad_input() {
    let services = Services::new(crate::source::CloudOptions::default(), None);
    for (stage, event) in [
        (Stage::Process, serde_json::json!({"shard": "x"})),
        (Stage::Template, serde_json::json!([1, 2])),
        (
            Stage::Catalog,
            serde_json::json!({"cycle": 22, "store": "s", "extra": 1}),
        ),
        (Stage::Consolidate, serde_json::json!({})),
    ] {
        let e = handle(stage, &services, event).unwrap_err();
        assert_eq!(e.error_type(), "Zagg.BadInput", "{}", e.message);
        assert!(e.message.starts_with(stage.name()), "{}", e.message);
    }
}

#[test]
fn secret_texts_give_logins() {
    assert!(matches!(parse_login("abc"), Some(EarthdataLogin::Token(t)) if t.expose() == "abc"));
    assert!(matches!(
        parse_login(r#"{"EARTHDATA_TOKEN": "t"}"#),
        Some(EarthdataLogin::Token(t)) if t.expose() == "t"
    ));
    assert!(matches!(
        parse_login(r#"{"username": "u", "password": "p"}"#),
        Some(EarthdataLogin::Password { username, password }) if username == "u" && password.expose() == "p"
    ));
    assert!(parse_login(r#"{"username": "u"}"#).is_none());
    assert!(parse_login("  ").is_none());
}
