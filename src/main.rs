//! The `zagg` command: a thin dispatcher over the library.

use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use zagg::aoi::{Aoi, BASINS};
use zagg::catalog::{
    make_catalog, read_catalog, write_catalog, Access, BboxChoice, Catalog, CatalogMeta,
    CatalogOptions, Destination, CATALOG_FILE, META_FILE,
};
use zagg::cmr::{CmrClient, DEFAULT_PROVIDER, DEFAULT_VERSION};
use zagg::config::{PipelineConfig, DEFAULT_CONFIG};
use zagg::cycle::CycleSpec;
use zagg::events::AccessInput;
use zagg::execution::{
    self, AwsStepFunctions, ExecutionArn, RunRequest, StateMachineArn, STATE_MACHINE_ENV,
};
use zagg::granule::ByteSource;
use zagg::run::{run_catalog, run_local, RunOptions};
use zagg::shard::{process_shard, ShardContext};
use zagg::source::{Cloud, CloudOptions, Location};
use zagg::store::Store;

/// Default store of `zagg run` without `--store`.
const DEMO_STORE: &str = "zagg-demo.zarr";

/// ICESat-2 ATL06 land-ice heights → per-cell statistics on a HEALPix grid, in one Zarr v3
/// store that xarray + xdggs open directly.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None, after_help = "Run `zagg run` with no arguments for the offline demo.\n\nEnvironment:\n  RUST_LOG                 logging (e.g. zagg=debug)\n  AWS_REGION               region of s3:// locations (default us-west-2)\n  AWS_ENDPOINT_URL         S3-compatible endpoint (path-style requests)\n  AWS_ALLOW_HTTP=true      allow http:// endpoints and granule URLs\n  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN   S3 keys (else the default chain)\n  EARTHDATA_TOKEN          bearer token for https:// granules\n  ZAGG_STATE_MACHINE_ARN   state machine of zagg start/status (--state-machine wins)\n  ZAGG_REQUEST_TIMEOUT_SECS, ZAGG_MAX_RETRIES, ZAGG_MIN_FETCH_BYTES, ZAGG_MAX_FETCH_BYTES, ZAGG_MAX_IN_FLIGHT")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone)]
struct ConfigArg {
    /// Pipeline config: a built-in name (atl06) or a YAML file.
    #[arg(long, default_value = DEFAULT_CONFIG, value_name = "NAME|FILE")]
    config: String,
}

/// How the CMR is asked (`zagg catalog`, `zagg run --cycle`).
#[derive(Args, Debug, Clone)]
struct CmrArgs {
    /// CMR base URL [default: $ZAGG_CMR_URL if set, else https://cmr.earthdata.nasa.gov].
    #[arg(long, value_name = "URL")]
    cmr_url: Option<String>,
    /// ATL06 version (CMR collection version).
    #[arg(long, default_value = DEFAULT_VERSION, value_name = "VVV")]
    product_version: String,
    /// CMR provider.
    #[arg(long, default_value = DEFAULT_PROVIDER)]
    provider: String,
    /// Narrow the query to the cycle's fitted dates widened by this many days on each side.
    #[arg(long, default_value_t = zagg::cycle::DEFAULT_MARGIN_DAYS, value_name = "DAYS")]
    temporal_margin: f64,
    /// No temporal narrowing: the granule-name pattern alone selects the cycle.
    #[arg(long)]
    no_temporal: bool,
    /// Spatial narrowing: `auto` (the AOI's latitude band), `none` (global) or W,S,E,N degrees.
    #[arg(
        long,
        default_value = "auto",
        value_name = "auto|none|W,S,E,N",
        allow_hyphen_values = true
    )]
    bbox: String,
    /// Granules per CMR page (1-2000).
    #[arg(long, default_value_t = zagg::cmr::MAX_PAGE_SIZE)]
    page_size: u32,
    /// Attempts per CMR request (429, 5xx and connection errors are retried with backoff).
    #[arg(long, default_value_t = 6, value_name = "N")]
    cmr_attempts: u32,
}

/// What identifies a run of the deployed state machine (`zagg start`, `zagg status`).
#[derive(Args, Debug, Clone)]
struct RunIdentityArgs {
    /// Area of interest: `basins` or a GeoJSON http(s):// URL (the Lambdas fetch it).
    #[arg(long, default_value = BASINS, value_name = "basins|URL")]
    aoi: String,
    /// Pipeline config: a built-in name (atl06) or an s3:// YAML location.
    #[arg(long, default_value = DEFAULT_CONFIG, value_name = "NAME|s3://…")]
    config: String,
    /// ATL06 version (CMR collection version) [default: 007].
    #[arg(long, value_name = "VVV")]
    product_version: Option<String>,
    /// State machine ARN [default: $ZAGG_STATE_MACHINE_ARN].
    #[arg(long, value_name = "ARN")]
    state_machine: Option<String>,
}

/// Which catalog URL a granule is read from.
#[derive(ValueEnum, Debug, Clone, Copy)]
enum AccessArg {
    /// `s3://` (in us-west-2).
    S3,
    /// `https://` (anywhere).
    Https,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Find a cycle's ATL06 granules in CMR and the AOI shards each can touch; write
    /// catalog.json and catalog.meta.json.
    #[command(after_help = "Examples:
  zagg catalog --cycle 22                          # Antarctic basins, ./catalog.json
  zagg catalog --cycle latest-complete --out runs/latest
  zagg catalog --cycle 22 --aoi region.geojson --bbox none --out c22
  zagg catalog --cycle 22 --product-version 006 --no-temporal
  ZAGG_CMR_URL=http://127.0.0.1:3003 zagg catalog --cycle 22   # a mirror or a fake CMR
  zagg catalog --cycle 22 --dry-run                # print the CMR request, send nothing

catalog.json is a JSON array, one item per shard with granules:
  {\"shard\": 41066, \"morton\": -5112333, \"parent_order\": 6, \"granules\": [{\"s3\": ..., \"https\": ..., \"id\": ...}]}
Environment: ZAGG_CMR_URL (CMR base URL, overridden by --cmr-url), RUST_LOG.")]
    Catalog {
        /// Cycle: a number (1-99) or `latest-complete` (the last cycle whose fitted end has passed).
        #[arg(long, value_name = "N|latest-complete")]
        cycle: String,
        /// Area of interest: `basins` (the 27 Antarctic drainage basins, 1334 shards) or a
        /// GeoJSON Polygon/MultiPolygon file or http(s) URL.
        #[arg(long, default_value = BASINS, value_name = "basins|FILE|URL")]
        aoi: String,
        /// Output directory for catalog.json and catalog.meta.json (created if missing).
        #[arg(long, default_value = ".", value_name = "DIR")]
        out: String,
        #[command(flatten)]
        cmr: CmrArgs,
        #[command(flatten)]
        config: ConfigArg,
        /// Print catalog.meta.json instead of the summary.
        #[arg(long)]
        json: bool,
        /// Print the CMR request the search starts with (URL with every query parameter,
        /// headers) and how later pages differ, then exit without any network access.
        #[arg(long)]
        dry_run: bool,
    },
    /// Create the Zarr v3 group and arrays of a store (metadata only).
    #[command(
        after_help = "Example:\n  zagg template --store out.zarr\n  zagg template --store out.zarr --config my-pipeline.yaml"
    )]
    Template {
        /// Store: a directory (created if missing) or s3://bucket/prefix.
        #[arg(long)]
        store: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Process one shard: read its points from the granules, write one chunk per array.
    #[command(
        after_help = "Examples:\n  zagg process --shard -5112333 --granules a.h5 b.h5 --store out.zarr\n  zagg process --shard nested:41066 --granules a.h5 --store out.zarr\n\nThe store must have a template (zagg template) made with the same config."
    )]
    Process {
        /// Shard: a morton id at the parent order (e.g. -5112333) or nested:ID.
        #[arg(long, allow_hyphen_values = true)]
        shard: String,
        /// Granules (HDF5): local paths, s3:// or https:// URLs.
        #[arg(long, num_args = 1.., required = true)]
        granules: Vec<String>,
        /// Store: a directory or s3://bucket/prefix.
        #[arg(long)]
        store: String,
        #[command(flatten)]
        config: ConfigArg,
        /// Print the shard report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run every stage locally: find shards, template, process, consolidate.
    #[command(
        after_help = "Examples:\n  zagg run                                  # the embedded demo granules, offline\n  zagg run --granules data/*.h5 --store out.zarr --jobs 2\n  zagg run --granules data/*.h5 --aoi basins\n  zagg run --granules data/*.h5 --aoi region.geojson --config sphere.yaml\n  zagg run --cycle 22 --store c22.zarr                 # granules from CMR, read over s3://\n  zagg run --cycle 22 --aoi region.geojson --access https\n  zagg run --catalog c22/catalog.json --store c22.zarr  # a catalog made by zagg catalog\n\nWith --cycle the catalog (catalog.json, catalog.meta.json) is also written into the store.\nGranule URLs are opened like --granules ones (s3:// and https:// credentials: see the README)."
    )]
    Run {
        /// Granules (HDF5): local paths, s3:// or https:// URLs. Without it (and without
        /// --cycle/--catalog), the embedded demo granules are used.
        #[arg(long, num_args = 1.., conflicts_with_all = ["cycle", "catalog"])]
        granules: Vec<String>,
        /// Take the granules of this cycle from CMR (see `zagg catalog`): a number or
        /// `latest-complete`.
        #[arg(long, value_name = "N|latest-complete", conflicts_with = "catalog")]
        cycle: Option<String>,
        /// Take the shards and granules from a catalog.json made by `zagg catalog`.
        #[arg(long, value_name = "FILE")]
        catalog: Option<PathBuf>,
        /// Which catalog URL granules are read from (with --cycle or --catalog).
        #[arg(long, value_enum, default_value = "s3")]
        access: AccessArg,
        /// Restrict to an area of interest: `basins` (the 27 Antarctic drainage basins) or a
        /// GeoJSON Polygon/MultiPolygon file (or http(s) URL). With --cycle the default is
        /// `basins`.
        #[arg(long, value_name = "basins|FILE|URL")]
        aoi: Option<String>,
        /// Store: a directory or s3://bucket/prefix [default: ./zagg-demo.zarr].
        #[arg(long)]
        store: Option<String>,
        #[command(flatten)]
        config: ConfigArg,
        /// Shards processed at once [default: number of CPUs].
        #[arg(long)]
        jobs: Option<usize>,
        /// Print the run report as JSON instead of the summary.
        #[arg(long)]
        json: bool,
        /// Process every shard again, even those an earlier run of the same inputs into this
        /// store finished (by default a killed or repeated run skips them).
        #[arg(long)]
        no_resume: bool,
        #[command(flatten)]
        cmr: CmrArgs,
    },
    /// Show what a store holds: shards, cells, observations per order, variable ranges and
    /// NaN counts, layout checks and the last run report.
    #[command(
        after_help = "Examples:\n  zagg inspect zagg-demo.zarr\n  zagg inspect zagg-demo.zarr --order 9 --json\n\nExit code 1 if a layout or consistency check fails, 2 if the run report lists failed shards."
    )]
    Inspect {
        /// Store: a directory, or s3://bucket/prefix.
        store: String,
        /// Order whose variables are summarised [default: the leaf order].
        #[arg(long)]
        order: Option<u8>,
        /// Print the inspection as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Draw one variable of a store on a polar stereographic map (PNG).
    #[command(
        after_help = "Examples:\n  zagg plot zagg-demo.zarr --var h_mean -o map.png\n  zagg plot zagg-demo.zarr --var count --order 10 -o count.png\n  zagg plot out.zarr --var h_sigma --aoi region.geojson --range 0 0.1 -o sigma.png\n\nWithout --order, the finest order whose cells are at least 1.5 pixels wide is drawn.\nDefault colours: heights viridis, spreads and uncertainties magma, counts cividis (log)."
    )]
    Plot {
        /// Store: a directory, or s3://bucket/prefix.
        store: String,
        /// Variable to draw (e.g. h_mean, h_sigma, count).
        #[arg(long = "var", value_name = "NAME")]
        variable: String,
        /// HEALPix order to draw (the leaf order or a pyramid order) [default: by map scale].
        #[arg(long)]
        order: Option<u8>,
        /// Only shards in an area of interest: `basins` or a GeoJSON Polygon/MultiPolygon.
        #[arg(long, value_name = "basins|FILE.geojson")]
        aoi: Option<String>,
        /// Output PNG [default: <VAR>.png].
        #[arg(short = 'o', long = "output", value_name = "FILE.png")]
        output: Option<PathBuf>,
        /// Image width, pixels.
        #[arg(long, default_value_t = 1200)]
        width: u32,
        /// Image height, pixels.
        #[arg(long, default_value_t = 960)]
        height: u32,
        /// Colour map: viridis, magma or cividis [default: by variable].
        #[arg(long, value_name = "NAME")]
        cmap: Option<zagg::plot::Colormap>,
        /// Logarithmic colour scale [default: for counts and variances].
        #[arg(long, conflicts_with = "linear")]
        log: bool,
        /// Linear colour scale.
        #[arg(long)]
        linear: bool,
        /// Colour-bar range [default: 1st to 99th percentile].
        #[arg(long, num_args = 2, value_names = ["MIN", "MAX"], allow_hyphen_values = true)]
        range: Option<Vec<f64>>,
        /// Print where things are on the image (map, colour bar, projection) as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Start a run of the deployed Step Functions state machine (refused if the run was
    /// started before).
    #[command(after_help = "Examples:
  export ZAGG_STATE_MACHINE_ARN=arn:aws:states:us-west-2:123456789012:stateMachine:zagg
  zagg start --store s3://zagg-out/c22.zarr --cycle 22
  zagg start --store s3://zagg-out/latest.zarr --cycle latest-complete
  zagg start --store s3://zagg-out/c22.zarr --cycle 22 --max-concurrency 200
  zagg start --store s3://zagg-out/c22.zarr --cycle 22 --dry-run   # print, send nothing
  zagg start --store s3://zagg-out/c22.zarr --cycle 22 --rerun     # NAME-r2, NAME-r3, …

The execution name is derived from the run: zagg-c22-<12 hex of the SHA-256 of cycle, config,
AOI, store and product version>. A second start of the same run is refused and names the
existing execution. latest-complete is resolved here, so the name and the input agree.
Region and credentials: the standard AWS chain (AWS_PROFILE, AWS_ACCESS_KEY_ID, …); the region
is the state machine's. AWS_ENDPOINT_URL points at another endpoint (e.g. a local moto).")]
    Start {
        /// Output store: s3://bucket/prefix.
        #[arg(long, value_name = "s3://BUCKET/PREFIX")]
        store: String,
        /// Cycle: a number (1-99) or `latest-complete` (resolved now, from the fitted dates).
        #[arg(long, value_name = "N|latest-complete")]
        cycle: String,
        #[command(flatten)]
        identity: RunIdentityArgs,
        /// Which catalog URL granules are read from.
        #[arg(long, value_enum, default_value = "s3")]
        access: AccessArg,
        /// Shards processed at once by the Distributed Map (1-10000) [default: the state
        /// machine's].
        #[arg(long, value_name = "N")]
        max_concurrency: Option<u32>,
        /// Failed shards the Map tolerates, percent (0-100) [default: the state machine's].
        #[arg(long, value_name = "P")]
        tolerated_failure_percentage: Option<f64>,
        /// Where catalog.json goes (s3://…) [default: the store].
        #[arg(long, value_name = "s3://…")]
        catalog_prefix: Option<String>,
        /// Start a fresh attempt of a run started before (NAME-r2, NAME-r3, …: the first unused).
        #[arg(long)]
        rerun: bool,
        /// Print the execution name, its input and the equivalent AWS CLI call; send nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the started execution as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show an execution of the state machine: status, dates, error, Map Run progress (items
    /// pending/running/succeeded/failed…) and the consolidate summary.
    #[command(after_help = "Examples:
  zagg status arn:aws:states:us-west-2:123456789012:execution:zagg:zagg-c22-0123456789ab
  zagg status --store s3://zagg-out/c22.zarr --cycle 22 --state-machine arn:…
  zagg status ARN --json     # for scripts; input and output parsed

With --store/--cycle (and the same --aoi, --config, --product-version as `zagg start`), the
run's execution name is derived as `zagg start` derives it and its latest attempt is shown.
The state machine is --state-machine, else $ZAGG_STATE_MACHINE_ARN (not needed with an ARN).")]
    Status {
        /// Execution ARN (else give --store and --cycle).
        #[arg(value_name = "EXECUTION_ARN", required_unless_present_all = ["store", "cycle"], conflicts_with_all = ["store", "cycle"])]
        execution: Option<String>,
        /// Output store of the run: s3://bucket/prefix.
        #[arg(long, value_name = "s3://BUCKET/PREFIX", requires = "cycle")]
        store: Option<String>,
        /// Cycle of the run: a number or `latest-complete` (resolved now).
        #[arg(long, value_name = "N|latest-complete", requires = "store")]
        cycle: Option<String>,
        #[command(flatten)]
        identity: RunIdentityArgs,
        /// Print the status as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the JSON Schema of the pipeline config.
    Schema,
}

fn load_config(arg: &ConfigArg) -> Result<Arc<PipelineConfig>> {
    Ok(Arc::new(PipelineConfig::load(&arg.config)?))
}

/// Cloud access when any location is remote (`s3://`, `https://`, `http://`), configured
/// from the environment (see `CloudOptions::from_env`).
fn cloud_for<'a>(locations: impl IntoIterator<Item = &'a str>) -> Result<Option<Arc<Cloud>>> {
    let remote = locations
        .into_iter()
        .any(|l| matches!(Location::parse(l), Ok(Some(_)) | Err(_)));
    Ok(if remote {
        Some(Arc::new(Cloud::new(CloudOptions::from_env())?))
    } else {
        None
    })
}

fn open_granules(
    locations: &[String],
    cloud: Option<&Arc<Cloud>>,
) -> Result<Vec<Arc<dyn ByteSource>>> {
    locations
        .iter()
        .map(|l| match cloud {
            Some(c) => Ok(c.open(l)?),
            None => Ok(zagg::granule::open_source(l)?),
        })
        .collect()
}

/// Open a store that must already exist (for reading): local or s3://.
fn open_existing_store(location: &str) -> Result<Store> {
    let cloud = cloud_for([location])?;
    let local = matches!(Location::parse(location), Ok(None));
    let path = std::path::Path::new(location.strip_prefix("file://").unwrap_or(location));
    if local && !path.join("zarr.json").is_file() {
        bail!("{location}: no zarr.json, not a Zarr store");
    }
    Ok(Store::open(location, cloud.as_ref())?)
}

/// The catalog options of the command line.
fn catalog_options(cycle: &str, cmr: &CmrArgs) -> Result<CatalogOptions> {
    let spec: CycleSpec = cycle.parse().with_context(|| format!("--cycle {cycle}"))?;
    let mut options = CatalogOptions::new(spec);
    options.version.clone_from(&cmr.product_version);
    options.provider.clone_from(&cmr.provider);
    options.temporal_margin_days = (!cmr.no_temporal).then_some(cmr.temporal_margin);
    options.bbox = BboxChoice::parse(&cmr.bbox).with_context(|| format!("--bbox {}", cmr.bbox))?;
    options.page_size = cmr.page_size;
    Ok(options)
}

/// `zagg catalog --dry-run`: the first CMR request of the search, as text or JSON. Nothing
/// is sent; an AOI given by URL is not fetched (so it cannot give the automatic bounding box).
fn dry_run(
    cycle: &str,
    aoi: &str,
    cmr: &CmrArgs,
    config: &PipelineConfig,
    json: bool,
) -> Result<String> {
    let options = catalog_options(cycle, cmr)?;
    let remote = aoi.starts_with("http://") || aoi.starts_with("https://");
    let aoi = if remote {
        if options.bbox == BboxChoice::Auto {
            bail!(
                "--dry-run: the automatic bounding box needs the cells of --aoi {aoi}, and \
                 fetching it is network access; give --bbox none or --bbox W,S,E,N"
            );
        }
        None
    } else {
        Some(Aoi::load(
            aoi,
            config.grid.parent_order,
            config.grid.ellipsoid,
        )?)
    };
    let query = options.query(aoi.as_ref(), chrono::Utc::now())?;
    let base_url = zagg::cmr::resolve_base_url(cmr.cmr_url.as_deref());
    let request = query.request(&base_url, None)?;
    if json {
        let mut headers: serde_json::Map<String, serde_json::Value> = request
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into()))
            .collect();
        headers.insert("User-Agent".into(), zagg::web::USER_AGENT.into());
        let plan = serde_json::json!({
            "method": "GET",
            "url": request.url,
            "headers": headers,
            "later_pages": zagg::cmr::LATER_PAGES,
            "query": query,
        });
        return Ok(format!("{}\n", serde_json::to_string_pretty(&plan)?));
    }
    Ok(format!(
        "# dry run, nothing sent: the CMR search of cycle {} ({} {}, {})\n{}",
        query.cycle,
        query.short_name,
        query.version,
        query.provider,
        request.to_text()
    ))
}

/// Query CMR for a cycle and build its catalog over the AOI.
fn catalog_from_args(
    cycle: &str,
    aoi: &str,
    cmr: &CmrArgs,
    config: &PipelineConfig,
) -> Result<(Catalog, CatalogMeta)> {
    let options = catalog_options(cycle, cmr)?;
    let aoi = Aoi::load(aoi, config.grid.parent_order, config.grid.ellipsoid)?;
    let retry = zagg::web::RetryPolicy {
        max_attempts: cmr.cmr_attempts.max(1),
        ..zagg::web::RetryPolicy::default()
    };
    let url = zagg::cmr::resolve_base_url(cmr.cmr_url.as_deref());
    let client = CmrClient::new(&url, retry)?;
    let now = chrono::Utc::now();
    Ok(make_catalog(
        &client,
        &options,
        &aoi,
        config.grid.ellipsoid,
        now,
    )?)
}

/// The run request of `zagg start` / `zagg status` flags.
fn run_request(store: &str, cycle: &str, identity: &RunIdentityArgs) -> RunRequest {
    let mut request = RunRequest::new(store, cycle);
    request.aoi.clone_from(&identity.aoi);
    request.config.clone_from(&identity.config);
    request
        .product_version
        .clone_from(&identity.product_version);
    request
}

/// The state machine of `--state-machine`, else of `ZAGG_STATE_MACHINE_ARN`.
fn state_machine(identity: &RunIdentityArgs) -> Result<StateMachineArn> {
    let env = std::env::var(STATE_MACHINE_ENV).ok();
    Ok(execution::state_machine_arn(
        identity.state_machine.as_deref(),
        env.as_deref(),
    )?)
}

/// Run the Step Functions calls of `zagg start`/`zagg status` to completion.
fn block_on<T>(
    f: impl std::future::Future<Output = std::result::Result<T, execution::ExecutionError>>,
) -> Result<T> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    Ok(runtime.block_on(f)?)
}

/// `println!` that takes a closed stdout (`zagg run --json | head`) as the reader's choice, not
/// an error, and returns any other write failure from the enclosing function.
macro_rules! say {
    ($($arg:tt)*) => {{
        let mut out = std::io::stdout().lock();
        if let Err(e) = writeln!(out, $($arg)*).and_then(|()| out.flush()) {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                return Err(anyhow::Error::from(e).context("write to stdout"));
            }
        }
    }};
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Template { store, config } => {
            let config = load_config(&config)?;
            let cloud = cloud_for([store.as_str()])?;
            let store = Store::open(&store, cloud.as_ref())?;
            store.create_template(&config)?;
            store.consolidate(&config)?;
            say!("template ready: {}", store.location());
        }
        Command::Process {
            shard,
            granules,
            store,
            config,
            json,
        } => {
            let config = load_config(&config)?;
            let cell = zagg::grid::parse_cell(&shard, config.grid.parent_order)
                .with_context(|| format!("--shard {shard}"))?;
            let cloud = cloud_for(granules.iter().map(String::as_str).chain([store.as_str()]))?;
            let sources = open_granules(&granules, cloud.as_ref())?;
            let store = Store::open(&store, cloud.as_ref())?;
            store.check_template(&config)?;
            let ctx = ShardContext::new(config)?;
            let report = process_shard(&ctx, cell, &sources, &store)?;
            if json {
                say!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                say!(
                    "shard {} (morton {}): {:?}, {} observations in {} cells, {} of {} granules failed, {:.2} s",
                    report.shard,
                    report.morton,
                    report.status,
                    report.counts.observations,
                    report.cells,
                    report.granules_failed.len(),
                    report.granules,
                    report.seconds
                );
                for f in &report.granules_failed {
                    say!("  failed: {}", f.error);
                }
            }
        }
        Command::Catalog {
            cycle,
            aoi,
            out,
            cmr,
            config,
            json,
            dry_run: dry,
        } => {
            let config = load_config(&config)?;
            if dry {
                print!("{}", dry_run(&cycle, &aoi, &cmr, &config, json)?);
                return Ok(());
            }
            let dest = Destination::parse(&out)?;
            let (catalog, meta) = catalog_from_args(&cycle, &aoi, &cmr, &config)?;
            let written = write_catalog(&dest, &catalog, &meta)?;
            if json {
                say!("{}", serde_json::to_string_pretty(&meta)?);
            } else {
                print!("{}", meta.summary(&written));
            }
        }
        Command::Run {
            granules,
            cycle,
            catalog,
            access,
            aoi,
            store,
            config,
            jobs,
            json,
            no_resume,
            cmr,
        } => {
            let config = load_config(&config)?;
            let jobs = jobs.unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
            });
            if jobs == 0 {
                bail!("--jobs must be at least 1");
            }
            let store_location = store.unwrap_or_else(|| DEMO_STORE.to_string());
            let access = match access {
                AccessArg::S3 => Access::S3,
                AccessArg::Https => Access::Https,
            };
            // The catalog, when the granules come from CMR or a catalog file.
            let planned: Option<(Catalog, Option<CatalogMeta>)> = match (cycle, catalog) {
                (Some(cycle), _) => {
                    let aoi = aoi.as_deref().unwrap_or(BASINS);
                    let (catalog, meta) = catalog_from_args(&cycle, aoi, &cmr, &config)?;
                    if !json {
                        eprint!("{}", meta.summary(&[]));
                    }
                    Some((catalog, Some(meta)))
                }
                (None, Some(path)) => {
                    if aoi.is_some() {
                        bail!("--aoi does not apply to --catalog: the catalog was made for an AOI");
                    }
                    Some((read_catalog(&path)?, None))
                }
                (None, None) => None,
            };
            let progress = !json && std::io::stderr().is_terminal();
            let report = if let Some((catalog, meta)) = planned {
                let locations: Vec<&str> = catalog
                    .0
                    .iter()
                    .flat_map(|i| i.granules.iter().filter_map(|g| g.location(access)))
                    .chain([store_location.as_str()])
                    .collect();
                let cloud = cloud_for(locations)?;
                let store = Store::open(&store_location, cloud.as_ref())?;
                if let Some(meta) = &meta {
                    // The catalog of the run goes into the store, beside run.json.
                    store.write_json(CATALOG_FILE, &serde_json::to_value(&catalog)?)?;
                    store.write_json(META_FILE, &serde_json::to_value(meta)?)?;
                }
                let open = |location: &str| -> std::result::Result<Arc<dyn ByteSource>, String> {
                    match &cloud {
                        Some(c) => c.open(location),
                        None => zagg::granule::open_source(location),
                    }
                    .map_err(|e| e.to_string())
                };
                let options = RunOptions {
                    jobs,
                    aoi: None,
                    progress,
                    resume: !no_resume,
                };
                run_catalog(config, &catalog, access, &open, &store, &options)?
            } else {
                let cloud = cloud_for(
                    granules
                        .iter()
                        .map(String::as_str)
                        .chain([store_location.as_str()]),
                )?;
                let sources = if granules.is_empty() {
                    zagg::demo::demo_sources()
                } else {
                    open_granules(&granules, cloud.as_ref())?
                };
                if sources.is_empty() {
                    bail!("no granules: give --granules FILE...");
                }
                let aoi = aoi
                    .map(|a| Aoi::load(&a, config.grid.parent_order, config.grid.ellipsoid))
                    .transpose()?;
                let store = Store::open(&store_location, cloud.as_ref())?;
                let options = RunOptions {
                    jobs,
                    aoi,
                    progress,
                    resume: !no_resume,
                };
                run_local(config, sources, &store, &options)?
            };
            if json {
                say!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.summary());
                let shown = match Location::parse(&store_location) {
                    Ok(Some(_)) => store_location.clone(),
                    _ => std::path::absolute(&store_location)
                        .map_or(store_location.clone(), |p| p.display().to_string()),
                };
                say!("wrote        {shown}");
            }
            if !report.shards_failed.is_empty() {
                std::process::exit(2);
            }
        }
        Command::Inspect { store, order, json } => {
            let store = open_existing_store(&store)?;
            let inspection = zagg::inspect::inspect(&store, order)?;
            let text = if json {
                format!("{}\n", serde_json::to_string_pretty(&inspection)?)
            } else {
                inspection.to_text()
            };
            // A closed pipe (`zagg inspect … | head`) is not an error.
            let mut out = std::io::stdout().lock();
            if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    return Err(e).context("write to stdout");
                }
            }
            if !inspection.ok() {
                std::process::exit(1);
            }
            if inspection.failed_shards() > 0 {
                std::process::exit(2);
            }
        }
        Command::Plot {
            store,
            variable,
            order,
            aoi,
            output,
            width,
            height,
            cmap,
            log,
            linear,
            range,
            json,
        } => {
            let store = open_existing_store(&store)?;
            let mut options = zagg::plot::PlotOptions::new(&variable);
            if let Some(spec) = aoi {
                let grid = zagg::plot::recorded_config(&store)?.grid;
                options.aoi = Some(Aoi::load(&spec, grid.parent_order, grid.ellipsoid)?);
            }
            options.order = order;
            options.width = width;
            options.height = height;
            options.colormap = cmap;
            options.scale = match (log, linear) {
                (true, _) => Some(zagg::plot::Scale::Log),
                (_, true) => Some(zagg::plot::Scale::Linear),
                _ => None,
            };
            options.range = range.map(|r| (r[0], r[1]));
            let plot = zagg::plot::plot_store(&store, &options)?;
            let output = output.unwrap_or_else(|| PathBuf::from(format!("{variable}.png")));
            std::fs::write(&output, plot.png()?)
                .with_context(|| format!("write {}", output.display()))?;
            if json {
                say!("{}", serde_json::to_string_pretty(&plot.layout)?);
            } else {
                say!(
                    "wrote {} ({}×{}, {} cells of order {}, {} in {:.6}..{:.6})",
                    output.display(),
                    plot.layout.width,
                    plot.layout.height,
                    plot.layout.cells,
                    plot.layout.order,
                    variable,
                    plot.layout.range[0],
                    plot.layout.range[1]
                );
            }
        }
        Command::Start {
            store,
            cycle,
            identity,
            access,
            max_concurrency,
            tolerated_failure_percentage,
            catalog_prefix,
            rerun,
            dry_run,
            json,
        } => {
            let mut request = run_request(&store, &cycle, &identity);
            request.access = match access {
                AccessArg::S3 => AccessInput::S3,
                AccessArg::Https => AccessInput::Https,
            };
            request.max_concurrency = max_concurrency;
            request.tolerated_failure_percentage = tolerated_failure_percentage;
            request.catalog_prefix = catalog_prefix;
            let plan = execution::plan_start(&request, chrono::Utc::now())?;
            if dry_run {
                // The state machine is optional here: without one the CLI call names the variable.
                let sm = match state_machine(&identity) {
                    Ok(sm) => Some(sm),
                    Err(e) => match e.downcast_ref::<execution::ExecutionError>() {
                        Some(execution::ExecutionError::NoStateMachine) => None,
                        _ => return Err(e),
                    },
                };
                if json {
                    say!("{}", serde_json::to_string_pretty(&plan)?);
                } else {
                    print!("{}", plan.to_text(sm.as_ref(), rerun)?);
                }
                return Ok(());
            }
            let sm = state_machine(&identity)?;
            let started = block_on(async {
                let api = AwsStepFunctions::from_env(&sm.region).await;
                execution::start_run(&api, &sm, &plan, rerun).await
            })?;
            if json {
                say!("{}", serde_json::to_string_pretty(&started)?);
            } else {
                print!("{}", started.to_text());
            }
        }
        Command::Status {
            execution: arn,
            store,
            cycle,
            identity,
            json,
        } => {
            let report = match (arn, store, cycle) {
                (Some(arn), _, _) => {
                    let arn: ExecutionArn = arn.parse()?;
                    block_on(async {
                        let api = AwsStepFunctions::from_env(&arn.region).await;
                        execution::status(&api, &arn).await
                    })?
                }
                (None, Some(store), Some(cycle)) => {
                    let request = run_request(&store, &cycle, &identity);
                    let plan = execution::plan_start(&request, chrono::Utc::now())?;
                    let sm = state_machine(&identity)?;
                    block_on(async {
                        let api = AwsStepFunctions::from_env(&sm.region).await;
                        execution::run_status(&api, &sm, &plan).await
                    })?
                }
                _ => bail!("give an EXECUTION_ARN, or --store and --cycle"),
            };
            if json {
                say!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.to_text(chrono::Utc::now()));
            }
        }
        Command::Schema => print!("{}", zagg::config::schema_json()),
    }
    Ok(())
}
