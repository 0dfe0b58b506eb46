//! TEMPORARY: replaced by the grid helper's module.
use std::ops::Range;
pub const MAX_ORDER: u8 = 18;
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
pub enum Ellipsoid {
    #[default]
    #[serde(rename = "WGS84")]
    Wgs84,
    #[serde(rename = "sphere")]
    Sphere,
}
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum GridError {
    #[error("bad {0}")]
    Bad(String),
}
pub fn n_cells(order: u8) -> u64 {
    12u64 << (2 * order as u32)
}
pub fn authalic_latitude(x: f64) -> f64 {
    x
}
#[derive(Clone, Debug)]
pub struct Hasher {
    order: u8,
    ellipsoid: Ellipsoid,
}
impl Hasher {
    pub fn new(order: u8, ellipsoid: Ellipsoid) -> Result<Self, GridError> {
        Ok(Self { order, ellipsoid })
    }
    pub fn order(&self) -> u8 {
        self.order
    }
    pub fn hash(&self, lat: f64, lon: f64) -> Result<u64, GridError> {
        if !lat.is_finite() || !lon.is_finite() || lat.abs() > 90.0 {
            return Err(GridError::Bad("x".into()));
        }
        let _ = self.ellipsoid;
        Ok(cdshealpix::nested::get(self.order).hash(lon.to_radians(), lat.to_radians()))
    }
}
pub fn parent(cell: u64, order: u8, parent_order: u8) -> u64 {
    cell >> (2 * (order - parent_order))
}
pub fn children(cell: u64, order: u8, child_order: u8) -> Range<u64> {
    let k = 2 * (child_order - order) as u32;
    (cell << k)..((cell + 1) << k)
}
pub fn nested_to_morton(nested: u64, order: u8) -> Result<i64, GridError> {
    let base = nested >> (2 * order as u32);
    let mut m: i64 = (base % 6 + 1) as i64;
    for level in (0..order).rev() {
        m = m * 10 + ((nested >> (2 * level as u32)) & 3) as i64 + 1;
    }
    Ok(if base >= 6 { -m } else { m })
}
pub fn morton_to_nested(morton: i64) -> Result<(u64, u8), GridError> {
    Err(GridError::Bad(morton.to_string()))
}
pub fn parse_cell(text: &str, _order: u8) -> Result<u64, GridError> {
    text.strip_prefix("nested:")
        .and_then(|t| t.parse().ok())
        .ok_or(GridError::Bad(text.into()))
}
