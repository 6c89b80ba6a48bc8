//! `dpseg`, the command line (docs/cli.md): one file per command under `cmd/`, what they share
//! in `common.rs`, the one way to start a collector in `collector.rs`.
//!
//! Every command prints JSON on stdout with sorted keys; errors go to stderr with a non-zero
//! exit code (1: the input was understood and found wanting, such as lint errors; 2: the input
//! could not be read or parsed).
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd {
    pub mod compile;
    pub mod demo;
    pub mod eval;
    pub mod lint;
    pub mod plan;
    pub mod privatize;
    pub mod serve;
    pub mod simulate;
}
mod collector;
mod common;
mod population;

use common::Failure;

#[derive(Parser)]
#[command(name = "dpseg", version, about = "Privacy-preserving on-device segmentation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile a campaign to what devices run: the document the collector serves, with the
    /// compiled bytes and their config_id (docs/compiled.md).
    Compile(cmd::compile::Args),
    /// Evaluate a campaign's segments and groups for one profile.
    Eval(cmd::eval::Args),
    /// Review a campaign before launch; exits 1 when there are errors.
    Lint(cmd::lint::Args),
    /// Expected error of every segment and case for a number of devices.
    Plan(cmd::plan::Args),
    /// Reports (JSON lines) of fresh devices with one membership.
    Privatize(cmd::privatize::Args),
    /// Run the collector: receive reports, answer estimates (docs/collector.md).
    Serve(cmd::serve::Args),
    /// The demo: the collector on 127.0.0.1 with SQLite under a data directory, serving the
    /// demo site, the preference center and the dashboard, with a simulated population already
    /// reported. Run from the repository root after `./scripts/demo.sh` built what it serves.
    Demo(cmd::demo::Args),
    /// Simulate a population reporting over epochs, and estimate every segment and case.
    Simulate(cmd::simulate::Args),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Compile(a) => cmd::compile::run(a),
        Command::Eval(a) => cmd::eval::run(a),
        Command::Lint(a) => cmd::lint::run(a),
        Command::Plan(a) => cmd::plan::run(a),
        Command::Privatize(a) => cmd::privatize::run(a),
        Command::Serve(a) => cmd::serve::run(a),
        Command::Demo(a) => cmd::demo::run(a),
        Command::Simulate(a) => cmd::simulate::run(a),
    };
    match result {
        Ok(code) => code,
        Err(Failure(message, code)) => {
            eprintln!("error: {message}");
            ExitCode::from(code)
        }
    }
}
