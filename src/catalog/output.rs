//! Catalog outputs: bytes written to a [`Destination`], catalog files read back, and the JSON
//! Schemas of `catalog.json` and `catalog.meta.json`.

use std::path::{Path, PathBuf};

use super::{Catalog, CatalogError, CatalogMeta, CATALOG_FILE, META_FILE};

/// Where catalog outputs go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A local directory (created if missing).
    Local(PathBuf),
}

impl Destination {
    /// Parse a destination: a local directory path (optionally `file://`). Object-store URLs
    /// (`s3://…`) are recognised and reported as not supported yet.
    ///
    /// # Errors
    /// [`CatalogError::Destination`] for an unsupported scheme.
    pub fn parse(text: &str) -> Result<Self, CatalogError> {
        if let Some((scheme, _)) = text.split_once("://") {
            if scheme != "file" {
                return Err(CatalogError::Destination {
                    location: text.into(),
                    message: format!("{scheme}:// destinations are not supported yet"),
                });
            }
        }
        Ok(Self::Local(PathBuf::from(
            text.strip_prefix("file://").unwrap_or(text),
        )))
    }

    /// Write `bytes` as `name` at this destination (atomically for local files: a temporary
    /// file renamed into place). Returns the location written.
    ///
    /// # Errors
    /// [`CatalogError::Write`] when the directory or file cannot be written.
    pub fn put(&self, name: &str, bytes: &[u8]) -> Result<String, CatalogError> {
        match self {
            Self::Local(dir) => {
                let path = dir.join(name);
                let location = path.display().to_string();
                let fail = |e: std::io::Error| CatalogError::Write {
                    location: location.clone(),
                    message: e.to_string(),
                };
                std::fs::create_dir_all(dir).map_err(fail)?;
                let tmp = dir.join(format!(".{name}.tmp"));
                std::fs::write(&tmp, bytes).map_err(fail)?;
                std::fs::rename(&tmp, &path).map_err(fail)?;
                Ok(location)
            }
        }
    }
}

/// `catalog.json` text (pretty, one item per shard).
///
/// # Errors
/// [`CatalogError::Write`] if serialisation fails (it does not for these types).
pub fn catalog_bytes(catalog: &Catalog) -> Result<Vec<u8>, CatalogError> {
    let mut v = serde_json::to_vec_pretty(catalog).map_err(|e| CatalogError::Write {
        location: CATALOG_FILE.into(),
        message: e.to_string(),
    })?;
    v.push(b'\n');
    Ok(v)
}

/// Write `catalog.json` and `catalog.meta.json` to `dest`. Returns the locations written.
///
/// # Errors
/// [`CatalogError::Write`] when either cannot be written.
pub fn write_catalog(
    dest: &Destination,
    catalog: &Catalog,
    meta: &CatalogMeta,
) -> Result<Vec<String>, CatalogError> {
    let mut meta_bytes = serde_json::to_vec_pretty(meta).map_err(|e| CatalogError::Write {
        location: META_FILE.into(),
        message: e.to_string(),
    })?;
    meta_bytes.push(b'\n');
    Ok(vec![
        dest.put(CATALOG_FILE, &catalog_bytes(catalog)?)?,
        dest.put(META_FILE, &meta_bytes)?,
    ])
}

/// Read a `catalog.json` file.
///
/// # Errors
/// [`CatalogError::Read`] when the file cannot be read or is not a catalog.
pub fn read_catalog(path: &Path) -> Result<Catalog, CatalogError> {
    let location = path.display().to_string();
    let text = std::fs::read(path).map_err(|e| CatalogError::Read {
        location: location.clone(),
        message: e.to_string(),
    })?;
    let de = &mut serde_json::Deserializer::from_slice(&text);
    serde_path_to_error::deserialize(de).map_err(|e| CatalogError::Read {
        location,
        message: format!("{}: {}", e.path(), e.inner()),
    })
}

fn pretty_schema(schema: &schemars::Schema) -> String {
    let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
    text.push('\n');
    text
}

/// The JSON Schema of `catalog.json` (committed as `config/schema/catalog.schema.json`).
#[must_use]
pub fn catalog_schema_json() -> String {
    pretty_schema(&schemars::schema_for!(Catalog))
}

/// The JSON Schema of `catalog.meta.json` (committed as
/// `config/schema/catalog.meta.schema.json`).
#[must_use]
pub fn meta_schema_json() -> String {
    pretty_schema(&schemars::schema_for!(CatalogMeta))
}
