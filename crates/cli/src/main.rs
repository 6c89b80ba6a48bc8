//! `dpseg`, the command line (DESIGN §8).
//!
//! Every command prints JSON on stdout with sorted keys; errors go to stderr with a non-zero
//! exit code (1: the input was understood and found wanting, such as lint errors; 2: the input
//! could not be read or parsed).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use std::io::Write;

use clap::{Parser, Subcommand};

mod demo;
use dpseg::campaign::{lint, Campaign, CompiledCampaign, LintConfig, Membership, Severity};
use dpseg::estimate::{estimates, expected};
use dpseg::limits::Limits;
use dpseg::privacy::coin::DeviceRandomness;
use dpseg::privacy::ledger::Secret;
use dpseg::privacy::mechanism::{Mechanism, Slot};
use dpseg::profile::Profile;
use dpseg::report::encode;
use dpseg::schema::Schema;
use dpseg::simulate::{Population, Truth};
use dpseg::time::{parse_timestamp, UnixSecs};
use dpseg_collector::ratelimit::RateConfig;
use dpseg_collector::serve::ConnectionLimits;
use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, SeedableRng};
use serde_json::Value;

#[derive(Parser)]
#[command(name = "dpseg", version, about = "Privacy-preserving on-device segmentation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Evaluate a campaign's segments and groups for one profile.
    Eval {
        /// Data map (TOML, or JSON by extension).
        #[arg(long)]
        schema: PathBuf,
        /// Campaign (TOML, or JSON by extension).
        #[arg(long)]
        campaign: PathBuf,
        /// Profile (JSON).
        #[arg(long)]
        profile: PathBuf,
        /// Evaluation time (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ); default: the clock.
        #[arg(long)]
        now: Option<String>,
        /// Add each rule's tree with every node's value and the data it read.
        #[arg(long)]
        explain: bool,
    },
    /// Review a campaign before launch; exits 1 when there are errors.
    Lint {
        /// Data map (TOML, or JSON by extension).
        #[arg(long)]
        schema: PathBuf,
        /// Campaign (TOML, or JSON by extension).
        #[arg(long)]
        campaign: PathBuf,
        /// The site's cap on ε per report.
        #[arg(long, default_value_t = LintConfig::default().epsilon_max)]
        epsilon_max: f64,
        /// Devices expected per epoch, for the planner's warning.
        #[arg(long, default_value_t = LintConfig::default().devices)]
        devices: u64,
    },
    /// Expected error of every segment and case for a number of devices.
    Plan {
        /// Campaign (TOML, or JSON by extension).
        #[arg(long)]
        campaign: PathBuf,
        /// Devices reporting per epoch.
        #[arg(long)]
        devices: u64,
        /// Membership rates (JSON, as for `simulate`); default 5% for every segment and case.
        #[arg(long)]
        truth: Option<PathBuf>,
    },
    /// Reports (JSON lines) of fresh devices with one membership.
    Privatize {
        /// Data map (TOML, or JSON by extension).
        #[arg(long)]
        schema: PathBuf,
        /// Campaign (TOML, or JSON by extension).
        #[arg(long)]
        campaign: PathBuf,
        /// Membership (JSON): `{"segments": {id: bool}, "groups": {id: case or null}}`.
        #[arg(long)]
        membership: PathBuf,
        /// Number of reports (each from a new device).
        #[arg(long)]
        reports: u64,
        /// Epoch number; default: the current one.
        #[arg(long)]
        epoch: Option<u64>,
        /// Seed for reproducible output; default: the OS's randomness.
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Run the collector: receive reports, answer estimates (DESIGN §9).
    Serve {
        /// Directory of campaign files (`*.toml`); every one must pass the lint.
        #[arg(long)]
        campaigns: PathBuf,
        /// Data map (TOML, or JSON by extension).
        #[arg(long)]
        schema: PathBuf,
        /// Database: `sqlite:PATH` (created if missing) or `postgres://...`.
        #[arg(long, default_value = "sqlite:dpseg.db")]
        db: String,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// A file of bearer tokens that may read estimates, one per line (`#` comments): the way
        /// to pass tokens (repeatable; also `DPSEG_TOKENS`, comma-separated).
        #[arg(long)]
        token_file: Vec<PathBuf>,
        /// A bearer token on the command line, for tests: any local user can read it from
        /// `/proc`. Prefer `--token-file` or `DPSEG_TOKENS`.
        #[arg(long)]
        token: Vec<String>,
        /// Past epochs whose reports are still accepted.
        #[arg(long, default_value_t = 2)]
        epochs_back: u64,
        /// Reports per request at most.
        #[arg(long, default_value_t = 1000)]
        reports_max: usize,
        /// The site's cap on ε per report, for the start-up lint.
        #[arg(long, default_value_t = LintConfig::default().epsilon_max)]
        epsilon_max: f64,
        /// Requests per second one client address may make (bursts twice that); 0: no limit.
        #[arg(long, alias = "connection-rate", default_value_t = RateConfig::default().requests_per_sec)]
        request_rate: u32,
        /// Reports one client address may send per window; 0: no limit.
        #[arg(long, default_value_t = RateConfig::default().reports_per_address)]
        reports_per_address: u32,
        /// Reports one address prefix (IPv4 /24, IPv6 /48) may send per window; 0: no limit.
        #[arg(long, default_value_t = RateConfig::default().reports_per_prefix)]
        reports_per_prefix: u32,
        /// The window of the report limits, seconds.
        #[arg(long, default_value_t = RateConfig::default().window_secs)]
        rate_window: u32,
        /// Serve `/metrics` and `/readyz` on this address only (the operator's), instead of on
        /// `--listen` with `/metrics` behind the token.
        #[arg(long)]
        admin_listen: Option<String>,
        #[command(flatten)]
        connections: ConnectionArgs,
        /// Serve a directory's files under a URL prefix, `PREFIX=DIR` (repeatable), such as
        /// `/=www` for a site and `/dpseg=crates/wasm/pkg` for the browser package.
        #[arg(long = "static", value_name = "PREFIX=DIR")]
        statics: Vec<String>,
    },
    /// The demo: the collector on 127.0.0.1 with SQLite under a data directory, serving the
    /// demo site, the preference center and the dashboard, with a simulated population already
    /// reported. Run from the repository root (`./scripts/demo.sh` builds what it needs).
    Demo {
        /// Where the database and the dashboard token live.
        #[arg(long, default_value = ".dpseg-demo")]
        data_dir: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// The example: `schema.toml`, `campaigns/`, optional `truth/<campaign>.json`.
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
        /// Do not build the browser package or install npm packages when they are stale.
        #[arg(long)]
        no_build: bool,
    },
    /// Simulate a population reporting over epochs, and estimate every segment and case.
    Simulate {
        /// Campaign (TOML, or JSON by extension).
        #[arg(long)]
        campaign: PathBuf,
        /// Number of devices.
        #[arg(long)]
        devices: u64,
        /// Membership rates (JSON): `{"segments": {id: rate}, "groups": {id: {case: rate}}}`.
        #[arg(long)]
        truth: PathBuf,
        /// Epochs to simulate.
        #[arg(long, default_value_t = 1)]
        epochs: u32,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

/// A failure to report: message for stderr and exit code.
struct Failure(String, u8);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string(), 2)
    }
}

fn read(path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|e| Failure(format!("cannot read {}: {e}", path.display()), 2))
}

fn is_json(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "json")
}

fn load_schema(path: &Path, limits: &Limits) -> Result<Schema, Failure> {
    let text = read(path)?;
    let schema = if is_json(path) {
        Schema::from_json(&text, limits)
    } else {
        Schema::from_toml(&text, limits)
    };
    schema.map_err(|e| Failure(format!("{}: {e}", path.display()), 2))
}

fn load_campaign(path: &Path, limits: &Limits) -> Result<Campaign, Failure> {
    let text = read(path)?;
    let campaign = if is_json(path) {
        serde_json::from_str::<Value>(&text)
            .map_err(|e| Failure(format!("{}: campaign: {e}", path.display()), 2))
            .and_then(|v| {
                Campaign::from_json_value(&v, limits).map_err(|e| Failure(e.to_string(), 2))
            })
    } else {
        Campaign::from_toml(&text, limits).map_err(|e| Failure(e.to_string(), 2))
    };
    campaign.map_err(|Failure(m, c)| Failure(format!("{}: {m}", path.display()), c))
}

fn now(arg: Option<&str>) -> Result<UnixSecs, Failure> {
    match arg {
        Some(t) => parse_timestamp(t).map_err(|e| Failure(format!("--now: {e}"), 2)),
        None => {
            let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
            Ok(i64::try_from(d.as_secs())?)
        }
    }
}

/// Rebuilds every object with sorted keys, so output order never depends on serde_json features.
fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<_> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        v => v,
    }
}

fn print(v: Value) -> Result<(), Failure> {
    println!("{}", serde_json::to_string_pretty(&sorted(v))?);
    Ok(())
}

fn run(cli: Cli) -> Result<ExitCode, Failure> {
    let limits = Limits::default();
    match cli.command {
        Command::Eval { schema, campaign, profile, now: at, explain } => {
            let now = now(at.as_deref())?;
            let schema = load_schema(&schema, &limits)?;
            let campaign_path = campaign;
            let campaign = load_campaign(&campaign_path, &limits)?;
            let compiled = compile(&campaign, &campaign_path, &schema, &limits)?;
            let text = read(&profile)?;
            let profile = Profile::from_json(&schema, &text, now, &limits)
                .map_err(|e| Failure(format!("{}: {e}", profile.display()), 2))?;
            let membership = compiled.evaluate(&profile, now);
            let mut out = compiled.membership_json(&membership);
            if explain {
                if let Value::Object(m) = &mut out {
                    m.insert("explain".into(), compiled.explain_json(&schema, &profile, now));
                }
            }
            print(out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Lint { schema, campaign, epsilon_max, devices } => {
            let schema = load_schema(&schema, &limits)?;
            let campaign_path = campaign;
            let campaign = load_campaign(&campaign_path, &limits)?;
            let findings = lint(
                &campaign,
                &schema,
                &LintConfig { epsilon_max, devices, ..LintConfig::default() },
                &limits,
            );
            let errors = findings.iter().filter(|f| f.severity == Severity::Error).count();
            let warnings = findings.len() - errors;
            let config_id =
                campaign.compile(&schema, &limits).ok().map(|c| c.config_id().to_owned());
            print(serde_json::json!({
                "campaign": campaign.id,
                "config_id": config_id,
                "errors": errors,
                "warnings": warnings,
                "findings": findings,
            }))?;
            for f in &findings {
                eprintln!("{}: {f}", campaign_path.display());
            }
            Ok(if errors > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        Command::Plan { campaign, devices, truth } => {
            let campaign = load_campaign(&campaign, &limits)?;
            let mechanism = Mechanism::plan(&campaign).map_err(|e| Failure(e.to_string(), 1))?;
            let truth = match truth {
                Some(path) => read_truth(&path, &campaign)?,
                None => Truth {
                    segments: vec![0.05; campaign.segments.len()],
                    groups: campaign.groups.iter().map(|g| vec![0.05; g.cases.len()]).collect(),
                },
            };
            print(plan_json(&campaign, &mechanism, &truth, devices))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Privatize { schema, campaign, membership, reports, epoch, seed } => {
            let schema = load_schema(&schema, &limits)?;
            let campaign_path = campaign;
            let campaign = load_campaign(&campaign_path, &limits)?;
            let compiled = compile(&campaign, &campaign_path, &schema, &limits)?;
            let mechanism = compiled
                .mechanism()
                .ok_or_else(|| Failure("campaign has nothing to report".into(), 1))?;
            let membership = read_membership(&membership, &campaign)?;
            let epoch = match epoch {
                Some(e) => e,
                None => u64::try_from(now(None)?.div_euclid(campaign.epoch.secs()))?,
            };
            let mut rng = match seed {
                Some(s) => ChaCha20Rng::seed_from_u64(s),
                None => ChaCha20Rng::from_rng(OsRng)
                    .map_err(|e| Failure(format!("no OS randomness: {e}"), 2))?,
            };
            let truth = mechanism.truth(&membership);
            let mut slots = vec![Slot { item: 0, out: 0 }; usize::from(mechanism.per_report())];
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            for _ in 0..reports {
                // A fresh device: a new secret, so new memoised answers and a new sampled set.
                let prf = Secret::generate(&mut rng).prf(compiled.config_id());
                let mut randomness = DeviceRandomness::one_version(&mut rng, &prf);
                mechanism.privatize(&truth, &mut randomness, &mut slots);
                let report = encode(
                    &campaign.id,
                    compiled.config_id(),
                    epoch,
                    mechanism,
                    &slots,
                    &mut randomness,
                );
                writeln!(out, "{}", serde_json::to_string(&report)?)?;
            }
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve {
            campaigns,
            schema,
            db,
            listen,
            token_file,
            token,
            epochs_back,
            reports_max,
            epsilon_max,
            request_rate,
            reports_per_address,
            reports_per_prefix,
            rate_window,
            admin_listen,
            connections,
            statics,
        } => {
            let schema = load_schema(&schema, &limits)?;
            let statics = statics
                .iter()
                .map(|s| match s.split_once('=') {
                    Some((prefix, dir)) if prefix.starts_with('/') && Path::new(dir).is_dir() => {
                        Ok((prefix.to_owned(), PathBuf::from(dir)))
                    }
                    _ => Err(Failure(
                        format!("--static {s}: expected PREFIX=DIR with PREFIX starting with / and DIR a directory"),
                        2,
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?;
            let config = LintConfig { epsilon_max, ..LintConfig::default() };
            let checked =
                dpseg_collector::check_campaign_dir(&campaigns, &schema, &config, &limits)
                    .map_err(|e| Failure(format!("{}: {e}", campaigns.display()), 2))?;
            for c in &checked {
                for f in &c.findings {
                    eprintln!("{}: {f}", c.path.display());
                }
            }
            let catalog = dpseg_collector::Catalog::new(checked, &schema, &limits)
                .map_err(|e| Failure(format!("campaigns refused, not starting:\n{e}"), 1))?;
            if !token.is_empty() {
                eprintln!("dpseg-collector: --token is readable by every local user in /proc; use --token-file or DPSEG_TOKENS");
            }
            let mut tokens = token;
            for file in &token_file {
                let text = std::fs::read_to_string(file)
                    .map_err(|e| Failure(format!("--token-file {}: {e}", file.display()), 2))?;
                tokens.extend(
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.starts_with('#'))
                        .map(str::to_owned),
                );
            }
            if let Ok(env) = std::env::var("DPSEG_TOKENS") {
                tokens.extend(
                    env.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned),
                );
            }
            let collector = dpseg_collector::Config {
                epochs_back,
                reports_max,
                rates: RateConfig {
                    requests_per_sec: request_rate,
                    reports_per_address,
                    reports_per_prefix,
                    window_secs: rate_window,
                },
                admin_listener: admin_listen.is_some(),
                token_digests: tokens.iter().map(|t| dpseg_collector::token_digest(t)).collect(),
                schema_document: schema.to_json(),
                statics,
                ..dpseg_collector::Config::default()
            };
            let runtime = tokio::runtime::Runtime::new()?;
            let listeners = Listeners { public: &listen, admin: admin_listen.as_deref() };
            runtime.block_on(serve(
                catalog,
                &db,
                listeners,
                collector,
                connections.limits(),
                |_| {},
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo {
            data_dir,
            listen,
            example,
            www,
            package,
            node_modules,
            devices,
            epochs,
            token,
            no_build,
        } => {
            let paths = demo::Paths { data_dir, example, www, package, node_modules };
            if !no_build {
                demo::ensure_built(&paths)?;
            }
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
            let catalog = dpseg_collector::Catalog::new(checked, &schema, &limits)
                .map_err(|e| Failure(format!("campaigns refused:\n{e}"), 1))?;
            let db = format!("sqlite:{}", paths.data_dir.join("collector.db").display());
            let runtime = tokio::runtime::Runtime::new()?;
            let now = now(None)?;
            let added = runtime.block_on(async {
                let store = dpseg_collector::store::Store::open(&db)
                    .await
                    .map_err(|e| Failure(e.to_string(), 2))?;
                let added =
                    demo::seed(&store, catalog.all(), &paths.example, devices, epochs, now).await;
                store.close().await;
                added
            })?;
            if added > 0 {
                eprintln!("dpseg demo: stored {added} simulated reports over {epochs} past epochs");
            }
            let config = dpseg_collector::Config {
                token_digests: vec![dpseg_collector::token_digest(&token)],
                schema_document: schema.to_json(),
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
        Command::Simulate { campaign, devices, truth, epochs, seed } => {
            let campaign = load_campaign(&campaign, &limits)?;
            let mechanism = Mechanism::plan(&campaign).map_err(|e| Failure(e.to_string(), 1))?;
            let truth = read_truth(&truth, &campaign)?;
            let population = Population::new(&mechanism, &truth, devices, seed);
            let counts = population.true_counts(&mechanism);
            // Timed: privatising, aggregating and estimating (not drawing the population).
            let started = std::time::Instant::now();
            let runs = population.run(&mechanism, epochs, seed);
            let epochs: Vec<Value> = runs
                .iter()
                .map(|r| {
                    let est = estimates(&mechanism, &r.tally);
                    let segs = campaign.segments.len();
                    let (segments, groups) = campaign.per_value_json(|i, v| {
                        // Segments have one estimate (members); groups one per case.
                        let e = &est[i][if i < segs { 0 } else { v }];
                        serde_json::json!({
                            "true_count": counts[i][v], "estimate": e.estimate, "clamped": e.clamped, "std": e.std,
                            "ci_low": e.ci_low, "ci_high": e.ci_high, "reports": e.reports,
                        })
                    });
                    serde_json::json!({"epoch": r.epoch, "segments": segments, "groups": groups})
                })
                .collect();
            let elapsed_secs = started.elapsed().as_secs_f64();
            print(serde_json::json!({
                "devices": devices,
                "elapsed_secs": elapsed_secs,
                "epsilon_report": mechanism.eps_report(),
                "per_report": mechanism.per_report(),
                "epochs": epochs,
            }))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Connection bounds of `dpseg serve` (docs/collector.md, "Connections").
#[derive(clap::Args, Debug)]
struct ConnectionArgs {
    /// Seconds to receive a request's headers; also how long an idle keep-alive connection stays.
    #[arg(long, default_value_t = 30)]
    header_timeout: u64,
    /// Seconds to receive a request's body.
    #[arg(long, default_value_t = 30)]
    body_timeout: u64,
    /// Connections open at once per listener; more wait to be accepted.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// Seconds open connections may take to finish after SIGINT or SIGTERM.
    #[arg(long, default_value_t = 10)]
    shutdown_deadline: u64,
}

impl ConnectionArgs {
    fn limits(&self) -> ConnectionLimits {
        let secs = std::time::Duration::from_secs;
        ConnectionLimits {
            header_timeout: secs(self.header_timeout.max(1)),
            body_timeout: secs(self.body_timeout.max(1)),
            max_connections: self.max_connections.max(1),
            shutdown_deadline: secs(self.shutdown_deadline),
        }
    }
}

/// Where the collector listens: the public address and, optionally, the operator's.
struct Listeners<'a> {
    public: &'a str,
    admin: Option<&'a str>,
}

async fn bind(addr: &str) -> Result<tokio::net::TcpListener, Failure> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Failure(format!("cannot listen on {addr}: {e}"), 2))
}

/// Runs the collector until SIGINT or SIGTERM; open connections get the shutdown deadline to
/// finish, then the store closes.
async fn serve(
    catalog: dpseg_collector::Catalog,
    db: &str,
    listeners: Listeners<'_>,
    config: dpseg_collector::Config,
    limits: ConnectionLimits,
    on_listen: impl FnOnce(std::net::SocketAddr),
) -> Result<(), Failure> {
    let store =
        dpseg_collector::store::Store::open(db).await.map_err(|e| Failure(e.to_string(), 2))?;
    let campaigns = catalog.all().len();
    let state = dpseg_collector::AppState::new(catalog, store.clone(), config);
    let pruner = state.clone();
    tokio::spawn(async move {
        loop {
            if let Err(e) = pruner.prune().await {
                eprintln!("dpseg-collector: pruning nonces failed: {e}");
            }
            tokio::time::sleep(std::time::Duration::from_secs(600)).await;
        }
    });
    let listener = bind(listeners.public).await?;
    let admin = match listeners.admin {
        Some(a) => Some(bind(a).await?),
        None => None,
    };
    let addr = listener.local_addr()?;
    let backend = if db.starts_with("sqlite:") { "sqlite" } else { "postgres" };
    eprintln!("dpseg-collector: serving {campaigns} campaign(s) on http://{addr} ({backend})");
    // One signal stops both listeners.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown().await;
        let _ = stop.send(true);
    });
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let admin_task = match admin {
        Some(admin) => {
            eprintln!("dpseg-collector: operator endpoints on http://{}", admin.local_addr()?);
            let router = dpseg_collector::admin_app(state.clone());
            let stop = until_stopped(stopped.clone());
            Some(tokio::spawn(dpseg_collector::serve::serve(admin, router, limits, stop)))
        }
        None => None,
    };
    on_listen(addr);
    let app = dpseg_collector::app(state);
    dpseg_collector::serve::serve(listener, app, limits, until_stopped(stopped)).await?;
    if let Some(t) = admin_task {
        let _ = t.await;
    }
    store.close().await;
    eprintln!("dpseg-collector: stopped");
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

fn compile(
    campaign: &Campaign,
    path: &Path,
    schema: &Schema,
    limits: &Limits,
) -> Result<CompiledCampaign, Failure> {
    campaign.compile(schema, limits).map_err(|findings| {
        let text: Vec<String> = findings.iter().map(ToString::to_string).collect();
        Failure(format!("{}: campaign does not compile:\n{}", path.display(), text.join("\n")), 1)
    })
}

fn read_json(path: &Path) -> Result<Value, Failure> {
    serde_json::from_str(&read(path)?).map_err(|e| Failure(format!("{}: {e}", path.display()), 2))
}

/// Reads membership rates, refusing unknown ids and rates outside [0, 1].
fn read_truth(path: &Path, campaign: &Campaign) -> Result<Truth, Failure> {
    let doc = read_json(path)?;
    let bad = |m: String| Failure(format!("{}: {m}", path.display()), 2);
    let rate = |v: &Value, at: &str| -> Result<f64, Failure> {
        v.as_f64()
            .filter(|r| (0.0..=1.0).contains(r))
            .ok_or_else(|| bad(format!("{at}: expected a rate between 0 and 1, found {v}")))
    };
    check_keys(&doc, &["segments", "groups"], "$").map_err(bad)?;
    let mut truth = Truth { segments: vec![0.0; campaign.segments.len()], groups: Vec::new() };
    if let Some(obj) = doc.get("segments").and_then(Value::as_object) {
        for (id, v) in obj {
            let i = campaign
                .segment_index(id)
                .ok_or_else(|| bad(format!("$.segments.{id}: unknown segment")))?;
            truth.segments[i] = rate(v, &format!("$.segments.{id}"))?;
        }
    }
    for g in &campaign.groups {
        let mut cases = vec![0.0; g.cases.len()];
        if let Some(obj) = doc.pointer(&format!("/groups/{}", g.id)).and_then(Value::as_object) {
            for (id, v) in obj {
                let k = g
                    .cases
                    .iter()
                    .position(|c| c.id == *id)
                    .ok_or_else(|| bad(format!("$.groups.{}.{id}: unknown case", g.id)))?;
                cases[k] = rate(v, &format!("$.groups.{}.{id}", g.id))?;
            }
        }
        if cases.iter().sum::<f64>() > 1.0 + 1e-9 {
            return Err(bad(format!("$.groups.{}: case rates add up to more than 1", g.id)));
        }
        truth.groups.push(cases);
    }
    if let Some(obj) = doc.get("groups").and_then(Value::as_object) {
        if let Some(id) = obj.keys().find(|id| campaign.group_index(id).is_none()) {
            return Err(bad(format!("$.groups.{id}: unknown group")));
        }
    }
    Ok(truth)
}

fn check_keys(doc: &Value, allowed: &[&str], at: &str) -> Result<(), String> {
    match doc.as_object() {
        Some(obj) => match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(format!("{at}.{k}: unknown field; expected {}", allowed.join(" or "))),
            None => Ok(()),
        },
        None => Err(format!("{at}: expected an object")),
    }
}

/// Reads a membership, refusing unknown segments, groups and cases.
fn read_membership(path: &Path, campaign: &Campaign) -> Result<Membership, Failure> {
    let doc = read_json(path)?;
    let bad = |m: String| Failure(format!("{}: {m}", path.display()), 2);
    check_keys(&doc, &["segments", "groups"], "$").map_err(bad)?;
    let mut m = Membership {
        segments: vec![false; campaign.segments.len()],
        groups: vec![None; campaign.groups.len()],
    };
    if let Some(obj) = doc.get("segments").and_then(Value::as_object) {
        for (id, v) in obj {
            let i = campaign
                .segment_index(id)
                .ok_or_else(|| bad(format!("$.segments.{id}: unknown segment")))?;
            m.segments[i] = v
                .as_bool()
                .ok_or_else(|| bad(format!("$.segments.{id}: expected true or false")))?;
        }
    }
    if let Some(obj) = doc.get("groups").and_then(Value::as_object) {
        for (id, v) in obj {
            let g = campaign
                .group_index(id)
                .ok_or_else(|| bad(format!("$.groups.{id}: unknown group")))?;
            m.groups[g] = match v {
                Value::Null => None,
                Value::String(case) => Some(
                    campaign.groups[g]
                        .cases
                        .iter()
                        .position(|c| c.id == *case)
                        .and_then(|k| u16::try_from(k).ok())
                        .ok_or_else(|| bad(format!("$.groups.{id}: unknown case '{case}'")))?,
                ),
                _ => return Err(bad(format!("$.groups.{id}: expected a case id or null"))),
            };
        }
    }
    Ok(m)
}

fn plan_json(campaign: &Campaign, mechanism: &Mechanism, truth: &Truth, devices: u64) -> Value {
    let describe = |i: usize, rate: f64| {
        let item = &mechanism.items()[i];
        let (std, half) = expected(item, mechanism, devices, rate);
        serde_json::json!({
            "mechanism": item.oracle.name(),
            "epsilon": item.eps_report,
            "rate": rate,
            "expected_reports": devices as f64 * f64::from(mechanism.per_report()) / mechanism.items().len() as f64,
            "std": std,
            "half_width_95": half,
        })
    };
    let segs = campaign.segments.len();
    let (segments, groups) = campaign.per_value_json(|i, v| {
        describe(i, if i < segs { truth.segments[i] } else { truth.groups[i - segs][v] })
    });
    serde_json::json!({
        "campaign": campaign.id,
        "devices": devices,
        "epsilon_report": mechanism.eps_report(),
        "epsilon_lifetime": mechanism.eps_lifetime(),
        "per_report": mechanism.per_report(),
        "items": mechanism.items().len(),
        "segments": segments,
        "groups": groups,
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(Failure(message, code)) => {
            eprintln!("error: {message}");
            ExitCode::from(code)
        }
    }
}
