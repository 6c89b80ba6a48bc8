//! `dpseg serve`: the collector (docs/collector.md), from a campaign directory and a data map.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use dpseg::campaign::LintConfig;
use dpseg::limits::Limits;
use dpseg_collector::ratelimit::RateConfig;
use dpseg_collector::serve::ConnectionLimits;

use crate::collector::{serve, Listeners};
use crate::common::{load_schema, Failure};

/// Run the collector: receive reports, answer estimates (docs/collector.md).
#[derive(clap::Args)]
pub struct Args {
    /// Directory of campaign files (`*.toml`); every one must pass the lint.
    #[arg(long)]
    campaigns: PathBuf,
    /// Data map (TOML, or JSON by extension).
    #[arg(long, value_name = "DATA_MAP")]
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
}

/// Runs the command.
pub fn run(args: Args) -> Result<ExitCode, Failure> {
    let limits = Limits::default();
    let Args {
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
    } = args;

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
    let checked = dpseg_collector::check_campaign_dir(&campaigns, &schema, &config, &limits)
        .map_err(|e| Failure(format!("{}: {e}", campaigns.display()), 2))?;
    for c in &checked {
        for f in &c.findings {
            eprintln!("{}: {f}", c.path.display());
        }
    }
    let catalog = dpseg_collector::Catalog::new(checked)
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
        tokens.extend(env.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned));
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
        schema: Some(schema.clone()),
        statics,
        ..dpseg_collector::Config::default()
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let listeners = Listeners { public: &listen, admin: admin_listen.as_deref() };
    runtime.block_on(serve(catalog, &db, listeners, collector, connections.limits(), |_| {}))?;
    Ok(ExitCode::SUCCESS)
}

/// Connection bounds of `dpseg serve` (docs/collector.md, "Connections").
#[derive(clap::Args, Debug)]
pub struct ConnectionArgs {
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
    pub fn limits(&self) -> ConnectionLimits {
        let secs = std::time::Duration::from_secs;
        ConnectionLimits {
            header_timeout: secs(self.header_timeout.max(1)),
            body_timeout: secs(self.body_timeout.max(1)),
            max_connections: self.max_connections.max(1),
            shutdown_deadline: secs(self.shutdown_deadline),
        }
    }
}
