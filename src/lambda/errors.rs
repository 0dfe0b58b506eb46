//! Error classification of the Lambda stages: every failure reaches Step Functions as a stable
//! `errorType` (SPEC §7), which the ASL matches to decide whether to retry.

use crate::aoi::AoiError;
use crate::catalog::CatalogError;
use crate::cmr::CmrError;
use crate::config::ConfigError;
use crate::credentials::CredentialsError;
use crate::cycle::CycleError;
use crate::granule::GranuleError;
use crate::grid::GridError;
use crate::shard::ShardError;
use crate::source::CloudError;
use crate::store::StoreError;
use crate::web::WebError;

/// The class of a stage failure; its [`ErrorKind::error_type`] is the Lambda `errorType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// `Zagg.Transient`: a network error, timeout, throttling (429) or server error (5xx) that
    /// outlasted the client's own retries. The same event may succeed later: the ASL retries
    /// it with backoff.
    Transient,
    /// `Zagg.BadInput`: the event cannot succeed as given: malformed JSON or a missing field,
    /// an unknown or invalid config, a shard id that is not a cell of the config's parent
    /// order (or whose morton id does not match), a bad store or AOI location, a store made
    /// with another config or without a template. Never retried.
    BadInput,
    /// `Zagg.GranulesUnreadable`: none of a shard's granules could be opened or read, so
    /// nothing was written. Usually the network or the granule host; the ASL may retry it
    /// once, then counts it toward the tolerated failures.
    GranulesUnreadable,
    /// `Zagg.Internal`: anything else (a bug, a corrupt store object, a missing deployment
    /// setting). Never retried.
    Internal,
}

impl ErrorKind {
    /// Every kind, for documentation and tests.
    pub const ALL: [ErrorKind; 4] = [
        ErrorKind::Transient,
        ErrorKind::BadInput,
        ErrorKind::GranulesUnreadable,
        ErrorKind::Internal,
    ];

    /// The stable `errorType` name.
    #[must_use]
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Transient => "Zagg.Transient",
            Self::BadInput => "Zagg.BadInput",
            Self::GranulesUnreadable => "Zagg.GranulesUnreadable",
            Self::Internal => "Zagg.Internal",
        }
    }
}

/// A classified stage failure: the kind and a message (which never holds a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StageError {
    /// The class.
    pub kind: ErrorKind,
    /// What happened.
    pub message: String,
}

impl StageError {
    /// A failure of this kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// A [`ErrorKind::BadInput`] failure.
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadInput, message)
    }

    /// A [`ErrorKind::Internal`] failure.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// The `errorType` of this failure.
    #[must_use]
    pub fn error_type(&self) -> &'static str {
        self.kind.error_type()
    }
}

/// The class of an HTTP status: 408, 429 and 5xx are transient, other 4xx are bad input.
#[must_use]
pub fn kind_of_status(status: u16) -> ErrorKind {
    match status {
        408 | 429 | 500..=599 => ErrorKind::Transient,
        400..=499 => ErrorKind::BadInput,
        _ => ErrorKind::Internal,
    }
}

/// Classify with the given kind, keeping the error's message.
fn classify(kind: ErrorKind, e: &impl std::fmt::Display) -> StageError {
    StageError::new(kind, e.to_string())
}

fn web_kind(e: &WebError) -> ErrorKind {
    match e {
        WebError::Client { .. } => ErrorKind::Internal,
        WebError::Status { status, .. } => kind_of_status(*status),
        WebError::Transport { .. } => ErrorKind::Transient,
    }
}

impl From<WebError> for StageError {
    fn from(e: WebError) -> Self {
        classify(web_kind(&e), &e)
    }
}

impl From<CmrError> for StageError {
    fn from(e: CmrError) -> Self {
        let kind = match &e {
            CmrError::Client(_) => ErrorKind::Internal,
            CmrError::Http { source, .. } => web_kind(source),
            // An HTML error page, a header or paging inconsistency: CMR having a bad moment.
            CmrError::Parse { .. } | CmrError::Header { .. } | CmrError::Paging { .. } => {
                ErrorKind::Transient
            }
            CmrError::Query(_) => ErrorKind::BadInput,
        };
        classify(kind, &e)
    }
}

impl From<CycleError> for StageError {
    fn from(e: CycleError) -> Self {
        classify(ErrorKind::BadInput, &e)
    }
}

impl From<GridError> for StageError {
    fn from(e: GridError) -> Self {
        // Orders and ids come from the event or the config.
        classify(ErrorKind::BadInput, &e)
    }
}

impl From<CatalogError> for StageError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::Cycle(c) => c.into(),
            CatalogError::Cmr(c) => c.into(),
            CatalogError::Grid(g) => classify(ErrorKind::Internal, &g),
            e @ CatalogError::Write { .. } => classify(ErrorKind::Transient, &e),
            e @ (CatalogError::Read { .. } | CatalogError::Destination { .. }) => {
                classify(ErrorKind::BadInput, &e)
            }
        }
    }
}

impl From<AoiError> for StageError {
    fn from(e: AoiError) -> Self {
        let kind = match &e {
            // A URL that could not be fetched after retries, or a missing file.
            AoiError::Read { path, .. } if path.starts_with("http") => ErrorKind::Transient,
            _ => ErrorKind::BadInput,
        };
        classify(kind, &e)
    }
}

impl From<ConfigError> for StageError {
    fn from(e: ConfigError) -> Self {
        classify(ErrorKind::BadInput, &e)
    }
}

impl From<CloudError> for StageError {
    fn from(e: CloudError) -> Self {
        let kind = match &e {
            CloudError::Runtime(_) => ErrorKind::Internal,
            CloudError::Location { .. } | CloudError::Client { .. } => ErrorKind::BadInput,
        };
        classify(kind, &e)
    }
}

impl From<StoreError> for StageError {
    fn from(e: StoreError) -> Self {
        let kind = match &e {
            StoreError::Open { .. }
            | StoreError::NoTemplate { .. }
            | StoreError::ConfigMismatch { .. } => ErrorKind::BadInput,
            // A stored object that is not JSON, or a key the store rejects: not the network.
            StoreError::Io { action, .. }
                if action.starts_with("parse")
                    || action.starts_with("encode")
                    || action.starts_with("key") =>
            {
                ErrorKind::Internal
            }
            // Reads and writes that failed after object_store's retries (5xx, throttling,
            // timeouts, resets).
            StoreError::Io { .. } => ErrorKind::Transient,
        };
        classify(kind, &e)
    }
}

impl From<GranuleError> for StageError {
    fn from(e: GranuleError) -> Self {
        let kind = match &e {
            // A malformed location, or http:// when not allowed.
            GranuleError::Open { .. } => ErrorKind::BadInput,
            // A read that failed after the source's retries, most often the network.
            GranuleError::Dataset { .. } | GranuleError::Unavailable { .. } => ErrorKind::Transient,
        };
        classify(kind, &e)
    }
}

impl From<ShardError> for StageError {
    fn from(e: ShardError) -> Self {
        match e {
            e @ (ShardError::BadShard { .. } | ShardError::Grid { .. }) => {
                classify(ErrorKind::BadInput, &e)
            }
            e @ ShardError::Unavailable { .. } => classify(ErrorKind::Transient, &e),
            ShardError::Store { shard, source } => {
                let inner = StageError::from(source);
                StageError::new(inner.kind, format!("shard {shard}: {}", inner.message))
            }
        }
    }
}

impl From<CredentialsError> for StageError {
    fn from(e: CredentialsError) -> Self {
        let kind = match &e {
            // A deployment without a login: not the event's fault, and retrying cannot help.
            CredentialsError::NoLogin(_) => ErrorKind::Internal,
            CredentialsError::Request { .. } => ErrorKind::Transient,
        };
        classify(kind, &e)
    }
}

/// A malformed event: a JSON value that is not the stage's event type.
pub fn bad_event(stage: &str, e: &serde_path_to_error::Error<serde_json::Error>) -> StageError {
    StageError::bad_input(format!(
        "{stage} event: {}: {}",
        if e.path().to_string() == "." {
            "(top level)".to_string()
        } else {
            e.path().to_string()
        },
        e.inner()
    ))
}
