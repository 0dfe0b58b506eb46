//! zagg: ICESat-2 ATL06 land-ice heights aggregated into per-cell statistics on a HEALPix grid,
//! written as one Zarr v3 store that xarray + xdggs open directly.
//!
//! The pipeline has four stages, each a library function here, a CLI subcommand, and (in
//! production) an AWS Lambda:
//! [`catalog::make_catalog`] (which shards and granules), [`store::Store::create_template`],
//! [`shard::process_shard`] and [`store::Store::consolidate`]. [`run::run_local`] runs them all in one
//! process. The Lambdas in `lambdas/` call [`lambda::handle`] with the event types of
//! [`events`]; `zagg start` and `zagg status` drive the deployed state machine through
//! [`execution`].

pub mod aggregate;
pub mod aoi;
pub mod catalog;
pub mod cmr;
pub mod config;
pub mod cost;
pub mod credentials;
pub mod cycle;
pub mod demo;
pub mod events;
pub mod execution;
pub mod footprint;
pub mod granule;
pub mod grid;
pub mod inspect;
pub mod lambda;
pub mod plot;
pub mod pyramid;
pub mod reader;
pub mod run;
pub mod select;
pub mod shard;
pub mod source;
pub mod store;
pub mod web;
