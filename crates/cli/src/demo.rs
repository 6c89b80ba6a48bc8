//! `dpseg demo` (DESIGN §10): the collector on 127.0.0.1 with SQLite under a data directory,
//! serving the demo site, the dashboard and the browser package, with a simulated population's
//! reports already counted so the dashboard has something to show.
//!
//! The population is real privatised reports: each simulated device runs the campaign's
//! mechanism (memoised answers, fresh noise) once per epoch, and the tallies of those reports
//! are stored as counters for the epochs before the current one. Live visitors of the demo site
//! then report into the current epoch through `POST /v1/reports` like any browser.

use std::path::{Path, PathBuf};

use dpseg::simulate::{Population, Truth};
use dpseg_collector::store::{CounterDelta, Store};
use dpseg_collector::Served;
use rand_core::{OsRng, RngCore};

use crate::Failure;

/// What `dpseg demo` needs on disk, relative to the repository root.
pub struct Paths {
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
        let build = "run ./scripts/build-wasm.sh, or dpseg demo from the repository root";
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

/// Builds what the demo serves when it is missing or stale, from a repository checkout: the
/// browser package (`scripts/build-wasm.sh`, which skips an up-to-date package) and the
/// dashboard's npm packages (`npm ci`). Elsewhere (no script) the paths must already be there.
pub fn ensure_built(paths: &Paths) -> Result<(), Failure> {
    let run = |program: &str, args: &[&str]| -> Result<(), Failure> {
        let status = std::process::Command::new(program)
            .args(args)
            .status()
            .map_err(|e| Failure(format!("cannot run {program}: {e}"), 2))?;
        if status.success() {
            Ok(())
        } else {
            Err(Failure(format!("{program} {} failed ({status})", args.join(" ")), 2))
        }
    };
    let lock = Path::new("package-lock.json");
    let installed = paths.node_modules.join(".package-lock.json");
    let stale = match (std::fs::metadata(lock), std::fs::metadata(&installed)) {
        (Ok(l), Ok(i)) => match (l.modified(), i.modified()) {
            (Ok(l), Ok(i)) => l > i,
            _ => false,
        },
        (Ok(_), Err(_)) => true,
        _ => false,
    };
    if stale && paths.node_modules == Path::new("node_modules") {
        run("npm", &["ci", "--no-audit", "--no-fund", "--loglevel=error"])?;
    }
    // After the npm packages: the build bundles the SDK with esbuild.
    let script = Path::new("scripts/build-wasm.sh");
    if script.is_file() && paths.package == Path::new("crates/wasm/pkg") {
        run("bash", &["scripts/build-wasm.sh"])?;
    }
    Ok(())
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

/// Membership rates for a campaign's simulated population: the example's truth file when there
/// is one, otherwise spread between 4% and 40% (segments) and decreasing shares (cases).
pub fn truth_for(served: &Served, example: &Path) -> Result<Truth, Failure> {
    let c = served.compiled.campaign();
    let file = example.join("truth").join(format!("{}.json", c.id));
    if file.is_file() {
        return crate::read_truth(&file, c);
    }
    #[allow(clippy::cast_precision_loss, reason = "small counts")]
    let segments =
        (0..c.segments.len()).map(|i| 0.04 + 0.36 * ((i * 7919) % 97) as f64 / 96.0).collect();
    #[allow(clippy::cast_precision_loss, reason = "small counts")]
    let groups = c
        .groups
        .iter()
        .map(|g| {
            let weights: Vec<f64> = (0..g.cases.len()).map(|k| 1.0 / (k as f64 + 1.5)).collect();
            let total: f64 = weights.iter().sum::<f64>() * 1.1; // ~9% in no case
            weights.iter().map(|w| w / total).collect()
        })
        .collect();
    Ok(Truth { segments, groups })
}

/// Stores the tallies of `devices` simulated devices reporting for each of the `epochs` epochs
/// before `current`, for every campaign, unless the store already holds counters for it.
/// Returns how many reports were added.
pub async fn seed(
    store: &Store,
    served: &[Served],
    example: &Path,
    devices: u64,
    epochs: u32,
    now: i64,
) -> Result<u64, Failure> {
    let mut added = 0;
    for (n, s) in served.iter().enumerate() {
        let c = s.compiled.campaign();
        let existing = store.counters(&c.id, None).await.map_err(|e| Failure(e.to_string(), 2))?;
        if !existing.is_empty() {
            continue;
        }
        let truth = truth_for(s, example)?;
        let seed = 0x00de_0000 + n as u64;
        let population = Population::new(&s.mechanism, &truth, devices, seed);
        let current = u64::try_from(now.div_euclid(c.epoch.secs())).unwrap_or(0);
        let mut deltas = Vec::new();
        for (k, run) in population.run(&s.mechanism, epochs, seed).iter().enumerate() {
            let epoch = current.saturating_sub(u64::from(epochs) - k as u64);
            added += run.tally.reports();
            for (key, delta) in run.tally.counters() {
                deltas.push(CounterDelta {
                    campaign: c.id.clone(),
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
