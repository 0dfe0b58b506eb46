//! Pipeline configuration: what to read from a granule, which grid to bin on, and which
//! statistics to write.
//!
//! A config is YAML, read once into the typed [`PipelineConfig`] and validated as a whole
//! before any work starts. Every error names the key path and the offending value, e.g.
//! `aggregation.variables.h_mean.reduce: unknown reduction "avg" (expected one of count, …)`.
//!
//! The built-in configs (see [`BUILTIN_CONFIGS`]) are embedded in the binary and selected by
//! name; anything else given to [`PipelineConfig::load`] is read as a file path. The JSON
//! Schema of the format is committed at `config/schema/pipeline.schema.json` and produced by
//! [`schema_json`].

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

use crate::grid::{Ellipsoid, MAX_ORDER};

/// Built-in configs: `(name, YAML text)`.
pub const BUILTIN_CONFIGS: &[(&str, &str)] = &[("atl06", include_str!("../config/atl06.yaml"))];

/// Name of the config used when none is given.
pub const DEFAULT_CONFIG: &str = "atl06";

/// Output array names reserved for the grid coordinates.
pub const RESERVED_NAMES: &[&str] = &["cell_ids", "morton"];

/// Largest number of leaf cells one shard may hold: `4^(leaf_order - parent_order)`.
pub const MAX_SHARD_ORDER_SPAN: u8 = 10;

/// Errors from reading or validating a pipeline config.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// Path of the file.
        path: String,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// The text is not valid YAML or does not have the expected structure.
    #[error("config {origin}: {path}: {message}")]
    Parse {
        /// Where the config came from (built-in name or file path).
        origin: String,
        /// Key path of the error (`.` when at the top level).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The config is well-formed but a value is not allowed.
    #[error("config {origin}: {path}: {message}")]
    Invalid {
        /// Where the config came from (built-in name or file path).
        origin: String,
        /// Key path of the bad value.
        path: String,
        /// What is wrong, quoting the value.
        message: String,
    },
}

/// A complete pipeline config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// What to read from each granule.
    pub source: SourceConfig,
    /// The HEALPix grid the points are binned on.
    pub grid: GridConfig,
    /// The statistics written per cell.
    pub aggregation: AggregationConfig,
}

/// The data source: beams and dataset paths inside each granule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Product short name, informative (e.g. `ATL06`).
    #[serde(default)]
    pub product: Option<String>,
    /// Beam groups read from each granule; a beam absent from a granule is skipped and counted.
    pub beams: Vec<String>,
    /// Path template of the latitude dataset (degrees north, geodetic); `{beam}` is replaced.
    pub latitude: String,
    /// Path template of the longitude dataset (degrees east); `{beam}` is replaced.
    pub longitude: String,
    /// Value columns: name → path template. A row is kept only if every column is finite and
    /// differs from the dataset's `_FillValue`.
    pub columns: IndexMap<String, String>,
    /// Optional quality filter; without it every row passes.
    #[serde(default)]
    pub quality: Option<QualityConfig>,
}

/// Quality filter: rows whose flag is not in `keep` are dropped and counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QualityConfig {
    /// Path template of the integer quality flag dataset; `{beam}` is replaced.
    pub path: String,
    /// Flag values that are kept (ATL06: `[0]`, best quality).
    pub keep: Vec<i64>,
}

/// The grid: shard (parent) order, leaf order and latitude convention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GridConfig {
    /// Order of the shards; each shard writes one chunk of every array (0..=leaf_order).
    pub parent_order: u8,
    /// Order of the cells the statistics are computed for (parent_order..=18).
    pub leaf_order: u8,
    /// `WGS84` hashes the authalic latitude (equal-area cells on the ellipsoid); `sphere`
    /// hashes the latitude as given, like the original Python zagg.
    #[serde(default)]
    pub ellipsoid: Ellipsoid,
    /// Coarser orders written besides the leaf order (the multi-resolution pyramid), each in
    /// `parent_order..leaf_order`, e.g. `[11, 10, 9, 8, 7, 6]`. Each shard computes them from
    /// its own leaf statistics with exact merges and writes one chunk per order. Empty or
    /// absent: only the leaf order is written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pyramid: Vec<u8>,
}

impl GridConfig {
    /// Every order written, finest first: the leaf order, then the pyramid orders descending.
    pub fn orders(&self) -> Vec<u8> {
        let mut coarse = self.pyramid.clone();
        coarse.sort_unstable_by(|a, b| b.cmp(a));
        coarse.dedup();
        std::iter::once(self.leaf_order).chain(coarse).collect()
    }
}

/// The output variables, written in the order given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AggregationConfig {
    /// Output variable name → its definition.
    pub variables: IndexMap<String, VariableConfig>,
}

/// One output variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VariableConfig {
    /// The reduction applied to the valid rows of each cell.
    pub reduce: Reduction,
    /// Source column (a key of `source.columns`); required by every reduction except
    /// `count` and `weighted_mean_sigma`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// Weights, for `weighted_mean` and `weighted_mean_sigma`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<WeightConfig>,
    /// Quantile in 0..=1, for `quantile` (linear interpolation, numpy's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<f64>,
    /// Stored data type; default `int32` for `count`, `float32` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtype: Option<DType>,
    /// Fill value of empty cells: a number, or `NaN` (floats only). Default: 0 for integer
    /// types, NaN for floats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill: Option<FillValue>,
    /// Units written as the array attribute `units`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<String>,
    /// Description written as the array attribute `long_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_name: Option<String>,
}

/// Weights of a weighted reduction: `transform(column)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WeightConfig {
    /// Column the weights are computed from (a key of `source.columns`).
    pub column: String,
    /// How a value becomes a weight.
    pub transform: WeightTransform,
}

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every accepted spelling, in documentation order.
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            /// The config spelling of this value.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    other => Err(format!(
                        concat!("unknown ", $what, " {:?} (expected one of {})"),
                        other,
                        Self::NAMES.join(", ")
                    )),
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

named_enum! {
    /// The fixed set of reductions. All work on the valid rows of one cell.
    Reduction, "reduction" {
        /// Number of valid rows.
        Count => "count",
        /// Σ x.
        Sum => "sum",
        /// Smallest x.
        Min => "min",
        /// Largest x.
        Max => "max",
        /// Arithmetic mean of x.
        Mean => "mean",
        /// Σ(w·x) / Σw.
        WeightedMean => "weighted_mean",
        /// 1 / √Σw: the standard error of the weighted mean when w = 1/σ².
        WeightedMeanSigma => "weighted_mean_sigma",
        /// Population variance of x (ddof = 0).
        Variance => "variance",
        /// Population standard deviation of x (ddof = 0).
        Std => "std",
        /// Quantile `q` with linear interpolation between order statistics (Hyndman–Fan 7).
        Quantile => "quantile",
    }
}

named_enum! {
    /// How a column's value becomes a weight.
    WeightTransform, "weight transform" {
        /// w = 1/x² (x is a standard deviation); rows with x ≤ 0 are dropped.
        InverseSquare => "inverse_square",
        /// w = x; rows with x < 0 are dropped.
        Identity => "identity",
    }
}

named_enum! {
    /// Stored data types.
    DType, "dtype" {
        /// 32-bit signed integer.
        Int32 => "int32",
        /// 64-bit signed integer.
        Int64 => "int64",
        /// 32-bit unsigned integer.
        UInt32 => "uint32",
        /// 32-bit IEEE float.
        Float32 => "float32",
        /// 64-bit IEEE float.
        Float64 => "float64",
    }
}

impl DType {
    /// Whether this is a floating-point type.
    pub fn is_float(self) -> bool {
        matches!(self, DType::Float32 | DType::Float64)
    }
}

/// A fill value: a number, or NaN (written `NaN` or `.nan` in YAML).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FillValue(pub f64);

impl FillValue {
    /// The fill value as f64.
    pub fn as_f64(self) -> f64 {
        self.0
    }
}

impl Serialize for FillValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0.is_nan() {
            serializer.serialize_str("NaN")
        } else {
            serializer.serialize_f64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for FillValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = FillValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or NaN")
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<FillValue, E> {
                Ok(FillValue(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<FillValue, E> {
                Ok(FillValue(v as f64))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<FillValue, E> {
                Ok(FillValue(v as f64))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FillValue, E> {
                match v {
                    "NaN" | "nan" | ".nan" | ".NaN" => Ok(FillValue(f64::NAN)),
                    other => Err(E::custom(format!(
                        "fill value {other:?} is not a number or NaN"
                    ))),
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl JsonSchema for FillValue {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FillValue".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A number, or the text NaN (floating-point types only).",
            "oneOf": [{ "type": "number" }, { "const": "NaN" }]
        })
    }
}

impl VariableConfig {
    /// The stored data type (explicit or the reduction's default).
    pub fn dtype(&self) -> DType {
        self.dtype.unwrap_or(match self.reduce {
            Reduction::Count => DType::Int32,
            _ => DType::Float32,
        })
    }

    /// The fill value of empty cells (explicit or the dtype's default).
    pub fn fill(&self) -> f64 {
        match self.fill {
            Some(f) => f.as_f64(),
            None if self.dtype().is_float() => f64::NAN,
            None => 0.0,
        }
    }
}

impl PipelineConfig {
    /// Load a built-in config by name, or else a YAML file by path.
    ///
    /// # Errors
    /// [`ConfigError::Read`] when the name is not built in and the file cannot be read;
    /// [`ConfigError::Parse`]/[`ConfigError::Invalid`] for a bad config.
    pub fn load(name_or_path: &str) -> Result<Self, ConfigError> {
        if let Some((name, text)) = BUILTIN_CONFIGS.iter().find(|(n, _)| *n == name_or_path) {
            return Self::from_yaml(text, &format!("built-in {name:?}"));
        }
        let path = Path::new(name_or_path);
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_yaml(&text, &path.display().to_string())
    }

    /// The default built-in config ([`DEFAULT_CONFIG`]).
    ///
    /// # Errors
    /// Only if the embedded config were invalid, which a unit test rules out.
    pub fn builtin_default() -> Result<Self, ConfigError> {
        Self::load(DEFAULT_CONFIG)
    }

    /// Parse and validate YAML text; `origin` names the source in error messages.
    ///
    /// # Errors
    /// [`ConfigError::Parse`] for malformed YAML, unknown keys, or values of the wrong type;
    /// [`ConfigError::Invalid`] for values that break a rule (see [`PipelineConfig::validate`]).
    pub fn from_yaml(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let deserializer = serde_yaml::Deserializer::from_str(text);
        let config: PipelineConfig =
            serde_path_to_error::deserialize(deserializer).map_err(|err| {
                let path = err.path().to_string();
                let mut message = err.inner().to_string();
                // serde_yaml prefixes its own, shorter key path: drop it, ours is complete.
                // It also appends " at line L column C"; keep that, it helps find the key.
                if let Some((head, rest)) = message.split_once(": ") {
                    if !head.contains(' ') && path.starts_with(head) {
                        message = rest.to_string();
                    }
                }
                ConfigError::Parse {
                    origin: origin.to_string(),
                    path,
                    message,
                }
            })?;
        config.validate(origin)?;
        Ok(config)
    }

    /// Check every rule a well-formed config must also satisfy.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first offending key path and value.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let bad = |path: String, message: String| ConfigError::Invalid {
            origin: origin.to_string(),
            path,
            message,
        };
        let s = &self.source;
        if s.beams.is_empty() {
            return Err(bad(
                "source.beams".into(),
                "at least one beam is required".into(),
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, beam) in s.beams.iter().enumerate() {
            if beam.is_empty() || beam.contains('/') || beam.contains('{') {
                return Err(bad(
                    format!("source.beams[{i}]"),
                    format!("{beam:?} is not a valid group name"),
                ));
            }
            if !seen.insert(beam) {
                return Err(bad(
                    format!("source.beams[{i}]"),
                    format!("{beam:?} is listed twice"),
                ));
            }
        }
        check_template("source.latitude", &s.latitude)
            .map_err(|m| bad("source.latitude".into(), m))?;
        check_template("source.longitude", &s.longitude)
            .map_err(|m| bad("source.longitude".into(), m))?;
        if s.columns.is_empty() {
            return Err(bad(
                "source.columns".into(),
                "at least one column is required".into(),
            ));
        }
        for (name, path) in &s.columns {
            let key = format!("source.columns.{name}");
            check_identifier(name).map_err(|m| bad(key.clone(), m))?;
            check_template(&key, path).map_err(|m| bad(key.clone(), m))?;
        }
        if let Some(q) = &s.quality {
            check_template("source.quality.path", &q.path)
                .map_err(|m| bad("source.quality.path".into(), m))?;
            if q.keep.is_empty() {
                return Err(bad(
                    "source.quality.keep".into(),
                    "at least one kept flag value is required (remove `quality` to keep every row)"
                        .into(),
                ));
            }
        }

        let g = &self.grid;
        if g.leaf_order > MAX_ORDER {
            return Err(bad(
                "grid.leaf_order".into(),
                format!(
                    "{} is above the deepest supported order {MAX_ORDER}",
                    g.leaf_order
                ),
            ));
        }
        if g.parent_order > g.leaf_order {
            return Err(bad(
                "grid.parent_order".into(),
                format!(
                    "{} is deeper than grid.leaf_order {}; a shard must contain its cells",
                    g.parent_order, g.leaf_order
                ),
            ));
        }
        if g.leaf_order - g.parent_order > MAX_SHARD_ORDER_SPAN {
            return Err(bad(
                "grid.parent_order".into(),
                format!(
                    "{} is more than {MAX_SHARD_ORDER_SPAN} orders above grid.leaf_order {}: a shard would hold more than 4^{MAX_SHARD_ORDER_SPAN} cells",
                    g.parent_order, g.leaf_order
                ),
            ));
        }

        let mut seen_orders = BTreeSet::new();
        for (i, &order) in g.pyramid.iter().enumerate() {
            let key = format!("grid.pyramid[{i}]");
            if order >= g.leaf_order || order < g.parent_order {
                return Err(bad(
                    key,
                    format!(
                        "order {order} is outside {}..={}: pyramid orders lie between grid.parent_order and grid.leaf_order (exclusive), so each coarse cell lies in one shard",
                        g.parent_order,
                        g.leaf_order.saturating_sub(1)
                    ),
                ));
            }
            if !seen_orders.insert(order) {
                return Err(bad(key, format!("order {order} is listed twice")));
            }
        }

        let vars = &self.aggregation.variables;
        if vars.is_empty() {
            return Err(bad(
                "aggregation.variables".into(),
                "at least one output variable is required".into(),
            ));
        }
        for (name, v) in vars {
            let key = format!("aggregation.variables.{name}");
            check_identifier(name).map_err(|m| bad(key.clone(), m))?;
            if RESERVED_NAMES.contains(&name.as_str()) {
                return Err(bad(
                    key,
                    format!("{name:?} is reserved for the grid coordinates"),
                ));
            }
            // Each variable is a Zarr array named after it, and Zarr v3 reserves node names
            // starting with `__`: such a config would validate, then fail at the template.
            if name.starts_with("__") {
                return Err(bad(
                    key,
                    format!("{name:?} starts with \"__\", which Zarr reserves for its own names"),
                ));
            }
            self.validate_variable(&key, v)
                .map_err(|(sub, m)| bad(format!("{key}{sub}"), m))?;
        }
        Ok(())
    }

    fn validate_variable(&self, _key: &str, v: &VariableConfig) -> Result<(), (String, String)> {
        let columns = &self.source.columns;
        let known = |c: &str| -> Result<(), String> {
            if columns.contains_key(c) {
                Ok(())
            } else {
                Err(format!(
                    "unknown column {c:?} (source.columns has {})",
                    columns
                        .keys()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        };
        let needs_column = !matches!(v.reduce, Reduction::Count | Reduction::WeightedMeanSigma);
        let needs_weight = matches!(
            v.reduce,
            Reduction::WeightedMean | Reduction::WeightedMeanSigma
        );
        match (&v.column, needs_column) {
            (None, true) => {
                return Err((
                    ".column".into(),
                    format!("reduction {} needs a column", v.reduce),
                ))
            }
            (Some(c), false) => {
                return Err((
                    ".column".into(),
                    format!("{c:?} is not used by reduction {}; remove it", v.reduce),
                ))
            }
            (Some(c), true) => known(c).map_err(|m| (".column".into(), m))?,
            (None, false) => {}
        }
        match (&v.weight, needs_weight) {
            (None, true) => {
                return Err((
                    ".weight".into(),
                    format!("reduction {} needs a weight", v.reduce),
                ))
            }
            (Some(_), false) => {
                return Err((
                    ".weight".into(),
                    format!("a weight is not used by reduction {}; remove it", v.reduce),
                ))
            }
            (Some(w), true) => known(&w.column).map_err(|m| (".weight.column".into(), m))?,
            (None, false) => {}
        }
        match (v.q, v.reduce == Reduction::Quantile) {
            (None, true) => {
                return Err((".q".into(), "reduction quantile needs q in 0..=1".into()))
            }
            (Some(q), true) if !(0.0..=1.0).contains(&q) => {
                return Err((".q".into(), format!("{q} is outside 0..=1")))
            }
            (Some(q), false) => {
                return Err((
                    ".q".into(),
                    format!("q = {q} is only used by reduction quantile; remove it"),
                ))
            }
            _ => {}
        }
        let dtype = v.dtype();
        if v.reduce != Reduction::Count && !dtype.is_float() {
            return Err((
                ".dtype".into(),
                format!(
                    "{dtype} cannot hold the real-valued result of reduction {}; use float32 or float64",
                    v.reduce
                ),
            ));
        }
        if let Some(fill) = v.fill {
            let x = fill.as_f64();
            let ok = match dtype {
                DType::Float32 => x.is_nan() || (x.is_finite() && x.abs() <= f64::from(f32::MAX)),
                DType::Float64 => true,
                DType::Int32 => {
                    x.fract() == 0.0 && x >= f64::from(i32::MIN) && x <= f64::from(i32::MAX)
                }
                DType::UInt32 => x.fract() == 0.0 && x >= 0.0 && x <= f64::from(u32::MAX),
                DType::Int64 => x.fract() == 0.0 && x.abs() < 9.007_199_254_740_992e15,
            };
            if !ok {
                let shown = if x.is_nan() {
                    "NaN".to_string()
                } else {
                    x.to_string()
                };
                return Err((
                    ".fill".into(),
                    format!("{shown} is not a valid {dtype} value"),
                ));
            }
        }
        Ok(())
    }

    /// Names of the columns actually used by some variable, in `source.columns` order.
    pub fn used_columns(&self) -> Vec<&str> {
        self.source
            .columns
            .keys()
            .filter(|c| {
                self.aggregation.variables.values().any(|v| {
                    v.column.as_deref() == Some(c.as_str())
                        || v.weight.as_ref().is_some_and(|w| &w.column == *c)
                })
            })
            .map(String::as_str)
            .collect()
    }
}

fn check_identifier(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a valid name (letters, digits and _, not starting with a digit)"
        ))
    }
}

fn check_template(_key: &str, template: &str) -> Result<(), String> {
    if !template.contains("{beam}") {
        return Err(format!(
            "{template:?} has no {{beam}} placeholder: every beam would read the same dataset"
        ));
    }
    let rest = template.replace("{beam}", "beam");
    if rest.contains('{') || rest.contains('}') {
        return Err(format!(
            "{template:?} has a placeholder other than {{beam}}"
        ));
    }
    if rest.contains("//") || rest.ends_with('/') {
        return Err(format!("{template:?} is not a valid dataset path"));
    }
    Ok(())
}

/// Expand a dataset path template for one beam.
pub fn dataset_path(template: &str, beam: &str) -> String {
    template.replace("{beam}", beam)
}

/// The JSON Schema of the config format, pretty-printed with a trailing newline.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(PipelineConfig);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests;
