//! `dpseg demo`: the collector on 127.0.0.1 with SQLite under a data directory, serving the demo
//! site, the preference center, the dashboard and the browser package, with a simulated
//! population's reports already counted so the dashboard has something to show.
//! `./scripts/demo.sh` builds what it serves; this command builds nothing.
//!
//! The population is real privatised reports: each simulated device runs the campaign's
//! mechanism (memoised answers, fresh noise) once per epoch, and the tallies of those reports
//! are stored as counters for the epochs before the current one. Live visitors of the demo site
//! then report into the current epoch through `POST /v1/reports` like any browser.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use dpseg::campaign::LintConfig;
use dpseg::limits::Limits;
use dpseg::schema::Schema;
use dpseg::simulate::Population;
use dpseg_collector::serve::ConnectionLimits;
use dpseg_collector::store::{CounterDelta, Store};
use dpseg_collector::Served;
use rand_core::{OsRng, RngCore};

use crate::collector::{serve, Listeners};
use crate::common::{load_schema, now, Failure};
use crate::population::{item_values, profiles};

/// The demo: the collector on 127.0.0.1 with SQLite under a data directory, serving the
/// demo site, the preference center and the dashboard, with a simulated population already
/// reported. Run from the repository root after `./scripts/demo.sh` built what it serves.
#[derive(clap::Args)]
pub struct Args {
    /// Where the database and the dashboard token live.
    #[arg(long, default_value = ".dpseg-demo")]
    data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// The example: `schema.toml` and `campaigns/`.
    #[arg(long, default_value = "examples/outdoor")]
    example: PathBuf,
    /// The site and dashboard.
    #[arg(long, default_value = "www")]
    www: PathBuf,
    /// The built browser package.
    #[arg(long, default_value = "crates/wasm/pkg")]
    package: PathBuf,
    /// npm packages (the dashboard's charts).
    #[arg(long, default_value = "node_modules")]
    node_modules: PathBuf,
    /// Simulated devices reporting each epoch.
    #[arg(long, default_value_t = 20_000)]
    devices: u64,
    /// Past epochs of simulated reports.
    #[arg(long, default_value_t = 7)]
    epochs: u32,
    /// Dashboard token (default: kept in the data directory, made on first run).
    #[arg(long)]
    token: Option<String>,
    /// Accepted for scripts written when `dpseg demo` built the package itself; the command
    /// builds nothing now, so this changes nothing.
    #[arg(long, hide = true)]
    no_build: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<ExitCode, Failure> {
    let limits = Limits::default();
    let Args {
        data_dir, listen, example, www, package, node_modules, devices, epochs, token, ..
    } = args;

    let paths = Paths { data_dir, example, www, package, node_modules };
    let statics = paths.statics()?;
    std::fs::create_dir_all(&paths.data_dir)
        .map_err(|e| Failure(format!("{}: {e}", paths.data_dir.display()), 2))?;
    let token = paths.token(token)?;
    let schema = load_schema(&paths.example.join("schema.toml"), &limits)?;
    let checked = dpseg_collector::check_campaign_dir(
        &paths.example.join("campaigns"),
        &schema,
        &LintConfig::default(),
        &limits,
    )
    .map_err(|e| Failure(e.to_string(), 2))?;
    let catalog = dpseg_collector::Catalog::new(checked)
        .map_err(|e| Failure(format!("campaigns refused:\n{e}"), 1))?;
    let db = format!("sqlite:{}", paths.data_dir.join("collector.db").display());
    let runtime = tokio::runtime::Runtime::new()?;
    let now = now(None)?;
    let added = runtime.block_on(async {
        let store = dpseg_collector::store::Store::open(&db)
            .await
            .map_err(|e| Failure(e.to_string(), 2))?;
        let added = seed(&store, catalog.all(), &schema, devices, epochs, now).await;
        store.close().await;
        added
    })?;
    if added > 0 {
        eprintln!("dpseg demo: stored {added} simulated reports over {epochs} past epochs");
    }
    let config = dpseg_collector::Config {
        token_digests: vec![dpseg_collector::token_digest(&token)],
        schema: Some(schema.clone()),
        statics,
        ..dpseg_collector::Config::default()
    };
    let listeners = Listeners { public: &listen, admin: None };
    let limits = ConnectionLimits::default();
    runtime.block_on(serve(catalog, &db, listeners, config, limits, |addr| {
        println!("site:      http://{addr}/");
        println!("privacy:   http://{addr}/privacy.html");
        println!("dashboard: http://{addr}/dashboard/");
        println!("token:     {token}");
        let _ = std::io::stdout().flush();
    }))?;
    Ok(ExitCode::SUCCESS)
}

/// What `dpseg demo` needs on disk, relative to the repository root.
struct Paths {
    pub data_dir: PathBuf,
    pub example: PathBuf,
    pub www: PathBuf,
    pub package: PathBuf,
    pub node_modules: PathBuf,
}

impl Paths {
    /// The static directories the collector serves, after checking each exists.
    pub fn statics(&self) -> Result<Vec<(String, PathBuf)>, Failure> {
        let need = |dir: PathBuf, hint: &str| -> Result<PathBuf, Failure> {
            if dir.is_dir() {
                Ok(dir)
            } else {
                Err(Failure(format!("{} is missing; {hint}", dir.display()), 2))
            }
        };
        let build = "run ./scripts/demo.sh (or ./scripts/build-wasm.sh) from the repository root";
        let package = need(self.package.clone(), build)?;
        for wasm in [
            "dpseg_rt_bg.wasm",
            "dpseg_report_bg.wasm",
            "dpseg_verify_bg.wasm",
            "dpseg_core_bg.wasm",
        ] {
            if !package.join(wasm).is_file() {
                return Err(Failure(format!("{} has no {wasm}; {build}", package.display()), 2));
            }
        }
        Ok(vec![
            ("/".into(), need(self.www.clone(), "run from the repository root")?),
            ("/dpseg".into(), package),
            (
                "/vendor/chart.js".into(),
                need(self.node_modules.join("chart.js/dist"), "run npm ci")?,
            ),
            (
                "/vendor/chartjs-chart-error-bars".into(),
                need(self.node_modules.join("chartjs-chart-error-bars/build"), "run npm ci")?,
            ),
        ])
    }

    /// The dashboard token: given, kept from an earlier run, or new (written with mode 0600).
    pub fn token(&self, given: Option<String>) -> Result<String, Failure> {
        if let Some(t) = given {
            return Ok(t);
        }
        let path = self.data_dir.join("token");
        if let Ok(t) = std::fs::read_to_string(&path) {
            if !t.trim().is_empty() {
                return Ok(t.trim().to_owned());
            }
        }
        let mut bytes = [0u8; 18];
        OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| Failure(format!("no OS randomness: {e}"), 2))?;
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        write_private(&path, &token)?;
        Ok(token)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> Result<(), Failure> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Failure(format!("{}: {e}", path.display()), 2))?;
    f.write_all(text.as_bytes()).map_err(|e| Failure(format!("{}: {e}", path.display()), 2))
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text).map_err(|e| Failure(format!("{}: {e}", path.display()), 2))
}

/// Stores the tallies of `devices` simulated devices reporting for each of the `epochs` epochs
/// before `current`, for every campaign, unless the store already holds counters for it.
/// Returns how many reports were added.
async fn seed(
    store: &Store,
    served: &[Served],
    schema: &Schema,
    devices: u64,
    epochs: u32,
    now: i64,
) -> Result<u64, Failure> {
    let mut added = 0;
    // One population of visitors for every campaign, each a profile the engine evaluates.
    let mut visitors = None;
    for (n, s) in served.iter().enumerate() {
        let c = s.compiled.campaign();
        let existing = store.counters(c.id(), None).await.map_err(|e| Failure(e.to_string(), 2))?;
        if !existing.is_empty() {
            continue;
        }
        let visitors = visitors.get_or_insert_with(|| profiles(schema, devices, 0x00de_0001, now));
        let seed = 0x00de_0000 + n as u64;
        let population =
            Population::from_values(item_values(&s.compiled, &s.mechanism, visitors, now));
        let current = u64::try_from(now.div_euclid(c.epoch().secs())).unwrap_or(0);
        let mut deltas = Vec::new();
        for (k, run) in population.run(&s.mechanism, epochs, seed).iter().enumerate() {
            let epoch = current.saturating_sub(u64::from(epochs) - k as u64);
            added += run.tally.reports();
            for (key, delta) in run.tally.counters() {
                deltas.push(CounterDelta {
                    campaign: c.id().to_owned(),
                    config_id: s.compiled.config_id().to_owned(),
                    epoch,
                    key,
                    delta,
                });
            }
        }
        store.ingest(&[], move |_| deltas).await.map_err(|e| Failure(e.to_string(), 2))?;
    }
    Ok(added)
}
